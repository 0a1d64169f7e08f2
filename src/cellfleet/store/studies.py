"""A search's trials as typed records, for the panel's study view (``GET studies/<group_id>``).

A ``%%remote --search`` records each trial as a run of kind ``trial`` in the search's run
group: ``variant`` is the trial's number, ``params`` its sampled values, ``directions`` the
objectives (``{metric: "min" | "max"}``, in the order the cell declared them). :func:`load_study`
reads them back (the newest :data:`TRIAL_LIMIT` at most), each with the last logged value of
each objective, and names the Optuna study a ``--study NAME`` search keeps in the store beside
them.

The search space itself is not recorded with the trials, so :func:`infer_space` rebuilds it
from the values the trials took (see there for the rules).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cellfleet.protocol import Direction, RunKind, RunStatus
from cellfleet.store.database import Store, decode_row
from cellfleet.store.schema import metrics, runs

__all__ = [
    "GROUP_ATTR",
    "LOG_SPAN",
    "TRIAL_LIMIT",
    "Objective",
    "ParamKind",
    "ParamSpace",
    "Point",
    "StudyRecord",
    "TrialRecord",
    "group_kinds",
    "holds_searches",
    "infer_space",
    "kept_study_name",
    "load_study",
    "trial_curves",
]

TRIAL_LIMIT = 5000
"""The most trials :func:`load_study` reads (the newest, by trial number)."""
LOG_SPAN = 100.0
"""A numeric parameter whose values are all positive and span this ratio (two decades) or more
is taken as searched on a log scale."""
GROUP_ATTR = "cellfleet_group"
"""The user attribute of a kept Optuna study that holds its run group (set by the kernel)."""

# Optuna's RDB storage tables, as far as naming a kept study needs them (stable since Optuna 1.x)
_studies = sa.table("studies", sa.column("study_id"), sa.column("study_name"))
_study_attrs = sa.table("study_user_attributes", sa.column("study_id"), sa.column("key"), sa.column("value_json"))


class ParamKind(str, enum.Enum):
    """What values a searched parameter takes."""

    FLOAT = "float"
    INT = "int"
    CATEGORICAL = "categorical"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Objective:
    """A metric the search optimises, and which way."""

    metric: str
    direction: Direction


@dataclass(frozen=True)
class ParamSpace:
    """One searched parameter, as the trials' values show it."""

    name: str
    kind: ParamKind
    log: bool = False
    choices: tuple[Any, ...] | None = None
    """The values a categorical parameter took (``None`` for numbers)."""
    low: float | None = None
    """The smallest value a numeric parameter took (``None`` for categorical ones)."""
    high: float | None = None


@dataclass(frozen=True)
class TrialRecord:
    """One trial: its run, params, and the last logged value of each objective."""

    run_id: str
    number: int
    status: RunStatus
    params: Mapping[str, Any]
    values: Mapping[str, float | None]
    last_step: int | None
    """The highest step at which the trial logged an objective (``None``: none, or no step)."""
    started: float | None
    ended: float | None


