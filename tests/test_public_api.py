"""The public API: the root __all__ is exactly the documented names, and the exception tree."""

from __future__ import annotations

import cellfleet
from cellfleet import errors

PUBLIC = {
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
}
"""The documented public API; anything else is internal (modules are private by convention)."""


def test_the_public_api_is_exactly_the_documented_one():
    assert set(cellfleet.__all__) == PUBLIC
    assert len(cellfleet.__all__) == len(PUBLIC)


def test_every_public_name_resolves():
    for name in cellfleet.__all__:
        assert getattr(cellfleet, name) is not None, name


def test_every_error_is_a_cellfleet_error_and_is_documented():
    tree = errors.__doc__ or ""
    for name in errors.__all__:
        error = getattr(errors, name)
        # TrialPruned stops a pruned search trial: a BaseException, so `except Exception` lets it through
        assert issubclass(error, errors.CellfleetError) or (
            error is errors.TrialPruned and not issubclass(error, Exception)
        )
        assert name in tree, f"{name} is missing from the tree in errors.py"
        assert name in cellfleet.__all__


def test_errors_render_as_one_line_in_notebooks():
    lines = errors.ClusterUnavailable("could not reach it: check the address")._render_traceback_()
    assert len(lines) == 1 and "ClusterUnavailable" in lines[0] and "check the address" in lines[0]
