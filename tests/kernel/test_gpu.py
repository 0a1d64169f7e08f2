"""GPU cells on the embedded LocalCUDACluster (skipped without an NVIDIA GPU)."""

from __future__ import annotations

import numpy as np
import pytest

from cellfleet import RemoteHandle
from cellfleet.kernel import session as clusters
from conftest import run

pytestmark = pytest.mark.gpu


def test_the_embedded_cluster_is_dask_cuda_with_a_gpu_per_worker(shell, capsys):
    assert run(shell, "gpu --require-gpu", "ok = True").success
    session = clusters.connect(None)
    assert type(session.cluster).__name__ == "LocalCUDACluster"
    offers = [info.get("resources", {}) for info in session.workers().values()]
    assert offers and all(resources.get("GPU") == 1 for resources in offers)
    shell.run_line_magic("cellfleet", "status")
    assert "LocalCUDACluster" in capsys.readouterr().out


def test_cupy_results_stay_on_the_gpu_and_are_used_in_place(shell):
    pytest.importorskip("cupy")
    body = "import cupy as cp\nx = cp.arange(1_000_000, dtype=cp.float64)\ntotal = float(x.sum())"
    assert run(shell, "gpu", body).success
    handle = shell.user_ns["x"]
    assert isinstance(handle, RemoteHandle) and handle.info.on_gpu and handle.info.reason == "gpu"
    assert "cupy.ndarray" in repr(handle) and "on GPU" in repr(handle)
    assert shell.user_ns["total"] == sum(range(1_000_000))
    assert run(shell, "gpu", "y = x * 2\nsecond = float(y.sum())").success
    assert shell.user_ns["second"] == 2 * shell.user_ns["total"]
    shell.run_line_magic("pull", "x")
    pulled = shell.user_ns["x"]
    assert isinstance(pulled, np.ndarray) and pulled[-1] == 999_999


def test_torch_cuda_tensors_and_modules_stay_remote_and_pull_to_cpu(shell):
    pytest.importorskip("torch")
    body = (
        "import torch\nt = torch.ones(1000, device='cuda')\nmodel = torch.nn.Linear(4, 2).cuda()\n"
        "device = str(t.device)"
    )
    assert run(shell, "gpu", body).success
    assert shell.user_ns["device"].startswith("cuda")
    assert isinstance(shell.user_ns["t"], RemoteHandle) and shell.user_ns["t"].info.on_gpu
    assert isinstance(shell.user_ns["model"], RemoteHandle) and shell.user_ns["model"].info.on_gpu
    shell.run_line_magic("pull", "t model")
    assert str(shell.user_ns["t"].device) == "cpu" and float(shell.user_ns["t"].sum()) == 1000.0
    assert next(shell.user_ns["model"].parameters()).device.type == "cpu"


def test_pull_option_brings_gpu_results_back_as_host_copies(shell):
    pytest.importorskip("cupy")
    assert run(shell, "gpu --pull small", "import cupy as cp\nsmall = cp.ones(10)").success
    assert isinstance(shell.user_ns["small"], np.ndarray)


def _recorded(name: str) -> dict:
    from cellfleet.store.database import open_store
    from cellfleet.store.recorder import writer_for

    writer_for().flush()
    return next(run for run in open_store().list_runs(limit=200) if run["cell_name"] == name)


def test_torch_running_cuda_out_of_memory_is_oom_naming_the_gpu_and_its_memory(shell):
    pytest.importorskip("torch")
    body = (
        "import torch\nkept = torch.ones(2**28, device='cuda')  # 1 GiB held\n"
        "huge = torch.empty(2**50, dtype=torch.uint8, device='cuda')"
    )
    result = run(shell, "gpu --name torch-cuda-oom", body)
    assert type(result.error_in_exec).__name__ == "OutOfMemoryError"
    message = str(result.error_in_exec)
    assert "CUDA ran out of memory on GPU " in message and " GiB in use" in message
    assert "torch: 1.0 GiB allocated" in message
    recorded = _recorded("torch-cuda-oom")
    assert recorded["failure_class"] == "oom" and recorded["gpu"] and recorded["gpu"] in message


def test_cupy_running_cuda_out_of_memory_is_oom_naming_the_gpu(shell):
    pytest.importorskip("cupy")
    result = run(shell, "gpu --name cupy-cuda-oom", "import cupy as cp\nhuge = cp.empty(2**50, dtype=cp.uint8)")
    assert type(result.error_in_exec).__name__ == "OutOfMemoryError"
    message = str(result.error_in_exec)
    assert "CUDA ran out of memory on GPU " in message and "CuPy's pool" in message
    assert _recorded("cupy-cuda-oom")["failure_class"] == "oom"
