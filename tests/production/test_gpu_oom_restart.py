"""A production run's CUDA out-of-memory error on a cluster the run does not own: classified
``oom`` (``cellfleet run`` exits 3) and the worker that raised it restarted before any retry.
Real processes: the warm shared cluster on the machine's GPUs and ``cellfleet run``."""

from __future__ import annotations

import os

import pytest
from distributed import Client

from jobs_helpers import write_notebook
from shared_helpers import project_fixture  # noqa: F401  (the project fixture)

pytestmark = pytest.mark.gpu

OOM = (
    "%%remote gpu\n"
    "import torch\n"
    "kept = torch.ones(2**28, device='cuda')\n"
    "huge = torch.empty(2**50, dtype=torch.uint8, device='cuda')"
)


def _worker_pids(address: str) -> dict[str, int]:
    with Client(address, set_as_default=False, timeout="30s") as client:
        return client.run(os.getpid)


def test_a_cuda_oom_in_a_production_run_restarts_its_worker_and_exits_3(project):
    pytest.importorskip("torch")
    record = project.start("--gpus", "all")
    before = _worker_pids(record.address)
    notebook = write_notebook(project.root / "oom.ipynb", ["%load_ext cellfleet", OOM])
    done = project.cellfleet("run", str(notebook), timeout=600)
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "oom" in done.stdout + done.stderr
    after = _worker_pids(record.address)
    assert set(after.values()) != set(before.values())  # the worker that raised it is a new process
