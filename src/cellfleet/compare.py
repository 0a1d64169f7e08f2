"""Comparing runs: which way is better for a metric, the best run, and the side-by-side table.

The one place that decides a metric's direction (:func:`direction_of`): the notebook's
variants table, ``cellfleet runs compare`` and the server's compare API (which the panel
shows) all use it, so they always mark the same best run. Pure logic: rows in, HTML (every
value escaped) and plain text out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cellfleet.protocol import Direction

__all__ = ["Row", "best_index", "direction_of", "directions_for", "render_html", "render_text"]

_LOWER_IS_BETTER = re.compile(r"(loss|err|error|mse|mae|rmse|perplexity|latency|time|seconds|cost)", re.IGNORECASE)


@dataclass
class Row:
    """One variant in the table."""

    index: int
    run_id: str
    params: dict[str, Any]
    status: str = "queued"
    seconds: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    last_line: str = ""
    error: str = ""


def direction_of(metric: str, directions: Mapping[str, str]) -> Direction:
    """Which way is better for ``metric``: as declared (--maximize/--minimize), else guessed
    from its name (loss, error, latency, time... are better lower)."""
    if metric in directions:
        return Direction(directions[metric])
    return Direction.MIN if _LOWER_IS_BETTER.search(metric) else Direction.MAX


def directions_for(metrics: Iterable[str], declared: Iterable[Mapping[str, str] | None]) -> dict[str, Direction]:
    """The direction of each metric, from what any of the compared runs declared, else its name."""
    merged: dict[str, str] = {}
    for directions in declared:
        merged.update(directions or {})
    return {metric: direction_of(metric, merged) for metric in metrics}


def best_index(rows: Sequence[Row], metric: str, direction: Direction) -> int | None:
    """The position of the best row for ``metric`` among those that logged it."""
    scored = [(row.metrics[metric], position) for position, row in enumerate(rows) if metric in row.metrics]
    if not scored:
        return None
    chosen = max(scored) if direction == Direction.MAX else min(scored)
    return chosen[1]


def _columns(rows: Sequence[Row]) -> tuple[list[str], list[str]]:
    params: dict[str, None] = {}
    metrics: dict[str, None] = {}
    for row in rows:
        params.update(dict.fromkeys(row.params))
        metrics.update(dict.fromkeys(row.metrics))
    return list(params), list(metrics)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _best_cells(rows: Sequence[Row], metrics: list[str], directions: Mapping[str, str]) -> set[tuple[int, str]]:
    cells = set()
    for metric in metrics:
        position = best_index(rows, metric, direction_of(metric, directions))
        if position is not None and sum(metric in r.metrics for r in rows) > 1:
            cells.add((position, metric))
    return cells


def _last_column(row: Row) -> str:
    return row.error.splitlines()[-1] if row.error else row.last_line


def render_text(rows: Sequence[Row], directions: Mapping[str, str]) -> str:
    """A fixed-width table; the best value of each metric is marked with ``*``."""
    params, metrics = _columns(rows)
    best = _best_cells(rows, metrics, directions)
    header = ["#", "run", *params, *metrics, "status", "time", "output"]
    lines = []
    for position, row in enumerate(rows):
        marks = [
            _format(row.metrics[m]) + ("*" if (position, m) in best else "") if m in row.metrics else ""
            for m in metrics
        ]
        seconds = f"{row.seconds:.1f}s" if row.seconds is not None else ""
        values = [str(row.index), row.run_id, *(_format(row.params.get(p, "")) for p in params)]
        lines.append([*values, *marks, row.status, seconds, _last_column(row)[:60]])
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=True)]

    def render(cells: Sequence[object]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([render(header), *(render(line) for line in lines)])


def render_html(rows: Sequence[Row], directions: Mapping[str, str]) -> str:
    """An HTML table with the best value of each metric in bold; every value is escaped."""
    params, metrics = _columns(rows)
    best = _best_cells(rows, metrics, directions)
    arrows = {m: "↑" if direction_of(m, directions) == Direction.MAX else "↓" for m in metrics}
    head = ["#", "run", *params, *(f"{m} {arrows[m]}" for m in metrics), "status", "time", "output"]
    body = [_html_row(position, row, params, metrics, best) for position, row in enumerate(rows)]
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table class="cellfleet-variants"><thead><tr>{header}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _html_row(position: int, row: Row, params: list[str], metrics: list[str], best: set[tuple[int, str]]) -> str:
    cells = [str(row.index), row.run_id, *(_format(row.params.get(p, "")) for p in params)]
    parts = [f"<td>{html.escape(c)}</td>" for c in cells]
    for metric in metrics:
        text = html.escape(_format(row.metrics[metric])) if metric in row.metrics else ""
        parts.append(f"<td><b>{text}</b></td>" if (position, metric) in best else f"<td>{text}</td>")
    seconds = f"{row.seconds:.1f} s" if row.seconds is not None else ""
    for text in (row.status, seconds, _last_column(row)[:120]):
        parts.append(f"<td>{html.escape(text)}</td>")
    return f"<tr>{''.join(parts)}</tr>"
