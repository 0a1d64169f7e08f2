"""Packing the variables a cell reads, one by one, so a failure names the variable.

Functions and classes defined in the notebook travel by value (cloudpickle), imported
modules by reference, and remote handles as the Dask futures they wrap: their data is
used where it is and never passes through the kernel.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from cellfleet.errors import HandleError, SerializationError
from cellfleet.kernel.handles import RemoteHandle

__all__ = ["Inputs", "pack"]

_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "_", "__", "___", "_i", "_ii", "_iii"})
_IPYTHON_PATTERN = re.compile(r"^_(i|ih|oh|dh|\d+|i\d+)$")
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


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def pack(reads: Iterable[str], namespace: Mapping[str, Any], cluster: str) -> Inputs:
    """Serialize the names in ``reads`` that the notebook defines."""
    inputs = Inputs()
    names, futures = [], []
    for name in sorted(reads):
        if name not in namespace or _is_ipython_internal(name):
            continue  # a builtin, or a NameError the worker will raise as a local run would
        value = namespace[name]
        if isinstance(value, RemoteHandle):
            _check_handle(value, cluster)
            names.append(name)
            futures.append(value.future)
            continue
        inputs.packed[name] = _dumps(name, value, "variable")
    inputs.handle_names = tuple(names)
    inputs.handle_futures = tuple(futures)
    return inputs


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
