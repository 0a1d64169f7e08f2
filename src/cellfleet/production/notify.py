"""Webhooks: a production run's summary POSTed as JSON; a failing endpoint never fails the run."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from typing import Any

from cellfleet.store.database import Store

__all__ = ["notify", "wait_for_notifications"]

log = logging.getLogger("cellfleet.scheduler")
_pending: list[threading.Thread] = []


def notify(store: Store, job: dict[str, Any], run: dict[str, Any]) -> None:
    """POST the run's summary to the job's --notify URL in the background, when it asks for it."""
    url = job.get("notify_url")
    status = run.get("status")
    if not url or (job.get("notify_on") != "all" and status == "succeeded"):
        return
    started, ended = run.get("started"), run.get("ended")
    summary = {
        "job": job["name"], "job_id": job["id"], "run": run.get("id"), "status": status, "error": run.get("error"),
        "duration": round(ended - started, 3) if started and ended else None,
        "metrics": store.final_metrics([run["id"]]).get(run["id"], {}) if run.get("id") else {},
        "output": run.get("output_path"), "attempt": run.get("attempt"),
    }  # fmt: skip
    thread = threading.Thread(target=_post, args=(url, summary), daemon=True)
    thread.start()
    _pending[:] = [t for t in _pending if t.is_alive()] + [thread]


def wait_for_notifications(timeout: float = 15.0) -> None:
    """Let posts in flight finish (before the scheduler exits)."""
    for thread in list(_pending):
        thread.join(timeout)


def _post(url: str, summary: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(summary).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except Exception as error:  # a failing endpoint is logged, never fails the run
        log.warning("could not notify %s about run %s: %s", url, summary.get("run"), error)
