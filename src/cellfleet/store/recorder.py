"""Recording runs from the kernel: one :class:`RunRecorder` per remote cell or variant.

Store writes leave the cell's critical path: they go, in order, through one writer thread
per store, which batches metric points into a single transaction. ``flush()`` waits until
everything queued so far is written.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import platform
import queue
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import psutil

from cellfleet.environment import DIGEST, describe, distributions
from cellfleet.failures import failure_of
from cellfleet.ids import new_id
from cellfleet.protocol import FailureClass, RunStatus
from cellfleet.store.database import MetricPoint, Store, describe_error, open_store

__all__ = [
    "OUTPUT_EXCERPT",
    "RunRecorder",
    "StoreWriter",
    "WriterRegistry",
    "code_hash",
    "mark_orphaned_runs",
    "process_owner",
    "writer_for",
    "writers",
]

OUTPUT_EXCERPT = 8 * 2**10
"""Characters of a run's output kept in the store."""
_BATCH = 5000
_STOP = object()


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class StoreWriter:
    """Writes to one store from a background thread, in the order asked.

    A writer made with ``store=None`` is *off*: it records nothing (tracking is off because
    the store cannot be opened; ``problem`` says why) and runs no thread.
    """

    def __init__(self, store: Store | None, problem: str = "") -> None:
        self.store = store
        self.problem = problem
        self._queue: queue.Queue[Any] = queue.Queue()
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="cellfleet-store-writer", daemon=True)
        if store is not None:
            self._thread.start()

    @property
    def tracking(self) -> bool:
        """Whether what is queued reaches a store."""
        return self.store is not None

    def call(self, action: Callable[[Store], Any]) -> None:
        """Queue ``action(store)``."""
        if self.tracking:
            self._queue.put(action)

    def metric(self, point: MetricPoint) -> None:
        if self.tracking:
            self._queue.put(point)

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until everything queued before this call is written."""
        if not self.tracking:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Write what is queued, then end the writer thread; False if it did not end in time."""
        if not self.tracking:
            return True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            points: list[MetricPoint] = []
            while isinstance(item, MetricPoint):
                points.append(item)
                if len(points) >= _BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            if points:
                self._guarded(partial(Store.log_metrics, points=points))
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
            elif callable(item):
                self._guarded(item)

    def _guarded(self, action: Callable[[Store], Any]) -> None:
        try:
            action(self.store)  # type: ignore[arg-type]  # only a tracking writer runs its thread
        except Exception as error:  # a store problem must never break the notebook
            problem = describe_error(error)
            self.errors.append(problem)
            print(f"cellfleet: could not write to the experiment store: {problem}", file=sys.stderr)


class WriterRegistry:
    """One :class:`StoreWriter` per store for this process; ``close()`` writes what is queued
    and ends their threads. The first writer registers that close at interpreter exit."""

    def __init__(self) -> None:
        self._writers: dict[str, StoreWriter] = {}
        self._lock = threading.Lock()
        self._exit_registered = False

    def writer_for(self, url: str | None = None, open_wait: float | None = None) -> StoreWriter:
        """The shared writer of the store at ``url`` (default: the configured store).

        Raises :class:`~cellfleet.errors.StoreError` when the store cannot be opened
        (``open_wait`` bounds the wait for another process's lock, see :class:`Store`).
        The first writer of each store marks the runs of kernels that went away
        ``interrupted`` (:func:`mark_orphaned_runs`), off the caller's thread.
        """
        store = open_store(url, open_wait)
        with self._lock:
            if store.url not in self._writers:
                writer = self._writers[store.url] = StoreWriter(store)
                writer.call(mark_orphaned_runs)
            if not self._exit_registered:
                atexit.register(self.close)
                self._exit_registered = True
            return self._writers[store.url]

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued on every writer is written."""
        for writer in self._current():
            writer.flush(timeout)

    def close(self) -> None:
        """Write what is queued and end every writer thread."""
        with self._lock:
            writers, self._writers = list(self._writers.values()), {}
        for writer in writers:
            writer.close()

    def _current(self) -> list[StoreWriter]:
        with self._lock:
            return list(self._writers.values())


writers = WriterRegistry()
"""This process's store writers."""


def writer_for(url: str | None = None, open_wait: float | None = None) -> StoreWriter:
    """The shared writer of the store at ``url`` (default: the configured store)."""
    return writers.writer_for(url, open_wait)


