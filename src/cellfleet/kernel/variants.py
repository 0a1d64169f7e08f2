"""Running every variant of a cell at once, with a live side-by-side table.

Each variant is a :class:`~cellfleet.kernel.job.CellJob` of its own (its own run, its own
resources: one GPU each with ``gpu``), made by the runner (which decides on ``--cache``)
and followed in its own thread; Dask queues what the cluster cannot run yet, and
``--max-parallel`` caps how many are submitted at once. The notebook's main thread only
draws the table and waits (joining every thread), so the stop button stops all.
"""

from __future__ import annotations

import threading
import time
import types
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from IPython.display import display

from cellfleet.compare import Row, best_index, direction_of, render_html, render_text
from cellfleet.errors import CellCancelled
from cellfleet.kernel.grid import expand_grid, parse_variants
from cellfleet.kernel.inputs import Inputs, pack
from cellfleet.kernel.job import CellJob, Output, Status
from cellfleet.kernel.options import OptionError
from cellfleet.kernel.prepared import Prepared
from cellfleet.kernel.update import Update
from cellfleet.protocol import CellOutcome, RunKind
from cellfleet.store.recorder import RunRecorder

__all__ = [
    "MakeJob",
    "VariantGroup",
    "VariantJob",
    "VariantResult",
    "VariantState",
    "Variants",
    "follow",
    "run_group",
]


class MakeJob(Protocol):
    """How the runner turns a prepared cell into a job (a remote cell, or a cache hit)."""

    def __call__(
        self,
        prepared: Prepared,
        inputs: Inputs,
        status: Status,
        output: Output,
        recorder: RunRecorder,
        params: dict[str, Any] | None = None,
    ) -> CellJob: ...


_REDRAW = 0.5


class VariantState:
    """A variant's status and output, kept for the table instead of printed."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self._started: float | None = None
        self._partial = ""
        self.displays = 0

    # the status interface of RemoteCell
    def running(self, worker: str | None, gpu: str | None) -> None:
        self.row.status = "running"
        self._started = time.monotonic()

    def note(self, text: str) -> None:
        self.row.status = text

    def tick(self) -> None:
        if self._started is not None:
            self.row.seconds = time.monotonic() - self._started

    def finished(self, state: str) -> None:
        self.tick()
        self.row.status = {"done": "succeeded"}.get(state, state)

    # the output interface of RemoteCell
    def stream(self, name: str, text: str) -> None:
        *complete, self._partial = (self._partial + text).split("\n")
        lines = [line for line in complete if line.strip()]
        if lines:
            self.row.last_line = lines[-1]
        self._partial = self._partial[-1000:]

    def display(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.displays += 1


@dataclass
class VariantResult:
    """One variant's row, and its results once it succeeded."""

    row: Row
    values: dict[str, Any] = field(default_factory=dict)
    mutated: frozenset[str] = frozenset()
    deleted: frozenset[str] = frozenset()
    succeeded: bool = False


@dataclass
class VariantGroup:
    """The variants of one cell execution."""

    group_id: str
    label: str
    results: list[VariantResult]
    directions: dict[str, str]
    target: str | None
    """The metric ``%adopt best`` uses: the first of --maximize/--minimize."""
    kind: str = "variant"
    """What its rows are: ``variant`` (numbered from 0) or ``trial`` (a search's, by trial number)."""

    def rows(self) -> list[Row]:
        return [result.row for result in self.results]

    def numbered(self, number: int) -> VariantResult:
        """The result whose row shows ``number`` (a variant's index, a trial's number)."""
        for result in self.results:
            if result.row.index == number:
                return result
        numbers = sorted(result.row.index for result in self.results)
        if not numbers:
            raise OptionError(f"%adopt {number}: the last group ran no {self.kind}; give a run id instead")
        shown = f"{numbers[0]} to {numbers[-1]}" if numbers == list(range(numbers[0], numbers[-1] + 1)) else None
        shown = shown or ", ".join(map(str, numbers))
        raise OptionError(
            f"%adopt {number}: the last group has {self.kind}s {shown} (its table's first column); "
            "give one of those, a run id, or best"
        )


