"""Running one remote cell from the notebook: submit, stream output, retry on a lost
worker, stop on interrupt or timeout, and turn the outcome into namespace updates."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from typing import Any, Protocol

import cloudpickle
from distributed.scheduler import KilledWorker

from cellfleet.errors import (
    CellCancelled,
    CellError,
    CellTimeout,
    ClusterError,
    ClusterUnavailable,
    RemoteCellError,
    WorkerLostError,
)
from cellfleet.kernel.handles import RemoteHandle
from cellfleet.kernel.inputs import Inputs
from cellfleet.kernel.session import Session
from cellfleet.kernel.status import StatusView
from cellfleet.store.recorder import RunRecorder
from cellfleet.worker.task import CellOutcome, CellSpec, interrupt, run_cell, running_cells, take

__all__ = ["Launch", "Output", "RemoteCell", "load_values", "rebuild_exception"]

_TAIL_WAIT = 2.0
"""Seconds to wait for output events still in flight when the cell's result arrives."""


class Output(Protocol):
    """Where a remote cell's output goes."""

    def stream(self, name: str, text: str) -> None: ...

    def display(self, data: dict[str, Any], metadata: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Launch:
    """How a cell is run."""

    label: str
    resources: dict[str, float] | None = None
    retries: int = 1
    timeout: float | None = None
    kill_grace: float = 3.0
    cache: bool = False


class RemoteCell:
    """One remote cell, from submission to its outcome."""

    def __init__(
        self,
        session: Session,
        spec: CellSpec,
        inputs: Inputs,
        launch: Launch,
        status: StatusView,
        output: Output,
        recorder: RunRecorder | None = None,
    ) -> None:
        self.session = session
        self.recorder = recorder
        self._cancelled = False
        self.rendered: list[dict[str, Any]] = []
        self.spec = spec
        self.inputs = inputs
        self.launch = launch
        self.status = status
        self.output = output
        self._submitted = 0.0
        self._future: Any = None
        self._cell_id = ""
        self._worker: str | None = None
        self._checked = 0.0

    def run(self) -> CellOutcome:
        """Run to completion; raises a :class:`CellError` (or subclass) when it cannot."""
        try:
            outcome = self._run()
        except BaseException as error:
            self._record_end(None, error)
            raise
        self._record_end(outcome, None)
        return outcome

    def cancel(self) -> None:
        """Ask a cell followed by another thread to stop (as the stop button does)."""
        self._cancelled = True

    def _record_end(self, outcome: CellOutcome | None, error: BaseException | None) -> None:
        if self.recorder is None:
            return
        if outcome is not None:
            for artifact in outcome.artifacts:
                self.recorder.artifact(artifact["name"], artifact["data"], artifact["media_type"])
            failure = outcome.error
            facts = {"worker": outcome.worker, "gpu": outcome.gpu, "host": outcome.host}
            facts["environment"] = outcome.environment
            if self.recorder.started is None:  # ended before its start was announced
                facts["started"] = time.time() - outcome.seconds
            if failure is None:
                if self.launch.cache:
                    from cellfleet.kernel.cache import save

                    save(self.recorder, outcome, self.rendered)
                self.recorder.finish("succeeded", **facts)
            else:
                self.recorder.finish("failed", error="\n".join(failure.traceback), **facts)
            return
        status = {CellCancelled: "cancelled", CellTimeout: "timed_out"}.get(type(error), "failed")
        self.recorder.finish(status, error=f"{type(error).__name__}: {error}")

    def _run(self) -> CellOutcome:
        self._submitted = time.monotonic()
        for attempt in range(self.launch.retries + 1):
            try:
                outcome = self._attempt(attempt)
            except KeyboardInterrupt:
                self._stop()
                self.status.finished("cancelled")
                raise CellCancelled(f"the cell was interrupted and stopped{self._where()}") from None
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
        tries = self.launch.retries + 1
        raise WorkerLostError(
            f"the worker running this cell died {tries} time{'s' if tries > 1 else ''}: the cell may be using "
            "more memory than a worker has, or crashing its process; raise --retries, give it --memory, "
            "or look at the worker logs"
        )

    def _where(self) -> str:
        return f" on worker {self._worker}" if self._worker else ""

    def _attempt(self, attempt: int) -> CellOutcome | None:
        self._cell_id = f"{self.spec.cell_id}-{attempt}"
        self._worker = None
        spec = replace(self.spec, cell_id=self._cell_id, topic=self.session.topic)
        sink = self.session.listen(self._cell_id)
        try:
            self._future = self.session.client.submit(
                run_cell,
                spec,
                self.inputs.packed,
                self.inputs.handle_names,
                *self.inputs.handle_futures,
                key=f"cellfleet-{self.launch.label}-{self._cell_id}",
                resources=self.launch.resources,
                pure=False,
            )
            return self._follow(sink)
        finally:
            self.session.forget(self._cell_id)

    def _follow(self, sink: queue.Queue[Any]) -> CellOutcome | None:
        outcome: CellOutcome | None = None
        shown = 0
        early: dict[int, list[dict[str, Any]]] = {}
        while True:
            try:
                message = sink.get(timeout=self._poll_timeout())
            except queue.Empty:
                if self._future.done():  # it ended without its outcome event: failed, or a lost worker
                    outcome = self._result()
                    break
                self._check_progress()
                continue
            if time.monotonic() - self._checked >= 0.25:  # a chatty cell never times out the queue
                self._check_progress()
            if message.get("kind") == "outcome":
                outcome = cloudpickle.loads(message["blob"]) if message["blob"] is not None else self._result()
                break
            shown = self._on_message(message, shown, early)
        if outcome is None:
            return None
        deadline = time.monotonic() + _TAIL_WAIT
        while shown < outcome.events_sent and time.monotonic() < deadline:
            try:
                shown = self._on_message(sink.get(timeout=max(0.0, deadline - time.monotonic())), shown, early)
            except queue.Empty:
                break
        self._render(outcome.outputs)
        return outcome

    def _on_message(self, message: Any, shown: int, early: dict[int, list[dict[str, Any]]]) -> int:
        if message.get("kind") == "outcome":
            return shown
        if message.get("kind") == "started":
            self._worker = message.get("worker")
            self.status.running(self._worker, message.get("gpu"))
            if self.recorder is not None:
                self.recorder.running(self._worker, message.get("gpu"))
            return shown
        early[message["seq"]] = message["items"]
        while shown in early:
            self._render(early.pop(shown))
            shown += 1
        return shown

    def _render(self, items: list[dict[str, Any]]) -> None:
        recorder = self.recorder
        if self.launch.cache:
            self.rendered.extend(item for item in items if item["kind"] != "metric")
        for item in items:
            kind = item["kind"]
            if kind == "metric":
                if recorder is not None:
                    recorder.metric(item["values"], item["step"], item["logged"])
            elif kind == "stream":
                self.output.stream(item["name"], item["text"])
                if recorder is not None:
                    recorder.stream(item["text"])
            else:
                self.output.display(item["data"], item["metadata"])

    def _poll_timeout(self) -> float:
        wait = 0.25
        if self.launch.timeout is not None:
            left = self._submitted + self.launch.timeout - time.monotonic()
            wait = min(wait, max(left, 0.001))
        return wait

    def _check_progress(self) -> None:
        self._checked = time.monotonic()
        if self._cancelled:
            raise KeyboardInterrupt
        if self.launch.timeout is not None and time.monotonic() - self._submitted >= self.launch.timeout:
            self._stop()
            raise CellTimeout(
                f"the cell ran past its {self.launch.timeout:g} s timeout and was stopped{self._where()}: "
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
        return ClusterUnavailable(
            f"the cluster at {self.session.address} went away while the cell ran: restart it, "
            "or drop --cluster / CELLFLEET_SCHEDULER to use the embedded local cluster"
        )

    def _result(self) -> CellOutcome | None:
        try:
            return self._future.result()
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

    def _stop(self) -> None:
        """Cancel the task; stop its thread on the worker, restarting the worker if it will not stop."""
        future, cell_id, client = self._future, self._cell_id, self.session.client
        if future is None:
            return
        try:
            future.cancel(force=True)
        except Exception:
            return  # the cluster is gone: nothing runs there any more
        grace = self.launch.kill_grace
        threading.Thread(target=_stop_on_workers, args=(client, cell_id, grace), daemon=True).start()

    def collect(self, outcome: CellOutcome) -> dict[str, Any]:
        """The values to assign in the notebook: small ones by value, kept ones as handles."""
        values = load_values(outcome, self.output)
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
                key=f"cellfleet-{name}-{outcome.stash[:12]}",
                workers=[outcome.worker] if outcome.worker else None,
                allow_other_workers=True,
                pure=False,
            )
            values[name] = RemoteHandle(name, info, future, outcome.worker, self.session.address)
        return values


def load_values(outcome: CellOutcome, output: Output) -> dict[str, Any]:
    """Unpickle the results that came back; one that cannot load here is reported and skipped."""
    values: dict[str, Any] = {}
    for name, blob in outcome.values.items():
        try:
            values[name] = cloudpickle.loads(blob)
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
            output.stream("stderr", f"cellfleet: {name!r} could not be loaded here ({problem}); it was not assigned\n")
    return values


def _stop_on_workers(client: Any, cell_id: str, grace: float) -> None:
    try:
        hit = [address for address, found in client.run(interrupt, cell_id).items() if found]
        if not hit:
            return
        time.sleep(grace)
        stuck = [address for address, ids in client.run(running_cells, workers=hit).items() if cell_id in ids]
        if stuck:
            client.restart_workers(stuck)
    except Exception:
        pass  # the cluster went away: nothing left to stop


def rebuild_exception(outcome: CellOutcome) -> BaseException:
    """The cell's own exception, to raise in the notebook with the worker's traceback."""
    failure = outcome.error
    assert failure is not None
    error: BaseException | None = None
    if failure.exception is not None:
        try:
            error = cloudpickle.loads(failure.exception)
        except Exception:
            error = None
    if error is None:
        error = RemoteCellError(f"{failure.type_name}: {failure.message}")
    lines = [*failure.traceback[:-1], _red_exception_line(failure.traceback[-1])]
    try:
        error._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
    except AttributeError:
        error = RemoteCellError("\n".join(failure.traceback))
    return error


def _red_exception_line(line: str) -> str:
    head, colon, rest = line.partition(":")
    return f"\x1b[0;31m{head}\x1b[0m{colon}{rest}"
