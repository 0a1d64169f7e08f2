"""Remote handles: what the notebook holds for a result that stays on the cluster."""

from __future__ import annotations

import html
from typing import Any

from dask.utils import format_bytes

from cellfleet.errors import HandleError
from cellfleet.protocol import ValueInfo

__all__ = ["RemoteHandle"]


class RemoteHandle:
    """A result that lives on a Dask worker.

    A later ``%%remote`` cell that reads the name uses the data in place; ``%pull NAME``
    (or :meth:`pull`) brings a host copy into the notebook. Dropping the last reference
    releases the data on the cluster.
    """

    __slots__ = ("_session_address", "future", "info", "name", "worker")

    def __init__(self, name: str, info: ValueInfo, future: Any, worker: str | None, session_address: str) -> None:
        self.name = name
        self.info = info
        self.future = future
        self.worker = worker
        self._session_address = session_address

    @property
    def cluster(self) -> str:
        """The scheduler address of the cluster that holds the data."""
        return self._session_address

    def check_usable(self) -> None:
        """Raise :class:`HandleError` if the data can no longer be reached."""
        client = getattr(self.future, "client", None)
        if client is None or client.status != "running":
            raise HandleError(
                f"{self.name!r} lived on a cluster that has been shut down ({self.cluster}): "
                f"run the cell that assigns {self.name!r} again"
            )
        if self.future.status == "error":
            raise HandleError(f"{self.name!r} could not be kept on the cluster: {self.future.exception()}")

    def pull(self) -> Any:
        """A host copy of the value (GPU data is copied to host memory)."""
        from cellfleet.worker.task import pull

        self.check_usable()
        client = self.future.client
        return client.submit(pull, self.future, pure=False).result()

    def summary(self) -> str:
        info = self.info
        parts = [info.type_name]
        if info.shape is not None:
            parts.append(str(info.shape))
        if info.dtype is not None:
            parts.append(info.dtype)
        parts.append("size unknown" if info.nbytes is None else format_bytes(info.nbytes))
        where = "GPU" if info.on_gpu else "worker"
        return f"{' '.join(parts)} on {where} {self.worker or '?'}"

    def __repr__(self) -> str:
        return f"<remote {self.name}: {self.summary()}>"

    def _repr_html_(self) -> str:
        return (
            f"<code>&lt;remote <b>{html.escape(self.name)}</b>: {html.escape(self.summary())}&gt;</code> "
            f"<small>kept remote ({html.escape(str(self.info.reason))}); %pull {html.escape(self.name)} "
            "brings it here</small>"
        )