@dataclass
class VariantJob:
    """A variant's cell, with what the table and ``%adopt`` need from it."""

    cell: CellJob
    """A RemoteCell, or a CachedCell on a cache hit."""
    state: VariantState
    result: VariantResult
    recorder_latest: Callable[[], dict[str, float]]
    collect: Callable[[CellOutcome], dict[str, Any]]
    thread: threading.Thread | None = None


def follow(job: VariantJob, gate: threading.Semaphore) -> None:
    """Run one job under ``gate``; its row and result say how it ended (it never raises)."""
    with gate:
        try:
            outcome = job.cell.run()
        except BaseException as error:  # reported in the table; the other variants go on
            job.state.row.error = f"{type(error).__name__}: {error}"
            if job.state.row.status in ("queued", "running"):
                job.state.row.status = "failed"
            return
        if outcome.seconds:
            job.state.row.seconds = outcome.seconds  # measured on the worker
        if outcome.error is not None:
            job.state.row.error = outcome.error.traceback[-1]
            job.state.row.status = "failed"
            return
        job.result.values = job.collect(outcome)
        job.result.mutated, job.result.deleted = frozenset(outcome.mutated), frozenset(outcome.deleted)
        job.result.succeeded = True


def _bundle(group: VariantGroup) -> dict[str, str]:
    rows = group.rows()
    return {"text/plain": render_text(rows, group.directions), "text/html": render_html(rows, group.directions)}


def run_group(group: VariantGroup, jobs: Sequence[VariantJob], max_parallel: int | None, live: bool = True) -> None:
    """Run every job; draw the table while they run and leave the comparison at the end."""
    gate = threading.Semaphore(max_parallel or len(jobs))
    for job in jobs:
        job.thread = threading.Thread(target=follow, args=(job, gate), name="cellfleet-variant", daemon=True)
        job.thread.start()
    handle = display(_bundle(group), raw=True, display_id=True) if live else None
    try:
        _wait_drawing(group, jobs, handle)
    except KeyboardInterrupt:
        for job in jobs:
            job.cell.cancel()
        for job in jobs:
            assert job.thread is not None
            job.thread.join(30)
        _refresh(group, jobs)
        if handle is not None:
            handle.update(_bundle(group), raw=True)
        raise CellCancelled("the variants were interrupted and stopped on their workers") from None
    _refresh(group, jobs)
    if handle is not None:
        handle.update(_bundle(group), raw=True)
    else:
        display(_bundle(group), raw=True)


def _wait_drawing(group: VariantGroup, jobs: Sequence[VariantJob], handle: Any) -> None:
    last = time.monotonic()
    for job in jobs:
        assert job.thread is not None
        while job.thread.is_alive():
            job.thread.join(0.1)
            if handle is not None and time.monotonic() - last >= _REDRAW:
                _refresh(group, jobs)
                handle.update(_bundle(group), raw=True)
                last = time.monotonic()


def _refresh(group: VariantGroup, jobs: Sequence[VariantJob]) -> None:
    for job in jobs:
        if job.state.row.status == "running":
            job.state.tick()
        job.state.row.metrics = dict(job.recorder_latest())


