"""Failure classes from exceptions and from their recorded type and message; which a job retries."""

from __future__ import annotations

import pytest

from cellfleet.errors import (
    CellCancelled,
    CellTimeout,
    ClusterUnavailable,
    NoGPUError,
    RemoteCellError,
    ResourceUnavailable,
    WorkerLostError,
)
from cellfleet.failures import FAILED_ENDINGS, classify, classify_recorded, cuda_oom, failure_of, retried
from cellfleet.protocol import FailureClass, RetryOn, RunStatus

OOM, USER = FailureClass.OOM, FailureClass.USER


def _foreign(module: str, name: str, base: type[BaseException] = Exception) -> type[BaseException]:
    """An exception class as another library defines it (torch, CuPy, papermill), without importing it."""
    return type(name, (base,), {"__module__": module})


TORCH_OOM = _foreign("torch.cuda", "OutOfMemoryError", RuntimeError)
CUPY_OOM = _foreign("cupy.cuda.memory", "OutOfMemoryError", MemoryError)
KILLED_WORKER = _foreign("distributed.scheduler", "KilledWorker")
COMM_CLOSED = _foreign("distributed.comm.core", "CommClosedError", OSError)
DEAD_KERNEL = _foreign("nbclient.exceptions", "DeadKernelError", RuntimeError)
CELL_TIMEOUT_ERROR = _foreign("nbclient.exceptions", "CellTimeoutError", TimeoutError)


class PapermillExecutionError(Exception):
    """papermill's, by name and shape: the failing cell's exception as ``ename`` and ``evalue``."""

    def __init__(self, ename: str, evalue: str) -> None:
        super().__init__(f"{ename}: {evalue}")
        self.ename, self.evalue = ename, evalue


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValueError("bad data"), USER),
        (ZeroDivisionError("division by zero"), USER),
        (MemoryError(), OOM),
        (TORCH_OOM("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79 GiB"), OOM),
        (CUPY_OOM("Out of memory allocating 1,024 bytes (allocated so far: 0 bytes)."), OOM),
        (RuntimeError("CUDA error: out of memory"), OOM),
        (RuntimeError("std::bad_alloc"), OOM),
        (WorkerLostError("the worker died 2 times: its nanny restarted it for passing its memory budget"), OOM),
        (
            KILLED_WORKER("Attempted to run task x on 4 different workers, but all those workers died"),
            FailureClass.WORKER_LOST,
        ),
        (COMM_CLOSED("in <TCP (closed)>: Stream is closed"), FailureClass.WORKER_LOST),
        (
            WorkerLostError("the worker running this cell died 2 times: the cell may be using more memory"),
            FailureClass.WORKER_LOST,
        ),
        (ClusterUnavailable("the cluster at tcp://x went away"), FailureClass.CLUSTER_UNAVAILABLE),
        (NoGPUError("no GPU"), FailureClass.CLUSTER_UNAVAILABLE),
        (ResourceUnavailable("no worker offers GPU=8"), FailureClass.CLUSTER_UNAVAILABLE),
        (OSError("Timed out trying to connect to tcp://10.0.0.1:8786 after 30 s"), FailureClass.CLUSTER_UNAVAILABLE),
        (OSError("[Errno 2] No such file or directory: 'data.csv'"), USER),
        (DEAD_KERNEL("Kernel died"), FailureClass.KERNEL_DIED),
        (CellTimeout("the cell ran past its 1 s timeout"), FailureClass.TIMEOUT),
        (CELL_TIMEOUT_ERROR("A cell timed out"), FailureClass.TIMEOUT),
        (TimeoutError("the API did not answer"), USER),
        (CellCancelled("the cell was interrupted"), FailureClass.CANCELLED),
        (KeyboardInterrupt(), FailureClass.CANCELLED),
        (RemoteCellError("OutOfMemoryError: CUDA out of memory."), OOM),
        (RemoteCellError("ValueError: bad"), USER),
        (PapermillExecutionError("MemoryError", ""), OOM),
        (PapermillExecutionError("ValueError", "bad data"), USER),
        (
            PapermillExecutionError("WorkerLostError", "the worker running this cell died 2 times"),
            FailureClass.WORKER_LOST,
        ),
        (PapermillExecutionError("ClusterUnavailable", "the cluster went away"), FailureClass.CLUSTER_UNAVAILABLE),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_an_exception_gets_its_class(error, expected):
    assert classify(error) is expected


