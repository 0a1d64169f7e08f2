"""Runs as rows: for ``cellfleet runs`` in a terminal and ``cellfleet.runs()`` in a notebook."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from cellfleet.store.database import Store, open_store
from cellfleet.store.schema import metrics
from cellfleet.store.schema import runs as runs_table

__all__ = ["duration", "production_finals", "run_page", "run_rows", "runs"]


def duration(run: dict[str, Any]) -> float | None:
    """Seconds from a run's start (or creation) to its end; ``None`` while it runs. Never
    negative: a skipped run's end is stamped just before its creation, and clocks differ."""
    start, end = run.get("started") or run.get("created"), run.get("ended")
    return max(0.0, round(end - start, 3)) if start and end else None


def run_rows(store: Store, limit: int = 50, **filters: Any) -> list[dict[str, Any]]:
    """The newest runs (filtered), each with its params and final metrics flattened in."""
    found = store.list_runs(limit=limit, **filters)
    finals = store.final_metrics(run["id"] for run in found)
    rows = []
    for run in found:
        row = {
            "run": run["id"],
            "kind": run["kind"],
            "status": run["status"],
            "notebook": run["notebook"],
            "cell": run["cell_name"],
            "created": dt.datetime.fromtimestamp(run["created"]).isoformat(timespec="seconds"),
            "seconds": duration(run),
            "worker": run["worker"],
            "gpu": run["gpu"],
            "failure_class": run.get("failure_class"),
        }
        row.update({f"param.{k}": v for k, v in run["params"].items()})
        row.update({f"metric.{k}": v for k, v in finals.get(run["id"], {}).items()})
        rows.append(row)
    return rows


def production_finals(store: Store, run_id: str) -> dict[str, float]:
    """The last value logged of each metric by a production run and by the remote cells it ran
    (their ``parent_id``), in the order they were stored: what its job's ``--expect`` checks."""
    cells = sa.select(runs_table.c.id).where(runs_table.c.parent_id == run_id)
    last = (
        sa.select(sa.func.max(metrics.c.id).label("id"))
        .where(sa.or_(metrics.c.run_id == run_id, metrics.c.run_id.in_(cells)))
        .group_by(metrics.c.key)
        .subquery()
    )
    query = sa.select(metrics.c.key, metrics.c.value).join(last, metrics.c.id == last.c.id)
    with store.engine.connect() as connection:
        return {key: value for key, value in connection.execute(query)}


def run_page(store: Store, sort: str, limit: int, offset: int, **filters: Any) -> dict[str, Any]:
    """A page of runs for the panel: each with its final metrics, and the total that match."""
    rows, total = store.page_runs(filters, sort, limit, offset)
    finals = store.final_metrics(run["id"] for run in rows)
    for run in rows:
        run["final_metrics"] = finals.get(run["id"], {})
        run.pop("code", None)  # the panel asks for it with the run itself
    return {"runs": rows, "total": total, "limit": limit, "offset": offset}


def runs(
    notebook: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 1000,
    url: str | None = None,
) -> Any:
    """Runs as a pandas DataFrame: one row per run, params and final metrics as columns."""
    import pandas as pd

    rows = run_rows(open_store(url), limit=limit, notebook=notebook, status=status, kind=kind)
    frame = pd.DataFrame(rows)
    return frame.set_index("run") if not frame.empty else frame
