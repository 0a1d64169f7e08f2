"""Persisted Dask collections that a remote cell hands back: they stay alive on the cluster.

A cell that assigns a persisted collection (``x = da.random.random(...).persist()``) holds
its futures through the worker's client only while it runs. The worker stashes the
collection until the notebook has taken the futures over (:func:`adopt`): its futures are
bound to the session's client, the scheduler is told that this kernel wants their keys, and
only then, in order on the same stream, a task drops the worker's stash.

The notebook holds a :class:`RemoteCollection`: a later ``%%remote`` cell that reads it gets
the collection itself (its graph of futures), used in place across the workers; ``%pull``
computes it here, refusing above the remote threshold without ``--force``; ``%cellfleet drop``
(or dropping the last reference, or the kernel ending) releases its data.
"""

from __future__ import annotations

import html
from typing import Any

from dask.utils import format_bytes

from cellfleet.errors import HandleError

__all__ = ["RemoteCollection", "adopt"]


class RemoteCollection:
    """A Dask collection persisted on the cluster, held by this kernel's client."""

    __slots__ = ("collection", "name")

    def __init__(self, name: str, collection: Any) -> None:
        self.name = name
        self.collection: Any = collection

    def futures(self) -> list[Any]:
        from distributed import futures_of

        return list(futures_of(self.collection)) if self.collection is not None else []

    def collection_for_cell(self) -> Any:
        """The collection, checked usable, for a remote cell that reads it."""
        self.check_usable()
        return self.collection

    def check_usable(self) -> None:
        if self.collection is None:
            raise HandleError(
                f"{self.name!r} was dropped from the cluster (%cellfleet drop): run the cell that assigns it again"
            )
        futures = self.futures()
        client = futures[0].client if futures else None
        if client is not None and client.status != "running":
            raise HandleError(
                f"{self.name!r} lived on a cluster that has been shut down: run the cell that assigns it again"
            )

    def nbytes(self) -> int | None:
        """Bytes its chunks take on the workers (``None``: the cluster cannot say)."""
        futures = self.futures()
        if not futures:
            return None
        try:
            sizes = futures[0].client.nbytes(keys=[f.key for f in futures], summary=False)
        except Exception:  # the scheduler is going: the size is unknown
            return None
        return int(sum(sizes.values()))

    def pull(self, threshold: int, force: bool = False) -> Any:
        """Compute the collection here (refusing above ``threshold`` bytes unless ``force``)."""
        self.check_usable()
        size = self.nbytes()
        if not force and threshold >= 0 and size is not None and size > threshold:
            raise HandleError(
                f"%pull {self.name}: it holds {format_bytes(size)} on the cluster, more than the remote "
                f"threshold ({format_bytes(threshold)}): reduce it in a remote cell, or %pull --force {self.name}"
            )
        client = self.futures()[0].client
        return client.compute(self.collection).result()

    def release(self) -> None:
        """Let the cluster drop its data (this kernel's references to it go)."""
        self.collection = None

    def summary(self) -> str:
        if self.collection is None:
            return "dropped from the cluster"
        size = self.nbytes()
        parts = [type(self.collection).__name__]
        shape = getattr(self.collection, "shape", None)
        if shape is not None and not callable(shape):
            parts.append(str(tuple(shape)))
        parts.append(f"{len(self.futures())} chunks")
        parts.append("size unknown" if size is None else format_bytes(size))
        return f"persisted {' '.join(parts)} on the cluster"

    def __repr__(self) -> str:
        return f"<remote {self.name}: {self.summary()}>"

    def _repr_html_(self) -> str:
        return (
            f"<code>&lt;remote <b>{html.escape(self.name)}</b>: {html.escape(self.summary())}&gt;</code> "
            f"<small>a later %%remote cell uses it in place; %pull {html.escape(self.name)} computes it here</small>"
        )


def adopt(client: Any, names: tuple[str, ...], values: dict[str, Any], stash: str, worker: str | None) -> None:
    """Wrap the persisted collections among ``values`` (loaded with ``client`` current), then
    let the worker drop its stash of them: the task is sent after the scheduler was told this
    kernel wants their keys, on the same stream, so they are never released in between."""
    from distributed import fire_and_forget, futures_of

    from cellfleet.worker.task import release_stash

    for name in names:
        if name in values:
            for future in futures_of(values[name]):
                future.bind_client(client)
            values[name] = RemoteCollection(name, values[name])
    if not names:
        return
    # Private but stable: what a reconnecting client sends. It goes out on the client's batched
    # stream before the task below, so the scheduler counts this kernel as a holder first.
    client._inform_scheduler_of_futures()
    future = client.submit(
        release_stash,
        stash,
        names,
        key=f"cellfleet-release-{stash[:28]}",
        workers=[worker] if worker else None,
        allow_other_workers=False,
        pure=False,
    )
    fire_and_forget(future)
