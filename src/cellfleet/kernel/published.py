"""The notebook's side of published datasets (:mod:`cellfleet.worker.published`).

``%%remote --publish NAMES`` keeps the named results on the cluster (as ``--keep`` does) and
publishes them under their names (:func:`publish_results`); ``cellfleet.publish(name=value)``
in a local cell publishes a handle, a persisted collection or a local value
(:func:`publish_local`). ``%attach NAME`` puts a handle for a published result in any
kernel's namespace (:func:`attach`); ``%cellfleet datasets`` lists them (:func:`datasets_table`);
``%unpublish NAME|all`` removes them from the scheduler (:func:`unpublish`), whose data goes
once no kernel holds a handle to it.

The scheduler holds a published result's keys itself: a kernel that ends (or restarts) releases
only its own references, never the published data. On the kernel's private embedded cluster
it lasts only as long as the kernel, which is said in one line.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from dask.utils import format_bytes

from cellfleet.cluster.record import discover, paths
from cellfleet.config import load_settings
from cellfleet.errors import HandleError
from cellfleet.kernel.handles import RemoteHandle
from cellfleet.kernel.options import OptionError
from cellfleet.kernel.persisted import RemoteCollection
from cellfleet.kernel.session import Session, connect, sessions
from cellfleet.protocol import KeepReason, ValueInfo
from cellfleet.worker.published import (
    Published,
    check_names,
    data_key,
    dataset,
    dataset_key,
    is_published_key,
    name_of,
)
from cellfleet.worker.values import describe

__all__ = [
    "Said",
    "attach",
    "datasets_table",
    "publish_local",
    "publish_results",
    "published_names",
    "published_session",
    "unpublish",
]

_PRIVATE = (
    "cellfleet: {names} published on this kernel's private cluster, which lasts only as long as this kernel: "
    "cellfleet cluster start runs one that outlives kernels"
)


Said = list[tuple[str, str]]
"""Lines to show, each with its stream (``stdout`` or ``stderr``)."""


def publish_results(session: Session, values: dict[str, Any], names: frozenset[str], notebook: str) -> Said:
    """Publish the named results of a finished ``%%remote --publish`` cell (handles or persisted
    collections, as ``--keep`` made them); returns what to say."""
    chosen = {name: values[name] for name in sorted(names) if name in values}
    return _publish(session, chosen, notebook) if chosen else []


def publish_local(values: dict[str, Any], shell: Any = None) -> None:
    """``cellfleet.publish(name=value, ...)`` in the notebook's own cell, on the default cluster."""
    from cellfleet.kernel.context import notebook_path

    check_names(values, "cellfleet.publish")
    settings = load_settings()
    for stream, text in _publish(connect(settings.scheduler, settings.workers), values, notebook_path(shell)):
        print(text, file=sys.stderr if stream == "stderr" else sys.stdout)


def _publish(session: Session, values: dict[str, Any], notebook: str) -> Said:
    client = session.client
    existing = set(client.list_datasets())
    for name, value in values.items():
        record, data = _record_for(session, name, value, notebook)
        client.publish_dataset(dataset(record, data), name=dataset_key(name), override=True)
    shown = ", ".join(values)
    said = [("stdout", f"cellfleet: published {shown}: %attach {' '.join(values)} in any kernel on this cluster")]
    replaced = [name for name in values if dataset_key(name) in existing]
    if replaced:
        said.append(("stdout", f"cellfleet: replaced the {', '.join(replaced)} published before"))
    if session.embedded:
        said.append(("stderr", _PRIVATE.format(names=shown)))
    return said


def _record_for(session: Session, name: str, value: Any, notebook: str) -> tuple[Published, Any]:
    """What to publish for ``value``: its record, and the future (or collection) that holds it."""
    now = time.time()
    if isinstance(value, RemoteHandle):
        value.check_usable()
        if value.cluster != session.address:
            raise HandleError(f"{name!r} lives on the cluster at {value.cluster}, not on {session.address}")
        return Published(name, value.info, value.locate() or value.worker, now, notebook), value.future
    if isinstance(value, RemoteCollection):
        collection = value.collection_for_cell()
        return Published(name, _collection_info(value), None, now, notebook, collection=True), collection
    key = data_key(name)
    future = session.client.scatter({key: value}, hash=False)[key]
    holders = session.client.who_has([future]).get(key) or ()
    worker = sorted(holders)[0] if holders else None
    return Published(name, describe(value, KeepReason.KEPT), worker, now, notebook), future


