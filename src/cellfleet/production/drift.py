"""Environment drift: each production run records its environment, and one that differs from
the promoted experiment's carries a warning naming the packages that differ.

The job keeps, from its promotion, the environment it is compared with: the ``--from-run``
experiment's when that run recorded one, else that of the process that promoted it (the
notebook's kernel for ``%promote``). Like is compared with like: a run records the environment
of the process that executes it (the Python papermill runs with), compared when it starts with
a promoted environment of the same side; an experiment that was a ``%%remote`` cell recorded
its worker's environment, so the workers the run's own remote cells used are compared with it
when the run ends (:func:`record_worker_drift`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cellfleet.environment import DIGEST, describe, differences, distributions, drift_warning
from cellfleet.store.database import Store
from cellfleet.store.outputs import distributions_of, save_distributions, worker_environments

__all__ = [
    "SIDE",
    "SOURCE_RUN",
    "WORKERS",
    "current_environment",
    "promoted_environment",
    "record_environment",
    "record_worker_drift",
]

SOURCE_RUN = "run"
"""The key of a job's environment naming the experiment run it came from (absent: the promoting process)."""
SIDE = "side"
"""The key of a job's environment saying where it was measured: :data:`WORKERS`, or absent (a kernel)."""
WORKERS = "workers"
"""A promoted environment measured on a worker: the experiment was a ``%%remote`` cell."""


def current_environment(store: Store) -> dict[str, str]:
    """This process's environment, its distributions kept in ``store``."""
    found = describe()
    save_distributions(store, found[DIGEST], distributions())
    return found


def promoted_environment(store: Store, source: dict[str, Any] | None) -> dict[str, str]:
    """What a new job's runs are compared with: the run ``source``'s environment, when it
    recorded one with a digest; else this process's."""
    recorded = dict((source or {}).get("environment") or {})
    if DIGEST in recorded and source is not None:
        side = {SIDE: WORKERS} if source.get("worker") else {}
        return {**recorded, SOURCE_RUN: str(source["id"]), **side}
    return current_environment(store)


def record_environment(store: Store, run: dict[str, Any], job: dict[str, Any] | None) -> None:
    """Record this process's environment on ``run``; with how it differs from its job's, when
    that was measured in a process of the same side (not on a worker)."""
    found = current_environment(store)
    fields: dict[str, Any] = {"environment": {**run["environment"], **found}}
    promoted = (job or {}).get("environment")
    if promoted and promoted.get(SIDE) != WORKERS:
        fields.update(_drift(store, promoted, found, distributions()))
    store.update_run(run["id"], **fields)


def record_worker_drift(store: Store, run_id: str, job: dict[str, Any] | None) -> None:
    """After run ``run_id``: when its job was promoted from a ``%%remote`` cell, record how the
    environment of the workers its remote cells ran on differs from that cell's worker's."""
    promoted = (job or {}).get("environment") or {}
    if promoted.get(SIDE) != WORKERS:
        return
    measured = next((found for found in worker_environments(store, run_id) if DIGEST in found), None)
    if measured is not None:
        store.update_run(run_id, **_drift(store, promoted, measured, distributions_of(store, measured[DIGEST])))


def _drift(
    store: Store, promoted: dict[str, Any], found: dict[str, str], found_all: dict[str, str] | None
) -> dict[str, Any]:
    changes = differences(promoted, found, distributions_of(store, promoted.get(DIGEST)), found_all)
    source = f"the promoted experiment's (run {promoted[SOURCE_RUN]})" if promoted.get(SOURCE_RUN) else (
        "the environment the job was promoted from"
    )  # fmt: skip
    return {
        "environment_drift": [dataclasses.asdict(change) for change in changes],
        "environment_warning": drift_warning(changes, source),
    }
