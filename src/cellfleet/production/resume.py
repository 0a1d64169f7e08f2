"""Resuming a production run from an earlier attempt: the retry of a failed run, and
``cellfleet run NOTEBOOK --resume RUN``.

The resuming run records the run it resumes in its environment (``resume_from``) and tells
its kernel through ``CELLFLEET_RESUME_FROM`` (:mod:`cellfleet.config`). There each
``%%remote`` cell that the resumed attempt finished with the same code and inputs is restored
from the store, not run again (:mod:`cellfleet.kernel.cache`); local cells run again, which
rebuilds the kernel's state. Each restored cell's output says "restored from attempt N (run
ID)"; when the run ends, :func:`mark_restored` repeats that in the output notebook's cell
metadata (``metadata.cellfleet.restored_from``). The store records each restored cell run with
``cached_from``: the run whose results it used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cellfleet.errors import PromotionError
from cellfleet.failures import FAILED_ENDINGS
from cellfleet.protocol import RunKind, RunStatus

if TYPE_CHECKING:
    from cellfleet.store.database import Store

__all__ = ["RESUME_KEY", "check_resumable", "mark_restored", "resumed_run", "resumes"]

RESUME_KEY = "resume_from"
"""The key of a run's environment naming the run it resumes."""


def resumes(occurrence: dict[str, Any]) -> dict[str, str]:
    """The environment entry of an occurrence's next run: a retry (attempt 1 or later)
    resumes the run of the attempt before it, still the occurrence's ``run_id``."""
    if occurrence.get("attempt") and occurrence.get("run_id"):
        return {RESUME_KEY: str(occurrence["run_id"])}
    return {}


def resumed_run(run: dict[str, Any]) -> str | None:
    """The run that ``run`` resumes, if any."""
    value = (run.get("environment") or {}).get(RESUME_KEY)
    return str(value) if value else None


def check_resumable(store: Store, prefix: str, notebook: str) -> dict[str, Any]:
    """The production run ``prefix`` names (an id or its start), when ``notebook`` may resume
    it: it ran that notebook and failed (or timed out, or was cancelled or interrupted).
    Raises :class:`~cellfleet.errors.PromotionError`, in one line naming the fix, when not."""
    from cellfleet.store.database import safe_url

    matches = store.find_runs(prefix)
    if not matches:
        raise PromotionError(
            f"--resume {prefix}: no run {prefix!r} in {safe_url(store.url)}: list the failed runs with "
            "`cellfleet runs ls --kind production --status failed`",
            problem="missing",
        )
    if len(matches) > 1:
        raise PromotionError(f"--resume {prefix} matches several runs ({', '.join(matches)}): give more of the id")
    run = store.get_run(matches[0]) or {}
    run_id = run.get("id", prefix)
    if run.get("kind") != RunKind.PRODUCTION or run.get("parent_id"):
        raise PromotionError(
            f"--resume {run_id}: it is a cell's run, not a production run: give the id of a `cellfleet run` or "
            "job run (`cellfleet runs ls --kind production`)"
        )
    if RunStatus(run["status"]) not in FAILED_ENDINGS:
        raise PromotionError(
            f"--resume {run_id}: that run {run['status']}; only a failed, timed out, cancelled or interrupted "
            "run can be resumed: run the notebook without --resume",
            problem="conflict",
        )
    if Path(run["notebook"]).resolve() != Path(notebook).resolve():
        raise PromotionError(
            f"--resume {run_id}: that run ran {run['notebook']}, not {notebook}: resume it with "
            f"`cellfleet run {run['notebook']} --resume {run_id}`",
            problem="conflict",
        )
    return run


def mark_restored(output: Path) -> int:
    """Mark the cells a resuming run restored in its output notebook, found by the line each
    one's output shows: ``metadata.cellfleet.restored_from`` holds the attempt and its run
    (a cell of variants, one per variant restored). Returns how many cells were marked."""
    import nbformat

    from cellfleet.store.attempts import restored_in

    if not output.exists():
        return 0
    notebook = nbformat.read(output, as_version=4)
    marked = 0
    for cell in notebook.cells:
        text = "".join(out.get("text", "") for out in cell.get("outputs", ()) if out.get("name") == "stderr")
        found = [{"attempt": attempt, "run": run} for attempt, run in restored_in(text)]
        if cell.cell_type == "code" and found:
            cell.metadata.setdefault("cellfleet", {})["restored_from"] = found[0] if len(found) == 1 else found
            marked += 1
    if marked:
        nbformat.write(notebook, output)
    return marked
