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

    def locate(self) -> str | None:
        """The worker that holds the data now (or will, as it is moved there), also kept in
        :attr:`worker`; ``None`` when no live worker does (it is rebuilt after its worker was lost)
        or the cluster cannot say."""
        client = getattr(self.future, "client", None)
        if client is None or client.status != "running":
            return None
        try:
            holders = client.who_has([self.future]).get(self.future.key) or ()
            if holders:
                self.worker = sorted(holders)[0]
            elif self.worker is not None and self.worker not in client.scheduler_info(n_workers=-1)["workers"]:
                self.worker = None  # lost with its worker; no worker holds it yet
        except Exception:  # the scheduler is going: say nothing of where the data is
            return None
        return self.worker

    def summary(self) -> str:
        info = self.info
        parts = [info.type_name]
        if info.shape is not None:
            parts.append(str(info.shape))
        if info.dtype is not None:
            parts.append(info.dtype)
        parts.append("size unknown" if info.nbytes is None else format_bytes(info.nbytes))
        worker = self.locate()
        if worker is None:
            return f"{' '.join(parts)} on the cluster"
        return f"{' '.join(parts)} on {'GPU' if info.on_gpu else 'worker'} {worker}"

    def __repr__(self) -> str:
        return f"<remote {self.name}: {self.summary()}>"

    def _repr_html_(self) -> str:
        return (
            f"<code>&lt;remote <b>{html.escape(self.name)}</b>: {html.escape(self.summary())}&gt;</code> "
            f"<small>kept remote ({html.escape(str(self.info.reason))}); %pull {html.escape(self.name)} "
            "brings it here</small>"
        )
