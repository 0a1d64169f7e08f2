"""Schedules: ``--cron EXPR`` or ``--every DURATION``, and the due times they produce (pure logic)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cellfleet.errors import ScheduleError

__all__ = ["Schedule", "describe_schedule", "local_time", "next_run_text", "parse_duration", "parse_schedule"]

_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def parse_duration(text: str, what: str = "duration") -> float:
    """``"2s"``, ``"5m"``, ``"1.5h"``, ``"1d"`` or plain seconds → seconds."""
    match = _DURATION.match(str(text).lower())
    if not match or match.group(2) not in ("", *_UNITS):
        raise ScheduleError(f"{what} {text!r} is not a duration: write it like 30s, 5m, 2h or 1d")
    seconds = float(match.group(1)) * _UNITS.get(match.group(2) or "s", 1)
    if seconds <= 0:
        raise ScheduleError(f"{what} {text!r} must be longer than 0")
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


def parse_schedule(cron: str | None, every: str | None) -> Schedule | None:
    """The schedule from ``--cron`` or ``--every``; ``None`` when neither (run on demand)."""
    if cron and every:
        raise ScheduleError("give either --cron or --every, not both")
    if every:
        return Schedule(f"every:{parse_duration(every, '--every'):g}")
    if cron:
        from croniter import croniter

        if not croniter.is_valid(cron):
            raise ScheduleError(
                f"--cron {cron!r} is not a cron expression: write five fields, minute hour day month weekday, "
                'like "0 2 * * *" for 02:00 every day'
            )
        return Schedule(f"cron:{cron}")
    return None


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
    """When a stored job runs next: a local time, ``paused``, or empty when it runs on demand."""
    if job["paused"] or not job["schedule"]:
        return "paused" if job["paused"] else ""
    return local_time(Schedule(job["schedule"]).next_due(time.time() if now is None else now, job["created"]))
