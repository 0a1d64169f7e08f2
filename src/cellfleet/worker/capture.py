"""Worker-side output capture: stdout, stderr, ``display()`` and matplotlib figures.

A worker may run several tasks at once in threads, so capture is per thread: the worker's
``sys.stdout``/``sys.stderr`` are replaced once by streams that route each write to the
capture active in the writing thread, or to the original stream when there is none.

Captured output is kept as typed items (:mod:`cellfleet.protocol`) and leaves as Dask
events (:class:`~cellfleet.protocol.OutputBatch`, sent through ``emit``) in small batches,
so it reaches the notebook while the cell runs; whatever is still buffered when the cell
ends travels back inside the cell's result, together with the number of events sent, so
the notebook can tell when it has seen everything.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from cellfleet.protocol import (
    Artifact,
    DisplayItem,
    Event,
    MetricItem,
    OutputBatch,
    OutputItem,
    Started,
    StreamItem,
)

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
            return int(self._original.write(text))
        capture.write(self._name, text)
        return len(text)

    def flush(self) -> None:
        if active_capture() is None:
            self._original.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _Pending:
    """Output items waiting to be sent; consecutive text to one stream becomes one item."""

    def __init__(self) -> None:
        self._items: list[OutputItem] = []
        self._stream: str | None = None
        self._parts: list[str] = []

    def text(self, stream: str, text: str) -> None:
        if stream != self._stream:
            self._close_stream()
            self._stream = stream
        self._parts.append(text)

    def add(self, item: OutputItem) -> None:
        self._close_stream()
        self._items.append(item)

    def take(self) -> list[OutputItem]:
        """Everything waiting, in order; the buffer is empty afterwards."""
        self._close_stream()
        items, self._items = self._items, []
        return items

    def __bool__(self) -> bool:
        return bool(self._items or self._parts)

    def _close_stream(self) -> None:
        if self._stream is not None and self._parts:
            self._items.append(StreamItem(self._stream, "".join(self._parts)))
        self._stream, self._parts = None, []


class Capture:
    """The output of one running cell."""

    def __init__(self, emit: Callable[[Event], None] | None, cell_id: str, announce: Started | None = None) -> None:
        self._emit = emit
        self.cell_id = cell_id
        self._announce = announce
        """Sent before the first output, or once the cell has run for FLUSH_INTERVAL: a cell
        that ends sooner never sends it, and its result carries the same facts."""
        self._lock = threading.Lock()
        self._pending = _Pending()
        self._last_flush = time.monotonic()
        self._live_chars = 0
        self.events_sent = 0
        self.dropped_chars = 0
        self.artifacts: list[Artifact] = []
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
            self._pending.text(stream, text)
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def display(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        """Queue a rich output (a MIME bundle) after the text written so far."""
        with self._lock:
            self._pending.add(DisplayItem(data, metadata))
        self.flush()

    def metric(self, values: dict[str, float], step: int | None) -> None:
        """Queue metric points; they travel with the output, so they arrive while the cell runs."""
        with self._lock:
            self._pending.add(MetricItem(values, step, time.time()))
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def artifact(self, name: str, data: bytes, media_type: str) -> None:
        """Keep a file for the run; artifacts travel with the result, not as live events."""
        with self._lock:
            self.artifacts.append(Artifact(name, data, media_type))

    def flush(self) -> None:
        """Send what is buffered as one event, when there is a way to send it."""
        if self._emit is None:
            return
        with self._lock:  # take the batch and number it at once: numbers follow the output's order
            batch = self._pending.take()
            self._last_flush = time.monotonic()
            announce, self._announce = self._announce, None
            seq = self.events_sent
            if batch:
                self.events_sent += 1
        if announce is not None:
            self._emit(announce)
        if batch:
            self._emit(OutputBatch(self.cell_id, seq, tuple(batch)))

    def remainder(self) -> list[OutputItem]:
        """Take what was never sent; it travels back with the result."""
        with self._lock:
            batch = self._pending.take()
            self._announce = None
        if self.dropped_chars:
            batch.append(StreamItem("stderr", self._cut_note()))
        return batch

    def _cut_note(self) -> str:
        shown, dropped = f"{self._live_chars:,}", f"{self.dropped_chars:,}"
        return (
            f"\n[cellfleet: output cut here, after the first {shown} characters ({LIVE_LIMIT // 2**20} MiB); "
            f"the last {dropped} characters were not shown: write long output to a file, "
            "or keep it with cellfleet.log_artifact]\n"
        )

    def due(self) -> bool:
        with self._lock:
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
    """One thread per worker process that sends output left waiting in buffers.

    The instance owns its thread: :meth:`stop` (run at interpreter exit) ends and joins it.
    """

    _instance: _Flusher | None = None

    def __init__(self) -> None:
        self._captures: set[Capture] = set()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="cellfleet-flusher", daemon=True)
        self._thread.start()

    @classmethod
    def shared(cls) -> _Flusher:
        with _install_lock:
            if cls._instance is None:
                cls._instance = cls()
                atexit.register(cls._instance.stop)
            return cls._instance

    def add(self, capture: Capture) -> None:
        with self._wake:
            self._captures.add(capture)
            self._wake.notify()

    def discard(self, capture: Capture) -> None:
        with self._wake:
            self._captures.discard(capture)

    def stop(self, timeout: float = 1.0) -> None:
        """End the thread and wait for it (bounded)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._captures and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                captures = list(self._captures)
            for capture in captures:
                if capture.due():
                    capture.flush()
            with self._wake:
                self._wake.wait(FLUSH_INTERVAL)  # woken early only to stop


class CapturedDisplay:
    """IPython's ``display``, feeding the capture of the cell running in the calling thread.

    It pickles as IPython's own ``display``: a cell that imports ``display`` sends the
    real one back to the notebook, never this wrapper.
    """

    def __init__(self, original: Callable[..., Any]) -> None:
        self.__wrapped__ = original
        self.__doc__ = original.__doc__

    def __call__(self, *objs: Any, **kwargs: Any) -> Any:
        capture = active_capture()
        if capture is None:
            return self.__wrapped__(*objs, **kwargs)
        from cellfleet.worker.rich import mime_bundle

        for obj in objs:
            data, metadata = (obj, {}) if kwargs.get("raw") else mime_bundle(obj)
            if data:
                capture.display(data, metadata)
        return None

    def __reduce__(self) -> tuple[Callable[[], Any], tuple[()]]:
        return ipython_display, ()


def ipython_display() -> Any:
    """IPython's own ``display`` in this process (unwrapped where the worker hooks are on)."""
    import IPython.core.display_functions as functions

    current = functions.display
    return current.__wrapped__ if isinstance(current, CapturedDisplay) else current


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
    patched = CapturedDisplay(functions.display)
    functions.display = patched
    public.display = patched


def _select_matplotlib_backend() -> None:
    import os

    os.environ["MPLBACKEND"] = "module://cellfleet.worker.mpl_backend"
    if "matplotlib" in sys.modules and "matplotlib.pyplot" not in sys.modules:
        sys.modules["matplotlib"].use("module://cellfleet.worker.mpl_backend")
