"""Clusters someone else runs, as real processes: a ``dask scheduler`` and ``dask worker``s
started by the tests. Workers that cannot run cells, a GPU worker, a cluster without workers,
a worker killed mid-cell, a scheduler that restarts, ``%cellfleet status`` and ``cellfleet run``.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from cellfleet import CellTimeout, ClusterError, ClusterUnavailable
from cellfleet.kernel import session as clusters
from cellfleet.store.database import Store
from conftest import eventually, run
from dask_processes import OLD_DASK, WITHOUT_CELLFLEET, DaskCluster
from jobs_helpers import cellfleet, write_notebook

WHERE = "from distributed import get_worker\nwhere = get_worker().address"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One scheduler for the module: two CPU workers and one advertising ``GPU=1`` (no real GPU)."""
    dask = DaskCluster(tmp_path_factory.mktemp("dask")).start()
    try:
        for name in ("cpu-a", "cpu-b"):
            dask.worker(name, wait=False)
        dask.worker("gpu", "--resources", "GPU=1", wait=False)
        for name in ("cpu-a", "cpu-b", "gpu"):
            dask.wait_for(name)
        yield dask
    finally:
        clusters.sessions.disconnect(dask.address)
        dask.close()


@pytest.fixture
def own_cluster(tmp_path):
    """A scheduler of the test's own, with no worker yet."""
    dask = DaskCluster(tmp_path / "dask").start()
    yield dask
    clusters.sessions.disconnect(dask.address)
    dask.close()


def test_cells_run_on_the_cluster_named_by_flag_or_environment(shell, cluster, monkeypatch):
    assert run(shell, f"--cluster {cluster.address}", WHERE).success
    assert shell.user_ns["where"] in cluster.named().values()
    monkeypatch.setenv("CELLFLEET_SCHEDULER", cluster.address)
    assert run(shell, "", WHERE + "\nagain = True").success
    assert shell.user_ns["again"] is True and shell.user_ns["where"] in cluster.named().values()


def test_a_gpu_cell_lands_on_the_worker_that_offers_a_gpu(shell, cluster):
    assert run(shell, f"gpu --cluster {cluster.address}", WHERE).success
    assert shell.user_ns["where"] == cluster.named()["gpu"]


def test_workers_that_cannot_run_cells_are_named_and_kept_off(shell, own_cluster, capsys):
    bad = own_cluster.worker("no-cellfleet", preload=WITHOUT_CELLFLEET)
    old = own_cluster.worker("old-dask", preload=OLD_DASK)
    result = run(shell, f"--cluster {own_cluster.address}", "x = 1")
    assert isinstance(result.error_in_exec, ClusterError)
    message = str(result.error_in_exec)
    assert "\n" not in message and "x" not in shell.user_ns
    assert f"worker {bad} cannot import cellfleet" in message and "pip install cellfleet==" in message
    assert f"worker {old} has dask 2024.1.0" in message and "pip install dask==" in message
    good = own_cluster.worker("good")
    capsys.readouterr()
    assert run(shell, f"--cluster {own_cluster.address}", WHERE).success
    assert shell.user_ns["where"] == good
    assert {bad, old} <= set(own_cluster.named().values())  # kept off, so still alive
    shell.run_line_magic("cellfleet", f"status --cluster {own_cluster.address}")
    shown = capsys.readouterr().out.splitlines()
    assert any(bad in line and "cannot run cells" in line for line in shown)
    assert not any(good in line and "cannot run cells" in line for line in shown)


def test_a_worker_that_joins_later_is_checked_before_a_cell_runs_there(shell, own_cluster, capsys):
    own_cluster.worker("good")
    assert run(shell, f"--cluster {own_cluster.address}", "x = 1").success
    bad = own_cluster.worker("no-cellfleet", preload=WITHOUT_CELLFLEET)
    for _ in range(3):
        assert run(shell, f"--cluster {own_cluster.address}", WHERE).success
        assert shell.user_ns["where"] != bad
    told = [line for line in capsys.readouterr().err.splitlines() if bad in line]
    assert len(told) == 1 and "cannot import cellfleet" in told[0] and "cells run on the other workers" in told[0]
    assert bad in own_cluster.named().values()


