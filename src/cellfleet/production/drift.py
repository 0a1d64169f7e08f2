"""Environment drift: each production run records its environment, and one that differs from
the promoted experiment's carries a warning naming the packages that differ.

The job keeps, from its promotion, the environment it is compared with: the ``--from-run``
experiment's when that run recorded one, else that of the process that promoted it (the
notebook's kernel for ``%promote``). A run records the environment of the process that
executes it (the Python papermill runs with), with every distribution kept in the store.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cellfleet.environment import DIGEST, describe, differences, distributions, drift_warning
from cellfleet.store.database import Store
from cellfleet.store.outputs import distributions_of, save_distributions

__all__ = ["SOURCE_RUN", "current_environment", "promoted_environment", "record_environment"]

SOURCE_RUN = "run"
"""The key of a job's environment naming the experiment run it came from (absent: the promoting process)."""


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
        return {**recorded, SOURCE_RUN: str(source["id"])}
    return current_environment(store)


def record_environment(store: Store, run: dict[str, Any], job: dict[str, Any] | None) -> None:
    """Record this process's environment on ``run``; with how it differs from its job's."""
    found = current_environment(store)
    fields: dict[str, Any] = {"environment": {**run["environment"], **found}}
    promoted = (job or {}).get("environment")
    if promoted:
        changes = differences(promoted, found, distributions_of(store, promoted.get(DIGEST)), distributions())
        source = f"the promoted experiment's (run {promoted[SOURCE_RUN]})" if promoted.get(SOURCE_RUN) else (
            "the environment the job was promoted from"
        )  # fmt: skip
        fields["environment_drift"] = [dataclasses.asdict(change) for change in changes]
        fields["environment_warning"] = drift_warning(changes, source)
    store.update_run(run["id"], **fields)
