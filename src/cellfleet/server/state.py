"""What the server extension owns while it runs: its own handle on the store, opened with a
short busy timeout, and the bounded thread pool every store call and file read runs in."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from cellfleet.errors import StoreError
from cellfleet.store.database import Store

__all__ = ["BUSY_TIMEOUT", "WORKERS", "ServerState"]

BUSY_TIMEOUT = 2.0
"""Seconds a write from the server waits for another process's SQLite lock (then HTTP 503)."""
WORKERS = 8
"""Threads for the store and the files: a slow request never holds the event loop."""


class ServerState:
    """The server's store (opened once, in the pool, as the extension loads) and its pool."""

    def __init__(self, url: str, busy_timeout: float = BUSY_TIMEOUT, workers: int = WORKERS) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cellfleet-server")
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._closed = False

    def open(self) -> Future[Store]:
        """Open the store in the pool (without waiting): the first request finds it ready."""
        return self.executor.submit(self.store)

    def store(self) -> Store:
        """The server's :class:`Store`, opened on first call (blocking: call it in the pool)."""
        with self._lock:
            if self._closed:
                raise StoreError("the Jupyter server is stopping: retry once it is back")
            if self._store is None:
                self._store = Store(self.url, busy_timeout=self.busy_timeout)
            return self._store

    def close(self) -> None:
        """Stop the pool (queued calls are dropped) and close the store; safe to call twice.

        It does not wait for running calls: it may run in one of the pool's own threads (a
        garbage-collected server), and a call still running finishes on its connection."""
        with self._lock:
            self._closed = True
        self.executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()
