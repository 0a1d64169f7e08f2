"""Describing values without moving them: size, shape, dtype, and whether they live on a GPU."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from dask.sizeof import sizeof

__all__ = ["ValueInfo", "describe", "is_gpu_resident", "to_host"]


@dataclass(frozen=True)
class ValueInfo:
    """What the notebook knows about a value that stays on a worker."""

    type_name: str
    nbytes: int
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    on_gpu: bool = False
    reason: str = "large"
    """Why it stayed remote: ``large``, ``gpu``, ``kept`` or ``unpicklable``."""


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
        except Exception:
            return False
    return False


def describe(value: Any, reason: str) -> ValueInfo:
    """Describe ``value`` for a remote handle."""
    shape = getattr(value, "shape", None)
    try:
        shape = tuple(int(n) for n in shape) if shape is not None else None
    except (TypeError, ValueError):
        shape = None
    dtype = getattr(value, "dtype", None)
    try:
        nbytes = int(sizeof(value))
    except Exception:
        nbytes = 0
    return ValueInfo(
        type_name=_qualified_type(value),
        nbytes=nbytes,
        shape=shape,
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
