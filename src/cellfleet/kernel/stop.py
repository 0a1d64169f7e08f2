"""Stopping a cell on its worker: cancel its task, interrupt the cell's thread, and restart
the worker when the cell does not stop within the grace period.

Synchronous and bounded: every call to the cluster has a timeout, so a stop takes at most
about ``grace + 4 * RPC_TIMEOUT`` seconds. A stop that fails is returned as one line for
the caller to show, never swallowed.
"""

from __future__ import annotations

import time
from typing import Any

from cellfleet.worker.task import interrupt, running_cells

__all__ = ["RPC_TIMEOUT", "others_on", "stop_cell"]

RPC_TIMEOUT = 10.0
"""Seconds one call to the cluster may take while stopping a cell."""
_POLL = 0.1


def stop_cell(client: Any, future: Any, cell_id: str, grace: float, shared_token: str | None = None) -> str | None:
    """Stop the cell ``cell_id`` run by ``future``: ``None`` once it is stopped (or never
    started), else why it may still be running, in a few words. On a cluster other kernels
    may use (``shared_token``: this kernel's token), a worker that holds or runs work that is
    not this kernel's is never restarted."""
    if client.status != "running":
        return "the connection to the cluster is closed"
    try:
        client.cancel([future], force=True)
        hit = _interrupt(client, cell_id)
        stuck = _still_running(client, cell_id, hit, grace) if hit else []
        busy = [w for w in stuck if shared_token and others_on(client, w, shared_token)]
        if busy:
            return f"it did not stop, and {', '.join(busy)} also holds other kernels' work, so it was not restarted"
        if stuck:
            client.restart_workers(stuck, timeout=2 * RPC_TIMEOUT, raise_for_error=True)
    except Exception as error:  # returned: the caller tells the user where the cell may still run
        return f"{type(error).__name__}: {' '.join(str(error).split()) or 'no detail'}"
    return None


def others_on(client: Any, worker: str, token: str) -> bool:
    """Whether ``worker`` runs or holds keys that are not this kernel's (its keys carry its
    ``token``; a key without it, a Dask collection's chunk too, may be another kernel's)."""
    keys = [*client.processing([worker]).get(worker, ()), *client.has_what([worker]).get(worker, ())]
    return any(not (isinstance(key, str) and token in key) for key in keys)


def _interrupt(client: Any, cell_id: str) -> list[str]:
    """Raise :class:`~cellfleet.worker.task.CellInterrupted` in the cell's thread; the
    workers where it runs."""
    found = client.run(interrupt, cell_id, callback_timeout=RPC_TIMEOUT)
    return [address for address, hit in found.items() if hit]


def _still_running(client: Any, cell_id: str, workers: list[str], grace: float) -> list[str]:
    """The workers still running the cell once it stopped everywhere, or ``grace`` passed."""
    deadline = time.monotonic() + grace
    while True:
        running = client.run(running_cells, workers=workers, callback_timeout=RPC_TIMEOUT)
        stuck = [address for address, ids in running.items() if cell_id in ids]
        if not stuck or time.monotonic() >= deadline:
            return stuck
        time.sleep(_POLL)
