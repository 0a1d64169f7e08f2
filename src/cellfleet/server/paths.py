"""Paths as the Jupyter server shows them: a notebook recorded with its absolute path (as a
kernel's ``JPY_SESSION_NAME`` gives it) appears relative to the server root, the way
JupyterLab names it, and a filter by a relative path finds both spellings."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["notebook_spellings", "shown_runs"]


def _inside(base: Path, recorded: str) -> str | None:
    """``recorded`` relative to ``base`` (resolved; POSIX separators) when it is an absolute path inside it."""
    path = Path(recorded)
    if not recorded or not path.is_absolute():
        return None
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return None


def shown_runs(runs: list[dict[str, Any]], root: str | Path) -> list[dict[str, Any]]:
    """The runs with ``notebook`` relative to the root where it lies there, and
    ``output_notebook``: the executed notebook's path inside the root, or ``None``."""
    base = Path(root).resolve()
    for run in runs:
        run["notebook"] = _inside(base, run.get("notebook") or "") or run.get("notebook") or ""
        run["output_notebook"] = _inside(base, run.get("output_path") or "")
    return runs


def notebook_spellings(root: str | Path, notebook: str | None) -> list[str] | None:
    """The ways a run may have recorded ``notebook`` (as given, and absolute under the root)."""
    if not notebook:
        return None
    spellings = [notebook]
    relative = PurePosixPath(notebook)
    if not relative.is_absolute() and ".." not in relative.parts:
        # as a kernel records it (the root joined as given) and with symlinks resolved
        for base in (Path(root).absolute(), Path(root).resolve()):
            if str(base / relative) not in spellings:
                spellings.append(str(base / relative))
    return spellings
