"""Everything that crosses a process boundary, typed.

* The state enums, one definition shared by the store, the scheduler, the CLI, the server
  and (mirrored, checked by a test) the panel's TypeScript: :class:`RunStatus`,
  :class:`RunKind`, :class:`OccurrenceState`, :class:`JobState`, a failed run's
  :class:`FailureClass`, and a job's :class:`Overlap`, :class:`Catchup`, :class:`NotifyOn` and
  :class:`RetryOn` policies.
* What the kernel sends a worker (:class:`CellSpec`) and what comes back
  (:class:`CellOutcome`, :class:`RemoteFailure`, :class:`ValueInfo`).
* The events a running cell sends the kernel while it runs (:class:`Started`,
  :class:`OutputBatch`, :class:`OutcomeReady`) and the items of an output batch
  (:class:`StreamItem`, :class:`DisplayItem`, :class:`MetricItem`). Dask's event log carries
  plain data, so each event is built by :func:`encode_event` and read back by
  :func:`decode_event`, the only two places that know the wire form.

This module imports nothing heavy: every process may load it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class RunStatus(str, enum.Enum):
    """Where a run is: queued, running, or one of its endings."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"
    """The process running it died (a production run recovered after a crash)."""
    SKIPPED = "skipped"
    """A production occurrence not run because the previous run still went (``--overlap skip``)."""
    PRUNED = "pruned"
    """A search trial stopped early by the search's pruner (``%%remote --search ... --prune``)."""

    def __str__(self) -> str:
        return self.value

    @property
    def ended(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class RunKind(str, enum.Enum):
    """Where a run comes from."""

    INTERACTIVE = "interactive"
    VARIANT = "variant"
    PRODUCTION = "production"
    TRIAL = "trial"
    """A trial of a ``%%remote --search`` (an Optuna study)."""

    def __str__(self) -> str:
        return self.value


class OccurrenceState(str, enum.Enum):
    """One scheduled (job, due time) pair: queued, claimed by a scheduler, then closed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


class JobState(str, enum.Enum):
    """Whether a job's schedule fires: ``broken`` when it cannot compute its next time
    (a row no promotion would write now); the scheduler passes it by and runs the others."""

    ACTIVE = "active"
    PAUSED = "paused"
    BROKEN = "broken"

    def __str__(self) -> str:
        return self.value


class Overlap(str, enum.Enum):
    """What a job does when an occurrence is due while the previous run still goes."""

    SKIP = "skip"
    QUEUE = "queue"
    ALLOW = "allow"

    def __str__(self) -> str:
        return self.value


class Catchup(str, enum.Enum):
    """Which occurrences missed while no scheduler ran are run when one starts."""

    NONE = "none"
    LATEST = "latest"
    ALL = "all"

    def __str__(self) -> str:
        return self.value


class NotifyOn(str, enum.Enum):
    """Which run endings a job's webhook hears about."""

    FAILURE = "failure"
    ALL = "all"

    def __str__(self) -> str:
        return self.value


class FailureClass(str, enum.Enum):
    """Why a run failed, as retries and people need to know it (see :mod:`cellfleet.failures`)."""

    USER = "user"
    """The cell's own exception: running it again gives the same."""
    OOM = "oom"
    """Out of memory: host ``MemoryError``, a worker its nanny killed for memory, CUDA out of memory."""
    WORKER_LOST = "worker_lost"
    """The worker running it died or its connection closed."""
    CLUSTER_UNAVAILABLE = "cluster_unavailable"
    """The Dask scheduler could not be reached, or the cluster went away."""
    KERNEL_DIED = "kernel_died"
    """The production run's kernel (or its process) died."""
    TIMEOUT = "timeout"
    """It ran past its ``--timeout`` and was stopped."""
    CANCELLED = "cancelled"
    """It was interrupted or stopped from outside (the stop button, a stopped scheduler)."""
    EXPECTATION = "expectation"
    """It ran to the end but a metric broke the job's ``--expect``."""

    def __str__(self) -> str:
        return self.value


UPSTREAM_PARAMETER = "upstream_run_id"
"""The papermill parameter that gives a job promoted ``--after`` another the upstream run's id."""


class RetryOn(str, enum.Enum):
    """Which failures a job retries: ``infra`` (every class but ``user`` and ``expectation``)
    or ``all`` (every class but ``expectation``)."""

    INFRA = "infra"
    ALL = "all"

    def __str__(self) -> str:
        return self.value


class Direction(str, enum.Enum):
    """Which way is better for a metric."""

    MIN = "min"
    MAX = "max"

    def __str__(self) -> str:
        return self.value


def values_of(kind: type[enum.Enum]) -> tuple[str, ...]:
    """The wire values of a state enum, in declaration order (for choices and messages)."""
    return tuple(str(member.value) for member in kind)


# ---------------------------------------------------------------- kernel -> worker -> kernel


@dataclass(frozen=True)
class CellSpec:
    """Everything the worker needs to run one cell."""

    cell_id: str
    code: str
    filename: str
    writes: tuple[str, ...]
    displays_last: bool
    threshold: int
    keep: frozenset[str] = frozenset()
    pull: frozenset[str] = frozenset()
    topic: str | None = None
    unavailable: frozenset[str] = frozenset()
    """Notebook-only names the cell reads (``Out``, ``get_ipython``): stand-ins raise a clear error."""
    writable: frozenset[str] = frozenset()
    """Names the cell changes in place: a large input among them arrives as a copy of its own,
    writable (the others arrive read-only, over the copy the cluster keeps)."""


@dataclass(frozen=True)
class RemoteFailure:
    """An exception raised by the cell's code, ready to re-raise in the notebook."""

    type_name: str
    message: str
    traceback: list[str]
    exception: bytes | None
    failure_class: str | None = None
    """Its :class:`FailureClass` value, classified on the worker where the exception's type is
    at hand (``None`` from an older worker: the notebook classifies by name and message)."""
    note: str = ""
    """What the worker adds, like the GPU memory in use when CUDA ran out of memory."""


class KeepReason(str, enum.Enum):
    """Why a result stayed on the worker instead of coming back."""

    LARGE = "large"
    GPU = "gpu"
    KEPT = "kept"
    UNPICKLABLE = "unpicklable"
    UNMEASURED = "unmeasured"
    """Its size could not be measured, so it was not shipped blind."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ValueInfo:
    """What the notebook knows about a value that stays on a worker."""

    type_name: str
    nbytes: int | None
    """Bytes, or ``None`` when the size could not be measured."""
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    on_gpu: bool = False
    reason: KeepReason = KeepReason.LARGE


@dataclass(frozen=True)
class Artifact:
    """A file a cell attached to its run with ``cellfleet.log_artifact``."""

    name: str
    data: bytes
    media_type: str


# ---------------------------------------------------------------- output items


@dataclass(frozen=True)
class StreamItem:
    """Text written to stdout or stderr."""

    name: str
    text: str


@dataclass(frozen=True)
class DisplayItem:
    """A rich output: a MIME bundle and its metadata."""

    data: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class MetricItem:
    """Metric points logged with ``cellfleet.log``."""

    values: dict[str, float]
    step: int | None
    logged: float


OutputItem = StreamItem | DisplayItem | MetricItem


@dataclass
class CellOutcome:
    """What a cell run sends back to the notebook."""

    worker: str | None
    gpu: str | None
    stash: str
    values: dict[str, bytes] = field(default_factory=dict)
    kept: dict[str, ValueInfo] = field(default_factory=dict)
    mutated: tuple[str, ...] = ()
    """Names in ``values`` that are inputs changed in place (applied in place where possible)."""
    deleted: tuple[str, ...] = ()
    """Inputs the cell deleted."""
    persisted: tuple[str, ...] = ()
    """Names in ``values`` that are persisted Dask collections (graphs of futures, stashed on the worker)."""
    result: tuple[dict[str, Any], dict[str, Any]] | None = None
    outputs: list[OutputItem] = field(default_factory=list)
    events_sent: int = 0
    error: RemoteFailure | None = None
    seconds: float = 0.0
    host: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)


# ---------------------------------------------------------------- events while a cell runs


@dataclass(frozen=True)
class Started:
    """The cell started on ``worker`` (with ``gpu``, when it has one)."""

    cell: str
    worker: str | None
    gpu: str | None


@dataclass(frozen=True)
class OutputBatch:
    """Output items, numbered ``seq`` from 0 in the order the cell made them."""

    cell: str
    seq: int
    items: tuple[OutputItem, ...]


@dataclass(frozen=True)
class OutcomeReady:
    """The cell ended; ``blob`` is its pickled :class:`CellOutcome`, or ``None`` when too
    large to travel as an event (the kernel gathers the task's result instead)."""

    cell: str
    blob: bytes | None


Event = Started | OutputBatch | OutcomeReady


def encode_item(item: OutputItem) -> dict[str, Any]:
    """The wire form of one output item."""
    if isinstance(item, StreamItem):
        return {"kind": "stream", "name": item.name, "text": item.text}
    if isinstance(item, DisplayItem):
        return {"kind": "display", "data": item.data, "metadata": item.metadata}
    return {"kind": "metric", "values": item.values, "step": item.step, "logged": item.logged}


def decode_item(wire: dict[str, Any]) -> OutputItem:
    """An output item from its wire form; ``ValueError`` for anything else."""
    kind = wire.get("kind")
    if kind == "stream":
        return StreamItem(str(wire["name"]), str(wire["text"]))
    if kind == "display":
        return DisplayItem(dict(wire["data"]), dict(wire["metadata"]))
    if kind == "metric":
        step = wire.get("step")
        return MetricItem(dict(wire["values"]), None if step is None else int(step), float(wire["logged"]))
    raise ValueError(f"unknown output item kind {kind!r}")


def encode_event(event: Event) -> dict[str, Any]:
    """The plain-data form of ``event`` for ``Worker.log_event``."""
    if isinstance(event, Started):
        return {"cell": event.cell, "kind": "started", "worker": event.worker, "gpu": event.gpu}
    if isinstance(event, OutputBatch):
        items = [encode_item(item) for item in event.items]
        return {"cell": event.cell, "kind": "output", "seq": event.seq, "items": items}
    return {"cell": event.cell, "kind": "outcome", "blob": event.blob}


def decode_event(wire: dict[str, Any]) -> Event:
    """An event from its plain-data form; ``ValueError`` for anything else."""
    kind, cell = wire.get("kind"), str(wire.get("cell", ""))
    if kind == "started":
        return Started(cell, wire.get("worker"), wire.get("gpu"))
    if kind == "output":
        return OutputBatch(cell, int(wire["seq"]), tuple(decode_item(item) for item in wire["items"]))
    if kind == "outcome":
        return OutcomeReady(cell, wire.get("blob"))
    raise ValueError(f"unknown cell event kind {kind!r}")
