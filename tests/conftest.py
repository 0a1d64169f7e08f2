"""Shared fixtures: a real IPython shell with Cellfleet loaded, on a real Dask cluster."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from cellfleet.kernel import session as clusters

pytest_plugins = ("pytest_jupyter.jupyter_server",)


def pytest_collection_modifyitems(config, items):
    if clusters.gpu_count() > 0:
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ip():
    """The IPython shell, with the extension loaded once; its clusters closed at the end."""
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "cellfleet")
    yield shell
    clusters.close_all()


@pytest.fixture
def shell(ip, monkeypatch):
    """The shell with a clean namespace, on the embedded cluster, with status lines off."""
    monkeypatch.delenv("CELLFLEET_SCHEDULER", raising=False)
    monkeypatch.setenv("CELLFLEET_STATUS", "off")
    names = set(ip.user_ns)
    yield ip
    for name in set(ip.user_ns) - names:
        del ip.user_ns[name]


@pytest.fixture
def client(shell):
    """The embedded cluster's client (started on first use)."""
    return clusters.connect(None).client


def run(shell, line: str, body: str):
    """Run a %%remote cell; return IPython's ExecutionResult."""
    return shell.run_cell(f"%%remote {line}\n{body}")


def eventually(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``check`` until it is true (bounded); returns the last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.fixture(autouse=True, scope="session")
def _isolated_store(tmp_path_factory):
    """Every test (and every kernel a test starts) writes to a store of its own session."""
    import os

    root = tmp_path_factory.mktemp("project")
    os.environ["CELLFLEET_ROOT"] = str(root)
    yield root
    os.environ.pop("CELLFLEET_ROOT", None)
