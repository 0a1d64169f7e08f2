"""Cellfleet: run notebook cells on a Dask / GPU cluster as if they ran locally.

Load it in a notebook with ``%load_ext cellfleet`` (or use the "Python 3 (cellfleet)"
kernel), then write ``%%remote gpu`` at the top of a cell.
"""

from __future__ import annotations

from typing import Any

from cellfleet._version import __version__
from cellfleet.errors import (
    CellCancelled,
    CellError,
    CellfleetError,
    CellTimeout,
    ClusterError,
    ClusterUnavailable,
    HandleError,
    NoGPUError,
    PromotionError,
    RemoteCellError,
    ResourceUnavailable,
    ScheduleError,
    SerializationError,
    StoreError,
    TrialPruned,
    WorkerLostError,
)

_LAZY = {
    "RemoteHandle": "kernel.handles",
    "log": "experiment",
    "log_artifact": "experiment",
    "output": "experiment",
    "publish": "experiment",
    "runs": "store.queries",
}


def __getattr__(name: str) -> Any:
    """Import the heavier parts (Dask, pandas, SQLAlchemy) on first use, so the CLI starts fast."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cellfleet' has no attribute {name!r}")


__all__ = [
    "CellCancelled",
    "CellError",
    "CellTimeout",
    "CellfleetError",
    "ClusterError",
    "ClusterUnavailable",
    "HandleError",
    "NoGPUError",
    "PromotionError",
    "RemoteCellError",
    "RemoteHandle",
    "ResourceUnavailable",
    "ScheduleError",
    "SerializationError",
    "StoreError",
    "TrialPruned",
    "WorkerLostError",
    "__version__",
    "client",
    "load_ipython_extension",
    "log",
    "log_artifact",
    "output",
    "publish",
    "runs",
    "unload_ipython_extension",
]


def client(address: str | None = None) -> Any:
    """The ``distributed.Client`` Cellfleet uses for ``address`` (default: the configured
    or embedded cluster), starting the embedded cluster if needed."""
    from cellfleet.config import load_settings
    from cellfleet.kernel.session import connect

    settings = load_settings()
    return connect(address or settings.scheduler, settings.workers).client


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter server hook: the extension lives in :mod:`cellfleet.server`."""
    return [{"module": "cellfleet.server"}]


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext cellfleet``)."""
    from cellfleet.kernel.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Undo :func:`load_ipython_extension` (``%unload_ext cellfleet``): remove the magics, stop
    the ``--nowait`` cells, and close the cluster sessions (the embedded cluster stops) and stores."""
    from cellfleet.kernel.extension import unload

    unload(ipython)
