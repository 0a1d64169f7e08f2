"""Webhooks: a production run's summary POSTed as JSON (job, run, status, error, failure class,
duration, final metrics, output, attempt); a failing endpoint never fails the run."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from typing import Any

from cellfleet.protocol import NotifyOn, RunStatus
from cellfleet.store.database import Store

__all__ = ["Notifier"]

log = logging.getLogger("cellfleet.scheduler")


class Notifier:
    """Sends webhooks from background threads it owns; ``close()`` lets those in flight finish."""

    def __init__(self) -> None:
        self._pending: list[threading.Thread] = []
        self._lock = threading.Lock()

    def notify(self, store: Store, job: dict[str, Any], run: dict[str, Any]) -> None:
        """POST the run's summary to the job's --notify URL in the background, when it asks for it."""
        url = job.get("notify_url")
        if not url or (job.get("notify_on") != NotifyOn.ALL and run.get("status") == RunStatus.SUCCEEDED):
            return
        thread = threading.Thread(target=_post, args=(url, _summary(store, job, run)), name="cellfleet-notify")
        thread.start()
        with self._lock:
            self._pending = [t for t in self._pending if t.is_alive()] + [thread]

    def close(self, timeout: float = 15.0) -> None:
        """Let posts in flight finish (before the scheduler exits)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for thread in pending:
            thread.join(timeout)


def _summary(store: Store, job: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    status = run.get("status")
    started, ended = run.get("started"), run.get("ended")
    summary = {
        "job": job["name"], "job_id": job["id"], "run": run.get("id"), "status": status, "error": run.get("error"),
        "failure_class": run.get("failure_class"),
        "duration": round(ended - started, 3) if started and ended else None,
        "metrics": store.final_metrics([run["id"]]).get(run["id"], {}) if run.get("id") else {},
        "output": run.get("output_path"), "attempt": run.get("attempt"),
    }  # fmt: skip
    return summary


def _post(url: str, summary: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(summary).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except Exception as error:  # a failing endpoint is logged, never fails the run
        log.warning("could not notify %s about run %s: %s", url, summary.get("run"), error)
