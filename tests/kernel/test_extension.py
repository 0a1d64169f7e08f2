"""Unloading the extension undoes loading it and closes what the process holds."""

from __future__ import annotations

from IPython.core.error import UsageError

from cellfleet.kernel import session as clusters
from cellfleet.store import database, recorder
from conftest import run


def test_unload_stops_nowait_cells_closes_sessions_and_stores_then_reload_works(shell):
    import threading

    assert run(shell, "--nowait --name slow", "import time\ntime.sleep(30)\nslow = 42").success
    assert clusters.sessions.current() and recorder.writers._current() and database.stores._stores
    shell.run_line_magic("unload_ext", "cellfleet")
    try:
        assert "slow" not in shell.user_ns  # stopped, as the stop button stops it: nothing assigned
        assert not [t for t in threading.enumerate() if t.name.startswith("cellfleet-slow")]
        assert clusters.sessions.current() == []  # the embedded cluster is closed
        assert recorder.writers._current() == [] and database.stores._stores == {}
        assert "remote" not in shell.magics_manager.magics["cell"]
        assert "CellfleetMagics" not in shell.magics_manager.registry
        result = shell.run_cell("%%remote\nx = 1")
        assert isinstance(result.error_in_exec, UsageError) and "not found" in str(result.error_in_exec)
    finally:
        shell.run_line_magic("load_ext", "cellfleet")
    assert run(shell, "", "again = 7").success and shell.user_ns["again"] == 7


def test_loading_registers_nothing_at_exit_and_starts_no_threads_on_import():
    import subprocess
    import sys

    probe = (
        "import atexit, threading, cellfleet, cellfleet.kernel.magics, cellfleet.store.recorder\n"
        "print(len(threading.enumerate()))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "1"  # only the main thread
