"""The shared cluster's record, ``.cellfleet/cluster.json``: where the cluster listens, which
process runs it, and whether that process still does.

The cluster's own process (:mod:`cellfleet.cluster.serve`) writes the record atomically once
the cluster is up and removes it when it stops. A record outlives its process when that
process is killed: :func:`discover` tells a live record from a stale one (the process is gone,
or its pid now belongs to another process: its start time is not the recorded one), and
:func:`forget_stale` removes a stale record, only while no cluster process holds the project's
lock (``.cellfleet/cluster.lock``, held by the cluster's process for its whole life), so that
it never removes the record of a cluster that is starting at that moment.

Never imports Dask: the CLI, the kernel and the server read it. The JSON keys are the field
names of :class:`ClusterRecord`, plus ``"format": 1``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from cellfleet.config import project_root

__all__ = [
    "RECORD_FORMAT",
    "ClusterRecord",
    "Found",
    "Liveness",
    "Paths",
    "answers",
    "discover",
    "forget_stale",
    "hold_lock",
    "liveness",
    "paths",
    "read_record",
    "remove_record",
    "write_record",
]

RECORD_FORMAT = 1
"""The record's ``"format"``: a reader meeting another one treats the record as unreadable."""
_START_TOLERANCE = 1.0
"""Seconds a process's start time may differ from the recorded one and still be that process."""
_DYING_WAIT = 1.0
"""Seconds :func:`forget_stale` waits for the lock a process that just died may still hold."""


