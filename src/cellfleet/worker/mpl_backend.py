"""A matplotlib backend for workers: figures render with Agg and ``show()`` sends them
to the running cell's output, as the inline backend does in a local notebook."""

from __future__ import annotations

from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from cellfleet.worker.capture import active_capture
from cellfleet.worker.rich import flush_figures

__all__ = ["FigureCanvas", "FigureManager", "show"]

FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase


def show(*args: object, **kwargs: object) -> None:
    """Send the open figures to the cell's output, then close them."""
    capture = active_capture()
    if capture is None:
        return
    for data, metadata in flush_figures(capture.figures_before):
        capture.display(data, metadata)
