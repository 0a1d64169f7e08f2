"""The ``cellfleet`` command.

    cellfleet runs ls [--notebook P] [--status S] [--kind K] [--limit N]
    cellfleet runs show RUN
    cellfleet runs compare RUN RUN...

Mistakes print one line naming the problem and the fix, and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cellfleet", description="Cellfleet: runs, experiments and jobs.")
    parser.add_argument("--db", help="SQLAlchemy URL of the store (default: CELLFLEET_DB or .cellfleet/cellfleet.db)")
    commands = parser.add_subparsers(dest="command", required=True)
    runs = commands.add_parser("runs", help="list, show and compare runs").add_subparsers(dest="action", required=True)
    listing = runs.add_parser("ls", help="list runs, newest first")
    listing.add_argument("--notebook")
    listing.add_argument("--status", choices=("queued", "running", "succeeded", "failed", "cancelled", "timed_out"))
    listing.add_argument("--kind", choices=("interactive", "variant", "production"))
    listing.add_argument("--limit", type=int, default=50)
    show = runs.add_parser("show", help="one run: params, metrics, environment, output")
    show.add_argument("run")
    compare = runs.add_parser("compare", help="runs side by side")
    compare.add_argument("runs", nargs="+")
    return parser


class CommandError(Exception):
    """A user mistake: printed as one line, exit status 2."""


def _table(rows: Sequence[dict[str, Any]]) -> str:
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
        return matches[0]
    if not matches:
        raise CommandError(f"no run {prefix!r} in {store.url}: list runs with `cellfleet runs ls`")
    raise CommandError(f"{prefix!r} matches several runs ({', '.join(matches)}): give more of the id")


def _runs_ls(store: Any, args: argparse.Namespace) -> str:
    from .summaries import run_rows

    if args.limit < 1:
        raise CommandError("--limit must be 1 or more")
    rows = run_rows(store, limit=args.limit, notebook=args.notebook, status=args.status, kind=args.kind)
    for row in rows:
        row.pop("worker", None)
    return _table(rows)


def _runs_show(store: Any, args: argparse.Namespace) -> str:
    run = store.get_run(_resolve(store, args.run))
    lines = [
        f"{key:12} {_cell(run[key])}" for key in ("id", "kind", "status", "notebook", "cell_name", "worker", "gpu")
    ]
    lines.append(f"{'params':12} {run['params']}")
    lines.append(f"{'environment':12} {run['environment']}")
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
    from .compare import Row, render_text

    ids = [_resolve(store, prefix) for prefix in args.runs]
    finals = store.final_metrics(ids)
    rows = []
    for index, run_id in enumerate(ids):
        run = store.get_run(run_id)
        seconds = run["ended"] - (run["started"] or run["created"]) if run["ended"] else None
        rows.append(Row(index, run_id, run["params"], run["status"], seconds, finals[run_id], error=run["error"] or ""))
    return render_text(rows, {})


_ACTIONS = {"ls": _runs_ls, "show": _runs_show, "compare": _runs_compare}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = _parser().parse_args(argv)
    from .errors import CellfleetError
    from .store import open_store

    try:
        store = open_store(args.db)
        print(_ACTIONS[args.action](store, args))
    except (CommandError, CellfleetError) as error:
        print(f"cellfleet: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
