"""The stop button, as JupyterLab presses it: ``interrupt_kernel()`` sends SIGINT to the
kernel's whole process group, which holds the embedded cluster's workers too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

from kernel_helpers import execute

WORKERS = "import cellfleet\nprint(sorted(cellfleet.client().scheduler_info(n_workers=-1)['workers']))"


def _loop(started: Path) -> str:
    """A cell body that says it started (a file per run) and then loops until stopped."""
    return (
        f"import os, time\nopen(os.path.join({str(started)!r}, str(os.getpid()) + str(time.time())), 'w').close()\n"
        "while True:\n    time.sleep(0.02)"
    )


@pytest.fixture
def kernel() -> Iterator[tuple]:
    manager, client = start_new_kernel(kernel_name="cellfleet")
    yield manager, client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def _run(client, code: str, tick: Callable[[], None] | None = None, timeout: float = 120) -> tuple[str, list[str]]:
    """Everything ``code`` printed or displayed, and the names of its errors."""
    reply = execute(client, code, tick, timeout)
    return reply.text, [name for name, _ in reply.errors]


def _interrupt_when_started(manager, started: Path, runs: int) -> Callable[[], None]:
    """Press the stop button once ``runs`` cells have said they started."""
    pressed = []

    def tick() -> None:
        if not pressed and len(list(started.iterdir())) >= runs:
            pressed.append(True)
            manager.interrupt_kernel()

    return tick


def _assert_next_cell_runs_on_the_same_workers(client, workers_before: str) -> None:
    text, errors = _run(client, "%%remote\nimport os\nprint('next', os.getpid())", timeout=30)
    assert errors == [] and "next" in text
    assert "KeyboardInterrupt" not in text
    status, errors = _run(client, "%cellfleet status", timeout=30)
    assert errors == [] and "workers" in status and "KeyboardInterrupt" not in status
    after, _ = _run(client, WORKERS)
    assert after == workers_before  # no worker died or was restarted


def test_stop_button_stops_a_remote_cell_and_spares_the_workers(kernel, tmp_path: Path):
    manager, client = kernel
    _run(client, "%%remote\nx = 1")
    before, _ = _run(client, WORKERS)
    tick = _interrupt_when_started(manager, tmp_path, 1)
    text, errors = _run(client, "%%remote\n" + _loop(tmp_path), tick=tick)
    assert errors == ["CellCancelled"] and "KeyboardInterrupt" not in text
    _assert_next_cell_runs_on_the_same_workers(client, before)


def test_stop_button_stops_every_variant_of_a_grid(kernel, tmp_path: Path):
    manager, client = kernel
    _run(client, "%%remote\nx = 1")
    before, _ = _run(client, WORKERS)
    cell = "%%remote --grid lr=1,2\n" + _loop(tmp_path)
    text, errors = _run(client, cell, tick=_interrupt_when_started(manager, tmp_path, 2))
    assert errors and "KeyboardInterrupt" not in text
    _assert_next_cell_runs_on_the_same_workers(client, before)
    check = "from cellfleet.worker.task import running_cells\n"
    check += "print(any(cellfleet.client().run(running_cells).values()))"
    busy, _ = _run(client, check)
    assert busy.strip() == "False"


def test_a_timeout_in_native_code_restarts_its_worker_without_a_false_retry(kernel):
    _, client = kernel
    _run(client, "%%remote\nx = 1")
    # time.sleep in a worker thread cannot be interrupted: the worker is restarted to stop it
    text, errors = _run(client, "%%remote --timeout 1\nimport time\ntime.sleep(600)")
    assert errors == ["CellTimeout"] and "was stopped" in text
    assert "retrying" not in text and "died" not in text
    for _ in range(3):  # the next, unrelated cells see nothing of it
        text, errors = _run(client, "%%remote\nimport os\nprint('clean', os.getpid())", timeout=60)
        assert errors == [] and text.startswith("clean") and "retrying" not in text
