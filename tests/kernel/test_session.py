"""Choosing the cluster: embedded, explicit, unreachable, gone; GPUs and resources."""

from __future__ import annotations

import threading

import pytest
from distributed import LocalCluster

from cellfleet import ClusterUnavailable, NoGPUError, ResourceUnavailable
from cellfleet.kernel import session as clusters
from conftest import run

no_gpu = pytest.mark.skipif(clusters.gpu_count() > 0, reason="this machine has a GPU")


@pytest.fixture
def other_cluster():
    """A second real cluster, run by 'someone else': one CPU worker, no resources."""
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
    yield cluster
    cluster.close()


@no_gpu
def test_gpu_cell_without_gpu_runs_on_cpu_with_a_warning(shell, capsys):
    for session in clusters.sessions.current():
        session.warned_no_gpu = False
    assert run(shell, "gpu", "on_cpu = True").success
    assert shell.user_ns["on_cpu"] is True
    assert "no GPU on this machine" in capsys.readouterr().err


@no_gpu
def test_require_gpu_turns_the_warning_into_an_error(shell, monkeypatch):
    result = run(shell, "gpu --require-gpu", "x = 1")
    assert isinstance(result.error_in_exec, NoGPUError)
    assert "x" not in shell.user_ns
    monkeypatch.setenv("CELLFLEET_REQUIRE_GPU", "1")
    assert isinstance(run(shell, "gpu", "x = 1").error_in_exec, NoGPUError)


def test_an_explicit_cluster_without_gpu_workers_lists_what_they_offer(shell, other_cluster):
    result = run(shell, f"gpu --cluster {other_cluster.scheduler_address}", "x = 1")
    assert isinstance(result.error_in_exec, ResourceUnavailable)
    message = str(result.error_in_exec)
    assert other_cluster.scheduler_address in message and "no resources" in message


def test_an_explicit_cluster_runs_cells(shell, other_cluster, monkeypatch):
    monkeypatch.setenv("CELLFLEET_SCHEDULER", other_cluster.scheduler_address)
    assert run(shell, "", "from distributed import get_worker\nwhere = get_worker().address").success
    assert shell.user_ns["where"] in other_cluster.scheduler_info["workers"]


def test_memory_no_worker_has_is_refused(shell):
    result = run(shell, "--memory 100TB", "x = 1")
    assert isinstance(result.error_in_exec, ResourceUnavailable)
    assert "MEMORY" in str(result.error_in_exec)


def test_an_unreachable_scheduler_is_a_clear_error(shell):
    result = run(shell, "--cluster tcp://127.0.0.1:9", "x = 1")
    assert isinstance(result.error_in_exec, ClusterUnavailable)
    assert "tcp://127.0.0.1:9" in str(result.error_in_exec)


def test_a_cluster_that_went_away_is_reported(shell, other_cluster):
    address = other_cluster.scheduler_address
    assert run(shell, f"--cluster {address}", "x = 1").success
    other_cluster.close()
    result = run(shell, f"--cluster {address}", "x = 2")
    assert isinstance(result.error_in_exec, ClusterUnavailable)
    assert shell.user_ns["x"] == 1


def test_shutdown_closes_the_embedded_cluster_and_the_next_cell_starts_one(shell, capsys):
    assert run(shell, "", "x = 1").success
    shell.run_line_magic("cellfleet", "shutdown")
    assert "closed" in capsys.readouterr().out
    assert run(shell, "", "x = 2").success
    assert shell.user_ns["x"] == 2


def test_a_cluster_that_goes_away_mid_cell_is_reported(shell, other_cluster):
    address = other_cluster.scheduler_address
    shell.user_ns["before"] = "kept"
    closer = threading.Timer(1.5, other_cluster.close)
    closer.start()
    result = run(shell, f"--cluster {address}", "before = 'lost'\nimport time\nwhile True:\n    time.sleep(0.05)")
    closer.join()
    assert isinstance(result.error_in_exec, ClusterUnavailable)
    assert "went away while the cell ran" in str(result.error_in_exec)
    assert shell.user_ns["before"] == "kept"