def test_an_error_raised_from_running_out_of_memory_is_out_of_memory():
    try:
        try:
            raise TORCH_OOM("CUDA out of memory. Tried to allocate 2.00 GiB")
        except RuntimeError as oom:
            raise ValueError("training failed at step 3") from oom
    except ValueError as error:
        assert classify(error) is OOM


def test_an_exception_whose_str_fails_still_gets_a_class():
    class Rude(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert classify(Rude()) is USER


@pytest.mark.parametrize(
    ("type_name", "message", "expected"),
    [
        ("MemoryError", "", OOM),
        ("torch.OutOfMemoryError", "CUDA out of memory.", OOM),
        ("cupy.cuda.memory.OutOfMemoryError", "Out of memory allocating 512 bytes", OOM),
        ("RuntimeError", "Worker tcp://127.0.0.1:4000 (pid=12) exceeded 95% memory budget. Restarting...", OOM),
        ("XlaRuntimeError", "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1 GiB", OOM),
        ("KilledWorker", "Attempted to run task x on 4 different workers", FailureClass.WORKER_LOST),
        ("DeadKernelError", "Kernel died", FailureClass.KERNEL_DIED),
        ("CellTimeout", "ran past its timeout", FailureClass.TIMEOUT),
        ("CellCancelled", "interrupted", FailureClass.CANCELLED),
        ("TimeoutError", "Timed out trying to connect to tcp://h:8786", FailureClass.CLUSTER_UNAVAILABLE),
        ("RemoteCellError", "MemoryError: ", OOM),
        ("ValueError", "bad data", USER),
        ("", "", USER),
    ],
)
def test_a_recorded_exception_gets_its_class_by_name_and_message(type_name, message, expected):
    assert classify_recorded(type_name, message) is expected


@pytest.mark.parametrize(
    ("type_name", "message", "module", "expected"),
    [
        ("OutOfMemoryError", "CUDA out of memory. Tried to allocate 2 GiB", "torch.cuda", True),
        ("OutOfMemoryError", "Out of memory allocating 1,024 bytes", "cupy.cuda.memory", True),
        ("OutOfMemoryError", "anything", "torch", True),
        ("RuntimeError", "CUDA error: out of memory", "builtins", True),
        ("MemoryError", "", "builtins", False),
        ("WorkerLostError", "restarted it for passing its memory budget", "cellfleet.errors", False),
        ("ValueError", "CUDA device 0 is busy", "builtins", False),
    ],
)
def test_cuda_out_of_memory_is_told_from_the_hosts(type_name, message, module, expected):
    assert cuda_oom(type_name, message, module) is expected


def test_only_failed_endings_keep_a_class():
    assert FAILED_ENDINGS == {RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED, RunStatus.INTERRUPTED}
    assert failure_of(RunStatus.FAILED, FailureClass.OOM) == "oom" and failure_of("timed_out", "timeout") == "timeout"
    assert failure_of(RunStatus.PRUNED, FailureClass.USER) is None  # a pruned trial's cell raised; it did not fail
    assert failure_of(RunStatus.SUCCEEDED, FailureClass.USER) is None and failure_of("failed", None) is None


@pytest.mark.parametrize(
    ("failure", "retry_on", "expected"),
    [
        *((kind, RetryOn.INFRA, kind is not FailureClass.USER) for kind in FailureClass if kind.value != "expectation"),
        *((kind, RetryOn.ALL, True) for kind in FailureClass if kind.value != "expectation"),
        (FailureClass.EXPECTATION, RetryOn.INFRA, False),
        (FailureClass.EXPECTATION, RetryOn.ALL, False),
        ("user", "infra", False),
        ("user", "all", True),
        ("user", None, False),  # a job stored without a policy retries infrastructure only
        (None, "infra", True),  # an ending recorded without a class counts as infrastructure
        ("a-class-of-a-newer-cellfleet", "infra", True),
    ],
)
def test_retries_follow_the_class(failure, retry_on, expected):
    assert retried(failure, retry_on) is expected
