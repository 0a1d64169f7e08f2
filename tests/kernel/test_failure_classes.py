"""The failure class of every run a notebook records: interactive remote cells, variants and local
cells; a worker its nanny restarts for memory; and CUDA out of memory, after which a production
run restarts the worker that raised it. Real shells, real Dask clusters, the real store."""

from __future__ import annotations

import dask
import pytest
from distributed import Client, LocalCluster

from cellfleet import CellTimeout, WorkerLostError
from cellfleet.kernel import session as clusters
from cellfleet.store.database import open_store
from cellfleet.store.recorder import writer_for
from conftest import run

FAKE_CUDA_OOM = (
    "class OutOfMemoryError(RuntimeError):\n    pass\n\n"
    "OutOfMemoryError.__module__ = 'torch.cuda'  # torch's, as the worker sees it (torch is not installed)\n"
    "raise OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')"
)
"""A cell failing as torch does when CUDA runs out of memory, on a machine without torch or a GPU."""


def _recorded(name: str) -> dict:
    """The newest run recorded for the cell named ``name``."""
    writer_for().flush()
    return next(run for run in open_store().list_runs(limit=200) if run["cell_name"] == name)


@pytest.fixture
def external():
    """A cluster someone else runs (one worker, with its nanny), as its scheduler's address."""
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
    yield cluster.scheduler_address
    clusters.sessions.disconnect(cluster.scheduler_address)
    cluster.close()


@pytest.fixture
def small_worker():
    """A cluster whose one worker has 400 MiB: its nanny restarts it past 95 % of that. A task
    whose worker dies once is given up (allowed-failures 0), so the cell sees the loss at once."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, memory_limit="400MiB", dashboard_address=":0"
        )
    yield cluster.scheduler_address
    clusters.sessions.disconnect(cluster.scheduler_address)
    cluster.close()


def test_the_cells_own_exception_is_user_and_memory_error_oom(shell):
    assert not run(shell, "--name own-error", "raise ValueError('bad data')").success
    assert _recorded("own-error")["failure_class"] == "user"
    result = run(shell, "--name host-oom", "data = bytearray(1 << 60)")  # malloc refuses it at once
    assert isinstance(result.error_in_exec, MemoryError)
    recorded = _recorded("host-oom")
    assert (recorded["status"], recorded["failure_class"]) == ("failed", "oom")
    assert run(shell, "--name fine", "x = 1").success and _recorded("fine")["failure_class"] is None


def test_a_timeout_is_classed_timeout(shell):
    result = run(shell, "--name slow-cell --timeout 0.5", "import time\ntime.sleep(60)")
    assert isinstance(result.error_in_exec, CellTimeout)
    recorded = _recorded("slow-cell")
    assert (recorded["status"], recorded["failure_class"]) == ("timed_out", "timeout")


def test_a_failing_variant_and_a_failing_local_cell_are_classed(shell):
    body = "import cellfleet\ncellfleet.log(loss=lr)\nif lr > 0.05:\n    raise RuntimeError('diverged')"
    run(shell, "--name classed-grid --grid lr=0.1,0.01", body)
    writer_for().flush()
    variants = [r for r in open_store().list_runs(kind="variant", limit=50) if r["cell_name"].startswith("classed")]
    assert sorted((r["params"]["lr"], r["failure_class"]) for r in variants[:2]) == [(0.01, None), (0.1, "user")]
    shell.run_cell("import cellfleet\ncellfleet.log(local=1.0)\nraise KeyError('local')")
    writer_for().flush()
    local = next(r for r in open_store().list_runs(kind="interactive", limit=20) if "KeyError" in (r["error"] or ""))
    assert (local["status"], local["failure_class"]) == ("failed", "user")


def test_a_worker_its_nanny_restarts_for_memory_is_out_of_memory(shell, small_worker):
    body = "import time\nblocks = []\nfor _ in range(60):\n    blocks.append(b'x' * (20 * 2**20))\n    time.sleep(0.05)"
    result = run(shell, f"--name nanny-oom --retries 0 --cluster {small_worker}", body)
    assert isinstance(result.error_in_exec, WorkerLostError)
    assert "restarted it for passing its memory budget (out of memory)" in str(result.error_in_exec)
    assert _recorded("nanny-oom")["failure_class"] == "oom"


def test_cuda_out_of_memory_is_oom_with_a_note_and_an_interactive_kernel_restarts_nothing(shell, external, capsys):
    with Client(external, set_as_default=False) as client:
        (before,) = client.scheduler_info()["workers"]
        result = run(shell, f"--name cuda-oom --cluster {external}", FAKE_CUDA_OOM)
        assert type(result.error_in_exec).__name__ == "OutOfMemoryError"  # the cell's own type, rebuilt here
        assert list(client.scheduler_info()["workers"]) == [before]  # the notebook's kept results live there
    message = str(result.error_in_exec)  # what a production run's error reads (papermill's evalue)
    assert message.startswith("CUDA out of memory. Tried to allocate 2.00 GiB [CUDA ran out of memory")
    recorded = _recorded("cuda-oom")
    assert recorded["failure_class"] == "oom" and "CUDA ran out of memory" in recorded["error"].splitlines()[-1]
    told = capsys.readouterr().err
    assert f"restart the worker: cellfleet.client('{external}').restart_workers(['{before}'])" in told


def test_under_a_production_run_cuda_out_of_memory_restarts_the_worker_of_a_shared_cluster(
    shell, external, monkeypatch, capsys
):
    monkeypatch.setenv("CELLFLEET_RUN_ID", "production-run-1")  # as the runner tells a production kernel
    assert run(shell, f"--cluster {external}", "import os\npid = os.getpid()").success
    first = shell.user_ns["pid"]
    assert not run(shell, f"--name prod-cuda-oom --cluster {external}", FAKE_CUDA_OOM).success
    told = [line for line in capsys.readouterr().err.splitlines() if "CUDA ran out of memory" in line]
    assert len(told) == 1 and "restarted worker tcp://" in told[0] and "so a retry finds its GPU memory free" in told[0]
    assert run(shell, f"--cluster {external}", "import os\npid = os.getpid()").success
    assert shell.user_ns["pid"] != first  # a fresh worker process
    recorded = _recorded("prod-cuda-oom")
    assert (recorded["kind"], recorded["parent_id"], recorded["failure_class"]) == (
        "production",
        "production-run-1",
        "oom",
    )


def test_under_a_production_run_the_embedded_cluster_is_left_to_end_with_the_kernel(shell, monkeypatch, capsys):
    monkeypatch.setenv("CELLFLEET_RUN_ID", "production-run-2")
    assert not run(shell, "--name embedded-cuda-oom", FAKE_CUDA_OOM).success
    told = capsys.readouterr().err
    assert "the embedded cluster ends with this run's kernel, so a retry starts on fresh workers" in told
    assert _recorded("embedded-cuda-oom")["failure_class"] == "oom"
