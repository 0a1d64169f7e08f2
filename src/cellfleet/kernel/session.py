"""Finding or starting the cluster, detecting GPUs, and the resources workers offer.

The embedded cluster is started on first use and reused: a ``LocalCUDACluster`` (one
worker per GPU, each advertising ``GPU=1``) when NVML sees GPUs, else a ``LocalCluster``.
Embedded workers also advertise ``CPU`` (their threads) and ``MEMORY`` (their memory
limit in bytes), so ``--cpus`` and ``--memory`` place cells as ``--gpus`` does.
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

__all__ = ["Session", "close_all", "connect", "describe_session", "gpu_count", "shutdown_embedded", "worker_offers"]

_CONNECT_TIMEOUT = "5s"
_lock = threading.RLock()
_sessions: dict[str | None, Session] = {}


def gpu_count() -> int:
    """How many NVIDIA GPUs NVML sees on this machine (0 without a driver)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return int(pynvml.nvmlDeviceGetCount())
    except Exception:
        return 0


@dataclass
class Session:
    """A connection to one cluster, shared by every remote cell that uses it."""

    client: Client
    address: str
    cluster: Any = None
    """The embedded cluster object, or ``None`` for a cluster someone else runs."""
    topic: str = field(default_factory=lambda: f"cellfleet-{uuid.uuid4().hex[:12]}")
    sinks: dict[str, queue.Queue[Any]] = field(default_factory=dict)
    warned_no_gpu: bool = False

    @property
    def embedded(self) -> bool:
        return self.cluster is not None

    @property
    def alive(self) -> bool:
        return self.client.status == "running"

    def listen(self, cell_id: str) -> queue.Queue[Any]:
        """A queue that receives this cell's events (output, start) from the workers."""
        sink: queue.Queue[Any] = queue.Queue()
        self.sinks[cell_id] = sink
        return sink

    def forget(self, cell_id: str) -> None:
        self.sinks.pop(cell_id, None)

    def _route(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        sink = self.sinks.get(message.get("cell", ""))
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


def connect(address: str | None, workers: int | None = None) -> Session:
    """The session for ``address``, or for the embedded cluster when it is ``None``."""
    with _lock:
        session = _sessions.get(address)
        if session is not None and session.alive:
            return session
        if session is not None:
            _sessions.pop(address, None)
            session.close()
        session = _start_embedded(workers) if address is None else _connect_to(address)
        session.client.subscribe_topic(session.topic, session._route)
        _sessions[address] = session
        return session


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
    """Close every session (and the embedded cluster): for a clean interpreter exit."""
    with _lock:
        sessions = list(_sessions.values())
        _sessions.clear()
    for session in sessions:
        try:
            session.close()
        except Exception:
            pass  # already gone


def shutdown_embedded() -> bool:
    """Close the embedded cluster, if one runs; returns whether one did."""
    with _lock:
        session = _sessions.pop(None, None)
    if session is None:
        return False
    session.close()
    return True


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
