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

The embedded cluster on those GPUs (:func:`start_local_cluster`) is dask-cuda's
``LocalCUDACluster`` when ``cellfleet[cuda]`` is installed. Without dask-cuda a GPU machine
still runs its GPU cells: on a plain ``LocalCluster`` with one worker per GPU, each seeing its
own GPU first (``CUDA_VISIBLE_DEVICES`` rotated, as dask-cuda does) and advertising ``GPU=1``,
with one line saying which extra brings dask-cuda (its device-memory spilling, RMM pools and
UCX). :func:`choose_cluster` is that decision, on its own.

Distributed (and dask-cuda) are imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from cellfleet.errors import ClusterError

__all__ = [
    "CUDA_EXTRA",
    "ClusterChoice",
    "GPUDiscoveryError",
    "choose_cluster",
    "dask_cuda_missing",
    "gpu_count",
    "gpu_name",
    "start_local_cluster",
    "visible_devices",
]

CUDA_EXTRA = "pip install 'cellfleet[cuda]'"
"""The install that brings dask-cuda."""

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


@dataclass(frozen=True)
class ClusterChoice:
    """Which embedded cluster a machine gets, and the line to show about it (or ``None``)."""

    kind: str
    """``"LocalCUDACluster"``, ``"GPULocalCluster"`` (GPUs without dask-cuda) or ``"LocalCluster"``."""
    warning: str | None = None


def choose_cluster(gpus: int, missing: str | None) -> ClusterChoice:
    """The embedded cluster for ``gpus`` GPUs, ``missing`` saying why dask-cuda cannot be
    imported (``None``: it can). GPUs without dask-cuda still run GPU cells, with a warning."""
    if not gpus:
        return ClusterChoice("LocalCluster")
    if missing is None:
        return ClusterChoice("LocalCUDACluster")
    plural = "s" if gpus > 1 else ""
    return ClusterChoice(
        "GPULocalCluster",
        f"cellfleet: {missing}, so the {gpus} GPU{plural} run{'' if plural else 's'} on a plain LocalCluster "
        f"(one worker per GPU, without dask-cuda's device-memory spilling): {CUDA_EXTRA}",
    )


def dask_cuda_missing() -> str | None:
    """Why ``dask_cuda`` cannot be imported here, in a few words; ``None`` when it can."""
    try:
        import dask_cuda  # noqa: F401
    except Exception as error:  # a broken CUDA stack too: said in the warning, and the GPUs still run cells
        if isinstance(error, ImportError) and error.name == "dask_cuda":
            return "dask-cuda is not installed"
        return f"dask-cuda cannot be imported ({type(error).__name__}: {' '.join(str(error).split())})"
    return None


def visible_devices(count: int) -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` names them (unset: ``0..count-1``;
    set but empty: none)."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is None:
        return [str(index) for index in range(count)]
    return [part.strip() for part in given.split(",") if part.strip()]


def start_local_cluster(gpus: int, **options: Any) -> tuple[Any, str | None]:
    """Start the embedded cluster :func:`choose_cluster` picks for ``gpus`` GPUs, with the
    worker ``options`` (``n_workers``, ``resources``, ...); returns it and its warning line.

    Workers spill to disk under ``.cellfleet/spill`` (where it can be made) past their memory limit (dask-cuda's ones
    first from device to host memory, past 80 % of their GPU's), so data larger than the
    workers' memory passes."""
    from cellfleet.config import spill_directory

    spill = spill_directory()
    try:
        spill.mkdir(parents=True, exist_ok=True)
        options.setdefault("local_directory", str(spill))
    except OSError:  # the project's .cellfleet cannot hold it: Dask's temporary folder then
        pass
    choice = choose_cluster(gpus, dask_cuda_missing() if gpus else None)
    if choice.kind == "LocalCUDACluster":
        from dask_cuda import LocalCUDACluster

        return LocalCUDACluster(**{"device_memory_limit": 0.8, **options}), None
    if choice.kind == "GPULocalCluster":
        return _gpu_local_cluster(visible_devices(gpus), **options), choice.warning
    from distributed import LocalCluster

    return LocalCluster(processes=True, **options), None


def _gpu_local_cluster(devices: list[str], n_workers: int, **options: Any) -> Any:
    """A ``LocalCluster`` whose worker ``i`` sees ``devices`` rotated to start at its own GPU."""
    from distributed import LocalCluster

    class GPULocalCluster(LocalCluster):
        """Worker ``i`` gets ``CUDA_VISIBLE_DEVICES`` rotated to start at GPU ``i``, as dask-cuda's do."""

        def new_worker_spec(self) -> dict[Any, Any]:
            parent: Any = super()
            ((name, spec),) = parent.new_worker_spec().items()
            if not devices:
                return {name: spec}  # CUDA_VISIBLE_DEVICES hides every GPU: the workers inherit that
            spec = copy.deepcopy(spec)
            first = int(name) % len(devices)
            visible = ",".join(devices[first:] + devices[:first])
            spec["options"]["env"] = {**spec["options"].get("env", {}), "CUDA_VISIBLE_DEVICES": visible}
            return {name: spec}

    start: Any = GPULocalCluster  # distributed's cluster methods carry no annotations
    cluster = start(n_workers=0, processes=True, **options)
    cluster.scale(n_workers)
    cluster.sync(cluster._correct_state)  # wait for the workers, as LocalCluster(n_workers=...) does
    return cluster
