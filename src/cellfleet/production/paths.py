"""Where a production run's files live: its output notebook and its progress log."""

from __future__ import annotations

from pathlib import Path

from cellfleet.config import project_root

__all__ = ["run_paths"]


def run_paths(run_id: str) -> tuple[Path, Path]:
    """The output notebook and the progress log of a run."""
    folder = project_root() / ".cellfleet" / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{run_id}.ipynb", folder / f"{run_id}.log"
