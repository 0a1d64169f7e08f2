"""The kernel's context for runs: which notebook and cell is executing, the store writer
its runs go to, and the run that records ``cellfleet.log`` calls made in local (not
remote) cells.

A store that cannot be opened never stops a cell: tracking is off for that cell, with one
warning line naming the store and the fix; the next cell tries the store again.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

from cellfleet.config import run_context
from cellfleet.errors import StoreError
from cellfleet.failures import classify
from cellfleet.protocol import FailureClass, RunKind, RunStatus
from cellfleet.store.recorder import RunRecorder, StoreWriter, code_hash, writer_for

__all__ = [
    "CellContext",
    "cell_number",
    "current_cell",
    "local_recorder",
    "notebook_path",
    "register_hooks",
    "run_writer",
    "unregister_hooks",
]

STORE_WAIT = 5.0
"""Seconds a cell waits for a store another process holds locked before tracking goes off."""


@dataclass(frozen=True)
class CellContext:
    """Where a run comes from."""

    notebook: str
    cell_id: str
    code: str
    execution_count: int | None


_lock = threading.Lock()
_cell = CellContext("", "", "", None)
_local: RunRecorder | None = None
_production: RunRecorder | None = None
_off: tuple[CellContext, StoreWriter] | None = None
_off_lock = threading.Lock()


def notebook_path(shell: Any = None) -> str:
    """The notebook's path as the server knows it, when it says."""
    notebook = run_context().notebook
    if notebook:
        return notebook
    session = getattr(shell, "user_ns", {}).get("__session__") if shell is not None else None
    return str(session) if session else ""


def cell_number(shell: Any) -> int | None:
    """The ``In [n]`` number of the cell executing now.

    IPython 9 increments ``execution_count`` before a cell runs, IPython 8 after; the input
    history holds the true number in both, once the cell is stored.
    """
    history = getattr(getattr(shell, "history_manager", None), "input_hist_parsed", None)
    if history is not None and len(history) > 1:
        return len(history) - 1
    return getattr(shell, "execution_count", None)


def current_cell() -> CellContext:
    return _cell


def run_writer() -> StoreWriter:
    """The writer this cell's runs go to; when the store cannot be opened, a writer that
    records nothing, after one warning line (once per cell)."""
    global _off
    cell = _cell
    with _off_lock:
        if _off is not None and _off[0] is cell:
            return _off[1]
    try:
        return writer_for(open_wait=STORE_WAIT)
    except StoreError as error:
        off = StoreWriter(None, problem=str(error))
        with _off_lock:
            _off = (cell, off)
        print(
            f"cellfleet: tracking is off for this cell, which still runs: {error}; {_fix(error)}",
            file=sys.stderr,
            flush=True,
        )
        return off


def _fix(error: StoreError) -> str:
    """What to do about a store that cannot record, unless the error already says it."""
    text = str(error)
    if "pip install" in text:
        return "then the next cell records again"
    if "locked" in text or "lock timeout" in text:
        return f"another process held it locked for over {STORE_WAIT:g} s; the next cell tries again"
    return "move the store aside, or set CELLFLEET_DB to a store that works, to record runs again"


def register_hooks(shell: Any) -> None:
    """Follow cell executions (idempotent)."""
    events = shell.events
    if _before_cell not in events.callbacks["pre_run_cell"]:
        events.register("pre_run_cell", _before_cell)
        events.register("post_run_cell", _after_cell)


def unregister_hooks(shell: Any) -> None:
    """Stop following cell executions (idempotent)."""
    events = shell.events
    for name, callback in (("pre_run_cell", _before_cell), ("post_run_cell", _after_cell)):
        if callback in events.callbacks[name]:
            events.unregister(name, callback)


def _before_cell(info: Any) -> None:
    global _cell
    from IPython import get_ipython

    shell = get_ipython()
    count = getattr(shell, "execution_count", None)
    _cell = CellContext(notebook_path(shell), getattr(info, "cell_id", None) or "", info.raw_cell or "", count)


def _after_cell(result: Any) -> None:
    global _local
    with _lock:
        recorder, _local = _local, None
    if recorder is not None:
        raised = None if result.success else result.error_in_exec or result.error_before_exec
        kind = None if result.success else classify(raised) if raised is not None else FailureClass.USER
        error = None if result.success else repr(raised)
        recorder.finish(RunStatus.SUCCEEDED if result.success else RunStatus.FAILED, error=error, failure_class=kind)


def local_recorder() -> RunRecorder:
    """The run of the local cell executing now, created on its first ``cellfleet.log``.

    Under a production run (``CELLFLEET_RUN_ID`` set by the runner) it is that run.
    """
    global _local, _production
    production_run = run_context().run_id
    if production_run:
        with _lock:
            if _production is None or _production.run_id != production_run:
                _production = RunRecorder(run_writer(), run_id=production_run)
            return _production
    with _lock:
        if _local is None:
            cell = _cell
            from IPython import get_ipython

            number = cell_number(get_ipython())
            label = f"In[{number}]" if number is not None else "local"
            _local = RunRecorder(
                run_writer(),
                notebook=cell.notebook,
                cell_id=cell.cell_id,
                cell_name=label,
                kind=RunKind.INTERACTIVE,
                code=cell.code,
                code_hash=code_hash(cell.code),
            )
            _local.running(None, None)
        return _local
