"""GPU discovery: no NVML means 0 GPUs; a failing NVML is reported, never read as 0.

The machine's real NVML answers the first test; the decision logic for the states a CPU
machine cannot produce is driven by replacing distributed's NVML functions.
"""

from __future__ import annotations

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
