"""The notebook side of ``%%remote``: analyse, pack, run, and update the namespace.

The namespace is updated only after the whole outcome is in hand, so a cell that fails,
times out or is interrupted leaves every notebook variable as it was.
"""

from __future__ import annotations

import re
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

from .cells import CellAnalysis, analyze, cell_filename, uses_ipython
from .clusters import Session, connect
from .config import Settings, load_settings
from .execution import Launch, Output, RemoteCell, rebuild_exception
from .handles import RemoteHandle
from .inputs import Inputs, pack
from .local_runs import current_cell, notebook_path
from .outputs import DeferredOutput, LiveOutput, ResultDisplay
from .placement import Request, resolve
from .runner import CellOutcome, CellSpec
from .tracking import RunRecorder, code_hash, writer_for
from .widgets import make_status

__all__ = ["RemoteOptions", "RemoteRunner"]


@dataclass(frozen=True)
class RemoteOptions:
    """The parsed arguments of one ``%%remote`` cell."""

    gpus: int = 0
    cpus: float | None = None
    memory: int | None = None
    cluster: str | None = None
    retries: int = 1
    timeout: float | None = None
    name: str | None = None
    nowait: bool = False
    keep: frozenset[str] = frozenset()
    pull: frozenset[str] = frozenset()
    require_gpu: bool = False


@dataclass
class PendingCell:
    """A ``--nowait`` cell still running, or finished and not yet waited for."""

    name: str
    writes: frozenset[str]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class RemoteRunner:
    """Runs ``%%remote`` cells for one IPython shell."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.pending: dict[str, PendingCell] = {}

    def run(self, options: RemoteOptions, code: str) -> Any:
        """Run ``code`` remotely; returns what the cell displays as ``Out[n]``."""
        settings = load_settings()
        label = options.name or f"In[{self.shell.execution_count}]"
        source, analysis = self._analyse(code, label, options)
        self._wait_for_writers(analysis.reads, label)
        session = connect(options.cluster or settings.scheduler, settings.workers)
        resources = resolve(self._request(options, settings), session)
        inputs = pack(analysis.reads, self.shell.user_ns, session.address)
        spec = CellSpec(
            cell_id=uuid.uuid4().hex[:16],
            code=source,
            filename=cell_filename(label),
            writes=analysis.writes,
            displays_last=analysis.displays_last,
            threshold=settings.remote_threshold,
            keep=options.keep,
            pull=options.pull,
        )
        launch = Launch(_slug(label), resources, options.retries, options.timeout, settings.kill_grace)
        recorder = self._recorder(label, source, inputs)
        if options.nowait:
            self._start_pending(label, session, spec, inputs, launch, analysis, settings, recorder)
            return None
        status = make_status(label, settings.status)
        cell = RemoteCell(session, spec, inputs, launch, status, LiveOutput(), recorder)
        outcome = cell.run()
        return self._apply(cell, outcome, analysis)

    def _recorder(self, label: str, source: str, inputs: Inputs, **fields: Any) -> RunRecorder:
        cell = current_cell()
        return RunRecorder(
            writer_for(),
            notebook=cell.notebook or notebook_path(self.shell),
            cell_id=cell.cell_id,
            cell_name=label,
            code=source.lstrip("\n"),
            code_hash=code_hash(source),
            inputs=inputs.fingerprints(),
            **{"kind": "interactive", **fields},
        )

    @staticmethod
    def _request(options: RemoteOptions, settings: Settings) -> Request:
        return Request(options.gpus, options.cpus, options.memory, options.require_gpu or settings.require_gpu)

    def _analyse(self, code: str, label: str, options: RemoteOptions) -> tuple[str, CellAnalysis]:
        if not code.strip():
            raise UsageError("the %%remote cell is empty: write the code to run below the %%remote line")
        # A blank first line stands for the %%remote line, so line numbers match the notebook cell.
        source = "\n" + self.shell.transform_cell(code)
        try:
            analysis = analyze(source, cell_filename(label))
        except SyntaxError as error:
            lines = traceback.format_exception_only(type(error), error)
            error._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
            raise
        if uses_ipython(source):
            raise UsageError("%magics and !commands cannot run inside a %%remote cell: move them to a local cell")
        for flag, names in (("--keep", options.keep), ("--pull", options.pull)):
            unknown = sorted(names - set(analysis.writes))
            if unknown:
                raise UsageError(f"{flag} names {', '.join(unknown)}, which the cell does not assign")
        return source, analysis

    def _apply(self, cell: RemoteCell, outcome: CellOutcome, analysis: CellAnalysis) -> Any:
        if outcome.error is not None:
            raise rebuild_exception(outcome)
        values = cell.collect(outcome)
        namespace = self.shell.user_ns
        namespace.update(values)
        for name in analysis.deletes:
            namespace.pop(name, None)
        return ResultDisplay(*outcome.result) if outcome.result is not None else None

    def _wait_for_writers(self, reads: frozenset[str], label: str) -> None:
        for pending in list(self.pending.values()):
            shared = pending.writes & reads
            if shared and not pending.done.is_set():
                print(f"cellfleet: {label} waits for {pending.name}, which assigns {', '.join(sorted(shared))}")
                pending.done.wait()

    def _start_pending(
        self,
        label: str,
        session: Session,
        spec: CellSpec,
        inputs: Inputs,
        launch: Launch,
        analysis: CellAnalysis,
        settings: Settings,
        recorder: RunRecorder,
    ) -> None:
        pending = PendingCell(label, frozenset(analysis.writes) | analysis.deletes)
        self.pending[label] = pending
        status = make_status(label, settings.status, immediate=True)
        output = DeferredOutput()
        cell = RemoteCell(session, spec, inputs, launch, status, output, recorder)
        thread = threading.Thread(
            target=self._finish_pending, args=(pending, cell, analysis, output), name=f"cellfleet-{label}", daemon=True
        )
        thread.start()

    def _finish_pending(self, pending: PendingCell, cell: RemoteCell, analysis: CellAnalysis, output: Output) -> None:
        try:
            result = self._apply(cell, cell.run(), analysis)
            if result is not None:
                output.display(*result._repr_mimebundle_())
        except BaseException as error:  # kept for %wait, and shown where the cell was
            pending.error = error
            render = getattr(error, "_render_traceback_", None)
            text = "\n".join(render()) if render else f"{type(error).__name__}: {error}"
            output.stream("stderr", text + "\n")
        finally:
            pending.done.set()

    def wait(self, name: str | None) -> None:
        """Block until the ``--nowait`` cell ``name`` (or every one) has finished."""
        if name is not None and name not in self.pending:
            known = ", ".join(self.pending) or "none"
            raise UsageError(f"no --nowait cell is named {name!r} (pending: {known}); name cells with --name")
        chosen = [self.pending[name]] if name else list(self.pending.values())
        for pending in chosen:
            pending.done.wait()
        for pending in chosen:
            self.pending.pop(pending.name, None)
        errors = [p.error for p in chosen if p.error is not None]
        if errors:
            raise errors[0]

    def pull(self, names: list[str]) -> None:
        """Replace remote handles by host copies of their values."""
        namespace = self.shell.user_ns
        for name in names:
            value = namespace.get(name)
            if not isinstance(value, RemoteHandle):
                kind = "not defined" if name not in namespace else f"a {type(value).__name__}, already here"
                raise UsageError(f"%pull {name}: {name!r} is not a remote handle ({kind})")
        for name in names:
            namespace[name] = namespace[name].pull()


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "cell"
