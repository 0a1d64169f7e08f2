"""``cellfleet runs``: list, show, compare and follow runs."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cellfleet.protocol import RunStatus

__all__ = ["RUN_ACTIONS", "CommandError", "table"]


class CommandError(Exception):
    """A user mistake (exit status 2) or a failed run (exit status 1): printed as one line."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "no runs"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _resolve(store: Any, prefix: str) -> str:
    matches = store.find_runs(prefix)
    if len(matches) == 1:
        return str(matches[0])
    if not matches:
        from cellfleet.store.database import safe_url

        raise CommandError(f"no run {prefix!r} in {safe_url(store.url)}: list runs with `cellfleet runs ls`")
    raise CommandError(f"{prefix!r} matches several runs ({', '.join(matches)}): give more of the id")


def _runs_ls(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.store.queries import run_rows

    if args.limit < 1:
        raise CommandError("--limit must be 1 or more")
    rows = run_rows(store, limit=args.limit, notebook=args.notebook, status=args.status, kind=args.kind)
    for row in rows:
        row.pop("worker", None)
    return table(rows)


def _runs_show(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.store.outputs import outputs_of

    run = store.get_run(_resolve(store, args.run))
    lines = [
        f"{key:12} {_cell(run[key])}" for key in ("id", "kind", "status", "notebook", "cell_name", "worker", "gpu")
    ]
    keys = ("failure_class", "job_id", "parent_id", "upstream_run_id")
    lines += [f"{key:12} {run[key]}" for key in keys if run.get(key)]
    lines.append(f"{'params':12} {run['params']}")
    lines.append(f"{'environment':12} {run['environment']}")
    if run.get("environment_warning"):
        lines.append(f"{'warning':12} {run['environment_warning']}")
    lines += [f"output       {name} = {value!r}" for name, value in outputs_of(store, run["id"]).items()]
    for key, points in store.metric_series(run["id"]).items():
        lines.append(f"metric {key:5} last={points[-1][1]:.6g} points={len(points)}")
    for artifact in store.list_artifacts(run["id"]):
        lines.append(f"artifact     {artifact['name']} ({artifact['media_type']}, {artifact['size']} bytes)")
    if run["error"]:
        lines.append("error:\n" + run["error"])
    if run["output"]:
        lines.append("output:\n" + run["output"])
    return "\n".join(lines)


def _runs_compare(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.compare import Row, directions_for, render_text
    from cellfleet.store.queries import duration

    ids = [_resolve(store, prefix) for prefix in args.runs]
    finals = store.final_metrics(ids)
    rows, declared = [], []
    for index, run_id in enumerate(ids):
        run = store.get_run(run_id)
        declared.append(run.get("directions"))
        rows.append(
            Row(index, run_id, run["params"], run["status"], duration(run), finals[run_id], error=run["error"] or "")
        )
    metrics = {metric for values in finals.values() for metric in values}
    return render_text(rows, directions_for(metrics, declared))


def _runs_logs(store: Any, args: argparse.Namespace) -> str:
    """Print a production run's progress log; with --follow, keep printing until it ends."""
    from cellfleet.production.execute import run_paths

    run_id = _resolve(store, args.run)
    _, log = run_paths(run_id)
    if not log.exists() and not args.follow:
        raise CommandError(f"run {run_id} has no log: only production runs (cellfleet run, jobs) keep one")
    offset = _print_new(log, 0)
    while args.follow:
        run = store.get_run(run_id)
        offset = _print_new(log, offset)
        if RunStatus(run["status"]).ended:
            return f"-- run {run_id} {run['status']}" + (f": {run['error']}" if run["error"] else "")
        time.sleep(0.25)
    return ""


def _print_new(path: Path, offset: int) -> int:
    if not path.exists():
        return offset
    with open(path, "rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    if chunk:
        print(chunk.decode("utf-8", "replace"), end="", flush=True)
    return offset + len(chunk)


RUN_ACTIONS = {"ls": _runs_ls, "show": _runs_show, "compare": _runs_compare, "logs": _runs_logs}
