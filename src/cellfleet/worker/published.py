"""Published datasets: results kept on the cluster under a name, beyond any one kernel.

A published result is one of the scheduler's named datasets (``Client.publish_dataset``),
under the key ``cellfleet:NAME`` (:data:`PREFIX`), so Cellfleet lists and replaces only its
own. The dataset is a plain dict, ``{"record": Published, "data": future or collection}``:
Dask finds the futures inside it (it does not look inside a dataclass), and the scheduler
holds their keys for the dataset itself, so the data outlives the kernel that made it, for
as long as the scheduler runs (the warm shared cluster, an external one).

This module is the part both sides share: the record, the keys, and :func:`publish_here`,
what ``cellfleet.publish`` does inside a remote cell (the value is scattered from the
worker's own memory, so it stays the very object the cell made).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from cellfleet.protocol import KeepReason, ValueInfo

__all__ = [
    "PREFIX",
    "Published",
    "check_names",
    "data_key",
    "dataset",
    "dataset_key",
    "is_published_key",
    "name_of",
    "publish_here",
]

PREFIX = "cellfleet:"
"""What starts the dataset key of every name Cellfleet publishes."""


@dataclass(frozen=True)
class Published:
    """What is known of a published result: its name, what it is, where and when it was made."""

    name: str
    info: ValueInfo
    worker: str | None
    """The worker that held it when published (``None``: a collection spread over workers)."""
    published_at: float
    notebook: str = ""
    """The notebook that published it (empty when it cannot say, as inside a remote cell)."""
    collection: bool = False
    """Whether ``data`` is a persisted Dask collection rather than one future."""


def dataset_key(name: str) -> str:
    return f"{PREFIX}{name}"


def data_key(name: str) -> str:
    """A fresh Dask key for a value published under ``name`` (never another user's key)."""
    return f"cellfleet-published-{name}-{uuid.uuid4().hex[:16]}"


def is_published_key(key: Any) -> bool:
    return isinstance(key, str) and key.startswith(PREFIX)


def name_of(key: str) -> str:
    return key.removeprefix(PREFIX)


def dataset(record: Published, data: Any) -> dict[str, Any]:
    """The object published under ``record.name``'s key."""
    return {"record": record, "data": data}


def check_names(values: dict[str, Any], where: str) -> None:
    """Raise ``TypeError`` unless every name is a valid identifier (``%attach`` puts it in the namespace)."""
    if not values:
        raise TypeError(f"{where} needs at least one name=value, like {where}(model=model)")
    bad = [name for name in values if not name.isidentifier()]
    if bad:
        raise TypeError(f"{where}: {bad[0]!r} is not a variable name; publish under names like model or data")


def publish_here(values: dict[str, Any]) -> list[str]:
    """Publish ``values`` from inside a running task: each stays in this worker's memory as a
    key of its own, published under its name (replacing one of the same name). Returns the
    names that replaced earlier ones."""
    from distributed import get_client, get_worker

    from cellfleet.worker.values import describe

    check_names(values, "cellfleet.publish")
    client, worker = get_client(), get_worker().address
    existing = set(client.list_datasets())
    keys = {name: data_key(name) for name in values}
    # Inside a task, scatter puts the values straight into this worker's memory: the same objects.
    futures = client.scatter({keys[name]: value for name, value in values.items()}, hash=False)
    for name in values:
        future = futures[keys[name]]
        record = Published(name, describe(values[name], KeepReason.KEPT), worker, time.time())
        client.publish_dataset(dataset(record, future), name=dataset_key(name), override=True)
    return sorted(name for name in values if dataset_key(name) in existing)
