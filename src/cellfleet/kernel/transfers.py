"""Large inputs on the cluster: sent out of band, once per content, held per kernel.

A large input (:class:`~cellfleet.kernel.inputs.LargeInput`) is scattered to the worker the
cell goes to, as a Dask key of its own (``cellfleet-input-TOKEN-NAME-PRINT``): Dask sends its
buffers as frames, straight to the worker (through the scheduler only when the kernel cannot
reach the workers), never inside the task. The
session's :class:`Held` (:func:`held_for`) remembers it by name and fingerprint; a later cell whose input has the
same fingerprint passes the same future, so nothing is sent again (Dask copies it worker to
worker if the cell runs elsewhere). A changed input replaces the old copy, which is released.

The keys carry the session's token: kernels sharing a cluster never reuse or release each
other's inputs. ``%cellfleet status`` lists what this kernel holds (:func:`describe_held`);
``%cellfleet drop NAME|all`` releases it; closing the session (kernel shutdown) closes its client,
and the scheduler releases everything the client held.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dask.utils import format_bytes

from cellfleet.kernel.inputs import Inputs, LargeInput
from cellfleet.kernel.persisted import RemoteCollection
from cellfleet.kernel.session import Session, sessions

__all__ = [
    "Held",
    "SentInput",
    "describe_held",
    "drop",
    "drop_command",
    "held_for",
    "held_status",
    "large_futures",
    "release_unbound",
]


@dataclass(frozen=True)
class SentInput:
    """A large input this kernel holds on the cluster."""

    name: str
    fingerprint: str
    nbytes: int
    future: Any
    sent_at: float


class Held:
    """What one session holds on its cluster for this kernel: sent inputs (and, for status,
    the persisted collections the notebook has)."""

    def __init__(self) -> None:
        self._inputs: dict[str, SentInput] = {}
        self._lock = threading.RLock()
        """Held while sending: cells (variants) reading the same input send it once."""
        self.sent_bytes = 0
        """Bytes of large inputs this session has scattered (a running total)."""
        self.direct = True
        """Whether the workers answer this kernel directly (else inputs go through the scheduler)."""

    def future_for(self, session: Session, name: str, large: LargeInput, workers: list[str] | None) -> Any:
        """The future of ``large`` on the cluster: the one already there, else scattered now
        (straight to the workers on a cluster Cellfleet started here)."""
        with self._lock:
            sent = self._inputs.get(name)
            if sent is not None and sent.fingerprint == large.fingerprint and sent.future.status == "finished":
                return sent.future
            key = f"cellfleet-input-{session.token}-{_slug(name)}-{large.fingerprint[:16]}"
            future = self._scatter(session, key, large, workers)
            self._inputs[name] = SentInput(name, large.fingerprint, large.nbytes, future, time.time())
            self.sent_bytes += large.nbytes
            return future

    def _scatter(self, session: Session, key: str, large: LargeInput, workers: list[str] | None) -> Any:
        """Send straight to the workers; through the scheduler only where this kernel cannot
        reach them (learnt once per session: a cluster behind a gateway)."""
        if self.direct:
            try:
                return session.client.scatter({key: large.frozen}, workers=workers, hash=False, direct=True)[key]
            except OSError:
                self.direct = False
        return session.client.scatter({key: large.frozen}, workers=workers, hash=False, direct=False)[key]

    def inputs(self) -> list[SentInput]:
        with self._lock:
            return sorted(self._inputs.values(), key=lambda sent: sent.name)

    def release(self, names: Iterable[str] | None = None) -> list[str]:
        """Let go of the named inputs (all when ``None``); returns the names released."""
        with self._lock:
            chosen = list(self._inputs) if names is None else [n for n in names if n in self._inputs]
            for name in chosen:
                self._inputs.pop(name).future.release()
        return chosen


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


_HELD: dict[str, tuple[Any, Held]] = {}
_held_lock = threading.Lock()


def held_for(session: Session) -> Held:
    """The session's :class:`Held` (those of sessions whose client closed are forgotten)."""
    with _held_lock:
        for token in [t for t, (client, _) in _HELD.items() if client.status not in ("running", "connecting")]:
            del _HELD[token]
        entry = _HELD.setdefault(session.token, (session.client, Held()))
        return entry[1]


def release_unbound(session: Session, namespace: dict[str, Any]) -> None:
    """Let go of the inputs sent for names the notebook no longer has (``del data``)."""
    held = held_for(session)
    held.release([sent.name for sent in held.inputs() if sent.name not in namespace])


def large_futures(session: Session, inputs: Inputs, workers: list[str] | None) -> list[Any]:
    """The futures of a cell's large inputs, in the order of ``inputs.large`` (sent if needed)."""
    if not inputs.large:
        return []
    held = held_for(session)
    return [held.future_for(session, name, large, workers) for name, large in inputs.large.items()]


def _held_of_sessions() -> list[Held]:
    tokens = {session.token for session in sessions.current()}
    with _held_lock:
        return [held for token, (_, held) in _HELD.items() if token in tokens]


def describe_held(sent: list[SentInput], namespace: dict[str, Any]) -> str:
    """The lines ``%cellfleet status`` adds: the inputs and collections this kernel holds."""
    lines = [f"  input {s.name}  {format_bytes(s.nbytes)}  (sent once, reused while unchanged)" for s in sent]
    for name, value in sorted(namespace.items()):
        if isinstance(value, RemoteCollection) and value.collection is not None:
            lines.append(f"  {name}  {value.summary()}")
    if not lines:
        return "held      nothing for this notebook"
    return "\n".join(["held      for this notebook (%cellfleet drop NAME|all releases it):", *lines])


def held_status(shell: Any) -> str:
    """``%cellfleet status``'s last lines (nothing before this kernel used a cluster)."""
    if not sessions.current():
        return ""
    return "\n" + describe_held([s for held in _held_of_sessions() for s in held.inputs()], shell.user_ns)


def drop(helds: list[Held], namespace: dict[str, Any], names: list[str]) -> str:
    """Release sent inputs and persisted collections by name (``["all"]``: every one)."""
    every = names == ["all"]
    released = [name for held in helds for name in held.release(None if every else names)]
    collections = [
        name
        for name, value in namespace.items()
        if isinstance(value, RemoteCollection) and value.collection is not None and (every or name in names)
    ]
    for name in collections:
        namespace[name].release()
    done = sorted({*released, *collections})
    unknown = [] if every else [name for name in names if name not in done]
    text = f"cellfleet: released {', '.join(done)}" if done else "cellfleet: nothing to release"
    if unknown:
        text += f" (not held on the cluster: {', '.join(unknown)})"
    return text


def drop_command(words: list[str], shell: Any) -> str:
    """``%cellfleet drop NAME ...|all``."""
    if not words:
        from IPython.core.error import UsageError

        raise UsageError("%cellfleet drop needs names, or all: like %cellfleet drop data, or %cellfleet drop all")
    return drop(_held_of_sessions(), shell.user_ns, words)
