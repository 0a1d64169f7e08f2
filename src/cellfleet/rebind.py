"""Giving functions and classes defined in a notebook the namespace they should see.

A function defined in ``__main__`` travels (cloudpickle) with a private copy of the
globals it uses. Where a cell runs, and back in the notebook, it is rebound to the
namespace it belongs to, so it reads current values and its ``global`` writes land there,
as it would had it never travelled. Used on both sides: the worker and the kernel.
"""

from __future__ import annotations

import types
from typing import Any, TypeGuard

__all__ = ["bind_globals", "main_functions", "with_globals"]


def _is_main(function: Any) -> TypeGuard[types.FunctionType]:
    """A function whose globals are a notebook's (``__module__`` alone can mislead: a
    ``functools.wraps`` wrapper from a library copies its wrapped function's)."""
    return isinstance(function, types.FunctionType) and function.__globals__.get("__name__") == "__main__"


def main_functions(value: Any) -> list[types.FunctionType]:
    """The notebook functions ``value`` is, or holds as methods when it is a notebook class."""
    if _is_main(value):
        return [value]
    if not (isinstance(value, type) and value.__module__ == "__main__"):
        return []
    found: list[Any] = []
    for member in vars(value).values():
        if isinstance(member, (staticmethod, classmethod)):
            found.append(member.__func__)
        elif isinstance(member, property):
            found += [member.fget, member.fset, member.fdel]
        else:
            found.append(member)
    return [f for f in found if _is_main(f)]


def bind_globals(value: Any, namespace: dict[str, Any]) -> Any:
    """``value`` with its notebook functions (or its methods, for a class) using ``namespace``."""
    if _is_main(value):
        return with_globals(value, namespace)
    if main_functions(value):
        for attribute, member in list(vars(value).items()):
            rebound = _rebound_member(member, namespace)
            if rebound is not member:
                setattr(value, attribute, rebound)
    return value


def _rebound_member(member: Any, namespace: dict[str, Any]) -> Any:
    if isinstance(member, (staticmethod, classmethod)):
        inner = _rebound_member(member.__func__, namespace)
        return member if inner is member.__func__ else type(member)(inner)
    if isinstance(member, property):
        parts = [_rebound_member(f, namespace) for f in (member.fget, member.fset, member.fdel)]
        unchanged = parts == [member.fget, member.fset, member.fdel]
        return member if unchanged else property(parts[0], parts[1], parts[2], member.__doc__)
    return with_globals(member, namespace) if _is_main(member) else member


def with_globals(function: types.FunctionType, namespace: dict[str, Any]) -> types.FunctionType:
    """A copy of ``function`` whose globals are ``namespace`` (``function`` itself if they are)."""
    if function.__globals__ is namespace:
        return function
    copy = types.FunctionType(
        function.__code__, namespace, function.__name__, function.__defaults__, function.__closure__
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__qualname__ = function.__qualname__
    copy.__doc__ = function.__doc__
    copy.__annotations__ = dict(function.__annotations__)
    copy.__dict__.update(function.__dict__)
    return copy
