"""Short random ids for runs, cells and stashes: cheap to make (no system call per id)."""

from __future__ import annotations

import os
import random

__all__ = ["new_id"]

_random = random.Random(os.urandom(16))


def new_id(length: int = 12) -> str:
    """``length`` random hex digits."""
    return f"{_random.getrandbits(4 * length):0{length}x}"
