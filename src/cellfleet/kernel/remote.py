"""The notebook side of ``%%remote``: analyse, pack, run, and update the namespace.

The namespace is updated only after the whole outcome is in hand, so a cell that fails,
times out or is interrupted leaves every notebook variable as it was. The runner makes each
cell's job (:meth:`RemoteRunner.make_job`): a cache hit with ``--cache`` and a matching
stored run (or, in a production run that resumes an earlier attempt, the cell as that attempt
ran it), else a remote cell, whose results are then stored for later hits.
"""

from __future__ import annotations

import functools
import re
import sys
import traceback
from dataclasses import dataclass
from typing import Any

from cellfleet.config import Settings, load_settings, run_context
from cellfleet.errors import CellfleetError, HandleError
from cellfleet.kernel.analysis import CellAnalysis, analyze, cell_filename, uses_ipython
from cellfleet.kernel.cache import RESTORE_LIMIT, CachedCell, lookup, restore, save
from cellfleet.kernel.context import cell_number
from cellfleet.kernel.handles import RemoteHandle
from cellfleet.kernel.inputs import Inputs, pack
from cellfleet.kernel.job import CellJob, Output, Status
from cellfleet.kernel.options import OptionError
from cellfleet.kernel.outputs import DeferredOutput, LiveOutput, ResultDisplay
from cellfleet.kernel.pending import PendingCell, PendingCells
from cellfleet.kernel.persisted import RemoteCollection
from cellfleet.kernel.placement import Request, resolve
from cellfleet.kernel.prepared import Prepared
from cellfleet.kernel.remote_cell import Launch, OnSuccess, RemoteCell
from cellfleet.kernel.restore import early_restore
from cellfleet.kernel.session import connect
from cellfleet.kernel.space import SearchOptions
from cellfleet.kernel.status import make_status
from cellfleet.kernel.tracebacks import rebuild_exception
from cellfleet.kernel.transfers import large_futures, release_unbound
from cellfleet.kernel.update import Update
from cellfleet.kernel.variants import Variants
from cellfleet.protocol import CellOutcome
from cellfleet.store.recorder import RunRecorder

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
    publish: frozenset[str] = frozenset()
    """``--publish``: results kept on the cluster and published under their names
    (:mod:`cellfleet.kernel.published`)."""
    require_gpu: bool = False
    grid: tuple[str, ...] = ()
    variants: str | None = None
    max_parallel: int | None = None
    objectives: tuple[tuple[str, str], ...] = ()
    """``--maximize``/``--minimize``: ``(metric, "max" | "min")`` in the order given (the first one
    is the primary: the best variant's, the pruned one's)."""
    cache: bool = False
    search: SearchOptions | None = None
    """``--search``: an Optuna study over the cell (:mod:`cellfleet.kernel.search`)."""

    @property
    def fans_out(self) -> bool:
        return bool(self.grid or self.variants)

    @property
    def maximize(self) -> tuple[str, ...]:
        return tuple(metric for metric, way in self.objectives if way == "max")

    @property
    def minimize(self) -> tuple[str, ...]:
        return tuple(metric for metric, way in self.objectives if way == "min")

    def directions(self) -> dict[str, str]:
        """``{metric: "max" | "min"}`` in the order given."""
        return dict(self.objectives)


