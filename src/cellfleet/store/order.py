"""How a page of runs is ordered: by a run column, by a parameter (``param.NAME``) or by a
final metric (``metric.NAME``); runs without the value come last either way."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from cellfleet.store.schema import metrics, runs

__all__ = ["COLUMNS", "order_runs", "valid_sort"]

COLUMNS = ("created", "started", "ended", "status", "kind", "cell_name")
_KEYED = re.compile(r"^(param|metric)\.([^\W\d][\w.-]{0,127})$")


def valid_sort(sort: str) -> bool:
    """Whether ``sort`` (optionally prefixed ``-``) names a column, a param or a metric."""
    key = sort.removeprefix("-")
    return key in COLUMNS or bool(_KEYED.match(key))


def _param(name: str, dialect: str) -> tuple[Any, list[Any]]:
    """What orders runs by the param ``name``: whether it is missing (absent, or null), then the
    values to sort on. PostgreSQL's JSON puts strings before numbers; SQLite, and so this, after."""
    if dialect != "postgresql":
        value = sa.func.json_extract(runs.c.params, f'$."{name}"')  # JSON null comes back as NULL
        return value.is_(None), [value]
    value = sa.func.nullif(sa.cast(runs.c.params, JSONB)[name], sa.cast(sa.literal("null"), JSONB))
    numbers_first = sa.case((sa.func.jsonb_typeof(value).in_(("number", "boolean")), 0), else_=1)
    return value.is_(None), [numbers_first, value]


def _final_metric(name: str) -> Any:
    """The run's last value of metric ``name``: one seek per run in the (run_id, key, id) index."""
    return (
        sa.select(metrics.c.value)
        .where(metrics.c.run_id == runs.c.id, metrics.c.key == name)
        .order_by(metrics.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def order_runs(query: sa.Select[Any], sort: str, dialect: str) -> sa.Select[Any]:
    """``query`` (a select from runs) ordered by ``sort``: runs without the value last, ties
    newest first."""
    descending, key = sort.startswith("-"), sort.removeprefix("-")
    if key == "created":
        return query.order_by(runs.c.created.desc() if descending else runs.c.created.asc())
    match = _KEYED.match(key)
    if match is None:
        column = runs.c[key]
        missing, values = [column.is_(None)] if column.nullable else [], [column]
    elif match.group(1) == "param":
        absent, values = _param(match.group(2), dialect)
        missing = [absent]
    else:
        value = _final_metric(match.group(2))
        missing, values = [value.is_(None)], [value]
    ordered = [value.desc() if descending else value.asc() for value in values]
    return query.order_by(*missing, *ordered, runs.c.created.desc())
