"""``GET cluster``: the project's warm shared cluster (``cellfleet cluster start``), for the
panel's cluster strip.

Read from the cluster's record, ``.cellfleet/cluster.json`` under the project root (the one the
server's root folder is in, or ``CELLFLEET_ROOT``), never through Dask: the record says where
the cluster listens and what it was started with, and its process is checked to still run. The
workers up and the tasks running now come from the scheduler's own HTTP JSON
(``json/counts.json`` beside its dashboard), asked with a short timeout; ``live`` is ``null``
when it does not answer. The server only reads: a stale record is reported, and removed by
the next kernel or ``cellfleet cluster`` command that meets it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from tornado import web

from cellfleet.cluster.record import ClusterRecord, discover, paths
from cellfleet.config import project_root
from cellfleet.server.base import Handler

__all__ = ["LIVE_TIMEOUT", "START", "ClusterHandler", "cluster_state"]

LIVE_TIMEOUT = 0.5
"""Seconds the scheduler's HTTP JSON may take to answer."""
START = "cellfleet cluster start"
"""The command the panel shows when no shared cluster runs."""
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""No proxy: the scheduler listens on this machine, or where the record says."""


class ClusterHandler(Handler):
    """``GET cluster``: ``{"running", "problem", "start", ...}`` and, when one runs, its address,
    dashboard, kind, pid, workers, GPUs, memory, preloads and ``live`` counts."""

    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.offload(cluster_state, project_root(Path(self.root))))


def cluster_state(root: Path) -> dict[str, Any]:
    """What ``GET cluster`` answers for the project at ``root`` (blocking: in the pool)."""
    found = discover(paths(root).record)
    if found.record is None:
        problem = f"the shared cluster in .cellfleet/cluster.json is gone ({found.gone})" if found.gone else None
        return {"running": False, "problem": problem, "start": START}
    record = found.record
    return {
        "running": True,
        "problem": None,
        "start": START,
        "address": record.address,
        "dashboard": record.dashboard,
        "kind": record.kind,
        "pid": record.pid,
        "uptime": max(0.0, time.time() - record.started),
        "workers": record.workers,
        "gpus": record.gpus,
        "memory": record.memory,
        "memory_per_worker": record.memory_per_worker,
        "preload": list(record.preload),
        "live": live_counts(record),
    }


def live_counts(record: ClusterRecord) -> dict[str, int] | None:
    """The workers up and the tasks processing now, from the scheduler's ``json/counts.json``;
    ``None`` when it has no dashboard or does not answer within :data:`LIVE_TIMEOUT` s."""
    if not record.dashboard or not record.dashboard.startswith(("http://", "https://")):
        return None
    url = urljoin(record.dashboard, "json/counts.json")
    try:
        with _DIRECT.open(url, timeout=LIVE_TIMEOUT) as response:
            counts = json.loads(response.read())
        return {"workers": int(counts["workers"]), "processing": int(counts["processing"])}
    except (OSError, ValueError, KeyError, TypeError):  # not answering, or not Dask's JSON
        return None
