"""Which searched parameters mattered: Optuna's parameter importances over a stored search.

The finished trials (``succeeded``, with a finite value of the objective) are rebuilt as
trials of an in-memory Optuna study (``optuna.trial.create_trial``, each parameter's
distribution from its inferred :class:`~cellfleet.store.studies.ParamSpace`), and
``optuna.importance.get_param_importances`` ranks the parameters with Optuna's
:class:`~optuna.importance.PedAnovaImportanceEvaluator`, named rather than left to Optuna's
default (fANOVA in older Optuna versions): it is pure NumPy, where the fANOVA and
mean-decrease-impurity evaluators fit scikit-learn random forests, and scikit-learn is not part
of Cellfleet's install. PED-ANOVA compares the best trials with all of them; in a small search
its default best 10% is one or two trials, so the best :data:`TOP_TRIALS` are taken instead
(see :func:`_top_quantile`).

Optuna is imported on the first call, or ahead of it by :func:`prepare` (the server calls it
once its store is open, when the store holds a search, so the first study view does not wait
~1.5 s for the import); never on the event loop: a call is blocking (run it in the server's
pool). A study of several objectives gets the importances of its first objective (the first
one the cell declared; runs recorded by earlier versions kept their objectives sorted by
name), and the note says so.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cellfleet.protocol import Direction, RunStatus
from cellfleet.store.studies import ParamKind, ParamSpace, StudyRecord, TrialRecord

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.importance import BaseImportanceEvaluator

__all__ = ["MIN_TRIALS", "Importance", "Importances", "param_importances", "prepare"]

MIN_TRIALS = 2
"""Finished trials needed before importances mean anything."""
TOP_TRIALS = 5
"""How many of the best trials PED-ANOVA compares with the rest, where the search has enough
(Optuna's advice: at least 5), and never fewer than its default top 10%."""


@dataclass(frozen=True)
class Importance:
    """A parameter's share of the objective's variation (the shares add up to 1)."""

    param: str
    importance: float


@dataclass(frozen=True)
class Importances:
    """The parameters, most important first, and a note on what was (or could not be) done."""

    ranked: tuple[Importance, ...] = ()
    note: str | None = None


def prepare() -> None:
    """Import Optuna's importance evaluators now (blocking), so the first call is fast."""
    import optuna.importance  # noqa: F401


def _finished(trials: tuple[TrialRecord, ...], metric: str) -> list[tuple[TrialRecord, float]]:
    found = []
    for trial in trials:
        value = trial.values.get(metric)
        if trial.status == RunStatus.SUCCEEDED and value is not None and math.isfinite(value):
            found.append((trial, value))
    return found


def _varying(params: tuple[ParamSpace, ...], finished: list[tuple[TrialRecord, float]]) -> list[ParamSpace]:
    """The parameters that took more than one value among the finished trials."""
    varying = []
    for space in params:
        taken = {_choice(trial.params[space.name]) for trial, _ in finished if space.name in trial.params}
        if len(taken) > 1:
            varying.append(space)
    return varying


def _choice(value: Any) -> str:
    """A value as one choice of Optuna's categorical distribution (``True`` and ``1`` stay apart)."""
    return json.dumps(value, sort_keys=True, default=repr)


def _distribution(space: ParamSpace) -> BaseDistribution:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if space.kind == ParamKind.CATEGORICAL:
        return CategoricalDistribution([_choice(value) for value in space.choices or ()])
    low, high = space.low or 0.0, space.high or 0.0
    if space.kind == ParamKind.INT:
        return IntDistribution(int(low), int(high), log=space.log)
    return FloatDistribution(low, high, log=space.log)


def _as_optuna(trial: TrialRecord, params: list[ParamSpace]) -> dict[str, Any]:
    """The trial's values of ``params`` as Optuna takes them (a categorical value as its JSON text)."""
    found = {}
    for space in params:
        if space.name in trial.params:
            value = trial.params[space.name]
            found[space.name] = _choice(value) if space.kind == ParamKind.CATEGORICAL else value
    return found


def _top_quantile(finished: int) -> float:
    """PED-ANOVA's ``target_quantile``: the top :data:`TOP_TRIALS` trials, between 10% (Optuna's
    default, reached at 50 trials) and half of them."""
    return min(0.5, max(0.1, TOP_TRIALS / finished))


def _evaluator(finished: int) -> BaseImportanceEvaluator:
    from optuna.importance import PedAnovaImportanceEvaluator

    parameters = inspect.signature(PedAnovaImportanceEvaluator).parameters
    name = "target_quantile" if "target_quantile" in parameters else "baseline_quantile"  # its older name
    options: dict[str, Any] = {name: _top_quantile(finished)}
    return PedAnovaImportanceEvaluator(**options)


def _ranked(
    params: list[ParamSpace], finished: list[tuple[TrialRecord, float]], direction: Direction
) -> tuple[Importance, ...]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" per request
    distributions = {space.name: _distribution(space) for space in params}
    trials = []
    for trial, value in finished:
        values = _as_optuna(trial, params)
        used = {name: distributions[name] for name in values}
        trials.append(optuna.trial.create_trial(params=values, distributions=used, value=value))
    study = optuna.create_study(direction="minimize" if direction == Direction.MIN else "maximize")
    study.add_trials(trials)
    evaluator = _evaluator(len(trials))
    found = optuna.importance.get_param_importances(study, evaluator=evaluator, params=list(distributions))
    ordered = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return tuple(Importance(name, float(share)) for name, share in ordered)


def _notes(study: StudyRecord, constant: list[str]) -> list[str]:
    notes = []
    if len(study.objectives) > 1:
        names = ", ".join(objective.metric for objective in study.objectives)
        first, count = study.objectives[0].metric, len(study.objectives)
        notes.append(f"importances are for {first}, the first of {count} objectives ({names})")
    if constant:
        notes.append(f"left out {', '.join(constant)}: one value in every finished trial")
    if study.total > len(study.trials):
        notes.append(f"the search has {study.total:,} trials: these are the latest {len(study.trials):,}")
    return notes


def param_importances(study: StudyRecord) -> Importances:
    """The importance of each parameter for the study's (first) objective, most important
    first; empty, with a note saying why, when there is nothing to rank yet."""
    if not study.objectives:
        return Importances(note="importances need an objective: these trials recorded none")
    objective = study.objectives[0]
    finished = _finished(study.trials, objective.metric)
    if len(finished) < MIN_TRIALS:
        return Importances(note=f"importances need at least {MIN_TRIALS} finished trials; {len(finished)} so far")
    varying = _varying(study.params, finished)
    constant = [space.name for space in study.params if space not in varying]
    if not varying:
        took = f": {', '.join(constant)} took one value in every finished trial" if constant else ""
        return Importances(note=f"importances need a param that takes more than one value{took}")
    notes = _notes(study, constant)
    try:
        ranked = _ranked(varying, finished, objective.direction)
    except Exception as error:  # Optuna could not rank these trials: the study view still shows them
        notes.append(f"Optuna could not compute importances ({type(error).__name__}: {error})")
        ranked = ()
    return Importances(ranked, "; ".join(notes) or None)
