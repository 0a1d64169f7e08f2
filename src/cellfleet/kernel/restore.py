"""A ``%%remote`` cell restored before any cluster is reached.

Inside a production run that resumes an earlier attempt (``CELLFLEET_RESUME_FROM``), a plain
``%%remote`` cell (no variants, search or ``--nowait``) that the resumed attempt finished is
restored from the store before the runner connects to a cluster: a retry that restores every
remote cell before its failure never starts one. Whatever cannot be restored here (a cell
reading a remote handle, one the attempt did not finish) takes the usual path, which tries
the same lookup again once the cell is prepared (:meth:`RemoteRunner.make_job`).
"""

from __future__ import annotations

from typing import Any

from cellfleet.config import Settings, run_context
from cellfleet.kernel.analysis import CellAnalysis
from cellfleet.kernel.cache import CachedCell, restore
from cellfleet.kernel.handles import RemoteHandle
from cellfleet.kernel.inputs import pack
from cellfleet.kernel.outputs import LiveOutput
from cellfleet.kernel.prepared import cell_recorder
from cellfleet.kernel.status import make_status

__all__ = ["early_restore"]


def early_restore(shell: Any, label: str, source: str, analysis: CellAnalysis, settings: Settings) -> CachedCell | None:
    """The restored cell, when this run resumes an attempt that finished it; else ``None``."""
    resumed = run_context().resume_from
    namespace = shell.user_ns
    if not resumed or any(isinstance(namespace.get(name), RemoteHandle) for name in analysis.reads):
        return None
    try:
        inputs = pack(analysis.reads, namespace, "")
    except Exception:  # the usual path packs again, and says what is wrong
        return None
    hit = restore(resumed, source, inputs, {})
    if hit is None:
        return None
    recorder = cell_recorder(shell, label, source, inputs)
    return CachedCell(hit, LiveOutput(), make_status(label, settings.status), recorder)
