"""Describing values without moving them: size, shape, dtype, and whether they live on a GPU."""

from __future__ import annotations

import copy
from typing import Any

from cellfleet.protocol import KeepReason, ValueInfo

__all__ = ["describe", "is_gpu_resident", "is_persisted", "measure", "to_host"]


def _qualified_type(value: Any) -> str:
    kind = type(value)
    module = kind.__module__.split(".")[0]
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def is_gpu_resident(value: Any) -> bool:
    """Whether ``value`` holds device memory: CuPy arrays, CUDA torch tensors and modules,
    cuDF frames."""
    module = type(value).__module__.split(".")[0]
    if module in ("cupy", "cudf", "rmm"):
        return True
    if module != "torch":
        return False
    if getattr(value, "is_cuda", False):
        return True
    parameters = getattr(value, "parameters", None)
    if callable(parameters):
        try:
            return any(p.is_cuda for p in parameters())
        except Exception:  # a module whose parameters cannot be listed is not known to be on a GPU
            return False
    return False


def is_persisted(value: Any) -> bool:
    """Whether ``value`` is a Dask collection backed by futures (persisted on a cluster)."""
    from dask.base import is_dask_collection

    if not is_dask_collection(value):
        return False
    from distributed import futures_of

    try:
        return bool(futures_of(value))
    except Exception:  # a collection whose graph cannot be walked is not treated as persisted
        return False


def measure(value: Any) -> int | None:
    """Bytes ``value`` takes by Dask's ``sizeof``, or ``None`` when it cannot be measured."""
    from dask.sizeof import sizeof

    try:
        return int(sizeof(value))
    except Exception:  # the caller treats an unmeasured value as one that must not travel
        return None


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    try:
        return tuple(int(n) for n in shape) if shape is not None else None
    except (TypeError, ValueError):
        return None


def describe(value: Any, reason: KeepReason) -> ValueInfo:
    """Describe ``value`` for a remote handle (``nbytes`` is ``None`` when unmeasurable)."""
    dtype = getattr(value, "dtype", None)
    return ValueInfo(
        type_name=_qualified_type(value),
        nbytes=measure(value),
        shape=_shape(value),
        dtype=str(dtype) if dtype is not None else None,
        on_gpu=is_gpu_resident(value),
        reason=reason,
    )


def to_host(value: Any) -> Any:
    """A host-memory copy of a GPU-resident value; other values unchanged."""
    if not is_gpu_resident(value):
        return value
    module = type(value).__module__.split(".")[0]
    if module == "cupy":
        return value.get()
    if module == "cudf":
        return value.to_pandas()
    if hasattr(value, "detach"):
        return value.detach().cpu()
    return copy.deepcopy(value).cpu()
