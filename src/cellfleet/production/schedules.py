"""Schedules: ``--cron EXPR`` or ``--every DURATION``, and the due times they produce (pure logic)."""

from __future__ import annotations

import math
import re
import reprlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cellfleet.errors import ScheduleError
from cellfleet.protocol import JobState

__all__ = [
    "MAX_EVERY",
    "Schedule",
    "describe_schedule",
    "job_state",
    "local_time",
    "next_run_text",
    "parse_duration",
    "parse_schedule",
    "schedule_problem",
]

_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([a-z]*)\s*$")

MAX_EVERY = 36500 * 86400.0
"""The longest ``--every``: 36500 days (about 100 years), so every next time is a date."""


def parse_duration(text: str, what: str = "duration") -> float:
    """``"2s"``, ``"5m"``, ``"1.5h"``, ``"1d"`` or plain seconds → seconds."""
    match = _DURATION.match(str(text).lower())
    if not match or match.group(2) not in ("", *_UNITS):
        raise ScheduleError(f"{what} {reprlib.repr(text)} is not a duration: write it like 30s, 5m, 2h or 1d")
    seconds = float(match.group(1)) * _UNITS.get(match.group(2) or "s", 1)
    if seconds <= 0:
        raise ScheduleError(f"{what} {reprlib.repr(text)} must be longer than 0")
    if not math.isfinite(seconds):
        raise ScheduleError(f"{what} {reprlib.repr(text)} is too long: write it like 30s, 5m, 2h or 1d")
    return seconds


