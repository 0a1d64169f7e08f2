"""GPU discovery: no NVML means 0 GPUs; a failing NVML is reported, never read as 0.

The machine's real NVML answers the first test; the decision logic for the states a CPU
machine cannot produce is driven by replacing distributed's NVML functions.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from types import SimpleNamespace

import pynvml
import pytest
from distributed.diagnostics import nvml

from cellfleet import ClusterError, gpus
from cellfleet.kernel import session as clusters


def test_this_machine_without_nvml_has_no_gpus_and_the_old_name_still_works():
    assert clusters.gpu_count is gpus.gpu_count
    count = gpus.gpu_count()
    if nvml.NVML_STATE == nvml.NVMLState.DISABLED_LIBRARY_NOT_FOUND:
        assert count == 0 and gpus.gpu_name() is None
    else:
        assert count >= 0


@pytest.fixture
def fake_nvml(monkeypatch):
    """distributed's NVML module in a chosen state, with ``count`` GPUs."""

    def set_state(state, count=0, init_error=None, count_error=None):
        def init_once():
            if init_error is not None:
                raise init_error

        def device_get_count():
            if count_error is not None:
                raise count_error
            return count

        monkeypatch.setattr(nvml, "init_once", init_once)
        monkeypatch.setattr(nvml, "NVML_STATE", state)
        monkeypatch.setattr(nvml, "device_get_count", device_get_count)

    return set_state


@pytest.mark.parametrize("state", ["DISABLED_LIBRARY_NOT_FOUND", "DISABLED_PYNVML_NOT_AVAILABLE"])
def test_no_nvml_library_or_driver_means_no_gpus(fake_nvml, state):
    fake_nvml(nvml.NVMLState[state])
    assert gpus.gpu_count() == 0
    assert gpus.gpu_name() is None


def test_nvml_switched_off_by_config_counts_no_gpus_and_says_so(fake_nvml):
    fake_nvml(nvml.NVMLState.DISABLED_CONFIG)
    with pytest.warns(RuntimeWarning, match="distributed.diagnostics.nvml"):
        assert gpus.gpu_count() == 0


def test_an_nvml_that_fails_to_start_is_an_error_not_zero_gpus(fake_nvml):
    mismatch = pynvml.NVMLError(pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH)
    fake_nvml(nvml.NVMLState.UNINITIALIZED, init_error=mismatch)
    with pytest.raises(gpus.GPUDiscoveryError) as caught:
        gpus.gpu_count()
    message = str(caught.value)
    assert isinstance(caught.value, ClusterError)
    assert "NVMLError_LibRmVersionMismatch" in message and "nvidia-smi" in message and "\n" not in message


def test_a_device_query_that_fails_is_an_error_not_zero_gpus(fake_nvml):
    fake_nvml(nvml.NVMLState.INITIALIZED, count_error=pynvml.NVMLError(pynvml.NVML_ERROR_NO_PERMISSION))
    with pytest.raises(gpus.GPUDiscoveryError, match="NoPermission"):
        gpus.gpu_count()


def test_an_old_wsl_driver_is_an_error(fake_nvml):
    fake_nvml(nvml.NVMLState.DISABLED_WSL_INSUFFICIENT_DRIVER)
    with pytest.raises(gpus.GPUDiscoveryError, match="WSL"):
        gpus.gpu_count()


def test_the_gpu_of_this_process_is_the_first_visible_one(fake_nvml, monkeypatch):
    fake_nvml(nvml.NVMLState.INITIALIZED, count=2)
    handle = object()
    uuid = "MIG-7feb6df5-eccf-5faa-ab00-9a441867e237"
    monkeypatch.setattr(nvml, "_pynvml_handles", lambda: handle)
    monkeypatch.setattr(nvml, "_get_name", lambda h: "NVIDIA H200" if h is handle else "?")
    monkeypatch.setattr(nvml, "pynvml", SimpleNamespace(nvmlDeviceGetUUID=lambda h: uuid))
    monkeypatch.setattr(nvml, "get_device_index_and_uuid", lambda u: nvml.CudaDeviceInfo(u, 1))
    assert gpus.gpu_count() == 2
    assert gpus.gpu_name() == "GPU 1: NVIDIA H200"


