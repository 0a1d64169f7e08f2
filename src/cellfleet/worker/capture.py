"""Worker-side output capture: stdout, stderr, ``display()`` and matplotlib figures.

A worker may run several tasks at once in threads, so capture is per thread: the worker's
``sys.stdout``/``sys.stderr`` are replaced once by streams that route each write to the
capture active in the writing thread, or to the original stream when there is none.

Captured output leaves as Dask events (``Worker.log_event``) in small batches, so it
reaches the notebook while the cell runs; whatever is still buffered when the cell ends
travels back inside the cell's result, together with the number of events sent, so the
notebook can tell when it has seen everything.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Capture", "active_capture", "install_worker_hooks"]

FLUSH_INTERVAL = 0.05
"""Seconds a written line may wait before it is sent."""
LIVE_LIMIT = 8 * 2**20
"""Characters of output streamed live per cell; the rest is counted, not sent."""

_local = threading.local()
_install_lock = threading.Lock()
_installed = False


def active_capture() -> Capture | None:
    """The capture of the calling thread, if a cell is running in it."""
    return getattr(_local, "capture", None)


class _RoutedStream:
    """A text stream that sends writes to the current thread's capture."""

    def __init__(self, name: str, original: Any) -> None:
        self._name = name
        self._original = original

    def write(self, text: str) -> int:
        capture = active_capture()
        if capture is None:
            return self._original.write(text)
        capture.write(self._name, text)
        return len(text)

    def flush(self) -> None:
        if active_capture() is None:
            self._original.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class Capture:
    """The output of one running cell."""

    def __init__(
        self, emit: Callable[[dict[str, Any]], None] | None, cell_id: str, announce: dict[str, Any] | None = None
    ) -> None:
        self._emit = emit
        self.cell_id = cell_id
        self._announce = announce
        """Sent before the first output, or once the cell has run for FLUSH_INTERVAL: a cell
        that ends sooner never sends it, and its result carries the same facts."""
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self._live_chars = 0
        self.events_sent = 0
        self.dropped_chars = 0
        self.artifacts: list[dict[str, Any]] = []
        self.figures_before: set[int] = set()

    def write(self, stream: str, text: str) -> None:
        """Buffer ``text`` for ``stream``; send the buffer when it is due."""
        if not text:
            return
        with self._lock:
            if self._live_chars >= LIVE_LIMIT:
                self.dropped_chars += len(text)
                return
            self._live_chars += len(text)
            last = self._pending[-1] if self._pending else None
            if last is not None and last["kind"] == "stream" and last["name"] == stream:
                last["text"] += text
            else:
                self._pending.append({"kind": "stream", "name": stream, "text": text})
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def display(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        """Queue a rich output (a MIME bundle) after the text written so far."""
        with self._lock:
            self._pending.append({"kind": "display", "data": data, "metadata": metadata})
        self.flush()

    def metric(self, values: dict[str, float], step: int | None) -> None:
        """Queue metric points; they travel with the output, so they arrive while the cell runs."""
        with self._lock:
            self._pending.append({"kind": "metric", "values": values, "step": step, "logged": time.time()})
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def artifact(self, name: str, data: bytes, media_type: str) -> None:
        """Keep a file for the run; artifacts travel with the result, not as live events."""
        with self._lock:
            self.artifacts.append({"name": name, "data": data, "media_type": media_type})

    def flush(self) -> None:
        """Send what is buffered as one event, when there is a way to send it."""
        if self._emit is None:
            return
        with self._lock:  # take the batch and number it at once: numbers follow the output's order
            batch, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            announce, self._announce = self._announce, None
            seq = self.events_sent
            if batch:
                self.events_sent += 1
        if announce is not None:
            self._emit(announce)
        if batch:
            self._emit({"cell": self.cell_id, "seq": seq, "kind": "output", "items": batch})

    def remainder(self) -> list[dict[str, Any]]:
        """Take what was never sent; it travels back with the result."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._announce = None
        if self.dropped_chars:
            note = f"\n[cellfleet: {self.dropped_chars} more characters of output were not shown]\n"
            batch.append({"kind": "stream", "name": "stderr", "text": note})
        return batch

    def due(self) -> bool:
        waiting = bool(self._pending) or self._announce is not None
        return waiting and time.monotonic() - self._last_flush >= FLUSH_INTERVAL

    def __enter__(self) -> Capture:
        self.figures_before = _open_figures()
        _local.capture = self
        _Flusher.shared().add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _local.capture = None
        _Flusher.shared().discard(self)


def _open_figures() -> set[int]:
    """Numbers of the pyplot figures open now (other cells' figures, when threads share a worker)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot is not None else set()


class _Flusher:
    """One thread per worker process that sends output left waiting in buffers."""

    _instance: _Flusher | None = None

    def __init__(self) -> None:
        self._captures: set[Capture] = set()
        self._wake = threading.Condition()
        threading.Thread(target=self._run, name="cellfleet-flusher", daemon=True).start()

    @classmethod
    def shared(cls) -> _Flusher:
        with _install_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def add(self, capture: Capture) -> None:
        with self._wake:
            self._captures.add(capture)
            self._wake.notify()

    def discard(self, capture: Capture) -> None:
        with self._wake:
            self._captures.discard(capture)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._captures:
                    self._wake.wait()
                captures = list(self._captures)
            for capture in captures:
                if capture.due():
                    capture.flush()
            time.sleep(FLUSH_INTERVAL)


def _captured_display(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap IPython's ``display`` so that, inside a cell, it feeds the capture."""

    def display(*objs: Any, **kwargs: Any) -> Any:
        capture = active_capture()
        if capture is None:
            return original(*objs, **kwargs)
        from cellfleet.worker.rich import mime_bundle

        for obj in objs:
            data, metadata = (obj, {}) if kwargs.get("raw") else mime_bundle(obj)
            if data:
                capture.display(data, metadata)
        return None

    display.__doc__ = original.__doc__
    return display


def install_worker_hooks() -> None:
    """Install the routed streams, ``display`` and the matplotlib backend, once per process."""
    global _installed
    with _install_lock:
        if _installed:
            return
        sys.stdout = _RoutedStream("stdout", sys.stdout)
        sys.stderr = _RoutedStream("stderr", sys.stderr)
        _patch_ipython_display()
        _select_matplotlib_backend()
        _installed = True


def _patch_ipython_display() -> None:
    try:
        import IPython.core.display_functions as functions
        import IPython.display as public
    except ImportError:
        return
    patched = _captured_display(functions.display)
    functions.display = patched
    public.display = patched


def _select_matplotlib_backend() -> None:
    import os

    os.environ["MPLBACKEND"] = "module://cellfleet.worker.mpl_backend"
    if "matplotlib" in sys.modules and "matplotlib.pyplot" not in sys.modules:
        sys.modules["matplotlib"].use("module://cellfleet.worker.mpl_backend")
