"""Collections a cell persisted, handed to the notebook once the scheduler knows them.

A cell that persists a Dask collection submits its graph from the worker's client; the
notebook, told by the cell's outcome, then asks the scheduler to count it among the keys'
holders, which the scheduler ignores for keys it does not know yet. :func:`settle_persisted`
waits, before the cell ends, until the scheduler has every key (not until they are computed:
later cells start on them while they are made).
"""

from __future__ import annotations

import time
from typing import Any

from cellfleet.worker.namespace import Start
from cellfleet.worker.values import is_persisted

__all__ = ["settle_persisted"]


def settle_persisted(namespace: dict[str, Any], start: Start) -> None:
    """Wait (seceded) until the scheduler knows the keys of the collections the cell persisted,
    so that it counts the notebook, told by the outcome, among their holders; not until they are
    computed: the next cell starts on them while they are made. Collections the cell read and
    left as they were are the notebook's already."""
    made = [v for n, v in namespace.items() if start.objects.get(n) is not v and is_persisted(v)]
    futures = [f for value in made for f in _futures_of(value)]
    if futures and not _scheduler_knows([f.key for f in futures]):
        from distributed import wait

        wait(futures)  # a scheduler that cannot be asked: once computed, it knows them


def _scheduler_knows(keys: list[Any], seconds: float = 30.0) -> bool:
    """Poll the scheduler until it has every key (the graph the cell's client sent is in)."""
    from distributed import get_client

    client = get_client()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if client.run_on_scheduler(_has_keys, keys):
                return True
        except Exception:  # run_on_scheduler refused or failed: fall back to waiting
            return False
        time.sleep(0.005)
    return False


def _has_keys(keys: list[Any], dask_scheduler: Any = None) -> bool:
    return all(key in dask_scheduler.tasks for key in keys)


def _futures_of(value: Any) -> list[Any]:
    from distributed import futures_of

    return list(futures_of(value))
