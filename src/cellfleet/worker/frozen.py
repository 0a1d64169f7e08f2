"""Large inputs in their out-of-band form: a pickle header plus the raw buffers it refers to.

The notebook pickles a large value once with protocol 5 (``buffer_callback``): NumPy arrays,
pandas columns and ``bytearray`` data become raw buffers, not copied into the pickle. Dask
scatters a :class:`Frozen` straight to a worker with its own serialization (the buffers are
frames on the wire, never inside a task through the scheduler), and the worker keeps it as a
key for as long as the notebook holds its future: an unchanged input is not sent again.

Each cell that reads it gets a fresh object from :meth:`Frozen.load`, built over *read-only*
views of the kept buffers: the cell cannot change the copy that later cells reuse. Writing to
such an array in place raises NumPy's ``assignment destination is read-only``; the cell's
failure then says to copy it first (:data:`READ_ONLY_NOTE`). A cell that visibly changes an input
in place (``a[0] = 1``, ``a += 1``, ``a.x = 2``: :attr:`CellSpec.writable`) gets a writable copy
instead, so it behaves as it would in the notebook; only in-place methods (``a.sort()``) meet the
read-only copy.
"""

from __future__ import annotations

import pickle
from typing import Any

__all__ = ["READ_ONLY_NOTE", "Frozen"]

READ_ONLY_NOTE = (
    "large inputs arrive read-only (the cluster keeps one copy for every cell that reads them): "
    "copy one before changing it in place, like a = a.copy()"
)


class Frozen:
    """A value as a pickle header and out-of-band buffers (:mod:`pickle` protocol 5)."""

    __slots__ = ("buffers", "header")

    def __init__(self, header: bytes, buffers: list[Any]) -> None:
        self.header = header
        self.buffers = buffers

    @property
    def nbytes(self) -> int:
        return len(self.header) + sum(memoryview(b).nbytes for b in self.buffers)

    def load(self, writable: bool = False) -> Any:
        """A new object over read-only views of the buffers, or over copies of them (``writable``:
        for a cell that changes the value in place)."""
        if writable:
            return pickle.loads(self.header, buffers=[bytearray(b) for b in self.buffers])
        return pickle.loads(self.header, buffers=[memoryview(b).toreadonly() for b in self.buffers])

    def __reduce_ex__(self, protocol: Any) -> Any:
        # PickleBuffer: with protocol 5 and a buffer_callback (Dask's serialization), the
        # buffers travel as frames of their own, uncopied.
        return (_rebuild, (self.header, *(pickle.PickleBuffer(b) for b in self.buffers)))

    def __sizeof__(self) -> int:  # dask.sizeof: the bytes the worker holds for it
        return self.nbytes


def _rebuild(header: bytes, *buffers: Any) -> Frozen:
    return Frozen(header, list(buffers))
