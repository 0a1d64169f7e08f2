"""The installed package carries a working JupyterLab extension and enables its server extension."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import cellfleet

ROOT = Path(__file__).resolve().parent.parent
JUPYTER = [sys.executable, "-m", "jupyter"]


def _listing(*command: str) -> str:
    done = subprocess.run([*JUPYTER, *command], capture_output=True, text=True, timeout=120)
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


def test_jupyterlab_lists_the_extension_enabled_and_ok():
    listing = _listing("labextension", "list")
    assert re.search(rf"cellfleet v{re.escape(cellfleet.__version__)} enabled\s+OK", listing), listing


def test_the_server_extension_is_enabled_on_install():
    listing = _listing("server", "extension", "list")
    assert re.search(r"cellfleet enabled", listing), listing


def test_package_json_is_the_one_version_source():
    package = json.loads((ROOT / "package.json").read_text())
    assert cellfleet.__version__ == package["version"]


def test_the_wheel_carries_the_extension_kernel_and_server_config(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("cellfleet-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"cellfleet-{cellfleet.__version__}.data/data"
    for expected in (
        "share/jupyter/labextensions/cellfleet/package.json",
        "share/jupyter/labextensions/cellfleet/static/style.js",
        "share/jupyter/labextensions/cellfleet/install.json",
        "share/jupyter/kernels/cellfleet/kernel.json",
        "etc/jupyter/jupyter_server_config.d/cellfleet.json",
    ):
        assert f"{data}/{expected}" in names
    assert any(name.startswith(f"{data}/share/jupyter/labextensions/cellfleet/static/remoteEntry.") for name in names)
