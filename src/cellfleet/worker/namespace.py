"""The cell's namespace on the worker, and what the cell changed in it.

A local cell runs in the notebook's namespace; a remote one runs in a namespace rebuilt
from the shipped inputs. To behave the same, the worker:

- rebinds functions and classes defined in the notebook to that namespace, so they read and
  write (``global``) the cell's variables, as they would the notebook's;
- puts stand-ins for the notebook-only names (``Out``, ``In``, ``get_ipython``) that raise a
  one-line error naming what is unavailable;
- fingerprints each input before and after the cell (pickled out of band: large buffers are
  checksummed where they are, never copied; read-only ones, such as those of large inputs
  kept on the cluster (:mod:`cellfleet.worker.frozen`), cannot change, so only their identity
  counts), so in-place changes (``lst.append(1)``, ``p.v = 9``) come back like assignments.

:func:`changes` then lists every name the cell assigned (statically or not: ``global``
writes from functions, star imports, ``exec``), changed in place, or deleted.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import types
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from cellfleet.rebind import bind_globals, main_functions
from cellfleet.worker.frozen import Frozen

__all__ = ["Changes", "Start", "build", "changes"]

_UNTRACKED = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


@dataclass(frozen=True)
class Changes:
    """What a cell did to its namespace, in the order the results should be applied."""

    assigned: tuple[str, ...]
    mutated: tuple[str, ...]
    deleted: tuple[str, ...]


@dataclass(frozen=True)
class Start:
    """The namespace as the cell found it: each name's object and its fingerprint."""

    objects: dict[str, Any] = field(default_factory=dict)
    prints: dict[str, bytes] = field(default_factory=dict)


class Unavailable:
    """A notebook-only name on a worker: any use raises a one-line ``NameError``."""

    def __init__(self, name: str) -> None:
        self._message = _unavailable_message(name)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise NameError(self._message)

    __call__ = __getitem__ = __iter__ = __len__ = __contains__ = _fail

    def __getattr__(self, name: str) -> Any:
        raise NameError(self._message)

    def __repr__(self) -> str:
        return f"<{self._message}>"


def _unavailable_message(name: str) -> str:
    if name == "get_ipython":
        return (
            "get_ipython() is not available in a %%remote cell, which runs on a Dask worker without "
            "IPython: call it in a local cell"
        )
    return (
        f"{name} (the notebook's input/output history) is not available in a %%remote cell: "
        f"use _N for Out[N], or assign what you need to a variable in a local cell"
    )


def build(
    packed: dict[str, bytes],
    handles: dict[str, Any],
    unavailable: Iterable[str],
    writable: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], Start]:
    """The cell's namespace from its shipped inputs (those sent out of band among ``handles``,
    as :class:`Frozen`: copies of their own for the ``writable`` names), and its starting state."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    for name, blob in packed.items():
        namespace[name] = _load(name, lambda blob=blob: cloudpickle.loads(blob))
    for name, value in handles.items():
        if isinstance(value, Frozen):
            namespace[name] = _load(name, functools.partial(value.load, writable=name in writable))
    handles = {name: value for name, value in handles.items() if not isinstance(value, Frozen)}
    _adopt_all(namespace)
    prints = {n: p for n, v in namespace.items() if not _is_dunder(n) and (p := fingerprint(v)) is not None}
    namespace.update(handles)
    namespace.update({name: Unavailable(name) for name in unavailable if name not in namespace})
    return namespace, Start(objects=dict(namespace), prints=prints)


def _load(name: str, load: Any) -> Any:
    try:
        return load()
    except Exception as error:
        raise InputError(name, error) from None


def _adopt_all(namespace: dict[str, Any]) -> None:
    """Rebind every notebook function and class, and those their globals bring in."""
    done: set[str] = set()
    while fresh := [name for name in namespace if name not in done]:
        for name in fresh:
            done.add(name)
            for function in main_functions(namespace[name]):
                for used, value in function.__globals__.items():  # what was not shipped by name
                    namespace.setdefault(used, value)
            namespace[name] = bind_globals(namespace[name], namespace)


class InputError(Exception):
    """A shipped variable that does not load on the worker."""

    def __init__(self, name: str, error: Exception) -> None:
        hint = " (install it on the workers)" if isinstance(error, ImportError) else ""
        super().__init__(f"variable {name!r} could not be loaded on the worker: {type(error).__name__}: {error}{hint}")


def fingerprint(value: Any) -> bytes | None:
    """A digest of ``value``'s pickled form (``None``: not tracked, or it does not pickle).

    Large buffers (NumPy arrays, bytes) are pickled out of band and checksummed in place.
    Modules, functions and classes are not tracked: they come back only when reassigned.
    """
    if isinstance(value, (*_UNTRACKED, Unavailable)):
        return None
    buffers: list[Any] = []
    try:
        header = cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except Exception:  # cannot be compared: an in-place change to it is not brought back
        return None
    digest = hashlib.blake2b(header, digest_size=16)
    for buffer in buffers:
        raw = buffer.raw()
        if raw.readonly:  # its memory cannot change while the cell holds it: who exports it is enough
            digest.update(b"r" + id(raw.obj).to_bytes(8, "little") + raw.nbytes.to_bytes(8, "little"))
            continue
        digest.update(zlib.crc32(raw).to_bytes(4, "little") + raw.nbytes.to_bytes(8, "little"))
    return digest.digest()


def changes(namespace: dict[str, Any], start: Start, static_writes: Iterable[str]) -> Changes:
    """Every name the cell assigned, changed in place, or deleted."""
    order = list(dict.fromkeys([*static_writes, *sorted(namespace)]))
    assigned = [n for n in order if n in namespace and _assigned(n, namespace[n], start)]
    mutated = [
        n
        for n, before in start.prints.items()
        if n in namespace and n not in assigned and fingerprint(namespace[n]) != before
    ]
    deleted = sorted(n for n in start.objects if n not in namespace and not _is_dunder(n))
    return Changes(tuple(assigned), tuple(mutated), tuple(deleted))


def _assigned(name: str, value: Any, start: Start) -> bool:
    if _is_dunder(name):
        return False
    return name not in start.objects or start.objects[name] is not value


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")