class RunRecorder:
    """Records one run: created queued, then running, then its ending."""

    def __init__(self, writer: StoreWriter, run_id: str | None = None, **fields: Any) -> None:
        """A new run with ``fields``; or, given ``run_id``, an existing run (a production run)."""
        self.writer = writer
        self.run_id = run_id or new_id()
        self.output = ""
        self.latest: dict[str, float] = {}
        self.started: float | None = None
        if run_id is None:
            fields.setdefault("owner", process_owner())
            writer.call(partial(self._create, fields))

    def _create(self, fields: dict[str, Any], store: Store) -> None:
        store.create_run(id=self.run_id, status=RunStatus.QUEUED, **_with_environment(store, fields))

    def running(self, worker: str | None, gpu: str | None) -> None:
        self.started = time.time()
        started = self.started
        self.writer.call(
            lambda store: store.update_run(
                self.run_id, status=RunStatus.RUNNING, started=started, worker=worker, gpu=gpu
            )
        )

    def stream(self, text: str) -> None:
        if len(self.output) < OUTPUT_EXCERPT:
            self.output = (self.output + text)[:OUTPUT_EXCERPT]

    def metric(self, values: dict[str, float], step: int | None, logged: float) -> None:
        for key, value in values.items():
            self.latest[key] = value
            self.writer.metric(MetricPoint(self.run_id, key, value, step, logged))

    def artifact(self, name: str, data: bytes, media_type: str) -> None:
        self.writer.call(lambda store: store.add_artifact(self.run_id, name, data, media_type))

    def declare(self, outputs: dict[str, str]) -> None:
        """Store the run's declared outputs (name -> JSON text), and wait until they are written:
        a downstream job reads them as soon as this run ends."""
        from cellfleet.store.outputs import save_output

        for name, text in outputs.items():
            self.writer.call(partial(save_output, run_id=self.run_id, name=name, text=text))
        self.writer.flush()

    def finish(self, status: RunStatus, error: str | None = None, **fields: Any) -> None:
        """Record the ending: ``succeeded``, ``failed``, ``cancelled`` or ``timed_out``. A failed one's
        ``failure_class`` (a :class:`~cellfleet.protocol.FailureClass`) is kept; any other ending,
        like a pruned trial's, records none."""
        changes = {"status": status, "ended": time.time(), "error": error, "output": self.output, **fields}
        changes["failure_class"] = failure_of(status, fields.get("failure_class"))
        self.writer.call(lambda store: store.update_run(self.run_id, **changes))


def _with_environment(store: Store, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with this kernel's environment, unless they hold one (computed in the writer
    thread, once per process: off the cell's path); its distributions are kept in the store."""
    if "environment" in fields:
        return fields
    _keep_distributions(store)
    return {**fields, "environment": {**describe(), "kernel_host": platform.node()}}


@functools.cache
def _keep_distributions(store: Store) -> None:
    from cellfleet.store.outputs import save_distributions

    save_distributions(store, describe()[DIGEST], distributions())


_OWNER_PREFIX = "kernel:"


@functools.cache
def process_owner() -> str:
    """This process as the owner of the runs it records: ``kernel:PID:START@HOST``.

    The start time tells a live process from a later one that reuses its pid.
    """
    started = int(psutil.Process().create_time())
    return f"{_OWNER_PREFIX}{os.getpid()}:{started}@{platform.node()}"[:64]


def _owner_alive(owner: str) -> bool | None:
    """Whether the process named by ``owner`` still runs; ``None`` when it is on another host."""
    head, _, host = owner.removeprefix(_OWNER_PREFIX).partition("@")
    if host != platform.node()[: len(host)] or not host:
        return None
    pid, _, started = head.partition(":")
    try:
        return int(psutil.Process(int(pid)).create_time()) == int(started)
    except (psutil.Error, ValueError):
        return False


def mark_orphaned_runs(store: Store) -> list[str]:
    """Mark ``interrupted`` the queued and running runs recorded by kernels on this host that
    went away (a restart, a crash) before their cells ended; returns their ids."""
    orphans = []
    for run in store.unfinished_runs(owner_prefix=_OWNER_PREFIX):
        if _owner_alive(run["owner"]) is False:
            orphans.append(run["id"])
    error = "the kernel that ran this cell went away (restarted, shut down or crashed) before the cell ended"
    died = FailureClass.KERNEL_DIED.value
    for run_id in orphans:
        store.update_run(run_id, status=RunStatus.INTERRUPTED, ended=time.time(), error=error, failure_class=died)
    return orphans
