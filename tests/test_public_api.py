"""The public API: an explicit __all__ in every module, and the documented exception tree."""

from __future__ import annotations

import importlib
import pkgutil

import cellfleet
from cellfleet import errors

MODULES = sorted(m.name for m in pkgutil.iter_modules(cellfleet.__path__) if not m.name.startswith("_"))


def test_every_public_name_resolves():
    for name in cellfleet.__all__:
        assert getattr(cellfleet, name) is not None, name


def test_every_module_declares_what_it_exports():
    for name in MODULES:
        if name == "mpl_backend":
            continue  # a matplotlib backend module: its names are fixed by matplotlib
        module = importlib.import_module(f"cellfleet.{name}")
        assert isinstance(getattr(module, "__all__", None), list), name
        for exported in module.__all__:
            assert hasattr(module, exported), f"cellfleet.{name}.{exported}"


def test_every_error_is_a_cellfleet_error_and_is_documented():
    tree = errors.__doc__ or ""
    for name in errors.__all__:
        error = getattr(errors, name)
        assert issubclass(error, errors.CellfleetError)
        assert name in tree, f"{name} is missing from the tree in errors.py"
        assert name in cellfleet.__all__


def test_errors_render_as_one_line_in_notebooks():
    lines = errors.ClusterUnavailable("could not reach it: check the address")._render_traceback_()
    assert len(lines) == 1 and "ClusterUnavailable" in lines[0] and "check the address" in lines[0]
