"""The task body that runs a cell on a Dask worker.

``run_cell`` rebuilds the cell's namespace from what the notebook shipped (and from
remote handles, which Dask resolves in place), runs the code with its output captured,
and returns a :class:`CellOutcome`: small results pickled, large and GPU-resident ones
left in a per-process stash from which :func:`take` moves them into Dask's memory as
their own keys, where later cells use them without passing through the notebook.

The cell runs seceded from the worker's thread pool (as in ``worker_client``), so what it fans
out over the cluster (``.compute()``, ``.persist()``, ``get_client().submit``) can run on its own
worker too; its resources (``GPU``, ``CPU``, ``MEMORY``) stay held until it ends. Persisted
collections it assigns come back as graphs of futures, stashed here until the notebook holds
them (:mod:`cellfleet.kernel.persisted`, :func:`release_stash`).
"""

from __future__ import annotations

import ast
import asyncio
import ctypes
import inspect
import linecache
import os
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import cloudpickle

from cellfleet.failures import classify, cuda_oom
from cellfleet.gpus import gpu_name
from cellfleet.ids import new_id
from cellfleet.protocol import (
    CellOutcome,
    CellSpec,
    Event,
    KeepReason,
    OutcomeReady,
    RemoteFailure,
    Started,
    encode_event,
)
from cellfleet.worker.capture import Capture, install_worker_hooks
from cellfleet.worker.frozen import READ_ONLY_NOTE
from cellfleet.worker.memory import gpu_memory_note
from cellfleet.worker.namespace import Changes, InputError, Start, build, changes
from cellfleet.worker.rich import flush_figures, mime_bundle
from cellfleet.worker.settle import settle_persisted
from cellfleet.worker.values import describe, is_gpu_resident, is_persisted, measure, to_host

__all__ = [
    "CellInterrupted",
    "interrupt",
    "pull",
    "ready",
    "release_stash",
    "run_cell",
    "running_cells",
    "take",
]


class CellInterrupted(BaseException):
    """Raised inside a running cell's thread to stop it (not catchable as ``Exception``)."""


_CODE = (type, types.FunctionType, types.ModuleType)
_OWN_FILES = os.path.dirname(os.path.abspath(__file__)) + os.sep
"""Frames from these files (the worker's stand-ins, say) are left out of the cell's traceback."""

OUTCOME_EVENT_LIMIT = 16 * 2**10
"""Outcomes up to this many pickled bytes travel as an event; larger ones are gathered."""

_STASH: dict[str, dict[str, Any]] = {}
_RUNNING: dict[str, int] = {}
_state_lock = threading.Lock()
_gpu_name: list[str | None] = []


def _current_worker() -> Any:
    try:
        from distributed import get_worker

        return get_worker()
    except ValueError:
        return None


def _worker_gpu() -> str | None:
    """The GPU this process uses, looked up once per process (a failure is raised, not cached)."""
    if not _gpu_name:
        _gpu_name.append(gpu_name())
    return _gpu_name[0]


def _environment() -> tuple[str, dict[str, str]]:
    """The worker's host, and its environment: Python, key packages and the digest of every
    installed distribution (:func:`cellfleet.environment.describe`, computed once per worker)."""
    import platform

    from cellfleet.environment import describe

    return platform.node(), describe()


Emit = Callable[[Event], None]


def _emitter(worker: Any, topic: str | None) -> Emit | None:
    """Send typed events to the notebook through the worker's event log, in their wire form."""
    if worker is None or topic is None:
        return None

    def emit(event: Event) -> None:
        worker.log_event(topic, encode_event(event))

    return emit


