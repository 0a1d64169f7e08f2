"""Catch-up for occurrences that wait: which of a job's held-back occurrences to skip (pure logic).

An occurrence waits when the scheduler is at its concurrency cap, or when its job's overlap
policy holds it (``queue``, or ``allow`` at the job's own concurrency). While it waits, later
due times of its job come; the job's catch-up policy decides, as it does for the occurrences
a stopped scheduler missed:

- ``latest``: only the newest waiting occurrence stays; each older one a newer due time has
  overtaken is skipped;
- ``none``: every waiting occurrence a newer due time has overtaken is skipped;
- ``all``: every one stays (the job asked for each of them; its backlog is the user's choice).

So under ``latest`` and ``none`` no occurrence older than its job's interval stays queued,
and a job holds at most one (``latest``) waiting occurrence per due time that has not yet passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from cellfleet.production.schedules import Schedule
from cellfleet.protocol import Catchup

__all__ = ["overtaken", "superseded"]

_EPSILON = 1e-6
"""Seconds of float rounding forgiven: a time computed as ``anchor + k * every`` may be a hair off."""

_Occurrence = TypeVar("_Occurrence", bound=Mapping[str, Any])


def overtaken(schedule: Schedule, due: float, now: float, anchor: float) -> bool:
    """Whether the due time after ``due`` has come by ``now``: ``due`` is older than its interval."""
    if schedule.is_cron:
        return schedule.next_due(due, anchor) <= now + _EPSILON
    return now - due >= float(schedule.text.split(":", 1)[1]) - _EPSILON


def superseded(job: Mapping[str, Any], held: Sequence[_Occurrence], now: float) -> list[_Occurrence]:
    """The occurrences of ``held`` (all ``job``'s, waiting at ``now``) that its catch-up policy skips.

    A job run on demand has no interval, so nothing of it is skipped.
    """
    if not job["schedule"] or job["catchup"] == Catchup.ALL or not held:
        return []
    schedule = Schedule(job["schedule"])
    ordered = sorted(held, key=lambda occurrence: (occurrence["due"], occurrence["id"]))
    candidates = ordered[:-1] if job["catchup"] == Catchup.LATEST else ordered
    return [o for o in candidates if overtaken(schedule, o["due"], now, job["created"])]
