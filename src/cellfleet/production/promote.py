"""Promotion: an immutable, content-hashed snapshot of a notebook becomes a job.

The snapshot is what production runs, so later edits change nothing until the notebook is
promoted again. Parameters are checked against the notebook's papermill ``parameters``
cell and injected by papermill itself, never pasted into code.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from cellfleet.errors import PromotionError
from cellfleet.paths import project_root
from cellfleet.production.schedules import parse_duration, parse_schedule

if TYPE_CHECKING:
    from cellfleet.store.database import Store

__all__ = [
    "CATCHUP",
    "OVERLAP",
    "Snapshot",
    "add_job_arguments",
    "check_params",
    "materialize",
    "parse_params",
    "promote",
    "read_snapshot",
    "snapshot",
]

OVERLAP = ("skip", "queue", "allow")
CATCHUP = ("none", "latest", "all")


@dataclass(frozen=True)
class Snapshot:
    """A notebook version: its hash, where it was, and the file production runs."""

    digest: str
    source: Path
    path: Path
    parameters: dict[str, Any] | None
    """The parameters cell's names, or ``None`` when the notebook has no parameters cell."""


def _read(path: Path) -> str:
    if not path.exists():
        raise PromotionError(f"no notebook at {path}: check the path", problem="missing")
    if path.is_dir():
        raise PromotionError(f"{path} is a folder, not a notebook: give the .ipynb file")
    try:
        text = path.read_text(encoding="utf-8")
        nbformat.validate(nbformat.reads(text, as_version=4))
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.reader.NotJSONError, AttributeError, TypeError,
            KeyError) as error:  # fmt: skip
        raise PromotionError(
            f"{path} is not a Jupyter notebook ({type(error).__name__}): give an .ipynb file"
        ) from None
    except nbformat.ValidationError as error:
        first = str(error).splitlines()[0]
        raise PromotionError(f"{path} is not a valid notebook ({first}): open and save it in JupyterLab") from None
    return text


def read_snapshot(notebook: str | Path) -> tuple[Snapshot, str]:
    """Hash the notebook and write the file runs execute; returns the snapshot and its text."""
    source = Path(notebook).resolve()
    text = _read(source)
    digest = hashlib.sha256(text.encode()).hexdigest()
    path = materialize(digest, text)
    return Snapshot(digest, source, path, _parameters(path)), text


def snapshot(notebook: str | Path, store: Store) -> Snapshot:
    """:func:`read_snapshot`, with the version's content kept in the store."""
    from cellfleet.store.jobs import JobStore

    snap, text = read_snapshot(notebook)
    JobStore(store).save_version(snap.digest, str(snap.source), text)
    return snap


def materialize(digest: str, text: str) -> Path:
    """The snapshot's file under ``.cellfleet/versions/`` (rewritten if it went missing)."""
    folder = project_root() / ".cellfleet" / "versions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:16]}.ipynb"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return path


def _parameters(path: Path) -> dict[str, Any] | None:
    from papermill import inspect_notebook

    notebook = nbformat.read(path, as_version=4)
    tagged = any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in notebook.cells)
    return dict(inspect_notebook(str(path))) if tagged else None


def parse_params(pairs: list[list[str]] | None) -> dict[str, Any]:
    """``-p KEY VALUE`` pairs; values are Python literals, or strings when they are not."""
    params: dict[str, Any] = {}
    for key, value in pairs or []:
        if not key.isidentifier():
            raise PromotionError(f"-p {key}: parameter names are variable names")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def check_params(snap: Snapshot, params: dict[str, Any]) -> None:
    """Every parameter must exist in the notebook's parameters cell."""
    if not params:
        return
    if snap.parameters is None:
        raise PromotionError(
            f"{snap.source.name} has no parameters cell, so -p {next(iter(params))} has nowhere to go: "
            "tag the cell that sets defaults with 'parameters' (cell toolbar → tags)"
        )
    unknown = sorted(set(params) - set(snap.parameters))
    if unknown:
        known = ", ".join(sorted(snap.parameters)) or "none"
        raise PromotionError(f"unknown parameter {unknown[0]!r}: the parameters cell defines {known}")


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``cellfleet promote`` and ``%promote``."""
    parser.add_argument("--cron", help='a cron schedule, like "0 2 * * *"')
    parser.add_argument("--every", help="a fixed interval, like 30s, 5m or 1h")
    parser.add_argument("--name", help="the job's name (default: the notebook's name)")
    parser.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"), help="a parameter")
    parser.add_argument("--from-run", help="take params from this run (explicit -p wins)")
    parser.add_argument("--cluster", help="the Dask scheduler the job's %%remote cells use")
    parser.add_argument("--retries", type=int, default=0, help="runs again after a failure (default 0)")
    parser.add_argument("--timeout", help="stop a run after this long, like 30m")
    parser.add_argument("--concurrency", type=int, default=1, help="runs of this job at once (default 1)")
    parser.add_argument("--overlap", choices=OVERLAP, default="skip", help="when the previous run still goes")
    parser.add_argument("--catchup", choices=CATCHUP, default="latest", help="occurrences missed while down")
    parser.add_argument("--notify", metavar="URL", help="POST a JSON summary here")
    parser.add_argument("--notify-on", choices=("failure", "all"), default="failure")
    parser.add_argument("--kernel", help="the kernel to run with (default: the notebook's)")


def _job_fields(args: argparse.Namespace, snap: Snapshot, params: dict[str, Any]) -> dict[str, Any]:
    schedule = parse_schedule(args.cron, args.every)
    if args.retries < 0 or args.concurrency < 1:
        raise PromotionError("--retries must be 0 or more and --concurrency 1 or more")
    if args.notify and not args.notify.startswith(("http://", "https://")):
        raise PromotionError(f"--notify {args.notify!r}: give an http:// or https:// URL")
    return {
        "name": args.name or snap.source.stem,
        "notebook": str(snap.source),
        "version": snap.digest,
        "params": params,
        "schedule": schedule.text if schedule else None,
        "cluster": args.cluster,
        "retries": args.retries,
        "timeout": parse_duration(args.timeout, "--timeout") if args.timeout else None,
        "concurrency": args.concurrency,
        "overlap": args.overlap,
        "catchup": args.catchup,
        "notify_url": args.notify,
        "notify_on": args.notify_on,
        "kernel": args.kernel,
        "from_run": args.from_run,
    }


def promote(
    notebook: str | Path, args: argparse.Namespace, store: Store, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Snapshot ``notebook`` and record it as a job; returns the job.

    Params come from ``--from-run``, then ``-p`` pairs, then ``params`` (already typed).
    """
    merged = _params_from_run(store, args.from_run)
    merged.update(parse_params(args.param))
    merged.update(params or {})
    params = merged
    snap = snapshot(notebook, store)
    check_params(snap, params)
    from cellfleet.store.jobs import JobStore

    return JobStore(store).create_job(**_job_fields(args, snap, params))


def _params_from_run(store: Store, run: str | None) -> dict[str, Any]:
    if not run:
        return {}
    matches = store.find_runs(run)
    if len(matches) != 1:
        raise PromotionError(f"--from-run {run}: no single run matches; list runs with `cellfleet runs ls`")
    return dict(store.get_run(matches[0])["params"])  # type: ignore[index]
