"""Mistakes in what a user asked of a cell, raised below the magics.

Kernel modules that check a user's request (grid axes, variant lists, option combinations)
raise :class:`OptionError`, a ``ValueError``; only the magics turn it into IPython's
``UsageError``, which the notebook shows as one line.
"""

from __future__ import annotations

import argparse
from typing import Any


class OptionError(ValueError):
    """A ``%%remote`` request that cannot be carried out as written; the message says the fix."""


ORDER = "objective_order"
"""Where :class:`Objective` keeps ``(metric, "max" | "min")`` pairs in the order given."""


class Objective(argparse.Action):
    """``--maximize``/``--minimize METRIC``: appends to its own list, as ``action="append"``
    does, and records the pair under :data:`ORDER`, so the first objective given is the
    primary one whichever flag named it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, value: Any, option: Any = None) -> None:
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or ()), value])
        way = "max" if self.dest == "maximize" else "min"
        setattr(namespace, ORDER, [*getattr(namespace, ORDER, ()), (value, way)])
