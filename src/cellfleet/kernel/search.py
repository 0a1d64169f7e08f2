"""``%%remote --search``: an Optuna study over a cell, its trials run K at a time.

Each trial is a remote cell of its own (a tracked run of kind ``trial`` in the search's run
group) with its sampled params set as variables of the cell. The notebook's main thread
asks the study for a trial whenever fewer than K run (default: one per GPU the cell can
use, or one per worker), and tells it each ending as it comes, so the sampler learns from
finished trials; it also draws the live table, which stays as the comparison (``%adopt N``
takes trial N's results: N as in the table's first column). Trials that the pruner stops
(see :mod:`cellfleet.kernel.trials`) end ``pruned`` and free their worker for the next
trial at once. The stop button stops every trial.
"""

from __future__ import annotations

import html
import itertools
import math
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import optuna
from IPython.display import display

from cellfleet.compare import Row, render_html, render_text
from cellfleet.errors import CellCancelled
from cellfleet.kernel.inputs import pack
from cellfleet.kernel.options import OptionError
from cellfleet.kernel.prepared import Prepared
from cellfleet.kernel.space import SearchOptions, parse_space
from cellfleet.kernel.study import OpenedStudy, distributions, open_study
from cellfleet.kernel.trials import PruneWatch, TrialRecorder
from cellfleet.kernel.variants import MakeJob, VariantGroup, VariantJob, VariantResult, Variants, VariantState, follow
from cellfleet.kernel.workers import fitting, usable_workers
from cellfleet.protocol import RunKind

__all__ = ["Search", "objectives_of"]

_REDRAW = 0.5
_STATES = optuna.trial.TrialState


@dataclass
class _Trial:
    """One trial: the study's handle on it and the remote cell that runs it."""

    trial: optuna.Trial
    job: VariantJob
    watch: PruneWatch
    recorder: TrialRecorder


def objectives_of(options: Any) -> list[tuple[str, str]]:
    """The metrics the search optimises, with Optuna's direction for each."""
    found = [(m, "maximize" if way == "max" else "minimize") for m, way in options.objectives]
    if not found:
        raise OptionError("--search needs an objective: add --minimize METRIC or --maximize METRIC")
    return found