def _collection_info(value: RemoteCollection) -> ValueInfo:
    collection = value.collection
    kind = type(collection)
    shape = getattr(collection, "shape", None)
    dtype = getattr(collection, "dtype", None)
    try:
        sized = tuple(int(n) for n in shape) if shape is not None and not callable(shape) else None
    except (TypeError, ValueError):  # unknown chunk sizes (nan)
        sized = None
    return ValueInfo(
        type_name=f"{kind.__module__.split('.')[0]}.{kind.__qualname__}",
        nbytes=value.nbytes(),
        shape=sized,
        dtype=str(dtype) if dtype is not None and not callable(dtype) else None,
        reason=KeepReason.KEPT,
    )


def published_session(address: str | None, what: str) -> Session:
    """The session to the cluster the published data is on: ``address``, else the configured
    cluster, else the one this kernel uses, else the project's shared cluster. Raises
    :class:`OptionError` rather than start a private cluster, which holds nothing published."""
    address = address or load_settings().scheduler
    if address is None and sessions.default() is None and discover(paths().record).record is None:
        raise OptionError(
            f"{what}: this kernel uses no cluster yet and no shared cluster runs, so nothing is published: "
            "cellfleet cluster start, then %%remote --publish NAMES"
        )
    return connect(address)


def _entries(session: Session, keys: list[Any]) -> list[tuple[Published, Any] | None]:
    """The record and data of each dataset key (``None``: not published, or not Cellfleet's)."""
    found = session.client.get_dataset(keys, default=None) if keys else []
    entries: list[tuple[Published, Any] | None] = []
    for item in found:
        ok = isinstance(item, dict) and isinstance(item.get("record"), Published)
        entries.append((item["record"], item["data"]) if ok else None)
    return entries


def published_names(session: Session) -> list[str]:
    """The names Cellfleet has published on the session's cluster, sorted."""
    return sorted(name_of(key) for key in session.client.list_datasets() if is_published_key(key))


def _unknown(what: str, names: list[str], session: Session) -> OptionError:
    known = published_names(session)
    listed = ", ".join(known) if known else "none"
    return OptionError(
        f"{what}: nothing is published as {', '.join(names)} on {session.address} (published: {listed}); "
        "%%remote --publish NAME publishes a result"
    )


def _handle(session: Session, record: Published, data: Any) -> RemoteHandle | RemoteCollection:
    if record.collection:
        return RemoteCollection(record.name, data)
    return RemoteHandle(record.name, record.info, data, record.worker, session.address)


def attach(namespace: dict[str, Any], names: list[str], address: str | None = None) -> None:
    """Put a handle for each published name into ``namespace`` (later cells use it in place)."""
    session = published_session(address, "%attach")
    entries = _entries(session, [dataset_key(name) for name in names])
    missing = [name for name, entry in zip(names, entries, strict=True) if entry is None]
    if missing:
        raise _unknown("%attach", missing, session)
    for name, entry in zip(names, entries, strict=True):
        assert entry is not None
        namespace[name] = handle = _handle(session, *entry)
        print(f"cellfleet: attached {name}: {handle.summary()}")


def unpublish(names: list[str], address: str | None = None) -> str:
    """Remove published names (``["all"]``: every one) from the scheduler; their data goes once
    no kernel holds a handle to it."""
    session = published_session(address, "%unpublish")
    known = published_names(session)
    chosen = known if names == ["all"] else names
    missing = [name for name in chosen if name not in known]
    if missing:
        raise _unknown("%unpublish", missing, session)
    if not chosen:
        return "cellfleet: no published datasets"
    session.client.unpublish_dataset([dataset_key(name) for name in chosen])
    return (
        f"cellfleet: unpublished {', '.join(chosen)} (the data goes once no kernel holds a handle to it; "
        "handles this kernel holds still work)"
    )


def datasets_table(address: str | None = None) -> str:
    """``%cellfleet datasets``: name, type, size, worker and age of each published result."""
    session = published_session(address, "%cellfleet datasets")
    names = published_names(session)
    entries = [entry for entry in _entries(session, [dataset_key(n) for n in names]) if entry is not None]
    if not entries:
        return f"cellfleet: no published datasets on {session.address}"
    now = time.time()
    rows = [("name", "type", "size", "worker", "age")]
    rows += [_row(session, record, data, now) for record, data in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    title = f"published on {session.address} (%attach NAME, %unpublish NAME|all):"
    return "\n".join([title, *(f"  {line}" for line in lines)])


def _row(session: Session, record: Published, data: Any, now: float) -> tuple[str, str, str, str, str]:
    info = record.info
    kind = info.type_name + (f" {info.shape}" if info.shape is not None else "")
    size = "unknown" if info.nbytes is None else format_bytes(info.nbytes)
    if record.collection:
        worker = "(spread)"
    else:
        worker = RemoteHandle(record.name, info, data, record.worker, session.address).locate() or "(lost)"
    return record.name, kind, size, worker, _age(now - record.published_at)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(seconds, 0):.0f} s"
