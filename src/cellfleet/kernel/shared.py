"""The kernel's side of the project's warm shared cluster (:mod:`cellfleet.cluster`).

:func:`connect_shared` is what a session does before starting a private cluster: read
``.cellfleet/cluster.json`` under the project root (``CELLFLEET_ROOT``, else the nearest
folder up with ``.cellfleet``, ``.git`` or ``pyproject.toml``: :func:`cellfleet.config.project_root`),
and connect when the process it names runs and its scheduler answers within
:data:`SHARED_TIMEOUT_S`. A record that cannot be used is said in one line on stderr (and
removed when its process is gone), and the caller starts a private cluster.

:func:`start_command` is ``%cellfleet start``: it runs ``cellfleet cluster start`` itself, so
the cluster's process is never a child of the kernel.
"""

from __future__ import annotations

import subprocess
import sys
import threading

from distributed import Client

from cellfleet.cluster.record import ClusterRecord, discover, forget_stale, paths

__all__ = ["SHARED_TIMEOUT_S", "StartProblem", "connect_shared", "start_command"]

SHARED_TIMEOUT_S = 2.0
"""Seconds a kernel waits for the shared cluster's scheduler before starting a private cluster."""
_START_TIMEOUT = 120.0
"""Seconds ``%cellfleet start`` waits for ``cellfleet cluster start`` (which waits 60 s itself)."""


def connect_shared(previous: ClusterRecord | None = None) -> tuple[Client, ClusterRecord] | None:
    """A client of the project's shared cluster and its record; ``None`` when there is none
    to use (after one line saying why, when one is recorded, or when ``previous``, the one
    this kernel used until now, stopped)."""
    where = paths()
    found = discover(where.record)
    record = found.record
    if record is None:
        if found.gone is not None:
            forget_stale(where, found)
            _gone(where.shown(), found.gone, "cellfleet cluster start to bring it back")
        elif previous is not None:
            print(
                f"cellfleet: the shared cluster at {previous.address} stopped; starting a private one — "
                "cellfleet cluster start to bring it back",
                file=sys.stderr,
                flush=True,
            )
        return None
    client = _client_within(record.address, SHARED_TIMEOUT_S)
    if client is None:
        why = f"pid {record.pid} does not answer at {record.address}"
        _gone(where.shown(), why, "cellfleet cluster stop, then cellfleet cluster start, to replace it")
        return None
    return client, record


def _client_within(address: str, seconds: float) -> Client | None:
    """A client of ``address`` when it connects within ``seconds``; else ``None``.

    ``Client(timeout=...)`` bounds reaching the address, not the scheduler's answer: a
    scheduler whose process is stopped (SIGSTOP, a debugger, swapped out) accepts the
    connection and never replies, and the client waits for ever. So the client is made in a
    thread of its own; one that connects after the wait was given up is closed there.
    """
    made: list[Client] = []
    state = {"given_up": False}
    lock = threading.Lock()
    done = threading.Event()

    def connect() -> None:
        try:
            client = Client(address, timeout=f"{seconds}s", set_as_default=False)
        except Exception:  # unreachable, refused, timed out: no client
            done.set()
            return
        with lock:
            late = state["given_up"]
            if not late:
                made.append(client)
        if late:
            client.close()
        done.set()

    threading.Thread(target=connect, name="cellfleet-shared-connect", daemon=True).start()
    done.wait(seconds + 0.5)
    with lock:
        state["given_up"] = not made
    return made[0] if made else None


def _gone(shown: str, why: str, fix: str) -> None:
    print(
        f"cellfleet: the shared cluster recorded in {shown} is gone ({why}); starting a private one — {fix}",
        file=sys.stderr,
        flush=True,
    )


class StartProblem(Exception):
    """``cellfleet cluster start`` ended with a mistake (``usage``) or a failure."""

    def __init__(self, message: str, usage: bool) -> None:
        super().__init__(message)
        self.usage = usage


def start_command(words: list[str]) -> str:
    """``%cellfleet start [OPTIONS]``: run ``cellfleet cluster start OPTIONS``; returns what it printed."""
    command = [sys.executable, "-m", "cellfleet.cli", "cluster", "start", *words]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_START_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise StartProblem(
            f"cellfleet cluster start did not finish in {_START_TIMEOUT:g} s: see .cellfleet/cluster.log", usage=False
        ) from None
    except OSError as error:
        raise StartProblem(f"cellfleet cluster start could not run ({error})", usage=False) from None
    said = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        line = said.splitlines()[-1] if said else f"cellfleet cluster start ended with status {done.returncode}"
        raise StartProblem(line.removeprefix("cellfleet: ").removeprefix("error: "), usage=done.returncode == 2)
    return said
