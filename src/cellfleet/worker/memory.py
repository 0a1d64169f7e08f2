"""What a GPU held when CUDA ran out of memory, for the failure's message.

Best-effort and read only from what the worker already runs: NVML (through distributed, for
the memory the whole device has in use), torch's caching allocator and CuPy's memory pool when
the cell imported them. Nothing is imported to find out, and no failure here hides the cell's.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["gpu_memory_note"]


def _gib(count: float) -> str:
    return f"{count / 2**30:.1f} GiB"


def _device_memory() -> str | None:
    """``"X of Y GiB in use"`` for this process's GPU, from NVML (``None`` when unknown)."""
    try:
        from distributed.diagnostics import nvml

        used, total = nvml.real_time()["memory-used"], nvml.one_time()["memory-total"]
    except Exception:  # no NVML, no GPU, a driver problem: the note says less
        return None
    return f"{used / 2**30:.1f} of {_gib(total)} in use"


def _torch_memory(torch: Any) -> str | None:
    try:
        if not torch.cuda.is_initialized():
            return None
        device = torch.cuda.current_device()
        allocated, reserved = torch.cuda.memory_allocated(device), torch.cuda.memory_reserved(device)
    except Exception:  # torch without CUDA, or a broken context
        return None
    return f"torch: {_gib(allocated)} allocated, {_gib(reserved)} reserved"


def _cupy_memory(cupy: Any) -> str | None:
    try:
        pool = cupy.get_default_memory_pool()
        used, held = pool.used_bytes(), pool.total_bytes()
    except Exception:  # CuPy without a device
        return None
    return f"CuPy's pool: {_gib(used)} used of {_gib(held)} held"


def gpu_memory_note(gpu: str | None) -> str:
    """One line: which GPU ran out and how much memory was in use, as far as it is known, like
    ``CUDA ran out of memory on GPU 0: NVIDIA H200 with 139.2 of 139.8 GiB in use (torch: ...)``."""
    where = f" on {gpu}" if gpu else ""
    device = _device_memory()
    libraries = [
        part
        for part in (
            _torch_memory(sys.modules["torch"]) if "torch" in sys.modules else None,
            _cupy_memory(sys.modules["cupy"]) if "cupy" in sys.modules else None,
        )
        if part
    ]
    if device is None and not libraries:
        return f"CUDA ran out of memory{where} (how much memory was in use is not known)"
    used = f" with {device}" if device else ""
    held = f" ({'; '.join(libraries)})" if libraries else ""
    return f"CUDA ran out of memory{where}{used}{held}"
