"""Packing the variables a cell reads, one by one, so a failure names the variable.

Functions and classes defined in the notebook travel by value (cloudpickle), imported
modules by reference, and remote handles as the Dask futures they wrap: their data is
used where it is and never passes through the kernel.
"""

from __future__ import annotations

import dis
import hashlib
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from cellfleet.errors import HandleError, SerializationError
from cellfleet.kernel.handles import RemoteHandle
from cellfleet.rebind import main_functions, with_globals

__all__ = ["Inputs", "notebook_only", "pack"]

_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "_i", "_ii", "_iii"})
_IPYTHON_PATTERN = re.compile(r"^_(ih|oh|dh|i\d+)$")
"""Notebook-only names that never travel (``_``, ``__``, ``___`` and ``_N`` do: they are values)."""
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME", "STORE_NAME"})
LINEAGE_LIMIT = 2**20
"""Inputs up to this many bytes are kept with kept results, so Dask can recompute them."""


@dataclass
class Inputs:
    """The shipped part of a cell's namespace."""

    packed: dict[str, bytes] = field(default_factory=dict)
    handle_names: tuple[str, ...] = ()
    handle_futures: tuple[Any, ...] = ()

    def fingerprints(self) -> dict[str, str]:
        """A digest of each shipped value, and the Dask key of each handle."""
        prints = {name: hashlib.blake2b(blob, digest_size=16).hexdigest() for name, blob in self.packed.items()}
        for name, future in zip(self.handle_names, self.handle_futures, strict=True):
            prints[name] = f"key:{future.key}"
        return prints

    def with_params(self, params: Mapping[str, Any]) -> Inputs:
        """These inputs, with a variant's params set as variables (they win over notebook values)."""
        packed = dict(self.packed)
        for name, value in params.items():
            packed[name] = _dumps(name, value, "parameter")
        names = [n for n in self.handle_names if n not in params]
        futures = [f for n, f in zip(self.handle_names, self.handle_futures, strict=True) if n not in params]
        return Inputs(packed, tuple(names), tuple(futures))

    @property
    def nbytes(self) -> int:
        return sum(len(blob) for blob in self.packed.values())

    def lineage(self) -> dict[str, bytes] | None:
        """The packed inputs to keep with kept results, or ``None`` when too large."""
        return self.packed if self.nbytes <= LINEAGE_LIMIT else None


def _is_ipython_internal(name: str) -> bool:
    return name in _IPYTHON_NAMES or bool(_IPYTHON_PATTERN.match(name))


def notebook_only(names: Iterable[str]) -> frozenset[str]:
    """The names among ``names`` that exist only in the notebook (``Out``, ``get_ipython``)."""
    return frozenset(name for name in names if _is_ipython_internal(name))


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def pack(reads: Iterable[str], namespace: Mapping[str, Any], cluster: str) -> Inputs:
    """Serialize the names in ``reads`` that the notebook defines, and the notebook globals
    that the notebook's functions among them use (so they see the same values remotely)."""
    inputs = Inputs()
    names, futures = [], []
    wanted = set(reads)
    for name in sorted(_with_function_globals(wanted - notebook_only(wanted), namespace)):
        value = namespace[name]
        if isinstance(value, RemoteHandle):
            _check_handle(value, cluster)
            names.append(name)
            futures.append(value.future)
            continue
        if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
            value = with_globals(value, {"__name__": "__main__"})  # its globals travel by name
        inputs.packed[name] = _dumps(name, value, "variable")
    inputs.handle_names = tuple(names)
    inputs.handle_futures = tuple(futures)
    return inputs


def _with_function_globals(names: set[str], namespace: Mapping[str, Any]) -> set[str]:
    """``names`` the notebook defines, plus the globals its functions and classes use, transitively."""
    found: set[str] = set()
    todo = [name for name in names if name in namespace]
    while todo:
        name = todo.pop()
        if name in found or _is_ipython_internal(name):
            continue
        found.add(name)
        todo += [n for n in _globals_used(namespace[name], namespace) if n in namespace and n not in found]
    return found


def _globals_used(value: Any, namespace: Mapping[str, Any]) -> set[str]:
    """The global names a function (or a class's methods) defined in the notebook reads or writes."""
    functions = [f for f in main_functions(value) if f.__globals__ is namespace]
    return set().union(*(_code_globals(f.__code__) for f in functions))


def _code_globals(code: types.CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code) if i.opname in _GLOBAL_OPS}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _code_globals(constant)
    return names


def _dumps(name: str, value: Any, what: str) -> bytes:
    try:
        return bytes(cloudpickle.dumps(value, protocol=5))
    except Exception as error:
        raise SerializationError(
            f"{what} {name!r} ({_type_name(value)}) cannot be sent to the worker "
            f"({type(error).__name__}: {error}): create it inside the %%remote cell, or make it picklable"
        ) from None


def _check_handle(handle: RemoteHandle, cluster: str) -> None:
    handle.check_usable()
    if handle.cluster != cluster:
        raise HandleError(
            f"{handle.name!r} lives on the cluster at {handle.cluster}, not on {cluster} where this cell runs: "
            f"run the cell there, or %pull {handle.name} first"
        )
