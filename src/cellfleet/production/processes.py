"""The scheduler's hold on its runs' processes: whether one lives, and stopping one with its kernel."""

from __future__ import annotations

import contextlib

__all__ = ["STOP_GRACE", "alive", "stop_tree"]

STOP_GRACE = 5.0
"""Seconds a stopped runner and its kernel get to exit before they are killed."""


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    import psutil

    return bool(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)


def stop_tree(pid: int, expect: str | None = None) -> None:
    """SIGTERM a runner and everything under it (its kernel), then SIGKILL what remains."""
    import psutil

    try:
        root = psutil.Process(pid)
        if expect is not None and expect not in " ".join(root.cmdline()):
            return  # the pid was reused by something else
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for process in tree:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, remaining = psutil.wait_procs(tree, timeout=STOP_GRACE)
    for process in remaining:
        with contextlib.suppress(psutil.Error):
            process.kill()
