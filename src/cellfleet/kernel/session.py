"""Finding or starting the cluster, detecting GPUs, and the resources workers offer.

The embedded cluster is started on first use and reused: a ``LocalCUDACluster`` (one
worker per GPU, each advertising ``GPU=1``) when NVML sees GPUs, else a ``LocalCluster``
(:func:`cellfleet.gpus.start_local_cluster`; GPUs without dask-cuda get a plain one, a worker
per GPU, and a line naming the extra to install).
Embedded workers also advertise ``CPU`` (their threads) and ``MEMORY`` (their memory
limit in bytes), so ``--cpus`` and ``--memory`` place cells as ``--gpus`` does. They
ignore SIGINT (:mod:`cellfleet.worker.shield`), so the notebook's stop button, which
signals the kernel's whole process group, stops the cell and never the workers.

Before starting one, a kernel uses the project's warm shared cluster (``cellfleet cluster
start``, :mod:`cellfleet.cluster`) when ``.cellfleet/cluster.json`` under the project root
names a live one; a cluster address given (``--cluster``, ``CELLFLEET_SCHEDULER``) wins. A
stale record (its process gone, its pid reused, or its scheduler not answering within
:data:`~cellfleet.kernel.shared.SHARED_TIMEOUT_S` seconds) is said in one line, and a private
cluster starts. Kernels sharing a cluster never meet: each session has its own token, in its event
topic and at the start of its cells' ids (and so of their task keys, interrupts and prune marks).
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dask.config
from distributed import Client

from cellfleet.cluster.plugin import KERNEL_TOPIC_PREFIX
from cellfleet.cluster.record import ClusterRecord, Liveness, liveness
from cellfleet.config import load_settings
from cellfleet.errors import ClusterUnavailable
from cellfleet.gpus import gpu_count, start_local_cluster
from cellfleet.kernel.shared import connect_shared
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
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    """This session's own token: in its event topic and at the start of its cells' ids."""
    shared: ClusterRecord | None = None
    """The record of the project's shared cluster, when this session is to it."""
    sinks: dict[str, queue.Queue[Event]] = field(default_factory=dict)
    warned_no_gpu: bool = False
    verdicts: dict[str, str | None] = field(default_factory=dict)
    """Worker address → why it cannot run cells, or ``None`` when it can (:mod:`cellfleet.kernel.workers`)."""
    scheduler_id: str = ""

    @property
    def sharing(self) -> str | None:
        """This kernel's token on a cluster other kernels may use (``None`` on the embedded one)."""
        return None if self.embedded else self.token

    @property
    def embedded(self) -> bool:
        return self.cluster is not None

    @property
    def topic(self) -> str:
        """The event topic the workers send this session's cell events on."""
        return f"{KERNEL_TOPIC_PREFIX}{self.token}"

    @property
    def local(self) -> bool:
        """Whether Cellfleet started the cluster on this machine (embedded, or the shared one)."""
        return self.embedded or self.shared is not None

    @property
    def trusted(self) -> bool:
        """Whether the workers run this very environment, so need no check (:mod:`cellfleet.kernel.workers`)."""
        return self.embedded or (self.shared is not None and self.shared.same_environment())

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

    def follow_restart(self) -> None:
        """Notice a scheduler that restarted at this address while the client reconnected by
        itself: listen for cell events again, check its workers afresh, and say (one line)
        that what the cluster kept is gone. Raises ``OSError`` when it does not answer."""
        with dask.config.set({"distributed.comm.timeouts.connect": _CONNECT_TIMEOUT}):  # a dead one: fail soon
            current = str(self.client.scheduler_info(n_workers=0).get("id", ""))
        if current == self.scheduler_id:
            return
        restarted, self.scheduler_id = bool(self.scheduler_id), current
        self.verdicts.clear()
        self.client.subscribe_topic(self.topic, self._route)
        if restarted:
            print(
                f"cellfleet: the scheduler at {self.address} restarted since the last cell: results kept on "
                "the cluster are gone; run the cells that made them again",
                file=sys.stderr,
                flush=True,
            )

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
        self._known: set[str] = set()
        """Addresses of clusters this kernel has used: one that stops answering "went away"."""
        self._lock = threading.RLock()

    def connect(self, address: str | None, workers: int | None = None) -> Session:
        """The live session for ``address``, connecting (or starting the embedded cluster) if needed."""
        with self._lock:
            session = self._sessions.get(address)
            if session is not None and session.alive and _still_there(session):
                return session
            previous = session.shared if session is not None else None
            if session is not None:
                self._sessions.pop(address, None)
                _close_quietly(session)
            if address is None:
                session = _open_shared(previous) or _start_embedded(workers)
                session.client.subscribe_topic(session.topic, session._route)
            else:
                session = _connect_to(address, address in self._known)
                session.follow_restart()
                self._known.add(address)
            self._sessions[address] = session
            return session

    def default(self) -> Session | None:
        """The session cells use when no cluster is named: embedded or shared (``None``: none yet)."""
        with self._lock:
            return self._sessions.get(None)

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

    def disconnect(self, address: str) -> bool:
        """Close the session to the cluster at ``address``, if there is one (the next cell on it
        connects again); returns whether there was."""
        with self._lock:
            session = self._sessions.pop(address, None)
        if session is None:
            return False
        _close_quietly(session)
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
    _spawnable_main()
    return sessions.connect(address, workers)


