"""``--nowait`` cells: the threads that follow them, and when their results reach the
notebook's namespace.

:class:`PendingCells` owns every thread it starts (:meth:`PendingCells.close` cancels and
joins them). A cell that finishes while no cell executes assigns its names at once; one that
finishes while another cell executes (IPython's ``pre_run_cell``/``post_run_cell`` events
tell which) waits, so that a running cell never sees the namespace change under it: its
names are assigned at the next ``post_run_cell``, or by ``%wait``, or by the cell that reads
them (which waits for it first).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cellfleet.kernel.job import CellJob, Output
from cellfleet.kernel.options import OptionError
from cellfleet.kernel.update import Update

__all__ = ["PendingCell", "PendingCells"]

CLOSE_TIMEOUT = 60.0
"""Seconds :meth:`PendingCells.close` waits for each cancelled cell's thread."""


@dataclass
class PendingCell:
    """A ``--nowait`` cell still running, or finished and not yet waited for."""

    name: str
    writes: frozenset[str]
    job: CellJob
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    staged: Update | None = None
    """Its finished results, held back because a cell was executing when they arrived."""
    thread: threading.Thread | None = None


class PendingCells:
    """The ``--nowait`` cells of one shell."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.cells: dict[str, PendingCell] = {}
        self._lock = threading.Lock()
        self._executing = 0
        """How many cells execute now (a cell may run another with ``run_cell``)."""
        shell.events.register("pre_run_cell", self.before_cell)
        shell.events.register("post_run_cell", self.after_cell)

    def before_cell(self, info: Any = None) -> None:
        """IPython ``pre_run_cell``: from now on, finished cells hold their results back."""
        with self._lock:
            self._executing += 1

    def after_cell(self, result: Any = None) -> None:
        """IPython ``post_run_cell``: assign the results held back while the cell executed."""
        with self._lock:
            self._executing = max(0, self._executing - 1)
            if self._executing:
                return
            for pending in self.cells.values():
                self._apply_staged(pending)

    def start(self, pending: PendingCell, work: Callable[[], Update], output: Output) -> None:
        """Follow ``pending`` in a thread of its own: ``work`` runs it and returns its update."""
        self.cells[pending.name] = pending
        pending.thread = threading.Thread(
            target=self._follow, args=(pending, work, output), name=f"cellfleet-{pending.name}", daemon=True
        )
        pending.thread.start()

    def _follow(self, pending: PendingCell, work: Callable[[], Update], output: Output) -> None:
        try:
            update = work()
            with self._lock:  # a cell cannot start executing while the names are assigned
                if self._executing:
                    pending.staged = update
                else:
                    update.apply(self.shell.user_ns)
        except BaseException as error:  # kept for %wait, and shown where the cell was
            pending.error = error
            render = getattr(error, "_render_traceback_", None)
            text = "\n".join(render()) if render else f"{type(error).__name__}: {error}"
            output.stream("stderr", text + "\n")
        finally:
            pending.done.set()

    def _apply_staged(self, pending: PendingCell) -> None:
        """Assign what ``pending`` held back (the caller holds the lock)."""
        if pending.staged is not None:
            staged, pending.staged = pending.staged, None
            staged.apply(self.shell.user_ns)

    def settle(self, pending: PendingCell) -> None:
        """Wait for ``pending`` to finish and assign its results now (a cell needs them)."""
        pending.done.wait()
        if pending.thread is not None:
            pending.thread.join()
        with self._lock:
            self._apply_staged(pending)

    def check_free(self, name: str) -> None:
        earlier = self.cells.get(name)
        if earlier is not None and not earlier.done.is_set():
            raise OptionError(f"--nowait cell {name} is still running: %wait {name} first, or give another --name")

    def wait_for_writers(self, reads: frozenset[str], label: str) -> None:
        """Before ``label`` runs, wait for the ``--nowait`` cells that assign what it reads."""
        for pending in list(self.cells.values()):
            shared = pending.writes & reads
            if shared and (not pending.done.is_set() or pending.staged is not None):
                if not pending.done.is_set():
                    print(f"cellfleet: {label} waits for {pending.name}, which assigns {', '.join(sorted(shared))}")
                self.settle(pending)

    def wait(self, name: str | None) -> None:
        """Block until the ``--nowait`` cell ``name`` (or every one) has finished; assign its
        results; re-raise the first error."""
        if name is not None and name not in self.cells:
            known = ", ".join(self.cells) or "none"
            raise OptionError(f"no --nowait cell is named {name!r} (pending: {known}); name cells with --name")
        chosen = [self.cells[name]] if name else list(self.cells.values())
        for pending in chosen:
            self.settle(pending)
        for pending in chosen:
            self.cells.pop(pending.name, None)
        errors = [p.error for p in chosen if p.error is not None]
        if errors:
            raise errors[0]

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Stop following: cancel the cells still running, join their threads, and
        unregister the IPython events."""
        for event, callback in (("pre_run_cell", self.before_cell), ("post_run_cell", self.after_cell)):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:  # not registered (closed twice)
                pass
        running = [p for p in self.cells.values() if not p.done.is_set()]
        for pending in running:
            pending.job.cancel()
        for pending in self.cells.values():
            if pending.thread is not None:
                pending.thread.join(timeout)
                if pending.thread.is_alive():
                    print(f"cellfleet: --nowait cell {pending.name} did not stop within {timeout:g} s", file=sys.stderr)
        with self._lock:
            for pending in self.cells.values():
                self._apply_staged(pending)
