"""Make a worker of the shared cluster ready for its first cell as it starts.

Loaded as a Dask worker preload (``preload=["cellfleet.worker.warm"]``) by the shared
cluster (:mod:`cellfleet.cluster.serve`), after :mod:`cellfleet.worker.shield`: the worker
sends its messages to the scheduler every millisecond instead of every 2 ms (a private
attribute; on a Dask that renamed it only latency changes), and imports the cells' task
code now rather than when the first cell arrives. A worker restarted by its nanny runs the
preloads again.
"""

from __future__ import annotations

import importlib
from typing import Any

MODULE = __name__
"""The preload name to give a worker."""
BATCH_INTERVAL = 0.001
"""Seconds between the worker's batched sends."""
_TASK_CODE = "cellfleet.worker.task"


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, run in the worker process as it starts."""
    stream = getattr(worker, "batched_stream", None)
    if stream is not None and hasattr(stream, "interval"):
        stream.interval = BATCH_INTERVAL
    importlib.import_module(_TASK_CODE)