def run_cell(spec: CellSpec, packed: dict[str, bytes], handle_names: tuple[str, ...], *handles: Any) -> CellOutcome:
    """Run the cell described by ``spec``; never raises for the cell's own errors."""
    install_worker_hooks()
    worker = _current_worker()
    emit = _emitter(worker, spec.topic)
    address = worker.address if worker is not None else None
    # the stash id starts with the kernel's token, as the cell id does: its kept keys name their kernel
    outcome = CellOutcome(worker=address, gpu=_worker_gpu(), stash=spec.cell_id[:12] + new_id(20))
    started = time.perf_counter()
    capture = Capture(emit, spec.cell_id, Started(spec.cell_id, address, outcome.gpu))
    namespace, start = None, Start()
    with capture, _registered(spec.cell_id):
        try:
            namespace, start = build(
                packed, dict(zip(handle_names, handles, strict=True)), spec.unavailable, spec.writable
            )
            with _seceded(worker):
                value = _execute(spec, namespace)
                settle_persisted(namespace, start)
            for data, metadata in flush_figures(capture.figures_before):
                capture.display(data, metadata)
            if spec.displays_last and value is not None:
                outcome.result = mime_bundle(value)
        except BaseException as error:  # the cell's own failure, reported, never raised
            outcome.error = _failure(error, spec, address, outcome.gpu)
    outcome.outputs = capture.remainder()
    outcome.events_sent = capture.events_sent
    outcome.artifacts = capture.artifacts
    outcome.host, outcome.environment = _environment()
    if outcome.error is None and namespace is not None:
        _split_results(spec, changes(namespace, start, spec.writes), namespace, outcome)
    outcome.seconds = time.perf_counter() - started
    _send_outcome(emit, spec.cell_id, outcome)
    return outcome


def _send_outcome(emit: Emit | None, cell_id: str, outcome: CellOutcome) -> None:
    """Send a small outcome as an event: it reaches the notebook without a gather round trip."""
    if emit is None:
        return
    blob = cloudpickle.dumps(outcome, protocol=5)
    small = len(blob) <= OUTCOME_EVENT_LIMIT
    emit(OutcomeReady(cell_id, blob if small else None))  # None: the notebook gathers the result


@contextmanager
def _seceded(worker: Any) -> Iterator[None]:
    """Leave the worker's thread pool while the cell runs (outside a worker: nothing to leave)."""
    if worker is None:
        yield
        return
    from distributed import rejoin, secede

    secede()
    try:
        yield
    finally:
        rejoin()


class _registered:
    """Record which thread runs a cell, so that it can be interrupted."""

    def __init__(self, cell_id: str) -> None:
        self._cell_id = cell_id

    def __enter__(self) -> None:
        with _state_lock:
            _RUNNING[self._cell_id] = threading.get_ident()

    def __exit__(self, *exc: object) -> None:
        with _state_lock:
            _RUNNING.pop(self._cell_id, None)
            # an interrupt that arrived as the cell ended must not reach the thread's next task
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(threading.get_ident()), None)


def _execute(spec: CellSpec, namespace: dict[str, Any]) -> Any:
    """Run the code; return the value of a trailing expression when it is displayed.

    Top-level ``await`` works as in IPython: the cell then runs in its own event loop.
    """
    linecache.cache[spec.filename] = (len(spec.code), None, spec.code.splitlines(True), spec.filename)
    tree = ast.parse(spec.code, filename=spec.filename)
    last = tree.body.pop() if spec.displays_last and tree.body else None
    _run_code(compile(tree, spec.filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT), namespace)
    if last is None:
        return None
    expression = ast.Expression(body=last.value)  # type: ignore[attr-defined]
    return _run_code(compile(expression, spec.filename, "eval", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT), namespace)


def _run_code(code: Any, namespace: dict[str, Any]) -> Any:
    result = eval(code, namespace)
    if code.co_flags & inspect.CO_COROUTINE:
        return asyncio.run(result)
    return result


def _failure(error: BaseException, spec: CellSpec, address: str | None, gpu: str | None) -> RemoteFailure:
    frames = traceback.extract_tb(error.__traceback__)
    first = next((i for i, frame in enumerate(frames) if frame.filename == spec.filename), len(frames))
    where = f" on worker {address}" if address else ""
    lines = [f"Traceback (most recent call last){where}:\n"]
    lines += traceback.format_list([f for f in frames[first:] if not f.filename.startswith(_OWN_FILES)])
    lines += traceback.format_exception_only(type(error), error)
    kind, message = type(error), str(error)
    note = gpu_memory_note(gpu) if cuda_oom(kind.__name__, message, kind.__module__) else ""
    if isinstance(error, ValueError) and "read-only" in message:
        note = READ_ONLY_NOTE
    return RemoteFailure(
        kind.__name__, message, [line.rstrip("\n") for line in lines], _pickled(error), classify(error).value, note
    )


def _pickled(error: BaseException) -> bytes | None:
    """The exception pickled, if it also unpickles (so the notebook can re-raise its type)."""
    if isinstance(error, (InputError, CellInterrupted)):
        return None
    try:
        blob: bytes = cloudpickle.dumps(error.with_traceback(None))  # a deep one (RecursionError) does not pickle
        cloudpickle.loads(blob)
    except Exception:  # not rebuildable here: the notebook raises RemoteCellError with the traceback
        return None
    return blob


