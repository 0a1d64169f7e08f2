"""Applying a finished cell's results to the notebook's namespace, as a local cell would.

Inputs the cell changed in place are changed in place here too (lists, dicts, sets,
NumPy arrays, plain objects), so other names bound to the same object see the change.
Functions and classes defined in the remote cell are rebound to the notebook's globals:
they read later notebook values and their ``global`` writes land in the notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cellfleet.rebind import bind_globals

__all__ = ["Update"]


@dataclass(frozen=True)
class Update:
    """What a finished cell changes in the namespace."""

    values: dict[str, Any]
    deletes: frozenset[str] = frozenset()
    mutated: frozenset[str] = frozenset()
    """Names among ``values`` that are notebook objects the cell changed in place."""

    def apply(self, namespace: dict[str, Any]) -> None:
        for name, value in self.values.items():
            value = bind_globals(value, namespace)
            if name in self.mutated and name in namespace and _merge(namespace[name], value):
                continue
            namespace[name] = value
        for name in self.deletes:
            namespace.pop(name, None)


def _merge(old: Any, new: Any) -> bool:
    """Make ``old`` equal to ``new`` in place; False when it cannot be done for their types."""
    if type(old) is not type(new):
        return False
    if isinstance(old, (list, bytearray)):
        old[:] = new
    elif isinstance(old, (dict, set)):
        old.clear()
        old.update(new)
    else:
        return _merge_object(old, new)
    return True


def _merge_object(old: Any, new: Any) -> bool:
    if _is_ndarray(old):
        if old.shape != new.shape or old.dtype != new.dtype or not old.flags.writeable:
            return False
        old[...] = new
        return True
    state = getattr(old, "__dict__", None)
    if not isinstance(state, dict) or type(old).__module__ == "builtins" or hasattr(type(old), "__slots__"):
        return False
    state.clear()
    state.update(new.__dict__)
    return True


def _is_ndarray(value: Any) -> bool:
    kind = type(value)
    return kind.__module__ == "numpy" and kind.__name__ == "ndarray"
