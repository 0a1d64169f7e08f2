"""Running one remote cell from the notebook: submit, stream output, retry on a lost
worker, stop on interrupt or timeout, and turn the outcome into namespace updates."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from typing import Any

import cloudpickle
from distributed.scheduler import KilledWorker

from cellfleet.errors import (
    CellCancelled,
    CellError,
    CellTimeout,
    ClusterError,
    ClusterUnavailable,
    WorkerLostError,
)
from cellfleet.failures import classify, classify_recorded, cuda_oom
from cellfleet.kernel.handles import RemoteHandle
from cellfleet.kernel.inputs import Inputs
from cellfleet.kernel.job import Output, Status, load_values
from cellfleet.kernel.persisted import adopt
from cellfleet.kernel.recovery import after_cuda_oom, lost_worker_error
from cellfleet.kernel.session import Session
from cellfleet.kernel.stop import stop_cell
from cellfleet.kernel.transfers import large_futures
from cellfleet.kernel.workers import Placement
from cellfleet.protocol import (
    CellOutcome,
    CellSpec,
    DisplayItem,
    Event,
    MetricItem,
    OutcomeReady,
    OutputBatch,
    OutputItem,
    RunStatus,
    Started,
    StreamItem,
)
from cellfleet.store.recorder import RunRecorder
from cellfleet.worker.task import run_cell, take

__all__ = ["Launch", "OnSuccess", "RemoteCell"]

_TAIL_WAIT = 2.0
"""Seconds to wait for output events still in flight when the cell's result arrives."""

OnSuccess = Callable[[CellOutcome, Sequence[OutputItem]], object]
"""Called with a succeeded outcome and the output shown (metrics left out), before the run
is recorded as succeeded: how ``--cache`` stores results without this module knowing."""


@dataclass(frozen=True)
class Launch:
    """How a cell is run."""

    label: str
    resources: dict[str, float] | None = None
    retries: int = 1
    timeout: float | None = None
    kill_grace: float = 3.0


