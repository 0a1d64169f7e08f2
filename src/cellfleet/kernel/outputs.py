"""Where a remote cell's output lands in the notebook.

A blocking cell writes into its own output area as a local cell does. A ``--nowait`` cell
has finished executing by the time its output arrives, so it writes into display areas
it reserved when it started, addressed by display id.
"""

from __future__ import annotations

import base64
import html
import sys
import threading
from typing import Any

from IPython.display import display, publish_display_data

__all__ = ["DeferredOutput", "LiveOutput", "ResultDisplay"]


class LiveOutput:
    """Output of a cell that the notebook waits for."""

    def stream(self, name: str, text: str) -> None:
        target = sys.stderr if name == "stderr" else sys.stdout
        target.write(text)
        target.flush()

    def display(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        publish_display_data(data, metadata)


class ResultDisplay:
    """The value of a cell's last expression, shown as ``Out[n]`` with the worker's repr."""

    def __init__(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        self._data = data
        self._metadata = metadata

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        return self._data, self._metadata

    def __repr__(self) -> str:
        return str(self._data.get("text/plain", ""))


def _as_html(data: dict[str, Any]) -> str:
    if "text/html" in data:
        return str(data["text/html"])
    for kind in ("image/png", "image/jpeg"):
        if kind in data:
            payload = data[kind]
            encoded = base64.b64encode(payload).decode() if isinstance(payload, bytes) else payload
            return f'<img src="data:{kind};base64,{encoded}"/>'
    return f"<pre>{html.escape(str(data.get('text/plain', '')))}</pre>"


class DeferredOutput:
    """Output of a ``--nowait`` cell, written into display areas reserved at submission."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._text = ""
        self._parts: list[dict[str, Any]] = []
        self._stream = display({"text/plain": ""}, raw=True, display_id=True)
        self._rich = display({"text/plain": ""}, raw=True, display_id=True)

    def stream(self, name: str, text: str) -> None:
        with self._lock:
            self._text += text
            self._stream.update({"text/plain": self._text}, raw=True)

    def display(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        with self._lock:
            self._parts.append(data)
            if len(self._parts) == 1:
                self._rich.update(data, metadata=metadata, raw=True)
                return
            combined = "".join(_as_html(part) for part in self._parts)
            plain = "\n".join(str(part.get("text/plain", "")) for part in self._parts)
            self._rich.update({"text/html": combined, "text/plain": plain}, raw=True)