@dataclass(frozen=True)
class Schedule:
    """A cron expression or a fixed interval, anchored at ``anchor`` (epoch seconds)."""

    text: str
    """``cron:EXPR`` or ``every:SECONDS``, as stored."""

    @property
    def is_cron(self) -> bool:
        return self.text.startswith("cron:")

    def due_times(self, after: float, until: float, anchor: float, limit: int = 1000) -> list[float]:
        """Due times in ``(after, until]``, oldest first, at most ``limit`` (the newest ones)."""
        if self.is_cron:
            return self._cron_times(after, until, limit)
        every = float(self.text.split(":", 1)[1])
        first = max(0, int((after - anchor) // every) + 1)
        last = int((until - anchor) // every)
        start = max(first, last - limit + 1)
        return [anchor + k * every for k in range(start, last + 1)]

    def next_due(self, after: float, anchor: float) -> float:
        if self.is_cron:
            from croniter import croniter

            return float(croniter(self.text.split(":", 1)[1], _local(after)).get_next(float))
        every = float(self.text.split(":", 1)[1])
        return anchor + (int((after - anchor) // every) + 1) * every

    def _cron_times(self, after: float, until: float, limit: int) -> list[float]:
        from croniter import croniter

        times: list[float] = []
        iterator = croniter(self.text.split(":", 1)[1], _local(after))
        while True:
            due = float(iterator.get_next(float))
            if due > until:
                return times[-limit:]
            times.append(due)


def _local(timestamp: float) -> datetime:
    """Cron expressions read in the scheduler's local time zone ("0 2 * * *" is 02:00 here)."""
    return datetime.fromtimestamp(timestamp).astimezone()


def parse_schedule(cron: str | None, every: str | None, now: float | None = None) -> Schedule | None:
    """The schedule from ``--cron`` or ``--every``; ``None`` when neither (run on demand).

    A schedule that can never fire after ``now``, or whose interval is past :data:`MAX_EVERY`,
    is refused; so is an empty ``--cron ""`` or ``--every ""``.
    """
    if cron is not None and every is not None:
        raise ScheduleError("give either --cron or --every, not both")
    if every is not None:
        seconds = parse_duration(every, "--every")
        if seconds > MAX_EVERY:
            raise ScheduleError(
                f"--every {reprlib.repr(every)} is too long: the longest interval is 36500d (about 100 years)"
            )
        return Schedule(f"every:{seconds:g}")
    if cron is not None:
        return _cron_schedule(cron, time.time() if now is None else now)
    return None


def _cron_schedule(cron: str, now: float) -> Schedule:
    from croniter import croniter

    if not cron.strip() or not croniter.is_valid(cron):
        raise ScheduleError(
            f"--cron {cron!r} is not a cron expression: write five fields, minute hour day month weekday, "
            'like "0 2 * * *" for 02:00 every day'
        )
    schedule = Schedule(f"cron:{cron}")
    if schedule_problem(schedule.text, now, now) is not None:
        raise ScheduleError(
            f"--cron {cron!r} never fires: no date from now on matches it (like 30 February); "
            'give a date that exists, like "0 0 28 2 *"'
        )
    return schedule


def schedule_problem(stored: str | None, after: float, anchor: float) -> str | None:
    """Why a stored schedule cannot give its next time after ``after``; ``None`` when it can.

    A row that holds such a schedule (one no promotion writes now, like a row of an older
    version) makes the job :attr:`~cellfleet.protocol.JobState.BROKEN`.
    """
    if not stored:
        return None
    from croniter import CroniterBadDateError

    kind, _, value = stored.partition(":")
    if kind not in ("cron", "every"):
        return f"its schedule {reprlib.repr(stored)} is neither cron:EXPR nor every:SECONDS"
    if kind == "every" and not _positive(value):
        return f"its interval {reprlib.repr(value)} is not a finite number of seconds above 0"
    try:
        due = Schedule(stored).next_due(after, anchor)
    except CroniterBadDateError:
        return f"its cron schedule {reprlib.repr(value)} never fires"
    except Exception as error:  # croniter raises many kinds for a text it cannot read
        return f"its schedule {reprlib.repr(stored)} cannot be read ({type(error).__name__}: {error})"
    if not _is_date(due):
        return f"its interval of {value} s is too long: its next time is past any date"
    return None


def _positive(text: str) -> bool:
    try:
        return 0 < float(text) < math.inf
    except ValueError:
        return False


def _is_date(timestamp: float) -> bool:
    try:
        datetime.fromtimestamp(timestamp)
    except (OverflowError, OSError, ValueError):
        return False
    return True


def job_state(job: Mapping[str, Any], now: float | None = None) -> tuple[JobState, str | None]:
    """A stored job's state, and why it is broken (``None`` unless it is).

    Broken wins over paused: a paused job whose schedule cannot fire still needs fixing.
    """
    now = time.time() if now is None else now
    problem = schedule_problem(job["schedule"], max(now, job["checked_until"]), job["created"])
    if problem is not None:
        return JobState.BROKEN, problem
    return (JobState.PAUSED if job["paused"] else JobState.ACTIVE), None


def describe_schedule(stored: str | None) -> str:
    """A stored schedule for people: ``every 3600s``, ``cron 0 2 * * *`` or ``on demand``."""
    if not stored:
        return "on demand"
    kind, _, value = stored.partition(":")
    return f"{kind} {value}s" if kind == "every" else f"{kind} {value}"


def local_time(timestamp: float | None) -> str:
    """Epoch seconds as local ``YYYY-MM-DD HH:MM:SS``; empty for ``None`` or 0."""
    return datetime.fromtimestamp(timestamp).isoformat(sep=" ", timespec="seconds") if timestamp else ""


def next_run_text(job: Mapping[str, Any], now: float | None = None) -> str:
    """When a stored job runs next: a local time, ``paused``, ``never (broken)``, or empty on demand."""
    now = time.time() if now is None else now
    state, _ = job_state(job, now)
    if state is not JobState.ACTIVE or not job["schedule"]:
        return {JobState.BROKEN: "never (broken)", JobState.PAUSED: "paused"}.get(state, "")
    return local_time(Schedule(job["schedule"]).next_due(max(now, job["checked_until"]), job["created"]))