class RemoteCell:
    """One remote cell, from submission to its outcome (a :class:`~cellfleet.kernel.job.CellJob`)."""

    def __init__(
        self,
        session: Session,
        spec: CellSpec,
        inputs: Inputs,
        launch: Launch,
        status: Status,
        output: Output,
        recorder: RunRecorder | None = None,
        on_success: OnSuccess | None = None,
    ) -> None:
        self.session = session
        self.spec = spec
        self.inputs = inputs
        self.launch = launch
        self.status = status
        self.output = output
        self.recorder = recorder
        self._on_success = on_success
        self._rendered: list[OutputItem] | None = [] if on_success is not None else None
        self._cancelled = False
        self._submitted = 0.0
        self._future: Any = None
        self._cell_id = ""
        self._worker: str | None = None
        self._checked = 0.0
        self._shown = 0
        self._early: dict[int, tuple[OutputItem, ...]] = {}
        self._placement = Placement(session, launch.resources, output, status)
        self._sends = 0
        self._submitted_at = 0.0
        self._ran_on: set[str] = set()
        """The workers the cell started on (a lost one may have been restarted for memory)."""

    def run(self) -> CellOutcome:
        """Run to completion; raises a :class:`CellError` (or subclass) when it cannot."""
        try:
            outcome = self._run()
        except BaseException as error:
            self._record_failure(error)
            raise
        self._record_end(outcome)
        failure = outcome.error
        if failure is not None and cuda_oom(failure.type_name, failure.message) and failure.note:
            after_cuda_oom(self.session, outcome.worker, failure.note, self.output)
        return outcome

    def cancel(self) -> None:
        """Ask a cell followed by another thread to stop (as the stop button does)."""
        self._cancelled = True

    def _record_end(self, outcome: CellOutcome) -> None:
        if self.recorder is None:
            return
        for artifact in outcome.artifacts:
            self.recorder.artifact(artifact.name, artifact.data, artifact.media_type)
        facts: dict[str, Any] = {"worker": outcome.worker, "gpu": outcome.gpu, "host": outcome.host}
        facts["environment"] = outcome.environment
        if self.recorder.started is None:  # ended before its start was announced
            facts["started"] = time.time() - outcome.seconds
        failure = outcome.error
        if failure is not None:
            kind = failure.failure_class or classify_recorded(failure.type_name, failure.message)
            error = "\n".join([*failure.traceback, *([failure.note] if failure.note else [])])
            self.recorder.finish(RunStatus.FAILED, error=error, failure_class=kind, **facts)
            return
        if self._on_success is not None:
            self._on_success(outcome, tuple(self._rendered or ()))
        self.recorder.finish(RunStatus.SUCCEEDED, **facts)

    def _record_failure(self, error: BaseException) -> None:
        if self.recorder is None:
            return
        status = RunStatus.FAILED
        if isinstance(error, (CellCancelled, CellTimeout)):
            status = RunStatus.CANCELLED if isinstance(error, CellCancelled) else RunStatus.TIMED_OUT
        self.recorder.finish(status, error=f"{type(error).__name__}: {error}", failure_class=classify(error))

    def _run(self) -> CellOutcome:
        self._submitted, self._submitted_at = time.monotonic(), time.time()
        for attempt in range(self.launch.retries + 1):
            try:
                outcome = self._attempt(attempt)
            except KeyboardInterrupt:
                stopped = "stopped" if self._stop() else "may still run"
                self.status.finished("cancelled")
                raise CellCancelled(f"the cell was interrupted and {stopped}{self._where()}") from None
            except CellTimeout:
                self.status.finished("timed out")
                raise
            if outcome is not None:
                self.status.finished("failed" if outcome.error else "done")
                return outcome
            if attempt < self.launch.retries:
                self.output.stream(
                    "stderr",
                    f"cellfleet: the worker died while running this cell; retrying on a live worker "
                    f"({attempt + 1} of {self.launch.retries})\n",
                )
                self.status.note("retrying")
        self.status.finished("failed")
        raise self._lost_error()

    def _lost_error(self) -> WorkerLostError:
        """Why the cell's workers died: restarted by their nanny for memory, or otherwise."""
        return lost_worker_error(self.session, self.launch.retries + 1, self._ran_on, self._submitted_at)

    def _where(self) -> str:
        return f" on worker {self._worker}" if self._worker else ""

    def _attempt(self, attempt: int) -> CellOutcome | None:
        self._cell_id = f"{self.spec.cell_id}-{attempt}"
        self._worker, self._future = None, None
        self._shown, self._early = 0, {}
        sink = self.session.listen(self._cell_id)
        try:
            self._submit(self._workers())
            return self._follow(sink)
        finally:
            self.session.forget(self._cell_id)

    def _workers(self) -> list[str] | None:
        """The workers to send the cell to (``None``: any), waiting while no worker can take it."""
        workers = self._placement.choose()
        while workers == []:
            time.sleep(0.25)
            self._check_stop()
            workers = self._placement.choose()
        return workers

    def _submit(self, workers: list[str] | None) -> None:
        """Send the cell's task (again, when its workers left: the task waiting for them is cancelled)."""
        if self._future is not None:
            self._future.cancel()
            self._worker, self._shown, self._early = None, 0, {}
            self.status.note("queued")
        self._sends += 1
        spec = replace(self.spec, cell_id=self._cell_id, topic=self.session.topic)
        large = large_futures(self.session, self.inputs, workers)  # out of band, and once
        self._future = self.session.client.submit(
            run_cell,
            spec,
            self.inputs.packed,
            (*self.inputs.handle_names, *self.inputs.large),
            *self.inputs.handle_futures,
            *large,
            key=f"cellfleet-{self.launch.label}-{self._cell_id}-{self._sends}",
            resources=self.launch.resources,
            workers=workers,
            allow_other_workers=False,
            pure=False,
        )

    def _follow(self, sink: queue.Queue[Event]) -> CellOutcome | None:
        outcome = self._await_outcome(sink)
        if outcome is None:
            return None
        deadline = time.monotonic() + _TAIL_WAIT
        while self._shown < outcome.events_sent and time.monotonic() < deadline:
            try:
                self._on_event(sink.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        self._render(outcome.outputs)
        return outcome

    def _await_outcome(self, sink: queue.Queue[Event]) -> CellOutcome | None:
        """Show the cell's events until its outcome arrives (``None``: its worker was lost)."""
        while True:
            try:
                event = sink.get(timeout=self._poll_timeout())
            except queue.Empty:
                if self._future.done():  # it ended without its outcome event: failed, or a lost worker
                    return self._result()
                self._check_progress()
                continue
            if time.monotonic() - self._checked >= 0.25:  # a chatty cell never times out the queue
                self._check_progress()
            if isinstance(event, OutcomeReady):
                return self._unpack(event)
            self._on_event(event)

    def _unpack(self, event: OutcomeReady) -> CellOutcome | None:
        if event.blob is None:  # too large for an event: gather the task's result
            return self._result()
        return _as_outcome(cloudpickle.loads(event.blob))

    def _on_event(self, event: Event) -> None:
        match event:
            case Started(worker=worker, gpu=gpu):
                self._worker = worker
                if worker is not None:
                    self._ran_on.add(worker)
                self.status.running(worker, gpu)
                if self.recorder is not None:
                    self.recorder.running(worker, gpu)
            case OutputBatch(seq=seq, items=items):
                self._early[seq] = items
                while self._shown in self._early:
                    self._render(self._early.pop(self._shown))
                    self._shown += 1
            case OutcomeReady():
                pass  # a late duplicate: the outcome is already in hand

    def _render(self, items: Sequence[OutputItem]) -> None:
        recorder = self.recorder
        for item in items:
            if self._rendered is not None and not isinstance(item, MetricItem):
                self._rendered.append(item)
            match item:
                case MetricItem(values=values, step=step, logged=logged):
                    if recorder is not None:
                        recorder.metric(values, step, logged)
                case StreamItem(name=name, text=text):
                    self.output.stream(name, text)
                    if recorder is not None:
                        recorder.stream(text)
                case DisplayItem(data=data, metadata=metadata):
                    self.output.display(data, metadata)

    def _poll_timeout(self) -> float:
        wait = 0.25
        if self.launch.timeout is not None:
            left = self._submitted + self.launch.timeout - time.monotonic()
            wait = min(wait, max(left, 0.001))
        return wait

    def _check_progress(self) -> None:
        self._check_stop()
        workers = self._placement.moved()
        if workers:
            self._submit(workers)

    def _check_stop(self) -> None:
        """Raise when the cell is to stop: interrupted, past its timeout, or its cluster gone."""
        self._checked = time.monotonic()
        if self._cancelled:
            raise KeyboardInterrupt
        if self.launch.timeout is not None and time.monotonic() - self._submitted >= self.launch.timeout:
            stopped = "was stopped" if self._stop() else "may still run"
            raise CellTimeout(
                f"the cell ran past its {self.launch.timeout:g} s timeout and {stopped}{self._where()}: "
                "raise --timeout, or make the cell faster"
            )
        if not self.session.alive:
            raise self._cluster_gone()
        self.status.tick()

    def _cluster_gone(self) -> ClusterUnavailable:
        if self.session.embedded:
            return ClusterUnavailable(
                "the embedded cluster stopped while the cell ran: run the cell again to start a new one"
            )
        if self.session.shared is not None:
            return ClusterUnavailable(
                f"the shared cluster at {self.session.address} stopped while the cell ran: run the cell again "
                "(it runs on a private cluster), or cellfleet cluster start first"
            )
        return ClusterUnavailable(
            f"the cluster at {self.session.address} went away while the cell ran: restart it, "
            "or drop --cluster / CELLFLEET_SCHEDULER to use the embedded local cluster"
        )

    def _result(self) -> CellOutcome | None:
        try:
            outcome = self._future.result()
        except KilledWorker:
            return None
        except CancelledError:
            raise self._cluster_gone() from None
        except ModuleNotFoundError as error:
            if "cellfleet" in str(error):
                raise ClusterError(
                    "the workers cannot import cellfleet: install it on them (pip install cellfleet), "
                    "at the notebook's version"
                ) from None
            raise CellError(f"the worker could not run the cell: {type(error).__name__}: {error}") from None
        except Exception as error:
            raise CellError(f"the worker could not run the cell: {type(error).__name__}: {error}") from None
        return _as_outcome(outcome)

    def _stop(self) -> bool:
        """Stop the cell on its worker (bounded); False, having said where it may still run, on failure."""
        if self._future is None:
            return True
        session, grace = self.session, self.launch.kill_grace
        problem = stop_cell(session.client, self._future, self._cell_id, grace, session.sharing)
        if problem is None:
            return True
        where, cluster = self._worker or "its worker", self.session.address
        self.output.stream(
            "stderr",
            f"cellfleet: the cell may still run on worker {where}: stopping it failed ({problem}); "
            f"restart that worker (cellfleet.client({cluster!r}).restart_workers([{where!r}])) or the cluster\n",
        )
        return False

    def collect(self, outcome: CellOutcome) -> dict[str, Any]:
        """The values to assign in the notebook: small ones by value, kept ones as handles."""
        values = load_values(outcome, self.output)
        adopt(self.session.client, outcome.persisted, values, outcome.stash, outcome.worker)
        lineage = self.inputs.lineage()
        for name, info in outcome.kept.items():
            future = self.session.client.submit(
                take,
                outcome.stash,
                name,
                self.spec if lineage is not None else None,
                lineage or {},
                self.inputs.handle_names,
                *self.inputs.handle_futures,
                key=f"cellfleet-{name}-{outcome.stash[:24]}",
                workers=[outcome.worker] if outcome.worker else None,
                allow_other_workers=True,
                pure=False,
            )
            values[name] = RemoteHandle(name, info, future, outcome.worker, self.session.address)
        return values


def _as_outcome(value: object) -> CellOutcome:
    if not isinstance(value, CellOutcome):
        raise CellError(
            f"the worker sent a {type(value).__name__} as the cell's outcome: install the notebook's "
            "version of cellfleet on the workers"
        )
    return value
