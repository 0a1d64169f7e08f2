"""Workers that die, cells that time out or are interrupted: retried, stopped, reported."""

from __future__ import annotations

import _thread
import subprocess
import sys
import threading

import pytest
from distributed import Client, LocalCluster

from cellfleet import CellCancelled, CellTimeout, WorkerLostError
from cellfleet.worker.task import running_cells
from conftest import eventually, run

LOOP = "import time\nwhile True:\n    time.sleep(0.02)"


def _nothing_running(client) -> bool:
    return not any(client.run(running_cells).values())


def test_a_worker_killed_mid_cell_is_retried_on_a_live_worker(shell, tmp_path, capsys):
    shell.user_ns["marker"] = str(tmp_path / "died-once")
    body = "import os\nif not os.path.exists(marker):\n    open(marker, 'w').close()\n    os._exit(1)\nsurvived = True"
    result = run(shell, "--retries 1", body)
    assert result.success, result.error_in_exec
    assert shell.user_ns["survived"] is True
    assert "retrying on a live worker (1 of 1)" in capsys.readouterr().err


def test_exhausted_retries_are_reported_and_change_nothing(shell):
    shell.user_ns["state"] = "before"
    result = run(shell, "--retries 1", "state = 'after'\nimport os\nos._exit(1)")
    assert isinstance(result.error_in_exec, WorkerLostError)
    assert "died 2 times" in str(result.error_in_exec)
    assert shell.user_ns["state"] == "before"


def test_timeout_stops_the_cell_on_the_worker(shell, client):
    shell.user_ns["kept"] = "untouched"
    result = run(shell, "--timeout 1", "kept = 'changed'\n" + LOOP)
    assert isinstance(result.error_in_exec, CellTimeout)
    assert "1 s timeout" in str(result.error_in_exec)
    assert shell.user_ns["kept"] == "untouched"
    assert eventually(lambda: _nothing_running(client))


def test_interrupt_cancels_and_stops_the_cell(shell, client):
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    result = run(shell, "", "started = True\n" + LOOP)
    timer.join()
    assert isinstance(result.error_in_exec, CellCancelled)
    assert "started" not in shell.user_ns
    assert eventually(lambda: _nothing_running(client))


def test_a_cell_stuck_in_native_code_gets_its_worker_restarted(shell, client, monkeypatch):
    monkeypatch.setenv("CELLFLEET_KILL_GRACE", "0.5")
    before = set(client.scheduler_info()["workers"])
    result = run(shell, "--timeout 1", "import time\ntime.sleep(600)")
    assert isinstance(result.error_in_exec, CellTimeout)
    assert eventually(lambda: set(client.scheduler_info()["workers"]) != before, 60)
    assert eventually(lambda: len(client.scheduler_info()["workers"]) == len(before), 60)
    assert eventually(lambda: _nothing_running(client))


@pytest.fixture
def nanny_less_cluster():
    """A cluster someone else runs, whose one worker has no nanny: it cannot be restarted."""
    cluster = LocalCluster(n_workers=0, processes=True, dashboard_address=":0")
    command = [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address]
    worker = subprocess.Popen(
        [*command, "--no-nanny", "--nthreads", "1", "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        yield cluster.scheduler_address
    finally:
        worker.kill()
        worker.wait(30)
        cluster.close()


def test_a_cell_that_cannot_be_stopped_says_where_it_may_still_run(shell, nanny_less_cluster, monkeypatch, capsys):
    monkeypatch.setenv("CELLFLEET_KILL_GRACE", "0.2")
    result = run(shell, f"--cluster {nanny_less_cluster} --timeout 1", "import time\ntime.sleep(600)")
    assert isinstance(result.error_in_exec, CellTimeout) and "may still run" in str(result.error_in_exec)
    told = [line for line in capsys.readouterr().err.splitlines() if "may still run" in line]
    assert len(told) == 1
    assert "on worker tcp://" in told[0] and "nanny" in told[0] and "restart that worker" in told[0]
