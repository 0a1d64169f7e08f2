"""Mistakes in what a user asked of a cell, raised below the magics.

Kernel modules that check a user's request (grid axes, variant lists, option combinations)
raise :class:`OptionError`, a ``ValueError``; only the magics turn it into IPython's
``UsageError``, which the notebook shows as one line.
"""

from __future__ import annotations


class OptionError(ValueError):
    """A ``%%remote`` request that cannot be carried out as written; the message says the fix."""
