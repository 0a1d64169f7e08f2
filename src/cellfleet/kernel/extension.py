"""Loading and unloading the IPython extension (``%load_ext cellfleet`` / ``%unload_ext``).

Loading registers the magics and the cell hooks, and opens the store, whose writer marks
the runs of kernels that went away ``interrupted`` (a store that cannot be opened is left
for the first cell that records a run to report). Unloading undoes both, stops the
``--nowait`` cells still running (as the stop button would) and joins their threads, and
closes what this process holds: its cluster
sessions (the embedded cluster stops), its store writers (everything queued is written)
and its open stores.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from cellfleet.errors import StoreError
from cellfleet.kernel.context import register_hooks, unregister_hooks
from cellfleet.kernel.magics import CellfleetMagics
from cellfleet.kernel.session import sessions
from cellfleet.store.database import stores
from cellfleet.store.recorder import writers

__all__ = ["close_process_state", "load", "unload"]

_LOAD_WAIT = 1.0
"""Seconds loading waits for a store another process holds locked."""


_DASK_ADVICE = "Sending large graph"
"""Dask's warning on large task graphs: a cell's inputs travel in its graph on purpose."""


def load(shell: Any) -> None:
    """Register the magics and the cell hooks on ``shell``."""
    warnings.filterwarnings("ignore", message=_DASK_ADVICE, category=UserWarning, module="distributed")
    shell.register_magics(CellfleetMagics(shell))
    register_hooks(shell)
    try:
        writers.writer_for(open_wait=_LOAD_WAIT)
    except StoreError:
        pass  # not this moment's business: the first cell that records a run says why tracking is off


def unload(shell: Any) -> None:
    """Remove the magics and hooks, stop the ``--nowait`` cells, and close everything held."""
    magics = shell.magics_manager.registry.pop(CellfleetMagics.__name__, None)
    if isinstance(magics, CellfleetMagics):
        magics.close()
        for kind, names in CellfleetMagics.magics.items():
            for name in names:
                shell.magics_manager.magics[kind].pop(name, None)
    unregister_hooks(shell)
    for problem in close_process_state():
        print(f"cellfleet: {problem}", file=sys.stderr)


def close_process_state() -> list[str]:
    """Close this process's cluster sessions, store writers and stores; returns problems met."""
    problems = sessions.close()
    writers.close()
    stores.close()
    return problems