class RemoteRunner:
    """Runs ``%%remote`` cells for one IPython shell; :meth:`close` when the extension unloads."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.pending = PendingCells(shell)
        self.variants = Variants(shell, self.make_job)

    def run(self, options: RemoteOptions, code: str, settings: Settings | None = None) -> Any:
        """Run ``code`` remotely; returns what the cell displays as ``Out[n]``."""
        settings = settings or load_settings()
        restored = self._restored(options, code, settings)
        if restored is not None:
            update, result = self._outcome_update(restored, restored.run())
            update.apply(self.shell.user_ns)
            return result
        prepared = self._prepare(options, code, settings)
        if options.search is not None:
            return self._search(prepared)
        if options.fans_out:
            return self.variants.run(prepared)
        release_unbound(prepared.session, self.shell.user_ns)
        inputs = pack(prepared.analysis.reads, self.shell.user_ns, prepared.session.address)
        if options.nowait:
            self.pending.check_free(prepared.label)
        recorder = prepared.recorder(self.shell, inputs)
        if options.nowait:  # large inputs go now, as they are: the notebook may change them meanwhile
            large_futures(prepared.session, inputs, None)
            self._start_pending(prepared, inputs, recorder)
            return None
        status = make_status(prepared.label, prepared.settings.status)
        job = self.make_job(prepared, inputs, status, LiveOutput(), recorder)
        update, result = self._outcome_update(job, job.run())
        update.apply(self.shell.user_ns)
        for stream, text in self._publish(prepared, update):
            print(text, file=sys.stderr if stream == "stderr" else sys.stdout)
        return result

    def _publish(self, prepared: Prepared, update: Update) -> list[tuple[str, str]]:
        """Publish the ``--publish`` results of a finished cell under their names; what to say."""
        if not prepared.options.publish:
            return []
        from cellfleet.kernel.context import notebook_path
        from cellfleet.kernel.published import publish_results

        try:
            return publish_results(prepared.session, update.values, prepared.options.publish, notebook_path(self.shell))
        except CellfleetError:
            raise
        except Exception as error:  # the cluster went away in between: the values are assigned all the same
            problem = f"{type(error).__name__}: {' '.join(str(error).split()) or 'no detail'}"
            names = ", ".join(sorted(prepared.options.publish))
            raise HandleError(f"{names}: assigned here but not published ({problem}): run the cell again") from None

    def make_job(
        self,
        prepared: Prepared,
        inputs: Inputs,
        status: Status,
        output: Output,
        recorder: RunRecorder,
        params: dict[str, Any] | None = None,
    ) -> CellJob:
        """A :class:`CachedCell` on a ``--cache`` hit or a cell restored from the attempt a
        production run resumes, else a :class:`RemoteCell` (which stores its results for later
        hits when ``--cache`` is on, and for a retry inside a production run)."""
        production = run_context()
        hit = restore(production.resume_from, prepared.source, inputs, params or {}) if production.resume_from else None
        if hit is None and prepared.options.cache:
            hit = lookup(prepared.source, inputs, params or {})
        if hit is not None:
            return CachedCell(hit, output, status, recorder)
        on_success: OnSuccess | None = None
        if prepared.options.cache:
            on_success = functools.partial(save, recorder)
        elif production.run_id:
            on_success = functools.partial(save, recorder, limit=RESTORE_LIMIT)
        return RemoteCell(
            prepared.session, prepared.spec(), inputs, prepared.launch, status, output, recorder, on_success
        )

    def close(self) -> None:
        """Cancel the ``--nowait`` cells still running and join their threads."""
        self.pending.close()

    def _restored(self, options: RemoteOptions, code: str, settings: Settings) -> CellJob | None:
        """A plain cell restored from the attempt this production run resumes, before any cluster
        is reached (:mod:`cellfleet.kernel.restore`); ``None`` when it is to run."""
        if not run_context().resume_from or options.search is not None or options.fans_out or options.nowait:
            return None
        label = options.name or f"In[{cell_number(self.shell)}]"
        source, analysis = self._analyse(code, label, options)
        self.pending.wait_for_writers(analysis.reads, label)
        return early_restore(self.shell, label, source, analysis, settings)

    def _prepare(self, options: RemoteOptions, code: str, settings: Settings) -> Prepared:
        label = options.name or f"In[{cell_number(self.shell)}]"
        source, analysis = self._analyse(code, label, options)
        self.pending.wait_for_writers(analysis.reads, label)
        session = connect(options.cluster or settings.scheduler, settings.workers)
        resources = resolve(self._request(options, settings), session)
        launch = Launch(_slug(label), resources, options.retries, options.timeout, settings.kill_grace)
        return Prepared(label, source, analysis, options, settings, session, launch)

    def _search(self, prepared: Prepared) -> None:
        from cellfleet.kernel.search import Search  # imports Optuna: only when a cell searches

        Search(self.shell, self.make_job, self.variants).run(prepared)

    def adopt(self, which: str) -> None:
        """Assign a variant's results to the notebook (see :meth:`Variants.adopt`)."""
        self.variants.adopt(which)

    @staticmethod
    def _request(options: RemoteOptions, settings: Settings) -> Request:
        return Request(options.gpus, options.cpus, options.memory, options.require_gpu or settings.require_gpu)

    def _analyse(self, code: str, label: str, options: RemoteOptions) -> tuple[str, CellAnalysis]:
        if not code.strip():
            raise OptionError("the %%remote cell is empty: write the code to run below the %%remote line")
        # A blank first line stands for the %%remote line, so line numbers match the notebook cell.
        source = "\n" + self.shell.transform_cell(code)
        try:
            analysis = analyze(source, cell_filename(label))
        except SyntaxError as error:
            lines = traceback.format_exception_only(type(error), error)
            error._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
            raise
        if uses_ipython(source):
            raise OptionError("%magics and !commands cannot run inside a %%remote cell: move them to a local cell")
        for flag, names in (("--keep", options.keep), ("--pull", options.pull), ("--publish", options.publish)):
            unknown = sorted(names - set(analysis.writes))
            if unknown:
                raise OptionError(f"{flag} names {', '.join(unknown)}, which the cell does not assign")
        return source, analysis

    def _outcome_update(self, job: CellJob, outcome: CellOutcome) -> tuple[Update, Any]:
        """The namespace update and the ``Out[n]`` value of a finished cell; its error raised."""
        if outcome.error is not None:
            raise rebuild_exception(outcome, self.shell.user_ns)
        update = Update(job.collect(outcome), frozenset(outcome.deleted), frozenset(outcome.mutated))
        return update, ResultDisplay(*outcome.result) if outcome.result is not None else None

    def _start_pending(self, prepared: Prepared, inputs: Inputs, recorder: RunRecorder) -> None:
        label, analysis = prepared.label, prepared.analysis
        status = make_status(label, prepared.settings.status, immediate=True)
        output = DeferredOutput()
        job = self.make_job(prepared, inputs, status, output, recorder)
        pending = PendingCell(label, frozenset(analysis.writes) | analysis.deletes, job)

        def work() -> Update:
            update, result = self._outcome_update(job, job.run())
            if result is not None:
                output.display(*result._repr_mimebundle_())
            for stream, text in self._publish(prepared, update):
                output.stream(stream, text + "\n")
            return update

        self.pending.start(pending, work, output)

    def wait(self, name: str | None) -> None:
        """Block until the ``--nowait`` cell ``name`` (or every one) has finished."""
        self.pending.wait(name)

    def pull(self, names: list[str], force: bool = False) -> None:
        """Replace remote handles by host copies of their values, and persisted collections by
        their computed values (refused above the remote threshold unless ``force``)."""
        namespace = self.shell.user_ns
        for name in names:
            value = namespace.get(name)
            if not isinstance(value, (RemoteHandle, RemoteCollection)):
                kind = "not defined" if name not in namespace else f"a {type(value).__name__}, already here"
                raise OptionError(f"%pull {name}: {name!r} is not a remote handle ({kind})")
        threshold = load_settings().remote_threshold
        for name in names:
            value = namespace[name]
            namespace[name] = value.pull(threshold, force) if isinstance(value, RemoteCollection) else value.pull()


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "cell"