def _spawnable_main() -> None:
    """Give ``__main__`` the ``__spec__`` that ``%reset`` removes: without it, starting or
    restarting a worker process (multiprocessing's spawn) fails, and the cluster never comes up."""
    main = sys.modules.get("__main__")
    if main is not None and not hasattr(main, "__spec__"):
        main.__spec__ = None


def _still_there(session: Session) -> bool:
    """Whether a live session's scheduler answers (noticing one that restarted)."""
    if session.embedded:
        return True
    if session.shared is not None and liveness(session.shared) is not Liveness.LIVE:
        return False  # its process is gone (the client may not have noticed yet)
    try:
        session.follow_restart()
    except OSError:
        return False
    return True


def _close_quietly(session: Session) -> None:
    try:
        session.close()
    except Exception as error:  # a session that went away may fail to close; a new one replaces it
        _log.debug("cellfleet: closing the session to %s: %s", session.address, error)


def _connect_to(address: str, used_before: bool = False) -> Session:
    try:
        client = Client(address, timeout=_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        fix = "or drop --cluster / CELLFLEET_SCHEDULER to use the embedded local cluster"
        if used_before:
            raise ClusterUnavailable(
                f"the cluster at {address} went away: its scheduler no longer answers ({type(error).__name__}); "
                f"restart it and its workers, {fix}"
            ) from None
        raise ClusterUnavailable(
            f"could not reach the Dask scheduler at {address} ({type(error).__name__}): check that it is running "
            f"and the address is right, {fix}"
        ) from None
    return Session(client=client, address=address)


def _open_shared(previous: ClusterRecord | None) -> Session | None:
    """A session to the project's shared cluster, when its record is live (:mod:`cellfleet.kernel.shared`)."""
    found = connect_shared(previous)
    if found is None:
        return None
    client, record = found
    session = Session(client=client, address=record.address, shared=record)
    session.scheduler_id = str(client.scheduler_info(n_workers=0).get("id", ""))
    _shorten_client(client)
    return session


def _start_embedded(workers: int | None) -> Session:
    import psutil

    gpus = gpu_count()
    count = workers or gpus or min(4, os.cpu_count() or 1)
    memory = load_settings().memory_limit or psutil.virtual_memory().total // count
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
        cluster, warning = start_local_cluster(gpus, **options)  # dask-cuda's when installed
    if warning:
        print(warning, file=sys.stderr, flush=True)
    client = Client(cluster, set_as_default=False)
    _shorten_batching(client, cluster)
    return Session(client=client, address=cluster.scheduler_address, cluster=cluster)


def _shorten_batching(client: Client, cluster: Any) -> None:
    """Send messages sooner on the embedded cluster (Dask batches every 2-10 ms).

    The batching intervals are private attributes; on a Dask that renamed them this is a
    no-op and only latency changes.
    """
    _shorten_client(client)
    scheduler = getattr(cluster, "scheduler", None)
    for streams in (getattr(scheduler, "client_comms", {}), getattr(scheduler, "stream_comms", {})):
        for stream in streams.values():
            if hasattr(stream, "interval"):
                stream.interval = 0.001
    client.run(_shorten_worker_batching)


def _shorten_client(client: Client) -> None:
    comm = getattr(client, "scheduler_comm", None)
    if comm is not None and hasattr(comm, "interval"):
        comm.interval = 0.001


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


def describe_session(session: Session, problems: Mapping[str, str] | None = None) -> str:
    """A short report of the cluster: kind, address, dashboard, and each worker (with what
    makes one unable to run cells, from ``problems``)."""
    kind = "external"
    if session.embedded:
        kind = f"embedded {type(session.cluster).__name__}"
    elif session.shared is not None:
        kind = f"shared {session.shared.kind}, pid {session.shared.pid}: cellfleet cluster status"
    lines = [f"cluster   {session.address} ({kind})"]
    if not session.alive:
        return f"{lines[0]}: gone (its scheduler no longer answers); the next cell on it says so"
    dashboard = getattr(session.client, "dashboard_link", None)
    if dashboard:
        lines.append(f"dashboard {dashboard}")
    workers = session.workers()
    gpus = sum(float((info.get("resources") or {}).get("GPU", 0)) for info in workers.values())
    memory = sum(int(info.get("memory_limit") or 0) for info in workers.values())
    from dask.utils import format_bytes

    lines.append(f"workers   {len(workers)}, {gpus:g} GPUs, {format_bytes(memory)} memory")
    if not workers:
        lines.append(f"  none: start one with `dask worker {session.address}`; cells wait for one")
    for address, info in sorted(workers.items()):
        threads = info.get("nthreads", "?")
        problem = (problems or {}).get(address)
        unusable = f"  cannot run cells: {problem}" if problem else ""
        lines.append(f"  {address}  threads={threads}  {worker_offers(info)}{unusable}")
    return "\n".join(lines)