@dataclass(frozen=True)
class ClusterRecord:
    """What ``.cellfleet/cluster.json`` says of the running shared cluster."""

    address: str
    """The scheduler, like ``tcp://127.0.0.1:40123``."""
    pid: int
    """The cluster's process (its session and process group have the same id)."""
    pid_started: float
    """That process's start time (``psutil.Process.create_time``), to tell a reused pid."""
    started: float
    """When the cluster came up (wall clock, seconds since the epoch)."""
    kind: str
    """``LocalCUDACluster``, ``GPULocalCluster`` (GPUs without dask-cuda) or ``LocalCluster``."""
    workers: int
    gpus: int
    memory_per_worker: int
    """Each worker's memory limit, bytes."""
    dashboard: str | None = None
    threads_per_worker: int = 1
    preload: tuple[str, ...] = ()
    """The modules ``--preload`` imports on every worker as it starts."""
    prefix: str = ""
    """``sys.prefix`` of the cluster's Python: a kernel of the same environment skips worker checks."""
    python: str = ""
    cellfleet: str = ""
    """The cellfleet version the cluster runs."""
    log: str = ""
    """The file the cluster's process writes its output to."""

    @property
    def memory(self) -> int:
        """All workers' memory, bytes."""
        return self.memory_per_worker * self.workers

    def same_environment(self) -> bool:
        """Whether the cluster runs this process's Python environment and cellfleet version."""
        from cellfleet._version import __version__

        return self.prefix == sys.prefix and self.cellfleet == __version__

    def to_json(self) -> str:
        return json.dumps({"format": RECORD_FORMAT, **dataclasses.asdict(self)}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClusterRecord:
        """The record in ``text``; ``ValueError`` when it is not one of this format."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
            raise ValueError(f"not a format-{RECORD_FORMAT} cluster record")
        names = {field.name for field in dataclasses.fields(cls)}
        try:
            record = cls(**{name: value for name, value in data.items() if name in names})
        except TypeError as error:
            raise ValueError(f"not a cluster record ({error})") from None
        _check_types(record)
        return dataclasses.replace(record, preload=tuple(record.preload))


def _check_types(record: ClusterRecord) -> None:
    numbers = (record.pid, record.pid_started, record.started, record.workers, record.gpus, record.memory_per_worker)
    if not isinstance(record.address, str) or not isinstance(record.pid, int):
        raise ValueError("not a cluster record (address or pid missing)")
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in numbers):
        raise ValueError("not a cluster record (a number is not a number)")
    if not isinstance(record.preload, (list, tuple)):
        raise ValueError("not a cluster record (preload is not a list)")
    dashboard = record.dashboard
    if dashboard is not None and not (isinstance(dashboard, str) and dashboard.startswith(("http://", "https://"))):
        raise ValueError("not a cluster record (the dashboard is not an http(s) URL)")


@dataclass(frozen=True)
class Paths:
    """The shared cluster's files in one project's ``.cellfleet`` folder."""

    folder: Path

    @property
    def record(self) -> Path:
        return self.folder / "cluster.json"

    @property
    def lock(self) -> Path:
        return self.folder / "cluster.lock"

    @property
    def log(self) -> Path:
        return self.folder / "cluster.log"

    def shown(self) -> str:
        """The record's path as a person reads it: relative to the working directory when under it."""
        try:
            return str(self.record.relative_to(Path.cwd()))
        except ValueError:
            return str(self.record)


def paths(root: Path | None = None) -> Paths:
    """The files of the project at ``root`` (default: :func:`cellfleet.config.project_root`)."""
    return Paths((root or project_root()) / ".cellfleet")


class Liveness(str, enum.Enum):
    """Whether a record's process still runs."""

    LIVE = "live"
    DEAD = "dead"
    """No such process (a zombie counts: it has ended)."""
    REUSED = "reused"
    """The pid now belongs to another process."""


def liveness(record: ClusterRecord) -> Liveness:
    """Whether the process ``record`` names still runs, and is that process."""
    import psutil

    try:
        process = psutil.Process(record.pid)
        started, status = process.create_time(), process.status()
    except psutil.NoSuchProcess:
        return Liveness.DEAD
    except psutil.AccessDenied:  # another user's process: not the one this project started
        return Liveness.REUSED
    if status == psutil.STATUS_ZOMBIE:
        return Liveness.DEAD
    return Liveness.LIVE if abs(started - record.pid_started) <= _START_TOLERANCE else Liveness.REUSED


@dataclass(frozen=True)
class Found:
    """What :func:`discover` found: a live record, a stale one, or nothing."""

    record: ClusterRecord | None = None
    """The live record, when the cluster's process runs."""
    stale: ClusterRecord | None = None
    """A record whose process is gone."""
    gone: str | None = None
    """Why the record cannot be used, in a few words (``pid 123``), when there is one that cannot."""


def read_record(path: Path) -> ClusterRecord | None:
    """The record at ``path``; ``None`` when there is none (nor a folder to hold one: no cluster
    can have recorded itself there). ``ValueError`` when it is not a record."""
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return ClusterRecord.from_json(text)


def discover(path: Path) -> Found:
    """The record at ``path``, told live or stale (the process is checked, not the address)."""
    try:
        record = read_record(path)
    except (OSError, ValueError) as error:
        return Found(gone=f"it cannot be read: {type(error).__name__}: {error}")
    if record is None:
        return Found()
    state = liveness(record)
    if state is Liveness.LIVE:
        return Found(record=record)
    why = f"pid {record.pid}" if state is Liveness.DEAD else f"pid {record.pid} is now another process"
    return Found(stale=record, gone=why)


def forget_stale(where: Paths, found: Found) -> bool:
    """Remove the stale (or unreadable) record ``found`` describes, unless a cluster process of
    this project runs (it holds the lock); returns whether it was removed."""
    if found.record is not None or found.gone is None:
        return False
    with _lock_free(where.lock) as free:
        if not free:
            return False
        again = discover(where.record)
        if again.record is not None or again.stale != found.stale:
            return False
        with contextlib.suppress(FileNotFoundError):
            where.record.unlink()
        return True


def write_record(path: Path, record: ClusterRecord) -> None:
    """Write ``record`` to ``path`` atomically (a reader sees the old file or the new, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w") as handle:
        handle.write(record.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def remove_record(path: Path, record: ClusterRecord) -> bool:
    """Remove the record at ``path`` when it is ``record`` (the same process); returns whether it was."""
    try:
        current = read_record(path)
    except (OSError, ValueError):
        return False
    if current is None or (current.pid, current.pid_started) != (record.pid, record.pid_started):
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True


def hold_lock(path: Path, wait: float = 2.0) -> IO[Any] | None:
    """Take the project's cluster lock for as long as the returned file stays open; ``None``
    when another process holds it for ``wait`` seconds (a cluster runs, or starts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                return None
            time.sleep(0.05)


@contextlib.contextmanager
def _lock_free(path: Path) -> Iterator[bool]:
    """Whether no cluster process holds the lock (it is held meanwhile, briefly). Waits up to
    :data:`_DYING_WAIT` s: a killed process shows as ended (a zombie) as soon as its main thread
    has, while its other threads, and so its open files and the lock, may take a moment more."""
    if not path.exists():
        yield True
        return
    handle = hold_lock(path, wait=_DYING_WAIT)
    try:
        yield handle is not None
    finally:
        if handle is not None:
            handle.close()


def answers(address: str, timeout: float = 1.0) -> bool:
    """Whether something accepts connections at the scheduler ``address`` (``tcp://host:port``)."""
    parts = urlsplit(address)
    if parts.hostname is None or parts.port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            return True
    except OSError:
        return False
