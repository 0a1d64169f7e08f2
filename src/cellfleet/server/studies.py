"""``GET studies/<group_id>``: one search (``%%remote --search``) for the panel's study view;
``GET studies/<group_id>/curves``: its trials' objective curves.

The reply::

    {"group_id": str, "label": str, "study_name": str | null,
     "objectives": [{"metric": str, "direction": "min" | "max"}],
     "params": [{"name": str, "kind": "float" | "int" | "categorical", "log": bool, "choices": list | null}],
     "trials": [{"run_id": str, "number": int, "status": str, "params": {...},
                 "values": {metric: float | null}, "last_step": int | null,
                 "started": float | null, "ended": float | null}],
     "importances": [{"param": str, "importance": float}],
     "importance_note": str | null}

``params`` are inferred from the trials' values (:func:`cellfleet.store.studies.infer_space`);
``values`` holds each objective's last logged value; ``importances`` (most important first) come
from Optuna (:mod:`cellfleet.server.importance`), with ``importance_note`` saying what limits them.
The store query and the importances run in the extension's pool; Optuna is imported there, on first use.

The curves' reply, for the same (newest) trials: ``{"objectives": [str], "series": {run_id:
{metric: [[step | null, value, logged], ...]}}}``, every point of every objective, in one query.
"""

from __future__ import annotations

import math
from typing import Any

from tornado import web

from cellfleet.server.base import Handler, quoted
from cellfleet.server.importance import Importances, param_importances
from cellfleet.store.studies import ParamSpace, StudyRecord, TrialRecord, group_kinds, load_study, trial_curves

__all__ = ["StudyCurvesHandler", "StudyHandler", "study_json"]


def _finite(value: float | None) -> float | None:
    """A value JSON can carry (an infinite or NaN metric is shown as null)."""
    return value if value is not None and math.isfinite(value) else None


def _param_json(space: ParamSpace) -> dict[str, Any]:
    choices = None if space.choices is None else list(space.choices)
    return {"name": space.name, "kind": space.kind.value, "log": space.log, "choices": choices}


def _trial_json(trial: TrialRecord) -> dict[str, Any]:
    return {
        "run_id": trial.run_id,
        "number": trial.number,
        "status": trial.status.value,
        "params": dict(trial.params),
        "values": {metric: _finite(value) for metric, value in trial.values.items()},
        "last_step": trial.last_step,
        "started": trial.started,
        "ended": trial.ended,
    }


def study_json(study: StudyRecord, importances: Importances) -> dict[str, Any]:
    """The reply for a study and its importances."""
    return {
        "group_id": study.group_id,
        "label": study.label,
        "study_name": study.study_name,
        "objectives": [{"metric": o.metric, "direction": o.direction.value} for o in study.objectives],
        "params": [_param_json(space) for space in study.params],
        "trials": [_trial_json(trial) for trial in study.trials],
        "importances": [{"param": i.param, "importance": i.importance} for i in importances.ranked],
        "importance_note": importances.note,
    }


class StudyHandler(Handler):
    """``GET studies/<group_id>``: a search's space, trials and parameter importances."""

    @web.authenticated
    async def get(self, group_id: str) -> None:
        self.reply(await self.offload(self._study, group_id))

    def _study(self, group_id: str) -> dict[str, Any]:
        study = self.study_or_404(group_id)
        return study_json(study, param_importances(study))

    def study_or_404(self, group_id: str) -> StudyRecord:
        """The search ``group_id``, or a 404 saying what the group is instead (blocking)."""
        study = load_study(self.store, group_id)
        if study is None:
            kinds = group_kinds(self.store, group_id)
            if not kinds:
                raise web.HTTPError(
                    404, f"no search {quoted(group_id)}: give the group_id of a search's trials (runs?kind=trial)"
                )
            found = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
            raise web.HTTPError(
                404, f"run group {quoted(group_id)} is not a search: it holds {found} runs, no trials; "
                "compare its runs with compare?ids=A,B"
            )  # fmt: skip
        return study


class StudyCurvesHandler(StudyHandler):
    """``GET studies/<group_id>/curves``: every point of each objective of the search's trials."""

    @web.authenticated
    async def get(self, group_id: str) -> None:
        self.reply(await self.offload(self._curves, group_id))

    def _curves(self, group_id: str) -> dict[str, Any]:
        study = self.study_or_404(group_id)
        keys = [objective.metric for objective in study.objectives]
        return {"objectives": keys, "series": trial_curves(self.store, group_id, keys)}
