"""One search trial's run: its objective reported to the pruner as the cell logs it, and
the pruner's decision sent to the worker, where the trial stops at its next ``cellfleet.log``.

The decision goes to the one worker that runs the trial now: the worker named by the start
of the trial's current attempt. An attempt that starts after the decision (the cell retried
because its worker died, or moved because its workers left) is told when its start is
heard, which comes before any metric it logs; so the trial is stopped wherever it runs,
at one RPC per decision and per later attempt.

:class:`TrialRecorder` is the trial's :class:`~cellfleet.store.recorder.RunRecorder`: the
remote cell gives it every metric the cell logs (while the cell runs), so it is where the
kernel reports to Optuna (``trial.report`` / ``should_prune``); a pruned trial's ending is
recorded ``pruned`` instead of ``failed``.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import optuna

from cellfleet.protocol import RunStatus
from cellfleet.store.recorder import RunRecorder, StoreWriter
from cellfleet.worker.pruning import mark_pruned

__all__ = ["PruneWatch", "TrialRecorder"]

_RPC_TIMEOUT = 10


class PruneWatch:
    """Reports one trial's objective at each step and stops the trial when it is pruned."""

    def __init__(self, trial: optuna.Trial, objective: str, pruning: bool, client: Any) -> None:
        self.trial = trial
        self.objective = objective
        self.pruning = pruning
        self.client = client
        self.cell_id = ""
        """The trial's cell id (set once its remote cell exists)."""
        self.worker: str | None = None
        self.steps = 0
        """How many times the objective was logged with a step."""
        self.pruned_at: int | None = None
        self._reason = ""
        self._lock = threading.Lock()

    def started(self, worker: str | None) -> None:
        """An attempt of the trial started on ``worker``: tell it at once if the trial was pruned before."""
        with self._lock:
            self.worker = worker
            pruned = self.pruned_at is not None
        if pruned:
            self._stop(self._reason)

    def observe(self, values: dict[str, float], step: int | None) -> None:
        """A metric the cell logged: report the objective, and prune when Optuna says so."""
        if self.objective not in values or step is None:
            return
        with self._lock:
            self.steps += 1
            if not self.pruning or self.pruned_at is not None:
                return
            self.trial.report(values[self.objective], step)
            if not self.trial.should_prune():
                return
            self.pruned_at = step
            value = values[self.objective]
            self._reason = f"trial {self.trial.number} was pruned at step {step} ({self.objective}={value:g})"
        self._stop(self._reason)

    def _stop(self, reason: str) -> None:
        """Mark the trial pruned in the worker running its current attempt (every worker when unknown)."""
        workers = [self.worker] if self.worker else None
        try:
            self.client.run(mark_pruned, self.cell_id, reason, workers=workers, callback_timeout=_RPC_TIMEOUT)
        except Exception as error:  # a worker that died: a retry is told as it starts; else it runs on
            print(
                f"cellfleet: could not tell worker {self.worker} to stop pruned trial {self.trial.number} ({error}); "
                "it runs on unless it starts again elsewhere",
                file=sys.stderr,
            )


class TrialRecorder(RunRecorder):
    """A trial's run in the store, feeding its metrics to a :class:`PruneWatch`."""

    def __init__(self, writer: StoreWriter, run_id: str, watch: PruneWatch) -> None:
        super().__init__(writer, run_id)  # the run exists: made by the cell's Prepared.recorder
        self.watch = watch

    def running(self, worker: str | None, gpu: str | None) -> None:
        super().running(worker, gpu)
        self.watch.started(worker)  # each attempt's start: a retried pruned trial is stopped again

    def metric(self, values: dict[str, float], step: int | None, logged: float) -> None:
        super().metric(values, step, logged)
        try:
            self.watch.observe(values, step)
        except Exception as error:  # Optuna's storage failed: the trial goes on, unpruned
            self.watch.pruning = False
            print(f"cellfleet: trial {self.watch.trial.number} cannot be pruned: {error}", file=sys.stderr)

    def finish(self, status: RunStatus, error: str | None = None, **fields: Any) -> None:
        if status == RunStatus.FAILED and self.pruned(error):
            status, error = RunStatus.PRUNED, f"pruned at step {self.watch.pruned_at}"
        super().finish(status, error, **fields)

    def pruned(self, error: str | None) -> bool:
        """Whether the trial ended by its pruning (rather than ran to its end first)."""
        return self.watch.pruned_at is not None and "TrialPruned" in (error or "")
