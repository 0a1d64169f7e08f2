"""Creating a job from a JSON request (the panel's promote dialog): its options become a
:class:`~cellfleet.production.spec.JobSpec`, checked as the CLI's are, and the notebook path
is resolved inside the server's root."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cellfleet.errors import PromotionError
from cellfleet.production.promote import promote
from cellfleet.production.schedules import Schedule, job_state
from cellfleet.production.spec import JobSpec
from cellfleet.protocol import JobState
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore

__all__ = ["create_job", "job_summary", "resolve_notebook"]


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


def create_job(store: Store, body: dict[str, Any], root: str | Path) -> dict[str, Any]:
    """Promote the notebook named in ``body`` with its options; returns the job."""
    spec = JobSpec.from_json(body, also=("notebook",))
    return promote(resolve_notebook(root, body.get("notebook")), spec, store)


def job_summary(jobs: JobStore, job: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The job with ``state`` (a :class:`~cellfleet.protocol.JobState` value), ``problem`` (why it
    is broken; ``None`` unless it is), ``next_run`` (its next due time; ``None`` when paused, broken
    or on demand) and ``last_run`` (its newest production run's id, status, failure class, created
    and ended; ``None`` before any)."""
    now = time.time() if now is None else now
    state, problem = job_state(job, now)
    due = None
    if job["schedule"] and state is JobState.ACTIVE:
        due = Schedule(job["schedule"]).next_due(after=max(now, job["checked_until"]), anchor=job["created"])
    newest = jobs.job_runs(job["id"], limit=1)
    last = {key: newest[0][key] for key in ("id", "status", "failure_class", "created", "ended")} if newest else None
    return {**job, "state": state.value, "problem": problem, "next_run": due, "last_run": last}
