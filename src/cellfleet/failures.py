"""Failure classes: why a run failed, read from its exception or from the type name and message
recorded of it, and which failures a job retries.

Pure functions over names and messages: nothing here imports torch, CuPy, Dask or papermill,
so every process (kernel, worker, scheduler, CLI) classifies the same way. The classes are
:class:`~cellfleet.protocol.FailureClass`:

* ``oom``: a host ``MemoryError`` (or a subclass, like CuPy's
  ``cupy.cuda.memory.OutOfMemoryError``), torch's ``torch.cuda.OutOfMemoryError``, any
  ``...OutOfMemoryError``, a message saying CUDA ran out of memory, or a worker its nanny
  restarted for passing its memory budget ("exceeded 95% memory budget");
* ``worker_lost``: distributed's ``KilledWorker``, ``CommClosedError``, Cellfleet's
  ``WorkerLostError`` and ``HandleError``;
* ``cluster_unavailable``: Cellfleet's ``ClusterError`` family, or a scheduler that did not answer;
* ``kernel_died``: papermill's (nbclient's) ``DeadKernelError``;
* ``timeout`` and ``cancelled``: Cellfleet's ``CellTimeout`` / ``CellCancelled``, nbclient's
  ``CellTimeoutError``, ``KeyboardInterrupt``;
* ``user``: everything else, the cell's own exception.

``expectation`` is never read from an exception: the production run sets it when a metric
breaks the job's ``--expect`` (:mod:`cellfleet.production.expect`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from cellfleet.protocol import FailureClass, RetryOn, RunStatus

__all__ = ["FAILED_ENDINGS", "classify", "classify_recorded", "cuda_oom", "failure_of", "retried"]

FAILED_ENDINGS = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED, RunStatus.INTERRUPTED})
"""The endings that carry a failure class (a pruned trial or a skipped occurrence carries none)."""

_BY_NAME: dict[str, FailureClass] = {
    **dict.fromkeys(("MemoryError", "OutOfMemoryError"), FailureClass.OOM),
    **dict.fromkeys(("KilledWorker", "WorkerLostError", "CommClosedError", "HandleError"), FailureClass.WORKER_LOST),
    **dict.fromkeys(
        ("ClusterError", "ClusterUnavailable", "NoGPUError", "ResourceUnavailable", "GPUDiscoveryError"),
        FailureClass.CLUSTER_UNAVAILABLE,
    ),
    "DeadKernelError": FailureClass.KERNEL_DIED,
    **dict.fromkeys(("CellTimeout", "CellTimeoutError"), FailureClass.TIMEOUT),
    **dict.fromkeys(("CellCancelled", "CellInterrupted", "KeyboardInterrupt"), FailureClass.CANCELLED),
}
"""Exception type names (any module) and their class."""

_OOM_TEXT = re.compile(
    r"cuda out of memory|cuda error: out of memory|out of memory allocating|cudaErrorMemoryAllocation"
    r"|CUBLAS_STATUS_ALLOC_FAILED|RESOURCE_EXHAUSTED: Out of memory|std::bad_alloc|memory budget",
    re.IGNORECASE,
)
"""Messages that mean out of memory whatever the type: torch's and CuPy's CUDA errors, XLA's,
C++'s ``bad_alloc``, and a nanny's "exceeded 95% memory budget"."""

_CUDA_TEXT = re.compile(r"cuda|cublas|cudnn|gpu|out of memory allocating", re.IGNORECASE)
_CUDA_MODULES = ("torch", "cupy", "cupyx", "rmm", "cudf", "numba.cuda", "jax", "jaxlib", "tensorflow")
_UNREACHABLE = re.compile(r"timed out trying to connect|could not reach the dask scheduler", re.IGNORECASE)
_CONNECTING = ("OSError", "TimeoutError", "ConnectionRefusedError", "ConnectionError")


def classify(error: BaseException) -> FailureClass:
    """The class of ``error``: its types (every base, by name), its message, and for ``oom`` the
    exceptions it was raised from. Papermill's ``PapermillExecutionError`` is classified by the
    cell exception it names (``ename``, ``evalue``)."""
    if type(error).__name__ == "PapermillExecutionError" and isinstance(getattr(error, "ename", None), str):
        return classify_recorded(error.ename, str(getattr(error, "evalue", "")))  # type: ignore[attr-defined]
    if any(_oom(link) for link in _chain(error)):
        return FailureClass.OOM
    for kind in type(error).__mro__:
        if kind.__name__ in _BY_NAME:
            return _BY_NAME[kind.__name__]
    if isinstance(error, OSError) and _UNREACHABLE.search(_text(error)):
        return FailureClass.CLUSTER_UNAVAILABLE
    return FailureClass.USER


def classify_recorded(type_name: str, message: str = "") -> FailureClass:
    """The class of an exception known by its type name (``MemoryError``, or qualified:
    ``torch.cuda.OutOfMemoryError``) and message, as a worker, a kernel or papermill recorded it.
    A ``RemoteCellError`` is classified by the exception it stands for (its message's head)."""
    name = type_name.strip().rsplit(".", 1)[-1]
    if name == "RemoteCellError" and ": " in message:
        inner, _, rest = message.partition(": ")
        return classify_recorded(inner, rest)
    if name in ("MemoryError", "OutOfMemoryError") or _OOM_TEXT.search(message):
        return FailureClass.OOM
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name in _CONNECTING and _UNREACHABLE.search(message):
        return FailureClass.CLUSTER_UNAVAILABLE
    return FailureClass.USER


def cuda_oom(type_name: str, message: str = "", module: str = "") -> bool:
    """Whether an out-of-memory failure is the GPU's (torch's or CuPy's CUDA allocator, by the
    type's module or the message), rather than the host's."""
    name = type_name.strip().rsplit(".", 1)[-1]
    qualified = f"{module}.{type_name}" if module else type_name
    if classify_recorded(type_name, message) is not FailureClass.OOM:
        return False
    from_gpu_library = qualified.startswith(_CUDA_MODULES) and name in ("MemoryError", "OutOfMemoryError")
    return from_gpu_library or (bool(_CUDA_TEXT.search(message)) and "memory budget" not in message.lower())


def failure_of(status: RunStatus | str, failure: FailureClass | str | None) -> str | None:
    """The class to record with an ending: ``failure`` for a failed, timed out, cancelled or
    interrupted run; ``None`` for any other (a pruned trial's cell raised, but it did not fail)."""
    if failure is None or RunStatus(status) not in FAILED_ENDINGS:
        return None
    return FailureClass(failure).value


def retried(failure: FailureClass | str | None, retry_on: RetryOn | str | None) -> bool:
    """Whether a job with ``--retry-on retry_on`` retries a run that failed with ``failure``.

    ``infra`` (the default, also for a job stored without one) retries every class but ``user``;
    ``all`` retries that too. An ``expectation`` failure is never retried: the run ran to its end.
    A run ended without a class (by an older Cellfleet, or a class this one does not know)
    counts as infrastructure.
    """
    try:
        found = FailureClass(failure) if failure is not None else None
    except ValueError:
        found = None
    if found is FailureClass.EXPECTATION:
        return False
    policy = RetryOn(retry_on) if retry_on in {member.value for member in RetryOn} else RetryOn.INFRA
    return policy is RetryOn.ALL or found is not FailureClass.USER


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions it was raised from or while handling (at most 8, no loops)."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen and len(seen) < 8:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _oom(error: BaseException) -> bool:
    names = {kind.__name__ for kind in type(error).__mro__}
    return bool(names & {"MemoryError", "OutOfMemoryError"}) or bool(_OOM_TEXT.search(_text(error)))


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # an exception whose __str__ fails still gets a class
        return ""
