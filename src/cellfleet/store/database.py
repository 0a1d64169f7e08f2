"""The experiment store: runs, params, metrics, artifacts and cached results.

SQLAlchemy 2 Core over a SQLite file in WAL mode (``.cellfleet/cellfleet.db`` under the
project root) by default, or any SQLAlchemy URL from ``CELLFLEET_DB`` (PostgreSQL for a
team). The kernel, the scheduler and the Jupyter server write to it at once: every write
is one short transaction, SQLite waits for its lock instead of failing, and the schema is
versioned and upgrades itself when opened.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cellfleet.config import default_url, project_root
from cellfleet.errors import StoreError
from cellfleet.protocol import RunStatus
from cellfleet.store.order import order_runs
from cellfleet.store.schema import (
    artifacts,
    metrics,
    results,
    runs,
    upgrade,
)

__all__ = [
    "MetricPoint",
    "Store",
    "StoreRegistry",
    "decode_row",
    "describe_error",
    "encode_json",
    "engine_url",
    "open_store",
    "safe_url",
    "stores",
]


def engine_url(url: str) -> str:
    """``url`` with its driver named: a PostgreSQL URL without one (``postgresql://``,
    ``postgres://``) uses psycopg 3, the driver ``cellfleet[postgres]`` brings."""
    scheme, separator, rest = url.partition("://")
    return f"postgresql+psycopg://{rest}" if separator and scheme in ("postgresql", "postgres") else url


def _engine(url: str, busy_timeout: float = 60.0) -> Engine:
    """An engine for ``url``; on SQLite, a write waits up to ``busy_timeout`` seconds for the lock."""
    if not url.startswith("sqlite"):
        return sa.create_engine(engine_url(url), pool_pre_ping=True)
    path = sa.engine.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    return engine


def _missing_driver(url: str, error: ImportError) -> str:
    """What to install when the driver of ``url`` cannot be imported."""
    if engine_url(url).startswith("postgresql"):
        return f"the PostgreSQL driver is not installed ({error.name or error}): pip install 'cellfleet[postgres]'"
    return f"the database driver is not installed ({error.name or error}): install the one the URL names"


@dataclass(frozen=True)
class MetricPoint:
    """One logged value."""

    run_id: str
    key: str
    value: float
    step: int | None = None
    logged: float = 0.0


_SECRET_KEYS = ("password", "passwd", "sslpassword")
_USERINFO_PASSWORD = re.compile(r"(://[^:/@?#]*:)[^@/?#]*@")


def safe_url(url: str) -> str:
    """``url`` as it may be shown: the password, in the address or its query, masked."""
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # not a URL, or a port that is not a number
        return _USERINFO_PASSWORD.sub(r"\1***@", url)
    secret = [key for key in parsed.query if key.lower() in _SECRET_KEYS]
    parsed = parsed.update_query_dict(dict.fromkeys(secret, "***")) if secret else parsed
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def describe_error(error: BaseException) -> str:
    """One line for a store failure: the driver's own error, without SQLAlchemy's background link."""
    cause = getattr(error, "orig", None) if isinstance(error, sa.exc.DBAPIError) else None
    shown = cause if isinstance(cause, BaseException) else error
    text = " ".join(str(shown).split("(Background on this error at:")[0].split())
    return f"{type(shown).__name__}: {text}" if text else type(shown).__name__


class Store:
    """A handle on the experiment store; safe to share between threads.

    ``busy_timeout``: the seconds a SQLite write waits for another process's lock before
    ``OperationalError: database is locked`` (60 by default; the Jupyter server waits less).
    ``open_wait``: the seconds opening waits for that lock when the schema must be created
    or upgraded (default ``busy_timeout``); past it, :class:`StoreError`.
    """

    def __init__(self, url: str, *, busy_timeout: float = 60.0, open_wait: float | None = None) -> None:
        self.url = url
        problem = f"cannot open the experiment store at {safe_url(url)}"
        try:
            self.engine = _engine(url, busy_timeout)
            upgrade(self.engine, lock_wait=open_wait)
        except ImportError as error:
            raise StoreError(f"{problem}: {_missing_driver(url, error)}") from None
        except (sa.exc.SQLAlchemyError, OSError, ValueError) as error:  # ValueError: a port not a number
            raise StoreError(f"{problem}: {describe_error(error)}") from None
        self.root = _artifact_root(url)

    # runs -----------------------------------------------------------------

    def create_run(self, **fields: Any) -> str:
        """Record a new run; returns its id."""
        run_id = fields.pop("id", None) or uuid.uuid4().hex[:12]
        row = {"id": run_id, "created": time.time(), **_encoded(fields)}
        with self.engine.begin() as connection:
            connection.execute(sa.insert(runs).values(**row))
        return run_id

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Change a run's fields (status, ended, output, ...)."""
        with self.engine.begin() as connection:
            connection.execute(sa.update(runs).where(runs.c.id == run_id).values(**_encoded(fields)))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """One run with its params decoded, or ``None``."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
        return decode_row(dict(row)) if row else None

    def find_runs(self, prefix: str) -> list[str]:
        """Ids of runs starting with ``prefix`` (for short ids typed by people)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(runs.c.id).where(runs.c.id.startswith(prefix, autoescape=True)).limit(5)
            )
            return [r[0] for r in rows]

    def list_runs(
        self,
        notebook: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        group_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Runs, newest first, filtered."""
        query = sa.select(runs).order_by(runs.c.created.desc()).limit(limit).offset(offset)
        for column, value in (("notebook", notebook), ("status", status), ("kind", kind), ("group_id", group_id)):
            if value is not None:
                query = query.where(runs.c[column] == value)
        with self.engine.connect() as connection:
            return [decode_row(dict(row)) for row in connection.execute(query).mappings()]

    def unfinished_runs(self, owner_prefix: str) -> list[dict[str, Any]]:
        """The queued and running runs whose owner starts with ``owner_prefix``."""
        unfinished = [RunStatus.QUEUED.value, RunStatus.RUNNING.value]
        query = sa.select(runs.c.id, runs.c.owner).where(
            runs.c.status.in_(unfinished), runs.c.owner.startswith(owner_prefix, autoescape=True)
        )
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def page_runs(
        self, filters: dict[str, str | list[str] | None], sort: str = "-created", limit: int = 100, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of runs matching ``filters`` (notebook, cell, kind, status: a value, or a list
        of values any of which matches), ordered by ``sort`` (see :mod:`cellfleet.store.order`),
        and how many match."""
        columns = {"notebook": runs.c.notebook, "cell": runs.c.cell_id, "kind": runs.c.kind, "status": runs.c.status}
        conditions = [
            columns[key].in_(value) if isinstance(value, list | tuple) else columns[key] == value
            for key, value in filters.items()
            if value is not None
        ]
        query = order_runs(sa.select(runs).where(*conditions), sort, self.engine.dialect.name)
        counted = sa.select(sa.func.count()).select_from(runs).where(*conditions)
        with self.engine.connect() as connection:
            rows = [decode_row(dict(r)) for r in connection.execute(query.limit(limit).offset(offset)).mappings()]
            total = int(connection.execute(counted).scalar_one())
        return rows, total

    def changed_runs(self, since: float) -> list[dict[str, Any]]:
        """Runs created, started or ended after ``since``, and every run still running."""
        changed = sa.or_(
            runs.c.created > since, runs.c.started > since, runs.c.ended > since, runs.c.status == RunStatus.RUNNING
        )
        query = sa.select(runs).where(changed).order_by(runs.c.created.desc()).limit(1000)
        with self.engine.connect() as connection:
            return [decode_row(dict(r)) for r in connection.execute(query).mappings()]

    def count_runs(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one())

    # metrics ----------------------------------------------------------------

    def log_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Store many points in one transaction."""
        if not points:
            return
        rows = [
            {"run_id": p.run_id, "key": p.key, "step": p.step, "value": p.value, "logged": p.logged or time.time()}
            for p in points
        ]
        with self.engine.begin() as connection:
            connection.execute(sa.insert(metrics), rows)

    def metric_series(self, run_id: str) -> dict[str, list[tuple[int | None, float, float]]]:
        """Every metric of a run as ``{key: [(step, value, logged), ...]}`` in logging order;
        ``logged`` is when the point was logged (epoch seconds), so curves can be drawn against
        wall time."""
        query = (
            sa.select(metrics.c.key, metrics.c.step, metrics.c.value, metrics.c.logged)
            .where(metrics.c.run_id == run_id)
            .order_by(metrics.c.key, metrics.c.id)
        )
        series: dict[str, list[tuple[int | None, float, float]]] = {}
        with self.engine.connect() as connection:
            for key, step, value, logged in connection.execute(query):
                series.setdefault(key, []).append((step, value, logged))
        return series

    def final_metrics(self, run_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        """The last value of each metric of each run."""
        ids = list(run_ids)
        if not ids:
            return {}
        last = (
            sa.select(sa.func.max(metrics.c.id).label("id"))
            .where(metrics.c.run_id.in_(ids))
            .group_by(metrics.c.run_id, metrics.c.key)
            .subquery()
        )
        query = sa.select(metrics.c.run_id, metrics.c.key, metrics.c.value).join(last, metrics.c.id == last.c.id)
        finals: dict[str, dict[str, float]] = {run_id: {} for run_id in ids}
        with self.engine.connect() as connection:
            for run_id, key, value in connection.execute(query):
                finals[run_id][key] = value
        return finals

    def count_metrics(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(metrics)).scalar_one())

    # artifacts and cached results -----------------------------------------

    def add_artifact(self, run_id: str, name: str, data: bytes, media_type: str) -> Path:
        """Write an artifact file under ``.cellfleet/artifacts/RUN/`` and record it."""
        folder = self.root / run_id
        folder.mkdir(parents=True, exist_ok=True)
        path = _unique(folder, Path(name).name or "artifact")
        safe = path.name
        path.write_bytes(data)
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(artifacts).values(
                    run_id=run_id, name=safe, path=str(path), media_type=media_type, size=len(data), created=time.time()
                )
            )
        return path

    def list_artifacts(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            query = sa.select(artifacts).where(artifacts.c.run_id == run_id).order_by(artifacts.c.id)
            return [dict(row) for row in connection.execute(query).mappings()]

    def save_results(self, run_id: str, blob: bytes) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.delete(results).where(results.c.run_id == run_id))
            connection.execute(sa.insert(results).values(run_id=run_id, blob=blob))

    def load_results(self, run_id: str) -> bytes | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(results.c.blob).where(results.c.run_id == run_id)).first()
        return bytes(row[0]) if row else None

    def find_cached(self, code_hash: str, inputs: str, params: str) -> str | None:
        """The newest succeeded run with these code, inputs and params that kept its results."""
        query = (
            sa.select(runs.c.id)
            .join(results, results.c.run_id == runs.c.id)
            .where(runs.c.code_hash == code_hash, runs.c.inputs == inputs, runs.c.params == params)
            .where(runs.c.status == RunStatus.SUCCEEDED)
            .order_by(runs.c.created.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return row[0] if row else None

    def close(self) -> None:
        self.engine.dispose()


_JSON_FIELDS = ("params", "inputs", "environment", "directions", "environment_drift")
_ORDERED_JSON_FIELDS = ("directions",)  # in the order given, not sorted: a cell's first objective is its primary


def _unique(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``... when taken: artifacts never overwrite each other."""
    path, stem, suffix = folder / name, Path(name).stem, Path(name).suffix
    count = 1
    while path.exists():
        count += 1
        path = folder / f"{stem}-{count}{suffix}"
    return path


def encode_json(value: Any) -> str:
    """The stored JSON form of params, input fingerprints and environments (stable key order)."""
    return json.dumps(value, sort_keys=True, default=repr)


def _encoded(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (json.dumps(v, default=repr) if k in _ORDERED_JSON_FIELDS else encode_json(v)) if k in _JSON_FIELDS else v
        for k, v in fields.items()
    }


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored run row with its JSON fields (params, inputs, environment) decoded."""
    for key in _JSON_FIELDS:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def _artifact_root(url: str) -> Path:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            return Path(path).parent / "artifacts"
    return project_root() / ".cellfleet" / "artifacts"


class StoreRegistry:
    """The stores this process has open, one per URL, shared by every caller; ``close()`` ends them."""

    def __init__(self) -> None:
        self._stores: dict[str, Store] = {}
        self._lock = threading.Lock()

    def open(self, url: str | None = None, open_wait: float | None = None) -> Store:
        """The shared :class:`Store` for ``url`` (default :func:`default_url`); ``open_wait``
        bounds the wait for another process's lock when it must be created (see :class:`Store`)."""
        url = url or default_url()
        with self._lock:
            if url not in self._stores:
                self._stores[url] = Store(url, open_wait=open_wait)
            return self._stores[url]

    def close(self) -> None:
        """Dispose of every open store's connections (a later :meth:`open` opens afresh)."""
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()


stores = StoreRegistry()
"""This process's open stores."""


def open_store(url: str | None = None, open_wait: float | None = None) -> Store:
    """The shared :class:`Store` for ``url`` (default :func:`default_url`)."""
    return stores.open(url, open_wait)
