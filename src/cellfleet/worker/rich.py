"""Rich representations computed where the object lives (on the worker)."""

from __future__ import annotations

import base64
import io
import sys
from typing import Any

__all__ = ["flush_figures", "mime_bundle"]

_formatter: Any = None


def mime_bundle(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The MIME bundle IPython would show for ``obj``: ``(data, metadata)``."""
    global _formatter
    if _is_figure(obj):
        return _figure_bundle(obj)
    if _formatter is None:
        from IPython.core.formatters import DisplayFormatter

        _formatter = DisplayFormatter()
    try:
        data, metadata = _formatter.format(obj)
    except Exception as error:  # a broken _repr_*_ must not lose the cell's results
        return {"text/plain": f"<repr of {type(obj).__name__} failed: {error!r}>"}, {}
    return dict(data), dict(metadata or {})


def _is_figure(obj: Any) -> bool:
    return type(obj).__name__ == "Figure" and type(obj).__module__.startswith("matplotlib")


def _figure_bundle(figure: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A figure as the inline backend shows it: a PNG, with its repr as text."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    png = buffer.getvalue()
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk
    encoded = base64.b64encode(png).decode("ascii")
    return {"image/png": encoded, "text/plain": repr(figure)}, {"image/png": {"width": width, "height": height}}


def flush_figures(keep: set[int] | frozenset[int] = frozenset()) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Render the open matplotlib figures, except those numbered in ``keep``, and close them."""
    if "matplotlib.pyplot" not in sys.modules:
        return []
    import matplotlib.pyplot as plt

    bundles = []
    for number in plt.get_fignums():
        if number in keep:
            continue  # another cell's figure
        figure = plt.figure(number)
        if figure.get_axes() or figure.artists or figure.texts:
            bundles.append(mime_bundle(figure))
        plt.close(figure)
    return bundles
