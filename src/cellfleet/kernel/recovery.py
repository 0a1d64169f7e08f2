"""What the notebook's kernel does about a cell's memory failure, as the process that owns the
cluster connection.

* A worker its nanny restarted for passing its memory budget ("exceeded 95% memory budget")
  is found in the scheduler's ``worker-restart-memory`` events, so that a lost worker is
  reported (and classified) as out of memory rather than as a crash.
* After a remote cell ran its GPU out of memory under a production run, the worker that raised
  it is restarted, so that the job's retry finds that GPU's memory free. Only on a cluster
  someone else runs: an embedded cluster belongs to the production run's kernel and ends with
  it, so the retry starts on fresh workers anyway. An interactive kernel restarts nothing (the
  results its cells keep on that worker would be lost); the message says how.
"""

from __future__ import annotations

import time
from collections.abc import Collection

from cellfleet.config import run_context
from cellfleet.errors import WorkerLostError
from cellfleet.kernel.job import Output
from cellfleet.kernel.session import Session
from cellfleet.kernel.stop import RPC_TIMEOUT, others_on

__all__ = ["MEMORY_KILL_TOPIC", "after_cuda_oom", "killed_for_memory", "lost_worker_error"]

MEMORY_KILL_TOPIC = "worker-restart-memory"
"""The event a nanny logs when it restarts its worker for memory (distributed.worker_memory)."""


def killed_for_memory(session: Session, workers: Collection[str], since: float) -> bool:
    """Whether a nanny restarted one of ``workers`` for memory after ``since`` (wall clock)."""
    if not workers:
        return False
    try:
        events = session.client.get_events(MEMORY_KILL_TOPIC)
    except Exception:  # the scheduler may be gone too: then the loss stays a plain loss
        return False
    return any(stamp >= since - 1.0 and event.get("worker") in workers for stamp, event in events or ())


def lost_worker_error(session: Session, tries: int, workers: Collection[str], since: float) -> WorkerLostError:
    """The error for a cell whose worker died ``tries`` times: out of memory when a nanny
    restarted one of ``workers`` for it (classified ``oom``), else a plain loss."""
    died = f"the worker running this cell died {tries} time{'s' if tries > 1 else ''}"
    if killed_for_memory(session, workers, since):
        return WorkerLostError(
            f"{died}: its nanny restarted it for passing its memory budget (out of memory); give the cell "
            "less data, or run it with --memory on workers that have more"
        )
    return WorkerLostError(
        f"{died}: the cell may be using more memory than a worker has, or crashing its process; "
        "raise --retries, give it --memory, or look at the worker logs"
    )


def after_cuda_oom(session: Session, worker: str | None, note: str, output: Output) -> None:
    """Under a production run, restart ``worker`` (on a cluster the kernel does not own) after
    CUDA ran out of memory there; say in the cell's output what was done, or how to do it."""
    where = worker or "its worker"
    if not run_context().run_id:
        fix = f"cellfleet.client({session.address!r}).restart_workers([{where!r}])"
        output.stream("stderr", f"cellfleet: {note}; to free that GPU's memory, restart the worker: {fix}\n")
        return
    if session.embedded:
        ends = "the embedded cluster ends with this run's kernel, so a retry starts on fresh workers"
        output.stream("stderr", f"cellfleet: {note}; {ends}\n")
        return
    if worker is None:
        return
    if others_on(session.client, worker, session.token):
        fix = f"cellfleet.client({session.address!r}).restart_workers([{worker!r}])"
        busy = f"worker {worker} also holds other kernels' work, so it was not restarted: {fix}"
        output.stream("stderr", f"cellfleet: {note}; {busy}\n")
        return
    started = time.monotonic()
    try:
        session.client.restart_workers([worker], timeout=2 * RPC_TIMEOUT, raise_for_error=True)
    except Exception as error:  # said in one line: the retry may then meet the same full GPU
        problem = f"{type(error).__name__}: {' '.join(str(error).split()) or 'no detail'}"
        output.stream("stderr", f"cellfleet: {note}; restarting worker {worker} failed ({problem}): restart it\n")
        return
    took = f"{time.monotonic() - started:.1f} s"
    done = f"restarted worker {worker} ({took}) so a retry finds its GPU memory free"
    output.stream("stderr", f"cellfleet: {note}; {done}\n")
