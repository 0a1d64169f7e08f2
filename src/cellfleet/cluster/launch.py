"""Starting, describing, stopping and restarting the shared cluster, without Dask.

What ``cellfleet cluster start|status|stop|restart-workers`` (and ``%cellfleet start``) do:

* :func:`start` runs ``python -m cellfleet.cluster.serve`` in a session of its own (so no
  terminal and no kernel interrupt reaches it), in the project root, its output appended to
  ``.cellfleet/cluster.log``, and waits (at most :data:`START_WAIT` seconds) until its record
  says it is up. A shared cluster already running is said, and is no error.
* :func:`stop` asks the cluster's process to stop (SIGTERM: it removes its record and closes
  the cluster), waits at most :data:`STOP_WAIT` seconds, then kills its process group.
* :func:`restart_workers` runs ``python -m cellfleet.cluster.control restart-workers``, a
  short-lived Dask client (``Client.restart``).

A record whose process is gone (killed, or its pid reused) is removed on the way.
Mistakes and failures raise :class:`LaunchError` with the exit status to end with.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cellfleet.cluster.options import StartOptions
from cellfleet.cluster.record import (
    ClusterRecord,
    Found,
    Liveness,
    Paths,
    answers,
    discover,
    forget_stale,
    liveness,
    paths,
)
from cellfleet.config import with_root
from cellfleet.errors import ClusterError

__all__ = [
    "NOT_RUNNING",
    "RESTART_WAIT",
    "START_WAIT",
    "STOP_WAIT",
    "LaunchError",
    "describe",
    "restart_workers",
    "start",
    "status",
    "stop",
]

START_WAIT = 60.0
"""Seconds ``start`` waits for the cluster to come up."""
STOP_WAIT = 30.0
"""Seconds ``stop`` waits for the cluster to close before killing its processes."""
RESTART_WAIT = 120.0
"""Seconds ``restart-workers`` may take."""
NOT_RUNNING = "no shared cluster is running: cellfleet cluster start"
_SERVE = "cellfleet.cluster.serve"
_POLL = 0.05


class LaunchError(ClusterError):
    """A shared-cluster command that could not do what it was asked (``exit_code``: 1, or 2 for a mistake)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def start(options: StartOptions, root: Path | None = None) -> str:
    """Start the project's shared cluster (unless one runs); returns what to print."""
    where = paths(root)
    found = _current(where)
    if found.record is not None:
        return _already(found.record)
    where.folder.mkdir(parents=True, exist_ok=True)
    with open(where.log, "ab") as log:  # appended to: a cluster that starts at the same moment writes there too
        offset = log.tell()
        process = subprocess.Popen(
            [sys.executable, "-m", _SERVE, *options.argv()],
            cwd=where.folder.parent,
            env=with_root(where.folder.parent),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        record = _wait_up(process, where, offset)
    except BaseException:  # interrupted, or it failed: nothing of it stays
        _kill_group(process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        raise
    if record.pid != process.pid:  # another start won the race: that one runs
        return _already(record)
    return _started(record)


def _current(where: Paths) -> Found:
    """The record, a stale one removed (with a line saying so)."""
    found = discover(where.record)
    if found.gone is not None and forget_stale(where, found):
        print(f"cellfleet: removed the record of a shared cluster that is gone ({found.gone})", file=sys.stderr)
    return found


def _wait_up(process: subprocess.Popen[bytes], where: Paths, offset: int) -> ClusterRecord:
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        code = process.poll()
        found = discover(where.record)
        if found.record is not None and (found.record.pid == process.pid or code is not None):
            return found.record
        if code is not None and code != 3:  # 3: another start holds the lock, and its record will come
            raise LaunchError(_last_line(where.log, offset, code), exit_code=2 if code == 2 else 1)
        time.sleep(_POLL)
    raise LaunchError(f"the shared cluster did not come up within {START_WAIT:g} s (see {where.log}); it was stopped")


def _last_line(log: Path, offset: int, code: int) -> str:
    """The one line the cluster's process ended with (its output starts at ``offset`` in ``log``),
    its ``cellfleet: [error: ]`` prefix taken off."""
    with open(log, "rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith("cellfleet: ")]
    line = (said or lines or [f"the shared cluster's process ended with status {code}, saying nothing"])[-1]
    return line.removeprefix("cellfleet: ").removeprefix("error: ")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _started(record: ClusterRecord) -> str:
    return f"cellfleet: shared cluster started at {record.address} (pid {record.pid})\n" + describe(record)


def _already(record: ClusterRecord) -> str:
    return (
        f"cellfleet: a shared cluster is already running at {record.address} (pid {record.pid}); "
        "cellfleet cluster stop, then start, to change it\n" + describe(record)
    )


def status(root: Path | None = None) -> str:
    """What ``cellfleet cluster status`` prints; :class:`LaunchError` (status 1) when none runs."""
    where = paths(root)
    found = discover(where.record)
    if found.record is None:
        if found.gone is None:
            raise LaunchError(NOT_RUNNING)
        raise LaunchError(
            f"no shared cluster is running (the one recorded in {where.shown()} is gone: {found.gone}): "
            "cellfleet cluster start"
        )
    return describe(found.record, where)


def describe(record: ClusterRecord, where: Paths | None = None) -> str:
    """The shared cluster, as ``status`` prints it."""
    gpus = f"{record.gpus} GPU{'s' if record.gpus != 1 else ''}"
    each = f"{_size(record.memory_per_worker)} each"
    up = _duration(time.time() - record.started)
    lines = [
        f"shared cluster  {record.address} ({record.kind}, pid {record.pid}, up {up})",
        f"dashboard       {record.dashboard or 'none'}",
        f"workers         {record.workers}, {gpus}, {_size(record.memory)} memory ({each})",
        f"preload         {', '.join(record.preload) or 'none'}",
    ]
    if not answers(record.address):
        lines.append(f"  its scheduler does not answer at {record.address}: cellfleet cluster stop, then start")
    if where is not None:
        lines.append(f"record          {where.record} (log {where.log})")
    return "\n".join(lines)


def stop(root: Path | None = None) -> str:
    """Stop the shared cluster: SIGTERM, then SIGKILL of its process group after :data:`STOP_WAIT` s."""
    where = paths(root)
    found = _current(where)
    record = found.record
    if record is None:
        removed = f" (its stale record was removed: {found.gone})" if found.gone else ""
        return f"cellfleet: no shared cluster is running{removed}"
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT
    while liveness(record) is Liveness.LIVE and time.monotonic() < deadline:
        time.sleep(_POLL)
    killed = liveness(record) is Liveness.LIVE
    _kill_group(record.pid)  # what is left of it: everything, when it did not stop in time
    while liveness(record) is Liveness.LIVE and time.monotonic() < deadline + 5:
        time.sleep(_POLL)
    forget_stale(where, discover(where.record))
    how = f": it did not close within {STOP_WAIT:g} s and was killed" if killed else ""
    return f"cellfleet: shared cluster at {record.address} stopped (pid {record.pid}){how}"


def restart_workers(root: Path | None = None) -> str:
    """Restart every worker of the shared cluster (results kept on them are lost)."""
    where = paths(root)
    found = _current(where)
    if found.record is None:
        raise LaunchError(NOT_RUNNING)
    command = [sys.executable, "-m", "cellfleet.cluster.control", "restart-workers", found.record.address]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RESTART_WAIT, check=False)
    except subprocess.TimeoutExpired:
        raise LaunchError(f"restarting the workers took over {RESTART_WAIT:g} s: cellfleet cluster status") from None
    said = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("cellfleet: ")]
    line = said[-1] if said else f"cellfleet: restart-workers ended with status {done.returncode}"
    if done.returncode != 0:
        raise LaunchError(line.removeprefix("cellfleet: "))
    return line


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size, smaller, small_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if seconds >= size:
            return f"{seconds // size} {unit} {seconds % size // small_size} {smaller}"
    return f"{seconds} s"


def _size(nbytes: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{int(nbytes)} B"