def _keep_reason(spec: CellSpec, name: str, value: Any) -> KeepReason | None:
    """Why ``value`` stays on the worker, or ``None`` when it comes back to the notebook."""
    if name in spec.pull:
        return None
    if name in spec.keep:
        return KeepReason.KEPT
    if is_gpu_resident(value):
        return KeepReason.GPU
    if spec.threshold < 0 or isinstance(value, _CODE):
        return None  # classes, functions and modules are code: they always come back
    size = measure(value)
    if size is None:
        return KeepReason.UNMEASURED  # never shipped blind: it might be far over the threshold
    return KeepReason.LARGE if size > spec.threshold else None


def _split_results(spec: CellSpec, found: Changes, namespace: dict[str, Any], outcome: CellOutcome) -> None:
    stash: dict[str, Any] = {}
    persisted = []
    for name in (*found.assigned, *found.mutated):
        value = namespace[name]
        if is_persisted(value):  # its graph of futures comes back; the stash holds them meanwhile
            outcome.values[name] = cloudpickle.dumps(value, protocol=5)
            stash[name] = value
            persisted.append(name)
            continue
        reason = _keep_reason(spec, name, value)
        if reason is None:
            try:
                outcome.values[name] = cloudpickle.dumps(to_host(value) if name in spec.pull else value, protocol=5)
                continue
            except Exception:  # not lost: it stays on the worker, and its handle says why
                reason = KeepReason.UNPICKLABLE
        stash[name] = value
        outcome.kept[name] = describe(value, reason)
    outcome.persisted = tuple(persisted)
    outcome.mutated = tuple(name for name in found.mutated if name not in outcome.kept)
    outcome.deleted = found.deleted
    if stash:
        with _state_lock:
            _STASH[outcome.stash] = stash


def take(
    token: str, name: str, spec: CellSpec | None, packed: dict[str, bytes], handle_names: tuple[str, ...], *handles: Any
) -> Any:
    """Move one kept result from the stash into Dask's memory (the handle's own key).

    The task carries the cell itself as its lineage: when the stash no longer has the value
    (its worker died and Dask runs this task again elsewhere), the cell runs again, silently,
    on the same inputs. ``spec`` is ``None`` when the inputs were too large to keep.
    """
    with _state_lock:
        entry = _STASH.get(token, {})
        if name in entry:
            value = entry.pop(name)
            if not entry:
                _STASH.pop(token, None)
            return value
    from cellfleet.errors import HandleError

    if spec is None:
        raise HandleError(
            f"the data of {name!r} was lost with the worker that held it and its inputs were too large "
            f"to keep for recomputing: run the cell that assigns {name!r} again"
        )
    quiet = CellSpec(f"{spec.cell_id}-recompute", spec.code, spec.filename, (name,), False, -1, frozenset({name}))
    outcome = run_cell(quiet, packed, handle_names, *handles)
    if outcome.error is not None or name not in outcome.kept:
        reason = (
            f"{outcome.error.type_name}: {outcome.error.message}" if outcome.error else "the cell did not assign it"
        )
        raise HandleError(f"recomputing {name!r} failed ({reason}): run the cell that assigns it again")
    with _state_lock:
        return _STASH.pop(outcome.stash)[name]


def release_stash(token: str, names: tuple[str, ...]) -> None:
    """Drop a cell's persisted collections from its stash, once the notebook holds them."""
    with _state_lock:
        entry = _STASH.get(token, {})
        for name in names:
            entry.pop(name, None)
        if not entry:
            _STASH.pop(token, None)


def pull(value: Any) -> Any:
    """A host copy of a handle's value, for ``%pull``."""
    return to_host(value)


def interrupt(cell_id: str) -> bool:
    """Stop a running cell by raising :class:`CellInterrupted` in its thread."""
    with _state_lock:  # held while raising: the cell cannot end (and its thread move on) meanwhile
        thread = _RUNNING.get(cell_id)
        if thread is None:
            return False
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(CellInterrupted))
    return True


def ready() -> str:
    """The cellfleet version this worker runs cells with (the notebook's check of a new worker:
    a worker that cannot import this module fails to load the call itself)."""
    from cellfleet._version import __version__

    return str(__version__)


def running_cells() -> list[str]:
    """Ids of the cells running in this worker process now."""
    with _state_lock:
        return list(_RUNNING)
