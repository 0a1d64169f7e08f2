"""Finding or starting the cluster, detecting GPUs, and the resources workers offer.

The embedded cluster is started on first use and reused: a ``LocalCUDACluster`` (one
worker per GPU, each advertising ``GPU=1``) when NVML sees GPUs, else a ``LocalCluster``.
Embedded workers also advertise ``CPU`` (their threads) and ``MEMORY`` (their memory
limit in bytes), so ``--cpus`` and ``--memory`` place cells as ``--gpus`` does. They
ignore SIGINT (:mod:`cellfleet.worker.shield`), so the notebook's stop button, which
signals the kernel's whole process group, stops the cell and never the workers.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import dask.config
from distributed import Client

from cellfleet.errors import ClusterUnavailable
from cellfleet.gpus import gpu_count
from cellfleet.protocol import Event, decode_event
from cellfleet.worker import shield

__all__ = [
    "Session",
    "Sessions",
    "close_all",
    "connect",
    "describe_session",
    "gpu_count",
    "sessions",
    "shutdown_embedded",
    "worker_offers",
]

_CONNECT_TIMEOUT = "5s"
_log = logging.getLogger(__name__)


@dataclass
class Session:
    """A connection to one cluster, shared by every remote cell that uses it."""

    client: Client
    address: str
    cluster: Any = None
    """The embedded cluster object, or ``None`` for a cluster someone else runs."""
    topic: str = field(default_factory=lambda: f"cellfleet-{uuid.uuid4().hex[:12]}")
    sinks: dict[str, queue.Queue[Event]] = field(default_factory=dict)
    warned_no_gpu: bool = False

    @property
    def embedded(self) -> bool:
        return self.cluster is not None

    @property
    def alive(self) -> bool:
        return self.client.status == "running"

    def listen(self, cell_id: str) -> queue.Queue[Event]:
        """A queue that receives this cell's events (start, output, outcome) from the workers."""
        sink: queue.Queue[Event] = queue.Queue()
        self.sinks[cell_id] = sink
        return sink

    def forget(self, cell_id: str) -> None:
        self.sinks.pop(cell_id, None)

    def _route(self, event: tuple[float, dict[str, Any]]) -> None:
        """Hand a worker's event, decoded, to the cell it belongs to (called on the client's loop)."""
        try:
            message = decode_event(event[1])
        except (ValueError, KeyError, TypeError) as error:  # logged: the cell then waits for its result
            _log.warning(
                "cellfleet: ignored a malformed cell event on %s: %s: %s", self.topic, type(error).__name__, error
            )
            return
        sink = self.sinks.get(message.cell)
        if sink is not None:
            sink.put(message)

    def workers(self) -> dict[str, dict[str, Any]]:
        return dict(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def worker_offers(info: dict[str, Any]) -> str:
    """One worker's resources, as a person reads them."""
    resources = info.get("resources") or {}
    parts = [f"{k}={_human(k, v)}" for k, v in sorted(resources.items())]
    return ", ".join(parts) if parts else "no resources"


def _human(kind: str, value: float) -> str:
    if kind == "MEMORY":
        from dask.utils import format_bytes

        return format_bytes(int(value))
    return f"{value:g}"


class Sessions:
    """The cluster sessions of this kernel, one per address (``None``: the embedded cluster)."""

    def __init__(self) -> None:
        self._sessions: dict[str | None, Session] = {}
        self._lock = threading.RLock()

    def connect(self, address: str | None, workers: int | None = None) -> Session:
        """The live session for ``address``, connecting (or starting the embedded cluster) if needed."""
        with self._lock:
            session = self._sessions.get(address)
            if session is not None and session.alive:
                return session
            if session is not None:
                self._sessions.pop(address, None)
                session.close()
            session = _start_embedded(workers) if address is None else _connect_to(address)
            session.client.subscribe_topic(session.topic, session._route)
            self._sessions[address] = session
            return session

    def current(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def shutdown_embedded(self) -> bool:
        """Close the embedded cluster, if one runs; returns whether one did."""
        with self._lock:
            session = self._sessions.pop(None, None)
        if session is None:
            return False
        session.close()
        return True

    def close(self) -> list[str]:
        """Close every session (and the embedded cluster); returns the problems met, one line each."""
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        problems = []
        for session in sessions:
            try:
                session.close()
            except Exception as error:  # reported to the caller, who decides how loudly
                problems.append(f"closing the session to {session.address}: {type(error).__name__}: {error}")
        return problems


sessions = Sessions()
"""This kernel's cluster sessions."""


def connect(address: str | None, workers: int | None = None) -> Session:
    """The session for ``address``, or for the embedded cluster when it is ``None``."""
    return sessions.connect(address, workers)


def _connect_to(address: str) -> Session:
    try:
        client = Client(address, timeout=_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterUnavailable(
            f"could not reach the Dask scheduler at {address} ({type(error).__name__}): check that it is running "
            "and the address is right, or drop --cluster / CELLFLEET_SCHEDULER to use the embedded local cluster"
        ) from None
    return Session(client=client, address=address)


def _start_embedded(workers: int | None) -> Session:
    import psutil

    gpus = gpu_count()
    count = workers or gpus or min(4, os.cpu_count() or 1)
    memory = psutil.virtual_memory().total // count
    resources = {"CPU": 1, "MEMORY": memory} | ({"GPU": 1} if gpus else {})
    options = dict(
        n_workers=count,
        threads_per_worker=1,
        memory_limit=memory,
        resources=resources,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
        preload=[shield.MODULE],
    )
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        if gpus:
            from dask_cuda import LocalCUDACluster

            cluster = LocalCUDACluster(**options)
        else:
            from distributed import LocalCluster

            cluster = LocalCluster(processes=True, **options)
    client = Client(cluster, set_as_default=False)
    _shorten_batching(client, cluster)
    return Session(client=client, address=cluster.scheduler_address, cluster=cluster)


def _shorten_batching(client: Client, cluster: Any) -> None:
    """Send messages sooner on the embedded cluster (Dask batches every 2-10 ms).

    The batching intervals are private attributes; on a Dask that renamed them this is a
    no-op and only latency changes.
    """
    comm = getattr(client, "scheduler_comm", None)
    if comm is not None and hasattr(comm, "interval"):
        comm.interval = 0.001
    scheduler = getattr(cluster, "scheduler", None)
    for streams in (getattr(scheduler, "client_comms", {}), getattr(scheduler, "stream_comms", {})):
        for stream in streams.values():
            if hasattr(stream, "interval"):
                stream.interval = 0.001
    client.run(_shorten_worker_batching)


def _shorten_worker_batching(dask_worker: Any) -> None:
    stream = getattr(dask_worker, "batched_stream", None)
    if stream is not None and hasattr(stream, "interval"):
        stream.interval = 0.001


def close_all() -> None:
    """Close every session (and the embedded cluster)."""
    sessions.close()


def shutdown_embedded() -> bool:
    """Close the embedded cluster, if one runs; returns whether one did."""
    return sessions.shutdown_embedded()


def describe_session(session: Session) -> str:
    """A short report of the cluster: kind, address, dashboard, and each worker."""
    kind = "external"
    if session.embedded:
        kind = f"embedded {type(session.cluster).__name__}"
    lines = [f"cluster   {session.address} ({kind})"]
    dashboard = getattr(session.client, "dashboard_link", None)
    if dashboard:
        lines.append(f"dashboard {dashboard}")
    workers = session.workers()
    gpus = sum(float((info.get("resources") or {}).get("GPU", 0)) for info in workers.values())
    memory = sum(int(info.get("memory_limit") or 0) for info in workers.values())
    from dask.utils import format_bytes

    lines.append(f"workers   {len(workers)}, {gpus:g} GPUs, {format_bytes(memory)} memory")
    for address, info in sorted(workers.items()):
        threads = info.get("nthreads", "?")
        lines.append(f"  {address}  threads={threads}  {worker_offers(info)}")
    return "\n".join(lines)