class Variants:
    """The variant groups run in one kernel, and ``%adopt``."""

    def __init__(self, shell: Any, make_job: MakeJob) -> None:
        self.shell = shell
        self._make_job = make_job
        self.groups: list[VariantGroup] = []
        self.results: dict[str, VariantResult] = {}

    def run(self, prepared: Prepared) -> None:
        """Run every variant of the prepared cell; leave the comparison table in the cell."""
        options = prepared.options
        namespace = self.shell.user_ns
        variants = expand_grid(options.grid) if options.grid else parse_variants(options.variants or "", namespace)
        params = {name for variant in variants for name in variant}
        common = pack(prepared.analysis.reads - params, namespace, prepared.session.address)
        target = options.objectives[0][0] if options.objectives else None
        group = VariantGroup(uuid.uuid4().hex[:12], prepared.label, [], options.directions(), target)
        jobs = [self._job(prepared, group, index, variant, common) for index, variant in enumerate(variants)]
        self.groups.append(group)
        self.results.update((result.row.run_id, result) for result in group.results)
        run_group(group, jobs, options.max_parallel, live=prepared.settings.status != "off")
        _check_target(group)

    def _job(
        self, prepared: Prepared, group: VariantGroup, index: int, params: dict[str, Any], common: Inputs
    ) -> VariantJob:
        inputs = common.with_params(params)
        fields = {"kind": RunKind.VARIANT, "params": params, "group_id": group.group_id, "variant": index}
        if group.directions:  # the panel's compare view marks the best run by them too
            fields["directions"] = group.directions
        recorder = prepared.recorder(self.shell, inputs, **fields)
        row = Row(index, recorder.run_id, params)
        state = VariantState(row)
        launch = replace(prepared.launch, label=f"{prepared.launch.label}-v{index}")
        cell = self._make_job(replace(prepared, launch=launch), inputs, state, state, recorder, params)
        result = VariantResult(row)
        group.results.append(result)
        return VariantJob(cell, state, result, lambda: recorder.latest, cell.collect)

    def adopt(self, which: str) -> None:
        """Assign a variant's results to the notebook: a run id, the number shown in the last
        group's table (a variant's index; after ``--search``, a trial's number), or ``best``."""
        result = self._choose(which)
        if not result.succeeded:
            raise OptionError(f"%adopt {which}: run {result.row.run_id} {result.row.status}; adopt one that succeeded")
        namespace = self.shell.user_ns
        modules = {n for n, v in result.values.items() if isinstance(v, types.ModuleType)}
        values = {n: v for n, v in result.values.items() if n not in modules or n not in namespace}
        Update(values, result.deleted, result.mutated).apply(namespace)
        names = ", ".join(sorted(set(values) - modules)) or "nothing"
        params = ", ".join(f"{k}={v!r}" for k, v in result.row.params.items())
        print(f"cellfleet: adopted run {result.row.run_id} ({params}): assigned {names}")

    def best_run_id(self) -> str:
        """The run id of the best variant of the last group (for ``%promote --from-run best``)."""
        if not self.groups:
            raise OptionError("--from-run best: no variants have run in this kernel")
        return _best(self.groups[-1]).row.run_id

    def _choose(self, which: str) -> VariantResult:
        if which in self.results:
            return self.results[which]
        if not self.groups:
            raise OptionError("%adopt: no variants have run in this kernel; run a cell with --grid or --variants first")
        group = self.groups[-1]
        if which.isdigit():  # the number in the table's first column: a variant's index, a trial's number
            return group.numbered(int(which))
        if which == "best":
            return _best(group)
        matches = [run_id for run_id in self.results if run_id.startswith(which)]
        if len(matches) == 1:
            return self.results[matches[0]]
        raise OptionError(
            f"%adopt {which}: not a run of this kernel; give a run id, a variant index or trial number, or best"
        )


def _best(group: VariantGroup) -> VariantResult:
    if group.target is None:
        raise OptionError("%adopt best: which metric? run the variants with --maximize METRIC or --minimize METRIC")
    succeeded = [result for result in group.results if result.succeeded]
    position = best_index([r.row for r in succeeded], group.target, direction_of(group.target, group.directions))
    if position is None:
        raise OptionError(f"%adopt best: no succeeded variant logged {group.target!r}")
    return succeeded[position]


def _check_target(group: VariantGroup) -> None:
    for metric in group.directions:
        if not any(metric in result.row.metrics for result in group.results):
            logged = sorted({m for result in group.results for m in result.row.metrics}) or ["none"]
            raise OptionError(
                f"no variant logged the metric {metric!r} named by --maximize/--minimize "
                f"(they logged: {', '.join(logged)}): check the name, or call cellfleet.log({metric}=...) in the cell"
            )
