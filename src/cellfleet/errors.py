"""The exception tree.

Every error a user can cause says what went wrong and what to do about it, in one line.
Inside a notebook these errors render as that one line (``_render_traceback_``), never
as an internal traceback::

    CellfleetError
    ├── ClusterError
    │   ├── ClusterUnavailable     the scheduler cannot be reached or went away
    │   ├── NoGPUError             a GPU was required and none is available
    │   └── ResourceUnavailable    no worker offers what the cell asks for
    ├── SerializationError         a variable cannot travel to or from the worker
    ├── CellError
    │   ├── RemoteCellError        the cell raised an exception that cannot be rebuilt here
    │   ├── WorkerLostError        the worker died running the cell, retries exhausted
    │   ├── CellTimeout            the cell ran past --timeout and was stopped
    │   └── CellCancelled          the cell was interrupted and stopped
    ├── HandleError                a remote handle is unusable (lost or its cluster closed)
    ├── StoreError                 the experiment store cannot be opened or written
    └── PromotionError             a notebook cannot become a job: missing, not a notebook,
        │                          an unknown parameter, a job name taken; or a run cannot
        │                          resume another (``cellfleet run --resume``)
        └── ScheduleError          a bad --cron, --every or --timeout

    TrialPruned (a BaseException)  raised by cellfleet.log inside a search trial the
                                   search's pruner stopped; the trial is recorded ``pruned``

Exceptions raised by the cell's own code are re-raised in the notebook as their own
type, with the worker's traceback attached (see :mod:`cellfleet.worker.task`).
"""

from __future__ import annotations

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
    "ResourceUnavailable",
    "ScheduleError",
    "SerializationError",
    "StoreError",
    "TrialPruned",
    "WorkerLostError",
]


class CellfleetError(Exception):
    """Base of every error Cellfleet raises on purpose."""

    def _render_traceback_(self) -> list[str]:
        """IPython hook: show the one-line message instead of a traceback."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class ClusterError(CellfleetError):
    """The cluster cannot run the cell."""


class ClusterUnavailable(ClusterError):
    """The Dask scheduler cannot be reached, or it went away."""


class NoGPUError(ClusterError):
    """A GPU was required (``--require-gpu``) and the cluster has none."""


class ResourceUnavailable(ClusterError):
    """No worker of the cluster offers the resources the cell asks for."""


class SerializationError(CellfleetError):
    """A variable the cell reads, or a result it makes, cannot be serialized."""


class CellError(CellfleetError):
    """The remote cell did not complete."""


class RemoteCellError(CellError):
    """The cell raised an exception whose type cannot be rebuilt in the notebook."""


class WorkerLostError(CellError):
    """The worker running the cell died, and no retries were left."""


class CellTimeout(CellError):
    """The cell ran past its ``--timeout`` and was stopped on the worker."""


class CellCancelled(CellError):
    """The cell was interrupted (the kernel's stop button) and stopped on the worker."""


class HandleError(CellfleetError):
    """A remote handle cannot be used: its data was lost or its cluster was closed."""


class StoreError(CellfleetError):
    """The experiment store cannot be opened, upgraded or written."""


class PromotionError(CellfleetError):
    """A notebook cannot be promoted or run in production as asked.

    ``problem`` says which kind: ``invalid`` (the default), ``missing`` or ``conflict``.
    """

    def __init__(self, message: str, problem: str = "invalid") -> None:
        super().__init__(message)
        self.problem = problem


class ScheduleError(PromotionError, ValueError):
    """A schedule or duration that cannot be read."""


class TrialPruned(BaseException):
    """Raised by ``cellfleet.log`` in a ``%%remote --search`` trial that the search's pruner
    stopped: the trial ends there, is recorded ``pruned`` (not failed), and its worker takes
    the next trial.

    A ``BaseException``, like ``KeyboardInterrupt``, so that a cell's ``except Exception``
    does not swallow it; let it propagate.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;33m{type(self).__name__}\x1b[0m: {self}"]
