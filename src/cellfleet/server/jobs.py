"""Creating a job from a JSON request (the panel's promote dialog): validated like the CLI,
with the notebook path resolved inside the server's root."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from cellfleet.errors import PromotionError
from cellfleet.production.promote import CATCHUP, OVERLAP, add_job_arguments, promote
from cellfleet.production.schedules import Schedule
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore

__all__ = ["create_job", "job_summary", "resolve_notebook"]

_TEXT = (
    "cron",
    "every",
    "name",
    "from_run",
    "cluster",
    "timeout",
    "overlap",
    "catchup",
    "notify",
    "notify_on",
    "kernel",
)
_WHOLE = {"retries": (0, 99), "concurrency": (1, 1000)}


def resolve_notebook(root: str | Path, relative: Any) -> Path:
    """``relative`` inside ``root``; a path that escapes it, or is not a notebook, is refused."""
    if not isinstance(relative, str) or not relative.strip():
        raise PromotionError("notebook: give the notebook's path relative to the server root")
    if "\0" in relative:
        raise PromotionError("notebook: the path holds a NUL character; give the notebook's path")
    base = Path(root).resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise PromotionError(f"notebook {relative!r} is outside the server root: give a path inside it")
    if target.suffix != ".ipynb":
        raise PromotionError(f"notebook {relative!r} is not an .ipynb file")
    return target


def _defaults() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    add_job_arguments(parser)
    return parser.parse_args([])


def _options(body: dict[str, Any]) -> argparse.Namespace:
    args = _defaults()
    unknown = sorted(set(body) - set(_TEXT) - set(_WHOLE) - {"notebook", "params"})
    if unknown:
        raise PromotionError(
            f"unknown field {unknown[0]!r}; the fields are notebook, params, {', '.join((*_TEXT, *_WHOLE))}"
        )
    for key in _TEXT:
        if body.get(key) is not None:
            if not isinstance(body[key], str):
                raise PromotionError(f"{key} must be a string")
            setattr(args, key, body[key])
    for key, (low, high) in _WHOLE.items():
        if body.get(key) is not None:
            if not isinstance(body[key], int) or isinstance(body[key], bool) or not low <= body[key] <= high:
                raise PromotionError(f"{key} must be a whole number from {low} to {high}")
            setattr(args, key, body[key])
    if args.overlap not in OVERLAP or args.catchup not in CATCHUP:
        raise PromotionError(f"overlap is one of {', '.join(OVERLAP)}; catchup one of {', '.join(CATCHUP)}")
    if args.notify_on not in ("failure", "all"):
        raise PromotionError("notify_on is failure or all")
    return args


def create_job(store: Store, body: dict[str, Any], root: str | Path) -> dict[str, Any]:
    """Promote the notebook named in ``body`` with its options; returns the job."""
    params = body.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise PromotionError("params must be an object of parameter names to values")
    args = _options(body)
    return promote(resolve_notebook(root, body.get("notebook")), args, store, params)


def job_summary(jobs: JobStore, job: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The job with ``next_run`` (its next due time; ``None`` when paused or on demand) and
    ``last_run`` (its newest production run's id, status, created and ended; ``None`` before any)."""
    now = time.time() if now is None else now
    due = None
    if job["schedule"] and not job["paused"]:
        due = Schedule(job["schedule"]).next_due(after=max(now, job["checked_until"]), anchor=job["created"])
    newest = jobs.job_runs(job["id"], limit=1)
    last = {key: newest[0][key] for key in ("id", "status", "created", "ended")} if newest else None
    return {**job, "next_run": due, "last_run": last}