def test_a_gpu_that_cannot_be_described_is_an_error(fake_nvml, monkeypatch):
    fake_nvml(nvml.NVMLState.INITIALIZED, count=1)

    def broken():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)

    monkeypatch.setattr(nvml, "_pynvml_handles", broken)
    with pytest.raises(gpus.GPUDiscoveryError, match="GpuIsLost"):
        gpus.gpu_name()


# --- which embedded cluster runs the GPUs ----------------------------------------------------


@pytest.mark.parametrize(
    ("count", "missing", "kind"),
    [
        (0, None, "LocalCluster"),
        (0, "dask-cuda is not installed", "LocalCluster"),
        (2, None, "LocalCUDACluster"),
        (2, "dask-cuda is not installed", "GPULocalCluster"),
        (1, "dask-cuda cannot be imported (ImportError: no cuda.bindings)", "GPULocalCluster"),
    ],
)
def test_gpus_without_dask_cuda_still_run_on_a_local_cluster_with_one_line_naming_the_extra(count, missing, kind):
    choice = gpus.choose_cluster(count, missing)
    assert choice.kind == kind
    if kind != "GPULocalCluster":
        assert choice.warning is None
        return
    warning = choice.warning
    assert warning.startswith(f"cellfleet: {missing}, so the ") and warning.endswith("pip install 'cellfleet[cuda]'")
    assert ("2 GPUs run on" in warning if count == 2 else "1 GPU runs on" in warning) and "\n" not in warning


@pytest.fixture
def no_dask_cuda(monkeypatch):
    """``import dask_cuda`` fails as where cellfleet[cuda] is not installed."""
    for name in [name for name in sys.modules if name == "dask_cuda" or name.startswith("dask_cuda.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "dask_cuda", None)


def test_dask_cuda_that_is_not_installed_is_named(no_dask_cuda):
    assert gpus.dask_cuda_missing() == "dask-cuda is not installed"
    with pytest.raises(ImportError):
        import dask_cuda  # noqa: F401


def test_dask_cuda_that_cannot_import_says_why(monkeypatch):
    class BrokenCuda(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "dask_cuda":
                raise ImportError("cannot load cuda.bindings:\n  libcuda.so.1 not found", name="cuda.bindings")
            return None

    monkeypatch.delitem(sys.modules, "dask_cuda", raising=False)
    monkeypatch.setattr(sys, "meta_path", [BrokenCuda(), *sys.meta_path])
    assert gpus.dask_cuda_missing() == (
        "dask-cuda cannot be imported (ImportError: cannot load cuda.bindings: libcuda.so.1 not found)"
    )


def test_visible_devices_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpus.visible_devices(3) == ["0", "1", "2"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aa, 5")
    assert gpus.visible_devices(8) == ["GPU-aa", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpus.visible_devices(8) == []


@pytest.mark.parametrize(("visible", "expected"), [(None, {"0,1", "1,0"}), ("3,5", {"3,5", "5,3"})])
def test_without_dask_cuda_each_worker_sees_its_own_gpu_first_and_offers_it(no_dask_cuda, monkeypatch, visible,
                                                                             expected):  # fmt: skip
    from distributed import Client

    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    cluster, warning = gpus.start_local_cluster(
        2, n_workers=2, threads_per_worker=1, resources={"GPU": 1}, dashboard_address=":0"
    )
    try:
        assert type(cluster).__name__ == "GPULocalCluster" and "pip install 'cellfleet[cuda]'" in warning
        with Client(cluster, set_as_default=False) as client:
            seen = client.run(lambda: os.environ["CUDA_VISIBLE_DEVICES"])
            offers = [info["resources"] for info in client.scheduler_info(n_workers=-1)["workers"].values()]
        assert set(seen.values()) == expected and offers == [{"GPU": 1}, {"GPU": 1}]
    finally:
        cluster.close()


def test_a_machine_without_gpus_gets_a_plain_local_cluster_and_no_warning(no_dask_cuda):
    cluster, warning = gpus.start_local_cluster(0, n_workers=1, threads_per_worker=1, dashboard_address=":0")
    try:
        assert type(cluster).__name__ == "LocalCluster" and warning is None
    finally:
        cluster.close()