def _parallelism(prepared: Prepared) -> int:
    """How many trials fit on the cluster at once: one per GPU (of the cell's size), else one per worker."""
    resources = {kind: amount for kind, amount in (prepared.launch.resources or {}).items() if amount > 0}
    workers = fitting(usable_workers(prepared.session), resources)
    if not resources:
        return max(1, len(workers))
    slots = 0
    for info in workers.values():
        offers = info.get("resources") or {}
        slots += min(int(offers.get(kind, 0) // amount) for kind, amount in resources.items())
    return max(1, slots)


class Search:
    """The searches run in one kernel; their groups join the variants', so ``%adopt`` works."""

    def __init__(self, shell: Any, make_job: MakeJob, variants: Variants) -> None:
        self.shell = shell
        self.make_job = make_job
        self.variants = variants

    def run(self, prepared: Prepared) -> None:
        """Run the search of the prepared cell; leave the comparison table in the cell."""
        _SearchRun(self, prepared).run()


class _SearchRun:
    """One execution of a ``--search`` cell."""

    def __init__(self, owner: Search, prepared: Prepared) -> None:
        self.owner, self.prepared = owner, prepared
        self.options: SearchOptions = prepared.options.search
        dimensions = parse_space(self.options.space)
        self.objectives = objectives_of(prepared.options)
        self.opened: OpenedStudy = open_study(self.options, dimensions, self.objectives)
        self.distributions = distributions(dimensions)
        reads = prepared.analysis.reads - {d.name for d in dimensions}
        self.common = pack(reads, owner.shell.user_ns, prepared.session.address)
        directions = prepared.options.directions()
        self.group = VariantGroup(self.opened.group_id, prepared.label, [], directions, self.objectives[0][0], "trial")
        self.parallel = prepared.options.max_parallel or _parallelism(prepared)
        self.total = self.options.trials
        if self.options.sampler == "grid":
            self.total = min(self.total, math.prod(len(d.grid()) for d in dimensions))
        self.running: dict[int, _Trial] = {}
        self.finished: queue.Queue[_Trial] = queue.Queue()
        self.gate = threading.Semaphore(self.parallel)
        self.said_cannot_prune = False

    @property
    def study(self) -> optuna.Study:
        return self.opened.study

    def run(self) -> None:
        for note in self.opened.notes:
            print(note)
        self.owner.variants.groups.append(self.group)
        live = self.prepared.settings.status != "off"
        handle = display(self._bundle(), raw=True, display_id=True) if live else None
        try:
            self._loop(handle)
        except KeyboardInterrupt:
            stopped = self._stop_all()
            self._show(handle)
            raise CellCancelled(f"the search was interrupted; {stopped} running trials were stopped") from None
        except BaseException:  # the search itself failed (its store, say): no trial is left running
            self._stop_all()
            raise
        self._show(handle)
        self._check_objective()

    def _loop(self, handle: Any) -> None:
        launched, drawn = 0, time.monotonic()
        while launched < self.total or self.running:
            while launched < self.total and len(self.running) < self.parallel:
                self._launch()
                launched += 1
            try:
                self._finish(self.finished.get(timeout=0.1))
            except queue.Empty:
                pass
            if handle is not None and time.monotonic() - drawn >= _REDRAW:
                handle.update(self._bundle(), raw=True)
                drawn = time.monotonic()

    def _launch(self) -> None:
        trial = self.study.ask(self.distributions)
        try:
            self._start(trial)
        except BaseException:
            self.study.tell(trial, state=_STATES.FAIL)
            raise

    def _start(self, trial: optuna.Trial) -> None:
        params = dict(trial.params)
        inputs = self.common.with_params(params)
        fields = {"kind": RunKind.TRIAL, "params": params, "group_id": self.group.group_id, "variant": trial.number}
        base = self.prepared.recorder(self.owner.shell, inputs, directions=self.group.directions, **fields)
        watch = PruneWatch(trial, self.objectives[0][0], self.opened.pruning, self.prepared.session.client)
        recorder = TrialRecorder(base.writer, base.run_id, watch)
        row = Row(trial.number, recorder.run_id, params)
        state = VariantState(row)
        launch = replace(self.prepared.launch, label=f"{self.prepared.launch.label}-t{trial.number}")
        cell = self.owner.make_job(replace(self.prepared, launch=launch), inputs, state, state, recorder, params)
        watch.cell_id = getattr(getattr(cell, "spec", None), "cell_id", "")
        result = VariantResult(row)
        self.group.results.append(result)
        self.owner.variants.results[recorder.run_id] = result
        item = _Trial(trial, VariantJob(cell, state, result, lambda: recorder.latest, cell.collect), watch, recorder)
        item.job.thread = threading.Thread(target=self._follow, args=(item,), name="cellfleet-trial", daemon=True)
        self.running[trial.number] = item
        item.job.thread.start()

    def _follow(self, item: _Trial) -> None:
        try:
            follow(item.job, self.gate)
        finally:
            self.finished.put(item)

    def _finish(self, item: _Trial) -> None:
        """Tell the study how a trial ended (as the trial's worker takes the next one)."""
        self.running.pop(item.trial.number, None)
        row = item.job.state.row
        row.metrics = dict(item.recorder.latest)
        if not item.job.result.succeeded and item.recorder.pruned(row.error):
            row.status, row.error, row.last_line = "pruned", "", f"pruned at step {item.watch.pruned_at}"
            self.study.tell(item.trial, state=_STATES.PRUNED)
            return
        values = [row.metrics.get(metric) for metric, _ in self.objectives]
        if not item.job.result.succeeded or any(v is None for v in values):
            self.study.tell(item.trial, state=_STATES.FAIL)
            return
        self.study.tell(item.trial, [float(v) for v in values if v is not None])
        if self.opened.pruning and item.watch.steps == 0 and not self.said_cannot_prune:
            self.said_cannot_prune = True
            metric = item.watch.objective
            print(
                f"cellfleet: this search cannot prune: the cell logs {metric} without a step; log it as it "
                f"trains, like cellfleet.log(step=epoch, {metric}=...), to stop poor trials early"
            )

    def _stop_all(self) -> int:
        """Stop every running trial on its worker; tell the study they failed."""
        while not self.finished.empty():
            self._finish(self.finished.get())
        stopping = list(self.running.values())
        for item in stopping:
            item.job.cell.cancel()
        for item in stopping:
            if item.job.thread is not None:
                item.job.thread.join(30)
            self.study.tell(item.trial, state=_STATES.FAIL, skip_if_finished=True)
            self.running.pop(item.trial.number, None)
        for item in stopping:
            item.job.state.row.metrics = dict(item.recorder.latest)
        return len(stopping)

    def _show(self, handle: Any) -> None:
        if handle is not None:
            handle.update(self._bundle(final=True), raw=True)
        else:
            display(self._bundle(final=True), raw=True)

    def _refresh(self) -> list[Row]:
        rows = self.group.rows()
        for item in list(self.running.values()):
            if item.job.state.row.status == "running":
                item.job.state.tick()
            item.job.state.row.metrics = dict(item.recorder.latest)
        return rows

    def _bundle(self, final: bool = False) -> dict[str, str]:
        rows, directions = self._refresh(), self.group.directions
        summary = self._summary()
        text = f"{summary}\n{render_text(rows, directions)}"
        page = f"<p>{html.escape(summary)}</p>{render_html(rows, directions)}"
        front = self._pareto_rows(rows) if final and len(self.objectives) > 1 else []
        if front:
            title = f"Pareto front ({len(front)} of {len(rows)} trials):"
            text += f"\n\n{title}\n{render_text(front, directions)}"
            page += f"<p>{html.escape(title)}</p>{render_html(front, directions)}"
        return {"text/plain": text, "text/html": page}

    def _summary(self) -> str:
        counts = Counter(result.row.status for result in self.group.results)
        parts = [f"{counts['succeeded']} done", f"{counts['running'] + counts['queued']} running"]
        parts += [f"{counts[s]} {s}" for s in ("pruned", "failed", "cancelled", "timed out") if counts[s]]
        return f"search of {self.total} trials: {self._best_text()}; {', '.join(parts)}"

    def _best_text(self) -> str:
        try:
            if len(self.objectives) > 1:
                numbers = sorted(t.number for t in self.study.best_trials)
                return f"Pareto front: trials {', '.join(map(str, numbers))}" if numbers else "no trial done yet"
            best = self.study.best_trial
        except ValueError:
            return "no trial done yet"
        params = ", ".join(f"{k}={_short(v)}" for k, v in best.params.items())
        return f"best {self.objectives[0][0]}={_short(best.value)} (trial {best.number}: {params})"

    def _pareto_rows(self, rows: list[Row]) -> list[Row]:
        numbers = {t.number for t in self.study.best_trials}
        return [row for row in rows if row.index in numbers and row.status == "succeeded"]

    def _check_objective(self) -> None:
        rows = self.group.rows()
        for metric, _ in self.objectives:
            if not any(metric in row.metrics for row in rows):
                logged = sorted(set(itertools.chain.from_iterable(row.metrics for row in rows))) or ["none"]
                raise OptionError(
                    f"no trial logged the objective {metric!r} (they logged: {', '.join(logged)}): check "
                    f"the name, or call cellfleet.log(step=..., {metric}=...) in the cell"
                )


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
