"""Binder runs the repository on CPU: its environment, its postBuild, and the demo notebook
it opens, executed headless the way a Binder user would run it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from test_demo import show

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def test_the_environment_pins_python_and_nodejs():
    environment = yaml.safe_load((BINDER / "environment.yml").read_text())
    pinned = {entry.split("=")[0]: entry for entry in environment["dependencies"] if isinstance(entry, str)}
    assert pinned["python"] == "python=3.11" and pinned["nodejs"].startswith("nodejs=")
    assert "pip" in pinned


def test_post_build_installs_this_checkout_with_its_extension():
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    lines = [line for line in post_build.read_text().splitlines() if line and not line.startswith("#")]
    assert "set -euo pipefail" in lines
    assert any(re.fullmatch(r"python -m pip install .*\.", line) for line in lines)
    assert any("labextension list" in line and "cellfleet" in line for line in lines)


def _binder_notebook() -> Path:
    """The notebook the README's Binder badge opens."""
    found = re.search(r"mybinder\.org/v2/gh/[^)\s]+\?urlpath=lab/tree/([^)\s]+)", (ROOT / "README.md").read_text())
    assert found, "the README has no Binder badge with a urlpath"
    return ROOT / found.group(1)


@pytest.mark.timeout(400)
def test_the_binder_demo_runs_headless_on_cpu(tmp_path, monkeypatch):
    notebook = _binder_notebook()
    assert notebook.is_file()
    for name, value in {"CUDA_VISIBLE_DEVICES": "", "CELLFLEET_ROOT": str(tmp_path), "CELLFLEET_SCHEDULER": ""}.items():
        monkeypatch.setenv(name, value)  # Binder's environment: no GPU, no cluster, a fresh store
    result = show(notebook)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "epoch 5/5" in result.stdout and "final loss" in result.stdout
