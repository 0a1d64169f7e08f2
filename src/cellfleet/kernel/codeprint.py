"""The hash of the code a ``%%remote`` cell runs: its source, and the project's own modules.

A cell's results are reused (``--cache``) or restored (a production run's retry) only when
the same code would run again. The cell's source is not all of that code: the functions it
calls from the project's own modules (``import features`` of a ``features.py`` beside the
notebook, or of a package installed in editable mode from the project) are pickled by name,
so a fix to one would not change the cell's inputs. :func:`cell_code_hash` adds the content
of every such module: those the kernel has imported, and those the cell imports. Modules of
the Python installation and of installed distributions are left out, as is Cellfleet.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
import sysconfig
from pathlib import Path

from cellfleet.config import project_root
from cellfleet.store.recorder import code_hash

__all__ = ["cell_code_hash", "local_modules_print"]

_DIGESTS: dict[tuple[str, int, int], str] = {}
"""File digests by (path, size, mtime): a module file is read again only once it changed."""
_INSTALLED = tuple(
    {
        str(Path(path).resolve())
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_path(key))
    }
)
_OWN = str(Path(__file__).resolve().parents[1])
_LOADED: dict[str, str | None] = {}
"""Each loaded module's source file, by module name."""


def cell_code_hash(source: str) -> str:
    """The hash runs of this cell are matched by: its source's, with the project's modules."""
    modules = local_modules_print(source)
    return code_hash(source if not modules else f"{source}\n# project modules: {modules}")


def local_modules_print(source: str) -> str:
    """A digest of the project's own modules the kernel has imported or ``source`` imports
    (``""`` when there are none)."""
    root = str(project_root())
    files = {path for path in map(_module_file, _imported_names(source)) if path} | set(_loaded_files())
    mine = sorted(path for path in files if _is_project_file(path, root))
    if not mine:
        return ""
    digest = hashlib.blake2b(digest_size=16)
    for path in mine:
        digest.update(f"{path}\0{_file_digest(path)}\0".encode())
    return digest.hexdigest()


def _is_project_file(path: str, root: str) -> bool:
    inside = path.startswith(root + os.sep)
    return inside and not path.startswith(_OWN + os.sep) and not path.startswith(_INSTALLED)


def _loaded_files() -> list[str]:
    """The source files of the modules loaded here (each module looked at once)."""
    for name, module in list(sys.modules.items()):
        if name not in _LOADED:
            path = getattr(module, "__file__", None)
            _LOADED[name] = os.path.abspath(path) if isinstance(path, str) and path.endswith(".py") else None
    return [path for path in _LOADED.values() if path]


def _imported_names(source: str) -> set[str]:
    """Top-level modules ``source`` imports (absolute imports only)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _module_file(name: str) -> str | None:
    """Where module ``name`` would be loaded from, without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return os.path.abspath(origin) if origin and origin.endswith(".py") else None


def _file_digest(path: str) -> str:
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        with open(path, "rb") as handle:
            _DIGESTS[key] = hashlib.blake2b(handle.read(), digest_size=16).hexdigest()
    return _DIGESTS[key]
