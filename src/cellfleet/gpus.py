"""GPU discovery, in one place: how many NVIDIA GPUs this machine has, and which one this
process uses.

Built on distributed's NVML diagnostics (:mod:`distributed.diagnostics.nvml`), which start
NVML once per process and resolve the first ``CUDA_VISIBLE_DEVICES`` entry (an index, or a
``GPU-``/``MIG-`` UUID) to a device. What each NVML situation means here:

* no NVML on this machine (pynvml not installed, no NVML library, no driver loaded, which
  distributed also reads NVML's "unknown error" at start-up as): **0 GPUs**, silently; that
  is every CPU laptop and CI runner.
* NVML switched off by the Dask config ``distributed.diagnostics.nvml: False``: 0 GPUs, with
  a ``RuntimeWarning``; this is also the way to run on CPU while a driver is broken.
* any other NVML failure (a driver/library version mismatch, no permission, a WSL driver
  too old, a device query failing): :class:`GPUDiscoveryError`, a
  :class:`~cellfleet.errors.ClusterError`, never read as "0 GPUs".

Distributed is imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import warnings
from types import ModuleType

from cellfleet.errors import ClusterError

__all__ = ["GPUDiscoveryError", "gpu_count", "gpu_name"]

_FIX = (
    "check the NVIDIA driver with nvidia-smi, or set the Dask config distributed.diagnostics.nvml "
    "to False to run without GPUs"
)


class GPUDiscoveryError(ClusterError):
    """NVML is present but failed, so whether this machine has GPUs is unknown."""


def _nvml() -> ModuleType:
    from distributed.diagnostics import nvml

    return nvml


def _failed(what: str, error: BaseException) -> GPUDiscoveryError:
    detail = " ".join(str(error).split())
    return GPUDiscoveryError(f"NVML failed {what} ({type(error).__name__}: {detail}): {_FIX}")


def _started(nvml: ModuleType) -> bool:
    """Start NVML (once per process): ``True`` when it runs, ``False`` when there is none."""
    try:
        nvml.init_once()
    except Exception as error:  # distributed lets every NVML error but "no library/driver" through
        raise _failed("to start", error) from error
    state = nvml.NVML_STATE
    states = nvml.NVMLState
    if state == states.INITIALIZED:
        return True
    if state in (states.DISABLED_PYNVML_NOT_AVAILABLE, states.DISABLED_LIBRARY_NOT_FOUND):
        return False
    if state == states.DISABLED_CONFIG:
        warnings.warn(
            "GPU discovery is off (the Dask config distributed.diagnostics.nvml is False): "
            "Cellfleet sees no GPUs and runs cells on CPU workers",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    if state == states.DISABLED_WSL_INSUFFICIENT_DRIVER:
        raise GPUDiscoveryError(
            f"the NVIDIA driver for WSL is older than {nvml.MINIMUM_WSL_VERSION}, so NVML cannot list "
            "the GPUs: upgrade the Windows NVIDIA driver, or set the Dask config distributed.diagnostics.nvml "
            "to False to run without GPUs"
        )
    raise GPUDiscoveryError(f"NVML is in a state Cellfleet does not know ({state!r}): {_FIX}")


def gpu_count() -> int:
    """How many NVIDIA GPUs NVML lists on this machine: 0 without NVML.

    Raises :class:`GPUDiscoveryError` when NVML is there but fails.
    """
    nvml = _nvml()
    if not _started(nvml):
        return 0
    try:
        return int(nvml.device_get_count())
    except Exception as error:  # reported, never read as 0 GPUs
        raise _failed("to count the GPUs", error) from error


def gpu_name() -> str | None:
    """The GPU this process uses (the first of ``CUDA_VISIBLE_DEVICES``), like
    ``GPU 0: NVIDIA H200``; ``None`` on a machine without GPUs.

    Raises :class:`GPUDiscoveryError` when NVML is there but fails.
    """
    nvml = _nvml()
    if gpu_count() == 0:
        return None
    try:
        handle = nvml._pynvml_handles()
        name = nvml._get_name(handle)
        uuid = nvml.pynvml.nvmlDeviceGetUUID(handle)
        index = nvml.get_device_index_and_uuid(uuid).device_index
    except Exception as error:  # reported, never read as "no GPU"
        raise _failed("to describe this process's GPU", error) from error
    return f"GPU {index}: {name}"
