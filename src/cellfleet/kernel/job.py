"""What every way of running a cell shares, so the runner can hold any of them.

A :class:`CellJob` is a remote cell (:class:`~cellfleet.kernel.remote_cell.RemoteCell`) or
a cache hit standing in for one (:class:`~cellfleet.kernel.cache.CachedCell`); it writes
its output to an :class:`Output` and its progress to a :class:`Status`.
"""

from __future__ import annotations

from typing import Any, Protocol

import cloudpickle

from cellfleet.protocol import CellOutcome

__all__ = ["CellJob", "Output", "Status", "load_values"]


class Output(Protocol):
    """Where a cell's output goes."""

    def stream(self, name: str, text: str) -> None: ...

    def display(self, data: dict[str, Any], metadata: dict[str, Any]) -> None: ...


class Status(Protocol):
    """Where a cell's progress goes: queued, running on a worker, its ending."""

    def running(self, worker: str | None, gpu: str | None) -> None: ...

    def note(self, text: str) -> None: ...

    def tick(self) -> None: ...

    def finished(self, state: str) -> None: ...


class CellJob(Protocol):
    """One run of a cell, from start to the values it assigns."""

    def run(self) -> CellOutcome:
        """Run to the end; raises a :class:`~cellfleet.errors.CellError` when it cannot."""
        ...

    def cancel(self) -> None:
        """Ask a run followed by another thread to stop."""
        ...

    def collect(self, outcome: CellOutcome) -> dict[str, Any]:
        """The values to assign in the notebook."""
        ...


def load_values(outcome: CellOutcome, output: Output) -> dict[str, Any]:
    """Unpickle the results that came back; one that cannot load here is reported and skipped."""
    values: dict[str, Any] = {}
    for name, blob in outcome.values.items():
        try:
            values[name] = cloudpickle.loads(blob)
        except Exception as error:  # reported in the cell's output; the other names still arrive
            problem = f"{type(error).__name__}: {error}"
            output.stream("stderr", f"cellfleet: {name!r} could not be loaded here ({problem}); it was not assigned\n")
    return values
