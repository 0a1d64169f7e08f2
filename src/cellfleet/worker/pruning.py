"""Stopping a search trial the kernel's pruner decided to prune, at its next ``cellfleet.log``.

The kernel marks the trial's cell as pruned in the worker process that runs it
(:func:`mark_pruned`, sent to that one worker); ``cellfleet.log`` then calls
:func:`stop_if_pruned`, which costs one truth test of an empty set in every cell that is
not a pruned trial, and raises :class:`~cellfleet.errors.TrialPruned` in the one that is.
"""

from __future__ import annotations

import threading

from cellfleet.errors import TrialPruned

__all__ = ["mark_pruned", "stop_if_pruned"]

_PRUNED: dict[str, str] = {}
"""Cell id (without its attempt suffix) → why it was pruned."""
_lock = threading.Lock()
_KEEP = 1000
"""Marks kept per worker process; the oldest go first (their trials ended long ago)."""


def mark_pruned(cell_id: str, reason: str) -> bool:
    """Mark the cell ``cell_id`` pruned; its next ``cellfleet.log`` raises ``TrialPruned``."""
    with _lock:
        _PRUNED[cell_id] = reason
        while len(_PRUNED) > _KEEP:
            _PRUNED.pop(next(iter(_PRUNED)))
    return True


def stop_if_pruned(cell_id: str) -> None:
    """Raise ``TrialPruned`` when the running cell ``cell_id`` (``ID-ATTEMPT``) was pruned."""
    if not _PRUNED:
        return
    reason = _PRUNED.get(cell_id.rpartition("-")[0] or cell_id)
    if reason is not None:
        raise TrialPruned(reason)
