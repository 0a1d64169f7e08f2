"""Live status of a remote cell in the notebook: queued (or waiting for workers) → running on
worker / GPU → done.

With a widget-capable frontend (JupyterLab with ipywidgets) the status is an ipywidgets
``HTML`` line; elsewhere (papermill, nbclient, a terminal) a display whose text is updated
in place. A cell that ends within ``APPEAR_AFTER`` seconds shows no status at all, so fast
cells look like local ones.
"""

from __future__ import annotations

import html
import time
from typing import Any

__all__ = ["StatusView", "make_status"]

APPEAR_AFTER = 0.3
"""Seconds before a still-running cell shows its status line."""
_TICK = 0.5


def _widget_frontend() -> bool:
    try:
        from ipywidgets import Widget
    except ImportError:
        return False
    return getattr(Widget, "_control_comm", None) is not None


class StatusView:
    """A status line for one remote cell; updates are cheap and throttled."""

    def __init__(self, label: str, mode: str, immediate: bool = False) -> None:
        self._label = label
        self._mode = mode
        self._started = time.monotonic()
        self._state = "queued"
        self._where = ""
        self._shown: Any = None
        self._last_render = 0.0
        if immediate:
            self._show()

    def running(self, worker: str | None, gpu: str | None) -> None:
        """The cell started on ``worker`` (and ``gpu``, when it has one)."""
        self._state = "running"
        self._where = f" on {gpu} @ {worker}" if gpu else f" on {worker}"
        self._render(force=True)

    def note(self, text: str) -> None:
        """A state without a worker, such as ``retrying`` or ``waiting for workers``."""
        self._state, self._where = text, ""
        self._render(force=True)

    def tick(self) -> None:
        """Refresh the elapsed time; shows the line once the cell has run long enough."""
        self._render()

    def finished(self, state: str) -> None:
        """The final state: ``done``, ``failed``, ``cancelled`` or ``timed out``."""
        self._state = state
        if self._shown is not None:
            self._render(force=True)

    def text(self) -> str:
        elapsed = time.monotonic() - self._started
        return f"[{self._label}] {self._state}{self._where} · {elapsed:.1f} s"

    def _render(self, force: bool = False) -> None:
        if self._mode == "off":
            return
        now = time.monotonic()
        if self._shown is None:
            if now - self._started >= APPEAR_AFTER:
                self._show()
            return
        if force or now - self._last_render >= _TICK:
            self._update()

    def _show(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        if self._mode == "off":
            return
        if self._mode == "auto" and not hasattr(get_ipython(), "kernel"):
            self._mode = "off"  # a terminal cannot update a line in place: show nothing
            return

        self._last_render = time.monotonic()
        if self._mode == "widget" or (self._mode == "auto" and _widget_frontend()):
            from ipywidgets import HTML

            self._shown = HTML(value=self._html())
            display(self._shown)
        else:
            self._shown = display(self._bundle(), raw=True, display_id=True)

    def _update(self) -> None:
        self._last_render = time.monotonic()
        if hasattr(self._shown, "value"):
            self._shown.value = self._html()
        else:
            self._shown.update(self._bundle(), raw=True)

    def _html(self) -> str:
        return f"<code>{html.escape(self.text())}</code>"

    def _bundle(self) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self._html()}


def make_status(label: str, mode: str, immediate: bool = False) -> StatusView:
    """A status line in ``mode`` (``auto``, ``widget``, ``text`` or ``off``)."""
    return StatusView(label, mode, immediate)
