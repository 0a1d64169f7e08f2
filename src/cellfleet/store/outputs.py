"""Declared outputs and environments in the store.

A run's outputs (``cellfleet.output(name=value)``) are JSON values, one row per name; the
latest call for a name wins. An environment's full list of distributions is kept once per
digest, so a difference between two runs' environments can name every package.
"""

from __future__ import annotations

import json
import keyword
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from cellfleet.store.database import Store, encode_json
from cellfleet.store.schema import environments, run_outputs, runs

__all__ = ["distributions_of", "outputs_of", "save_distributions", "save_output", "worker_environments"]


def save_output(store: Store, run_id: str, name: str, text: str) -> None:
    """Keep ``text`` (a JSON document) as the run's output ``name``, replacing an earlier one."""
    with store.engine.begin() as connection:
        connection.execute(sa.delete(run_outputs).where(run_outputs.c.run_id == run_id, run_outputs.c.name == name))
        connection.execute(sa.insert(run_outputs).values(run_id=run_id, name=name, value=text, created=time.time()))


def outputs_of(store: Store, run_id: str) -> dict[str, Any]:
    """The run's declared outputs, by name, in the order they were declared (a stored name that
    is not a Python name is left out: it becomes a variable in the downstream notebook)."""
    query = sa.select(run_outputs.c.name, run_outputs.c.value).where(run_outputs.c.run_id == run_id)
    with store.engine.connect() as connection:
        rows = connection.execute(query.order_by(run_outputs.c.created, run_outputs.c.name)).all()
    return {name: json.loads(value) for name, value in rows if name.isidentifier() and not keyword.iskeyword(name)}


def save_distributions(store: Store, digest: str, installed: Mapping[str, str]) -> None:
    """Keep the distributions behind ``digest`` (once: a digest names one list)."""
    query = sa.select(environments.c.digest).where(environments.c.digest == digest)
    try:
        with store.engine.begin() as connection:
            if connection.execute(query).first() is None:
                row = {"digest": digest, "distributions": encode_json(dict(installed)), "created": time.time()}
                connection.execute(sa.insert(environments).values(**row))
    except sa.exc.IntegrityError:
        pass  # another process kept the same list first


def distributions_of(store: Store, digest: str | None) -> dict[str, str] | None:
    """The distributions behind ``digest``, when some process kept them."""
    if not digest:
        return None
    query = sa.select(environments.c.distributions).where(environments.c.digest == digest)
    with store.engine.connect() as connection:
        row = connection.execute(query).first()
    return dict(json.loads(row[0])) if row else None


def worker_environments(store: Store, run_id: str) -> list[dict[str, str]]:
    """The environments of the workers the remote cells of production run ``run_id`` ran on,
    in the order the cells ran."""
    query = sa.select(runs.c.environment).where(runs.c.parent_id == run_id, runs.c.worker.is_not(None))
    with store.engine.connect() as connection:
        rows = connection.execute(query.order_by(runs.c.created)).all()
    return [dict(json.loads(text)) for (text,) in rows if text]
