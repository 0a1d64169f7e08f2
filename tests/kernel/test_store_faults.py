"""A store that cannot be used never stops a cell: in a real kernel, each fault leaves the
cell running and its values arriving, with one warning line that names the store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

from cellfleet.protocol import RunStatus
from cellfleet.store.database import Store
from kernel_helpers import execute

CELLS = ("%%remote\nx = 41\nprint('ran')", "print(x + 1)", "import cellfleet\ncellfleet.log(loss=0.5)\nprint('logged')")


def _garbage(db: Path) -> None:
    db.write_bytes(b"this is not a database " * 64)


def _folder(db: Path) -> None:
    db.mkdir()


def _folder_is_a_file(db: Path) -> None:
    db.parent.rmdir()
    db.parent.write_text("not a folder")


FAULTS: dict[str, Callable[[Path], None]] = {"garbage": _garbage, "folder": _folder, "file": _folder_is_a_file}


@pytest.fixture
def locked_store(tmp_path: Path) -> Iterator[Path]:
    """A fresh store file another process holds with ``BEGIN EXCLUSIVE``."""
    db = tmp_path / ".cellfleet" / "cellfleet.db"
    db.parent.mkdir()
    holder = (
        "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode=WAL')\nc.execute('BEGIN EXCLUSIVE')\nc.execute('create table t(x)')\n"
        "print('held', flush=True)\ntime.sleep(600)"
    )
    process = subprocess.Popen([sys.executable, "-c", holder, str(db)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield db
    process.kill()
    process.wait()


def _run_cells(db: Path, cells: tuple[str, ...]) -> list[tuple[str, str, list[str]]]:
    """Run ``cells`` in a fresh cellfleet kernel on the store at ``db``: (stdout, stderr, errors) each."""
    env = {**os.environ, "CELLFLEET_DB": f"sqlite:///{db}", "CELLFLEET_ROOT": str(db.parent.parent)}
    manager, client = start_new_kernel(kernel_name="cellfleet", env=env, cwd=str(db.parent.parent))
    try:
        return [_execute(client, code) for code in cells]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _execute(client, code: str) -> tuple[str, str, list[str]]:
    """stdout, stderr and ``"Name: value"`` of each error of one cell."""
    reply = execute(client, code)
    errors = [f"{name}: {value}" for name, value in reply.errors]
    return reply.streams.get("stdout", ""), reply.streams.get("stderr", ""), errors


def _assert_cells_ran_with_one_warning_each(results: list[tuple[str, str, list[str]]], db: Path) -> None:
    (remote, local, logged) = results
    assert remote[2] == [] and remote[0] == "ran\n"
    assert local[0] == "42\n"  # the remote cell's value came back
    assert logged[2] == [] and logged[0] == "logged\n"
    for _, stderr, _ in (remote, logged):
        lines = stderr.splitlines()
        assert len(lines) == 1 and "tracking is off for this cell" in lines[0]
        assert str(db) in lines[0] and "Background on this error" not in lines[0]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_broken_store_leaves_cells_running_with_one_warning(fault: str, tmp_path: Path):
    db = tmp_path / ".cellfleet" / "cellfleet.db"
    db.parent.mkdir()
    FAULTS[fault](db)
    _assert_cells_ran_with_one_warning_each(_run_cells(db, CELLS), db)


def test_a_locked_store_is_waited_for_a_bounded_time_then_tracking_is_off(locked_store: Path):
    results = _run_cells(locked_store, CELLS)
    _assert_cells_ran_with_one_warning_each(results, locked_store)
    assert "locked" in results[0][1]


def test_a_locked_store_that_opened_before_only_delays_its_records(tmp_path: Path):
    db = tmp_path / ".cellfleet" / "cellfleet.db"
    Store(f"sqlite:///{db}").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_FOR_SECONDS, str(db), "3"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        results = _run_cells(db, ("%%remote\nx = 41\nprint('ran')", "print(x + 1)", _WAIT_FOR_RECORDS))
    finally:
        holder.wait(timeout=60)
    assert results[0][0] == "ran\n" and results[0][1] == "" and results[1][0] == "42\n"
    assert results[2][0].strip() == RunStatus.SUCCEEDED.value  # written once the lock was released


_HOLD_FOR_SECONDS = (
    "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "c.execute('BEGIN EXCLUSIVE')\nprint('held', flush=True)\ntime.sleep(float(sys.argv[2]))\nc.execute('COMMIT')"
)
_WAIT_FOR_RECORDS = (
    "from cellfleet.store.recorder import writers\nfrom cellfleet.store.database import open_store\n"
    "writers.flush(60)\nprint(open_store().list_runs(limit=1)[0]['status'])"
)


_GRID = "%%remote --grid a=3,1,2 --minimize b\nimport cellfleet\nb = a\ncellfleet.log(b=b)"


def test_a_grid_on_a_locked_store_runs_every_variant_with_one_warning(locked_store: Path):
    (grid, adopted) = _run_cells(locked_store, (_GRID, "%adopt best\nprint(b)"))
    assert grid[2] == [] and grid[1].count("tracking is off") == 1
    assert adopted[0].splitlines()[-1] == "1"
