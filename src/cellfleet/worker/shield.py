"""Keep the notebook's stop button away from the embedded cluster's workers.

JupyterLab interrupts a kernel by sending SIGINT to the kernel's whole process group, and
the embedded cluster's worker processes are in that group. Loaded as a Dask worker preload
(``preload=["cellfleet.worker.shield"]``), this module makes the worker ignore SIGINT, so
the stop button stops the cell (through :func:`cellfleet.worker.task.interrupt`) and never
the worker. SIGTERM and SIGKILL still end it, so the kernel's shutdown still does.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

MODULE = __name__
"""The preload name to give a worker."""


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, run in the worker process as it starts."""
    ignore_interrupts()


def ignore_interrupts() -> bool:
    """Ignore SIGINT in this process; False where that cannot be done (not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return True
