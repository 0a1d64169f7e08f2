"""What a production run can take from an earlier attempt: the ``%%remote`` cells that
attempt ran (its child runs, by ``parent_id``) and whose results the store kept.

A retry (and ``cellfleet run --resume RUN``) restores a cell from the attempt it resumes
when a child run of that attempt succeeded with the same code hash, input fingerprints and
params, and its results are stored. A child that was itself restored (``cached_from``) stands
for the run it was restored from, so a third attempt still finds the first one's results.
The restored cell's output says where it came from in one line (:meth:`Restorable.note`),
which the output notebook's cell metadata repeats (:func:`restored_in`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from cellfleet.protocol import RunStatus
from cellfleet.store.database import Store
from cellfleet.store.schema import results, runs

__all__ = ["Restorable", "find_restorable", "restored_in"]

_RESTORED = re.compile(r"^cellfleet: restored from attempt (\d+) \(run (\w+)\), not run again$", re.MULTILINE)


@dataclass(frozen=True)
class Restorable:
    """A stored cell run whose results stand in for running the cell again."""

    cell_run: str
    """The run whose results are stored (the one that really ran)."""
    production_run: str | None
    """The production run it ran inside (``None`` for an interactive ``--cache`` run)."""
    attempt: int | None
    """That production run's attempt number (0 for the first)."""

    def note(self) -> str:
        """The line a restored cell's output shows (:func:`restored_in` reads it back)."""
        if self.attempt is None:
            return f"cellfleet: restored from run {self.cell_run}, not run again\n"
        return f"cellfleet: restored from attempt {self.attempt} (run {self.production_run}), not run again\n"


def restored_in(text: str) -> list[tuple[int, str]]:
    """The (attempt, production run) of each restore line in a cell's output ``text``."""
    return [(int(attempt), run) for attempt, run in _RESTORED.findall(text)]


def find_restorable(store: Store, resumed: str, code_hash: str, inputs: str, params: str) -> Restorable | None:
    """The newest matching succeeded child of the production run ``resumed`` with stored
    results (directly, or through the run it was itself restored from); ``None`` when none."""
    children = (
        sa.select(runs.c.id, runs.c.cached_from)
        .where(runs.c.parent_id == resumed, runs.c.status == RunStatus.SUCCEEDED)
        .where(runs.c.code_hash == code_hash, runs.c.inputs == inputs, runs.c.params == params)
        .order_by(runs.c.created.desc())
    )
    with store.engine.connect() as connection:
        for child, cached_from in connection.execute(children).all():
            source = cached_from or child
            if connection.execute(sa.select(results.c.run_id).where(results.c.run_id == source)).first() is None:
                continue
            return _origin(connection, source)
    return None


def _origin(connection: sa.Connection, source: str) -> Restorable:
    """``source`` with the production run it ran in and that run's attempt."""
    parent = runs.alias("parent")
    query = (
        sa.select(parent.c.id, parent.c.attempt)
        .select_from(runs.join(parent, parent.c.id == runs.c.parent_id))
        .where(runs.c.id == source)
    )
    row = connection.execute(query).first()
    if row is None:
        return Restorable(source, None, None)
    return Restorable(source, row[0], row[1] if row[1] is not None else 0)