def test_a_cluster_without_workers_says_so_and_waits_for_one(shell, own_cluster, capsys, monkeypatch):
    monkeypatch.setenv("CELLFLEET_STATUS", "text")
    result = run(shell, f"--cluster {own_cluster.address} --timeout 5", "x = 1")
    assert isinstance(result.error_in_exec, CellTimeout) and "x" not in shell.user_ns
    shown = capsys.readouterr()
    told = [line for line in shown.err.splitlines() if "has no workers" in line]
    assert len(told) == 1 and own_cluster.address in told[0] and "dask worker" in told[0]
    assert "waiting for workers" in shown.out
    joining = threading.Thread(target=own_cluster.worker, args=("late",))
    joining.start()  # an adaptive cluster adding a worker while the cell waits
    result = run(shell, f"--cluster {own_cluster.address}", WHERE)
    joining.join()
    assert result.success, result.error_in_exec
    assert shell.user_ns["where"] == own_cluster.named()["late"]


def test_status_describes_the_clusters_in_use_and_never_starts_one(shell, cluster, capsys):
    clusters.close_all()
    shell.run_line_magic("cellfleet", "status")
    assert "no cluster is in use" in capsys.readouterr().out
    assert clusters.sessions.current() == []
    assert run(shell, f"--cluster {cluster.address}", "x = 1").success
    shell.run_line_magic("cellfleet", "status")
    shown = capsys.readouterr().out
    assert f"cluster   {cluster.address} (external)" in shown and "embedded" not in shown
    assert all(address in shown for address in cluster.named().values())
    assert [session.address for session in clusters.sessions.current()] == [cluster.address]


def test_cellfleet_run_sends_remote_cells_to_its_cluster_as_linked_production_runs(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    monkeypatch.delenv("CELLFLEET_SCHEDULER", raising=False)
    cells = ["%load_ext cellfleet", f"%%remote\n{WHERE}", "print(where)"]
    notebook = write_notebook(tmp_path / "remote.ipynb", cells, parameters=None)
    url = f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}"
    done = cellfleet(url, "run", str(notebook), "--kernel", "python3", "--cluster", cluster.address)
    assert done.returncode == 0, done.stderr
    runs = Store(url).list_runs()
    (parent,) = [r for r in runs if r["parent_id"] is None]
    (cell,) = [r for r in runs if r["parent_id"] == parent["id"]]
    assert parent["kind"] == cell["kind"] == "production" and cell["job_id"] is None
    assert cell["status"] == "succeeded" and cell["worker"] in cluster.named().values()


def test_a_worker_killed_mid_cell_hands_the_cell_to_a_live_worker(shell, cluster, tmp_path):
    marker = tmp_path / "first-run"
    shell.user_ns["marker"] = str(marker)
    body = (
        "import os, time\nfrom distributed import get_worker\nif not os.path.exists(marker):\n"
        "    open(marker, 'w').write(f'{os.getpid()} {get_worker().address}')\n"
        "    while True:\n        time.sleep(0.05)\n" + WHERE
    )
    victim: list[str] = []

    def kill_the_first_run() -> None:
        assert eventually(lambda: marker.exists() and " " in marker.read_text(), 120)
        pid, address = marker.read_text().split()
        victim.append(address)
        os.kill(int(pid), signal.SIGKILL)

    killer = threading.Thread(target=kill_the_first_run)
    killer.start()
    result = run(shell, f"--cluster {cluster.address}", body)
    killer.join()
    assert result.success, result.error_in_exec
    assert shell.user_ns["where"] != victim[0]


def test_a_rebuilt_handle_names_where_its_data_is_now(shell, cluster):
    code = "import os\nkept = list(range(1000))\npid = os.getpid()"
    assert run(shell, f"--cluster {cluster.address} --keep kept", code).success
    handle, pid = shell.user_ns["kept"], shell.user_ns["pid"]
    first = handle.worker
    assert first and first in repr(handle)
    os.kill(pid, signal.SIGKILL)
    assert eventually(lambda: first not in cluster.named().values(), 120)
    assert run(shell, f"--cluster {cluster.address}", "total = sum(kept)").success  # rebuilt from its lineage
    assert shell.user_ns["total"] == sum(range(1000))
    assert first not in repr(handle) and first not in handle._repr_html_()


def test_a_scheduler_that_went_away_is_said_once_and_a_restarted_one_runs_cells(shell, own_cluster):
    own_cluster.worker("first")
    assert run(shell, f"--cluster {own_cluster.address}", "x = 1").success
    own_cluster.kill_scheduler()
    own_cluster.stop_worker("first")
    result = run(shell, f"--cluster {own_cluster.address}", "x = 2")
    assert isinstance(result.error_in_exec, ClusterUnavailable)
    message = str(result.error_in_exec)
    assert "\n" not in message and f"the cluster at {own_cluster.address} went away" in message
    assert shell.user_ns["x"] == 1
    own_cluster.start()
    again = own_cluster.worker("again")
    assert run(shell, f"--cluster {own_cluster.address}", WHERE).success
    assert shell.user_ns["where"] == again
