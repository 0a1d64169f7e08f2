"""Driving a real kernel over its channels, as JupyterLab does, and reading what it sent."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest


@dataclass
class Reply:
    """What one executed cell sent: its streams, rich outputs and errors."""

    streams: dict[str, str] = field(default_factory=dict)
    results: list[str] = field(default_factory=list)
    """``text/plain`` of every display and ``Out`` value, in order."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """``(ename, evalue)`` of every error."""
    tracebacks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Everything shown, as one string (streams, results, tracebacks)."""
        return "".join(self.streams.values()) + "".join(self.results) + "".join(self.tracebacks)


def execute(client, code: str, tick: Callable[[], None] | None = None, timeout: float = 120) -> Reply:
    """Execute ``code`` on a kernel client (calling ``tick`` while it runs)."""
    reply = Reply()
    msg_id = client.execute(code)
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        try:
            message = client.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            if time.monotonic() > deadline:
                pytest.fail(f"the kernel stopped answering while running {code.splitlines()[0]!r}")
            continue
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if _record(reply, message["msg_type"], message["content"]):
            return reply


def _record(reply: Reply, kind: str, content: dict) -> bool:
    """Add one iopub message to ``reply``; True when the cell is done."""
    if kind == "status" and content["execution_state"] == "idle":
        return True
    if kind == "stream":
        reply.streams[content["name"]] = reply.streams.get(content["name"], "") + content["text"]
    elif kind in ("display_data", "execute_result"):
        reply.results.append(content["data"].get("text/plain", ""))
    elif kind == "error":
        reply.errors.append((content["ename"], content["evalue"]))
        reply.tracebacks.append("\n".join(content["traceback"]))
    return False
