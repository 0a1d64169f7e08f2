"""The notebook side of ``%%remote``: analyse, pack, run, and update the namespace.

The namespace is updated only after the whole outcome is in hand, so a cell that fails,
times out or is interrupted leaves every notebook variable as it was.
"""

from __future__ import annotations

import re
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

from cellfleet.config import Settings, load_settings
from cellfleet.kernel.analysis import CellAnalysis, analyze, cell_filename, uses_ipython
from cellfleet.kernel.context import cell_number
from cellfleet.kernel.handles import RemoteHandle
from cellfleet.kernel.inputs import Inputs, pack
from cellfleet.kernel.outputs import DeferredOutput, LiveOutput, ResultDisplay
from cellfleet.kernel.placement import Request, resolve
from cellfleet.kernel.prepared import Prepared
from cellfleet.kernel.remote_cell import Launch, Output, rebuild_exception
from cellfleet.kernel.session import connect
from cellfleet.kernel.status import make_status
from cellfleet.kernel.variants import Variants
from cellfleet.store.recorder import RunRecorder
from cellfleet.worker.task import CellOutcome

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
    grid: tuple[str, ...] = ()
    variants: str | None = None
    max_parallel: int | None = None
    maximize: tuple[str, ...] = ()
    minimize: tuple[str, ...] = ()
    cache: bool = False

    @property
    def fans_out(self) -> bool:
        return bool(self.grid or self.variants)

    def directions(self) -> dict[str, str]:
        return {**{m: "max" for m in self.maximize}, **{m: "min" for m in self.minimize}}


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
        self.variants = Variants(shell)

    def run(self, options: RemoteOptions, code: str, settings: Settings | None = None) -> Any:
        """Run ``code`` remotely; returns what the cell displays as ``Out[n]``."""
        prepared = self._prepare(options, code, settings or load_settings())
        if options.fans_out:
            return self.variants.run(prepared)
        inputs = pack(prepared.analysis.reads, self.shell.user_ns, prepared.session.address)
        if options.nowait:
            self._check_free(prepared.label)
        recorder = prepared.recorder(self.shell, inputs)
        if options.nowait:
            self._start_pending(prepared, inputs, recorder)
            return None
        status = make_status(prepared.label, prepared.settings.status)
        cell = prepared.make_cell(inputs, status, LiveOutput(), recorder)
        return self._apply(cell, cell.run(), prepared.analysis)

    def _prepare(self, options: RemoteOptions, code: str, settings: Settings) -> Prepared:
        label = options.name or f"In[{cell_number(self.shell)}]"
        source, analysis = self._analyse(code, label, options)
        self._wait_for_writers(analysis.reads, label)
        session = connect(options.cluster or settings.scheduler, settings.workers)
        resources = resolve(self._request(options, settings), session)
        launch = Launch(_slug(label), resources, options.retries, options.timeout, settings.kill_grace, options.cache)
        return Prepared(label, source, analysis, options, settings, session, launch)

    def adopt(self, which: str) -> None:
        """Assign a variant's results to the notebook (see :meth:`Variants.adopt`)."""
        self.variants.adopt(which)

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

    def _apply(self, cell: Any, outcome: CellOutcome, analysis: CellAnalysis) -> Any:
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

    def _check_free(self, label: str) -> None:
        earlier = self.pending.get(label)
        if earlier is not None and not earlier.done.is_set():
            raise UsageError(f"--nowait cell {label} is still running: %wait {label} first, or give another --name")

    def _start_pending(self, prepared: Prepared, inputs: Inputs, recorder: RunRecorder) -> None:
        label, analysis = prepared.label, prepared.analysis
        pending = PendingCell(label, frozenset(analysis.writes) | analysis.deletes)
        self.pending[label] = pending
        status = make_status(label, prepared.settings.status, immediate=True)
        output = DeferredOutput()
        cell = prepared.make_cell(inputs, status, output, recorder)
        thread = threading.Thread(
            target=self._finish_pending, args=(pending, cell, analysis, output), name=f"cellfleet-{label}", daemon=True
        )
        thread.start()

    def _finish_pending(self, pending: PendingCell, cell: Any, analysis: CellAnalysis, output: Output) -> None:
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
