"""Meters for case 3 of bench_remote.py: bytes through this process's TCP comms, and its RSS.

Benchmark only: the byte meter wraps distributed's TCP comm while installed; the library is
not changed.
"""

from __future__ import annotations

import contextvars
import threading
from collections import defaultdict
from typing import Any

__all__ = ["CommMeter", "PeakRss", "own_addresses", "rss"]

_reading: contextvars.ContextVar[Any] = contextvars.ContextVar("bench_reading_comm", default=None)


class CommMeter:
    """Counts the bytes every TCP comm of this process sends and receives, per comm.

    It wraps ``distributed.comm.tcp.TCP.write`` (which returns the bytes it queued) and the
    payload reads of ``TCP.read`` (``read_bytes_rw``, plus the 8-byte length header); a
    context variable tells the read wrapper which comm is reading.
    """

    HEADER = 8

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        self._lock = threading.Lock()
        self._originals: dict[str, Any] = {}

    def add(self, comm: Any, sent: int = 0, received: int = 0) -> None:
        with self._lock:
            entry = self.counts[(comm.local_address, comm.peer_address)]
            entry[0] += sent
            entry[1] += received

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def install(self) -> None:
        from distributed.comm import tcp

        self._originals = {"write": tcp.TCP.write, "read": tcp.TCP.read, "read_bytes_rw": tcp.read_bytes_rw}
        tcp.TCP.write = self._wrap_write(tcp.TCP.write)
        tcp.TCP.read = self._wrap_read(tcp.TCP.read)
        tcp.read_bytes_rw = self._wrap_read_bytes(tcp.read_bytes_rw)

    def uninstall(self) -> None:
        from distributed.comm import tcp

        tcp.TCP.write = self._originals["write"]
        tcp.TCP.read = self._originals["read"]
        tcp.read_bytes_rw = self._originals["read_bytes_rw"]

    def _wrap_write(self, original: Any) -> Any:
        async def write(comm: Any, *args: Any, **kwargs: Any) -> Any:
            nbytes = await original(comm, *args, **kwargs)
            self.add(comm, sent=int(nbytes))
            return nbytes

        return write

    def _wrap_read(self, original: Any) -> Any:
        async def read(comm: Any, *args: Any, **kwargs: Any) -> Any:
            token = _reading.set(comm)
            try:
                message = await original(comm, *args, **kwargs)
            finally:
                _reading.reset(token)
            self.add(comm, received=self.HEADER)
            return message

        return read

    def _wrap_read_bytes(self, original: Any) -> Any:
        async def read_bytes_rw(stream: Any, n: int) -> Any:
            buffer = await original(stream, n)
            comm = _reading.get()
            if comm is not None:
                self.add(comm, received=n)
            return buffer

        return read_bytes_rw

    def split(self, scheduler_address: str) -> dict[str, int]:
        """Bytes to and from other processes, and the client's own traffic with the scheduler."""
        with self._lock:
            counts = {key: list(value) for key, value in self.counts.items()}
        own = own_addresses() | {local for local, _ in counts}
        out = dict.fromkeys(("other_sent", "other_received", "client_sent", "client_received"), 0)
        for (_, peer), (sent, received) in counts.items():
            if peer not in own:
                out["other_sent"] += sent
                out["other_received"] += received
            if peer == scheduler_address:
                out["client_sent"] += sent
                out["client_received"] += received
        return out


def own_addresses() -> set[str]:
    """The TCP addresses of this process's own sockets (listening and connected)."""
    import psutil

    return {f"tcp://{c.laddr.ip}:{c.laddr.port}" for c in psutil.Process().net_connections(kind="tcp") if c.laddr}


def rss() -> int:
    """This process's resident set size, in bytes."""
    import psutil

    return int(psutil.Process().memory_info().rss)


class PeakRss:
    """The kernel's RSS before, at the end, and at its highest (sampled every 5 ms) in a block."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.before = self.after = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss())

    def __enter__(self) -> PeakRss:
        self.before = self.peak = rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = rss()
        self.peak = max(self.peak, self.after)
