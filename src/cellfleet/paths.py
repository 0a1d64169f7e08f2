"""Where a project keeps its state: the project root and the store's default URL.

No heavy imports here, so commands that only need a path start fast.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_url", "project_root"]


def project_root(start: Path | None = None) -> Path:
    """``CELLFLEET_ROOT``, else the nearest folder up from ``start`` (the working directory)
    holding ``.cellfleet``, else one holding ``.git`` or ``pyproject.toml``, else ``start``."""
    if os.environ.get("CELLFLEET_ROOT"):
        return Path(os.environ["CELLFLEET_ROOT"])
    here = (start or Path.cwd()).resolve()
    for markers in ((".cellfleet",), (".git", "pyproject.toml")):
        for folder in (here, *here.parents):
            if any((folder / marker).exists() for marker in markers):
                return folder
    return here


def default_url(root: str | os.PathLike[str] | None = None) -> str:
    """``CELLFLEET_DB``, else a SQLite file at ``.cellfleet/cellfleet.db`` in the project root."""
    url = os.environ.get("CELLFLEET_DB")
    if url:
        return url
    folder = Path(root) if root else project_root()
    return f"sqlite:///{folder / '.cellfleet' / 'cellfleet.db'}"