@dataclass(frozen=True)
class StudyRecord:
    """A search: its objectives, inferred space and trials (by number, oldest first)."""

    group_id: str
    label: str
    study_name: str | None
    objectives: tuple[Objective, ...]
    params: tuple[ParamSpace, ...]
    trials: tuple[TrialRecord, ...]
    total: int
    """How many trials the search has (more than ``len(trials)`` when cut at the limit)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _choice_key(value: Any) -> tuple[str, Any]:
    """Orders and tells apart the values of a categorical parameter (``True`` is not ``1``)."""
    plain = value if isinstance(value, bool | int | float | str) else json.dumps(value, sort_keys=True, default=repr)
    return type(value).__name__, plain


def _choices(values: Sequence[Any]) -> tuple[Any, ...]:
    unique = {_choice_key(value): value for value in values}
    return tuple(unique[key] for key in sorted(unique))


def _space(name: str, values: Sequence[Any]) -> ParamSpace:
    if not all(_is_number(value) for value in values):
        return ParamSpace(name, ParamKind.CATEGORICAL, choices=_choices(values))
    kind = ParamKind.INT if all(isinstance(value, int) for value in values) else ParamKind.FLOAT
    low, high = float(min(values)), float(max(values))
    return ParamSpace(name, kind, log=low > 0 and high >= low * LOG_SPAN, low=low, high=high)


def infer_space(params: Sequence[Mapping[str, Any]]) -> tuple[ParamSpace, ...]:
    """The parameters the trials took (``params``: each trial's), in order of first appearance,
    each with its kind inferred from its values:

    * every value a whole number (not ``True``/``False``) → ``int``;
    * every value a finite number, some not whole → ``float``;
    * anything else (strings, booleans, ``None``, a mix) → ``categorical``, its ``choices`` the
      distinct values taken, ordered by type, then value;
    * a number parameter is ``log`` when all its values are positive and the largest is at least
      :data:`LOG_SPAN` (100, two decades) times the smallest.

    A trial without a parameter does not count for it.
    """
    taken: dict[str, list[Any]] = {}
    for trial in params:
        for name, value in trial.items():
            taken.setdefault(name, []).append(value)
    return tuple(_space(name, values) for name, values in taken.items())


def _in_group(group_id: str) -> Any:
    return sa.and_(runs.c.group_id == group_id, runs.c.kind == RunKind.TRIAL.value)


def _newest(group_id: str, limit: int) -> sa.Select[Any]:
    order = (runs.c.variant.desc().nulls_last(), runs.c.created.desc())
    return sa.select(runs.c.id).where(_in_group(group_id)).order_by(*order).limit(limit)


def _trial_rows(connection: sa.Connection, group_id: str, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` trials of the group, oldest first."""
    columns = [runs.c[name] for name in ("id", "variant", "status", "params", "directions", "cell_name")]
    columns += [runs.c.started, runs.c.ended, runs.c.created]
    newest = _newest(group_id, limit).subquery()
    query = sa.select(*columns).join(newest, newest.c.id == runs.c.id)
    rows = [decode_row(dict(row)) for row in connection.execute(query).mappings()]
    return sorted(rows, key=lambda row: (row["variant"] is None, row["variant"] or 0, row["created"]))


def _finals(
    connection: sa.Connection, group_id: str, limit: int, keys: Sequence[str]
) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Per trial: the last logged value of each of ``keys``, and the highest step they were logged at."""
    if not keys:
        return {}, {}
    ids = _newest(group_id, limit)
    chosen = sa.and_(metrics.c.run_id.in_(ids), metrics.c.key.in_(list(keys)))
    last = sa.select(sa.func.max(metrics.c.id).label("id")).where(chosen).group_by(metrics.c.run_id, metrics.c.key)
    latest = last.subquery()
    values: dict[str, dict[str, float]] = {}
    query = sa.select(metrics.c.run_id, metrics.c.key, metrics.c.value).join(latest, metrics.c.id == latest.c.id)
    for run_id, key, value in connection.execute(query):
        values.setdefault(run_id, {})[key] = value
    steps = sa.select(metrics.c.run_id, sa.func.max(metrics.c.step)).where(chosen).group_by(metrics.c.run_id)
    last_steps = {run_id: step for run_id, step in connection.execute(steps) if step is not None}
    return values, last_steps


def _objectives(rows: Sequence[Mapping[str, Any]]) -> tuple[Objective, ...]:
    """The objectives the trials declared (the newest trial's word wins), in their stored order."""
    merged: dict[str, str] = {}
    for row in rows:
        merged.update(row.get("directions") or {})
    values = {direction.value for direction in Direction}
    return tuple(Objective(metric, Direction(way)) for metric, way in merged.items() if way in values)


def _trial(row: Mapping[str, Any], finals: Mapping[str, float], step: int | None, keys: Sequence[str]) -> TrialRecord:
    values = {key: finals.get(key) for key in keys}
    number = row["variant"] if row["variant"] is not None else -1
    return TrialRecord(
        row["id"], number, RunStatus(row["status"]), row["params"], values, step, row["started"], row["ended"]
    )


def kept_study_name(connection: sa.Connection, group_id: str) -> str | None:
    """The name of the Optuna study kept in this store (``--study NAME``) whose run group is
    ``group_id``; ``None`` for a search kept in memory, or a store without Optuna's tables."""
    inspector = sa.inspect(connection)
    if not all(inspector.has_table(name) for name in ("studies", "study_user_attributes")):
        return None
    query = (
        sa.select(_studies.c.study_name)
        .join(_study_attrs, _study_attrs.c.study_id == _studies.c.study_id)
        .where(_study_attrs.c.key == GROUP_ATTR, _study_attrs.c.value_json == json.dumps(group_id))
        .limit(1)
    )
    return connection.execute(query).scalar()


def group_kinds(store: Store, group_id: str) -> dict[str, int]:
    """How many runs of each kind the run group ``group_id`` holds (``{}``: no such group)."""
    query = sa.select(runs.c.kind, sa.func.count()).where(runs.c.group_id == group_id).group_by(runs.c.kind)
    with store.engine.connect() as connection:
        return {kind: int(count) for kind, count in connection.execute(query)}


def holds_searches(store: Store) -> bool:
    """Whether the store has any trial run (any ``%%remote --search`` was recorded)."""
    query = sa.select(runs.c.id).where(runs.c.kind == RunKind.TRIAL.value).limit(1)
    with store.engine.connect() as connection:
        return connection.execute(query).first() is not None


Point = tuple[int | None, float, float]
"""A logged metric value: ``(step, value, logged)``, ``logged`` in epoch seconds."""


def trial_curves(
    store: Store, group_id: str, keys: Sequence[str], limit: int = TRIAL_LIMIT
) -> dict[str, dict[str, list[Point]]]:
    """Every point of the metrics ``keys`` of the group's newest ``limit`` trials, as
    ``{run_id: {key: [(step, value, logged), ...]}}`` in logging order: all the study view's
    curves in one query."""
    if not keys:
        return {}
    chosen = sa.and_(metrics.c.run_id.in_(_newest(group_id, limit)), metrics.c.key.in_(list(keys)))
    columns = (metrics.c.run_id, metrics.c.key, metrics.c.step, metrics.c.value, metrics.c.logged)
    query = sa.select(*columns).where(chosen).order_by(metrics.c.run_id, metrics.c.key, metrics.c.id)
    curves: dict[str, dict[str, list[Point]]] = {}
    with store.engine.connect() as connection:
        for run_id, key, step, value, logged in connection.execute(query):
            curves.setdefault(run_id, {}).setdefault(key, []).append((step, value, logged))
    return curves


def load_study(store: Store, group_id: str, limit: int = TRIAL_LIMIT) -> StudyRecord | None:
    """The search whose trials form the run group ``group_id`` (its newest ``limit`` trials), or
    ``None`` when the group has no trials (see :func:`group_kinds` for what it has instead)."""
    counted = sa.select(sa.func.count()).select_from(runs).where(_in_group(group_id))
    with store.engine.connect() as connection:
        rows = _trial_rows(connection, group_id, limit)
        if not rows:
            return None
        total = int(connection.execute(counted).scalar_one())
        objectives = _objectives(rows)
        keys = [objective.metric for objective in objectives]
        finals, steps = _finals(connection, group_id, limit, keys)
        name = kept_study_name(connection, group_id)
    trials = tuple(_trial(row, finals.get(row["id"], {}), steps.get(row["id"]), keys) for row in rows)
    label = rows[-1]["cell_name"] or group_id
    space = infer_space([trial.params for trial in trials])
    return StudyRecord(group_id, label, name, objectives, space, trials, max(total, len(trials)))
