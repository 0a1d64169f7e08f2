"""Packing the variables a cell reads, one by one, so a failure names the variable.

Functions and classes defined in the notebook travel by value (cloudpickle), imported
modules by reference, and remote handles as the Dask futures they wrap: their data is
used where it is and never passes through the kernel. Persisted Dask collections travel as
their graphs of futures (:mod:`cellfleet.kernel.persisted`).

A value that pickles to more than :data:`OUT_OF_BAND` bytes is a large input: pickled once
with its buffers out of band (:class:`~cellfleet.worker.frozen.Frozen`, never copied here) and
fingerprinted cheaply (xxh3 over the buffers, in place); :mod:`cellfleet.kernel.transfers`
scatters it to the cluster only when that fingerprint was not sent before.
"""

from __future__ import annotations

import dis
import hashlib
import pickle
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from cellfleet.errors import HandleError, SerializationError
from cellfleet.kernel.handles import RemoteHandle
from cellfleet.kernel.persisted import RemoteCollection
from cellfleet.rebind import main_functions, with_globals
from cellfleet.worker.frozen import Frozen

__all__ = ["OUT_OF_BAND", "Inputs", "LargeInput", "content_print", "notebook_only", "pack"]

_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "_i", "_ii", "_iii"})
_IPYTHON_PATTERN = re.compile(r"^_(ih|oh|dh|i\d+)$")
"""Notebook-only names that never travel (``_``, ``__``, ``___`` and ``_N`` do: they are values)."""
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME", "STORE_NAME"})
LINEAGE_LIMIT = 2**20
"""Inputs up to this many bytes are kept with kept results, so Dask can recompute them."""
OUT_OF_BAND = 2**20
"""A value whose pickle (buffers included) passes this many bytes travels out of band, once."""


@dataclass(frozen=True)
class LargeInput:
    """A large input, pickled out of band, and its content fingerprint."""

    frozen: Frozen
    fingerprint: str
    nbytes: int


@dataclass
class Inputs:
    """The shipped part of a cell's namespace."""

    packed: dict[str, bytes] = field(default_factory=dict)
    handle_names: tuple[str, ...] = ()
    handle_futures: tuple[Any, ...] = ()
    large: dict[str, LargeInput] = field(default_factory=dict)
    """Large inputs, sent to the cluster apart from the task (:mod:`cellfleet.kernel.transfers`)."""

    def fingerprints(self) -> dict[str, str]:
        """A digest of each shipped value (of a large one's content), and the Dask key of each handle."""
        prints = {name: hashlib.blake2b(blob, digest_size=16).hexdigest() for name, blob in self.packed.items()}
        prints.update({name: f"oob:{large.fingerprint}" for name, large in self.large.items()})
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
        large = {name: value for name, value in self.large.items() if name not in params}
        return Inputs(packed, tuple(names), tuple(futures), large)

    @property
    def nbytes(self) -> int:
        return sum(len(blob) for blob in self.packed.values())

    def lineage(self) -> dict[str, bytes] | None:
        """The packed inputs to keep with kept results, or ``None`` when too large."""
        return self.packed if self.nbytes <= LINEAGE_LIMIT and not self.large else None


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
        if isinstance(value, RemoteCollection):
            value = value.collection_for_cell()
        if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
            value = with_globals(value, {"__name__": "__main__"})  # its globals travel by name
        _add(inputs, name, value)
    inputs.handle_names = tuple(names)
    inputs.handle_futures = tuple(futures)
    return inputs


def _add(inputs: Inputs, name: str, value: Any) -> None:
    """Pack ``value`` in band, or out of band as a large input."""
    buffers: list[pickle.PickleBuffer] = []
    header = _dumps(name, value, "variable", buffers.append)
    if not buffers:  # no out-of-band buffers: the header is the in-band pickle
        if len(header) > OUT_OF_BAND:
            inputs.large[name] = _large(header, [])
        else:
            inputs.packed[name] = header
        return
    size = len(header) + sum(buffer.raw().nbytes for buffer in buffers)
    if size <= OUT_OF_BAND:
        inputs.packed[name] = _dumps(name, value, "variable")
    else:
        inputs.large[name] = _large(header, buffers)


def _large(header: bytes, buffers: list[pickle.PickleBuffer]) -> LargeInput:
    frozen = Frozen(header, [buffer.raw() for buffer in buffers])
    return LargeInput(frozen, content_print(frozen), frozen.nbytes)


def content_print(frozen: Frozen) -> str:
    """A cheap digest of a large input's content: blake2b of its header, xxh3 of its buffers
    (read in place, hashed with xxhash)."""
    digest = hashlib.blake2b(frozen.header, digest_size=16)
    for buffer in frozen.buffers:
        view = memoryview(buffer).cast("B")
        digest.update(_hash_buffer(view) + view.nbytes.to_bytes(8, "little"))
    return digest.hexdigest()


def _hash_buffer(view: memoryview) -> bytes:
    import xxhash

    return bytes(xxhash.xxh3_128(view).digest())


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


def _dumps(name: str, value: Any, what: str, buffer_callback: Any = None) -> bytes:
    try:
        return bytes(cloudpickle.dumps(value, protocol=5, buffer_callback=buffer_callback))
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
