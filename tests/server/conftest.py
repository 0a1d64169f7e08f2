"""What every server test shares: a real Jupyter server with Cellfleet's extension, whose
store lives in the server's root (a file opened there must not be another test's)."""

from __future__ import annotations

import pytest


@pytest.fixture
def jp_server_config(jp_root_dir, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(jp_root_dir))  # before the server opens its own store
    return {"ServerApp": {"jpserver_extensions": {"cellfleet": True}}}
