"""`cellfleet cluster start|status|stop|restart-workers`, run as real processes in a project
folder of each test's own; the record, its staleness, and the options' mistakes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import warnings

import pytest
from distributed import Client

from cellfleet.cluster.options import parse_memory, parse_preload
from cellfleet.cluster.record import ClusterRecord, Liveness, hold_lock, liveness, paths, write_record
from cellfleet.cluster.serve import KEEP_NANNIES
from shared_helpers import one_line_error, project_fixture  # noqa: F401  (the project fixture)


def _workers(address: str) -> set[str]:
    with warnings.catch_warnings(), Client(address, timeout="10s", set_as_default=False) as client:
        return set(client.scheduler_info(n_workers=-1)["workers"])


def test_start_status_restart_and_stop_through_the_command(project):
    started = project.cellfleet("cluster", "start", "--workers", "1", "--preload", "colorsys")
    assert started.returncode == 0, started.stderr
    record = project.record()
    assert record is not None and f"shared cluster started at {record.address}" in started.stdout
    assert "dashboard       http" in started.stdout and "preload         colorsys" in started.stdout
    assert os.getsid(record.pid) == record.pid != os.getsid(0)  # its own session: no terminal, no kernel group
    assert os.getpgid(record.pid) == record.pid and liveness(record) is Liveness.LIVE
    assert (record.workers, record.gpus, record.preload, record.kind) == (1, 0, ("colorsys",), "LocalCluster")

    status = project.cellfleet("cluster", "status")
    assert status.returncode == 0, status.stderr
    for part in (
        record.address,
        f"pid {record.pid}",
        "up ",
        "workers         1, 0 GPUs",
        str(paths(project.root).record),
    ):
        assert part in status.stdout

    again = project.cellfleet("cluster", "start", "--workers", "3")
    assert again.returncode == 0 and "already running" in again.stdout
    assert project.record() == record  # the same cluster, untouched

    with warnings.catch_warnings(), Client(record.address, timeout="10s", set_as_default=False) as client:
        kept = client.run_on_scheduler(lambda: __import__("dask").config.get("distributed.deploy.lost-worker-timeout"))
    assert kept == KEEP_NANNIES  # a restart 15 s after another never loses its worker for good
    before = _workers(record.address)
    restarted = project.cellfleet("cluster", "restart-workers")
    assert restarted.returncode == 0 and "restarted the 1 workers" in restarted.stdout, restarted.stderr
    assert _workers(record.address).isdisjoint(before)  # fresh worker processes, at new addresses

    stopped = project.cellfleet("cluster", "stop")
    assert stopped.returncode == 0 and f"stopped (pid {record.pid})" in stopped.stdout, stopped.stderr
    assert "killed" not in stopped.stdout  # it closed by itself
    assert liveness(record) is not Liveness.LIVE and project.record() is None
    gone = project.cellfleet("cluster", "status")
    assert one_line_error(gone, 1) == "cellfleet: no shared cluster is running: cellfleet cluster start"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--gpus", "0x"), "argument --gpus: '0x' is not all or a number of GPUs"),
        (("--memory-limit", "lots"), "argument --memory-limit: 'lots' is not a size"),
        (("--workers", "0"), "argument --workers: '0' is not a number of workers"),
        (("--preload", "a..b"), "argument --preload: 'a..b' is not a list of module names"),
        (("--preload", "cellfleet_no_such_module"), "--preload cellfleet_no_such_module: no module named"),
        (("--preload", "os.no_such_part"), "--preload os.no_such_part: no module named"),
        (("--gpus", "1", "--workers", "2"), "--workers sets CPU workers"),
    ],
)
def test_mistakes_are_one_line_with_exit_status_2_and_start_nothing(project, args, message):
    done = project.cellfleet("cluster", "start", *args)
    line = one_line_error(done)
    assert line.startswith("cellfleet: error: ") and message in line
    assert project.record() is None
    lock = hold_lock(paths(project.root).lock, wait=0.0)  # no cluster process holds it
    assert lock is not None
    lock.close()


def test_without_a_cluster_status_and_restart_say_so_and_stop_is_no_error(project):
    message = "cellfleet: no shared cluster is running: cellfleet cluster start"
    assert one_line_error(project.cellfleet("cluster", "status"), 1) == message
    assert one_line_error(project.cellfleet("cluster", "restart-workers"), 1) == message
    stopped = project.cellfleet("cluster", "stop")
    assert stopped.returncode == 0 and stopped.stdout.strip() == "cellfleet: no shared cluster is running"


def _record(pid: int, pid_started: float) -> ClusterRecord:
    return ClusterRecord("tcp://127.0.0.1:9", pid, pid_started, 0.0, "LocalCluster", 1, 0, 2**30)


def test_a_stale_record_is_reported_and_removed_and_a_reused_pid_is_never_signalled(project):
    where = paths(project.root)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)
    write_record(where.record, _record(dead, 1.0))
    line = one_line_error(project.cellfleet("cluster", "status"), 1)
    assert line == (
        f"cellfleet: no shared cluster is running (the one recorded in .cellfleet/cluster.json is gone: pid {dead}): "
        "cellfleet cluster start"
    )
    stopped = project.cellfleet("cluster", "stop")
    assert stopped.returncode == 0 and f"its stale record was removed: pid {dead}" in stopped.stdout
    assert not where.record.exists()

    write_record(where.record, _record(os.getpid(), 1.0))  # this very process, started at another time
    assert "is now another process" in one_line_error(project.cellfleet("cluster", "status"), 1)
    assert project.cellfleet("cluster", "stop").returncode == 0  # and this process is still here
    assert not where.record.exists()

    where.record.write_text("{not json")
    assert "cannot be read" in one_line_error(project.cellfleet("cluster", "status"), 1)


def test_the_record_reads_back_and_refuses_what_is_not_one(tmp_path):
    record = _record(123, 4.5)
    assert ClusterRecord.from_json(record.to_json()) == record
    for text in ("[]", '{"format": 2}', '{"format": 1, "pid": 1}', '{"format": 1, "address": 1, "pid": "x"}'):
        with pytest.raises(ValueError):
            ClusterRecord.from_json(text)
    for dashboard in ("javascript:alert(1)", 8787):  # the panel links to it
        with pytest.raises(ValueError, match="dashboard"):
            ClusterRecord.from_json(dataclasses.replace(record, dashboard=dashboard).to_json())  # type: ignore[arg-type]


def test_sizes_and_module_lists_read_as_dask_reads_them():
    assert parse_memory("16GB") == 16 * 10**9 and parse_memory("4 GiB") == 4 * 2**30
    assert parse_memory("2e9") == 2 * 10**9 and parse_memory("512mib") == 512 * 2**20 and parse_memory("auto") is None
    for bad in ("lots", "-1GB", "0", "4 GX", ""):
        with pytest.raises(ValueError):
            parse_memory(bad)
    assert parse_preload("torch, cupy") == ("torch", "cupy") and parse_preload("matplotlib.pyplot") == (
        "matplotlib.pyplot",
    )
    for bad in ("a..b", "import", "1x", ","):
        with pytest.raises(ValueError):
            parse_preload(bad)
