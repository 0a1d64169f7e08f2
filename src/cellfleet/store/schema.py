"""The store's schema and its upgrades: each version adds to the last, and opening a
store brings it up to date inside one transaction.

| version | adds |
| --- | --- |
| 1 | runs, metrics, artifacts, meta |
| 2 | runs.cached_from, runs.job_id; results (for --cache) |
| 3 | runs.attempt, runs.owner, runs.occurrence_id, runs.output_path; notebook_versions, jobs, occurrences, schedulers |
| 4 | runs.directions (which way is better for each metric, as the cell declared) |
| 5 | runs.parent_id (the production run a remote cell ran inside) |
| 6 | runs.failure_class (why a run failed); jobs.retry_on (which failures it retries), jobs.expect (--expect) |
| 7 | jobs.after, .environment; runs.upstream_run_id, .environment_warning, .environment_drift; |
|   | occurrences.upstream_run_id; run_outputs (cellfleet.output), environments (distribution lists) |
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cellfleet.errors import StoreError
from cellfleet.protocol import NotifyOn, RetryOn, RunKind, RunStatus, values_of

__all__ = [
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "artifacts",
    "environments",
    "jobs",
    "metrics",
    "notebook_versions",
    "occurrences",
    "results",
    "run_outputs",
    "runs",
    "schedulers",
    "schema_version",
    "upgrade",
]

SCHEMA_VERSION = 7
RUN_STATUSES = values_of(RunStatus)

metadata = sa.MetaData()

meta = sa.Table("meta", metadata, sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text))

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("notebook", sa.Text, nullable=False, default=""),
    sa.Column("cell_id", sa.String(128), nullable=False, default=""),
    sa.Column("cell_name", sa.String(256), nullable=False, default=""),
    sa.Column("kind", sa.String(16), nullable=False, default=RunKind.INTERACTIVE.value),
    sa.Column("status", sa.String(16), nullable=False, default=RunStatus.QUEUED.value),
    sa.Column("code", sa.Text, nullable=False, default=""),
    sa.Column("code_hash", sa.String(64), nullable=False, default=""),
    sa.Column("params", sa.Text, nullable=False, default="{}"),
    sa.Column("inputs", sa.Text, nullable=False, default="{}"),
    sa.Column("group_id", sa.String(32)),
    sa.Column("variant", sa.Integer),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("ended", sa.Float),
    sa.Column("worker", sa.Text),
    sa.Column("gpu", sa.Text),
    sa.Column("host", sa.Text),
    sa.Column("environment", sa.Text, nullable=False, default="{}"),
    sa.Column("error", sa.Text),
    sa.Column("output", sa.Text, nullable=False, default=""),
    sa.Column("cached_from", sa.String(32)),  # schema 2
    sa.Column("job_id", sa.String(32)),  # schema 2
    sa.Column("attempt", sa.Integer),  # schema 3
    sa.Column("owner", sa.String(64)),  # schema 3: the scheduler running it
    sa.Column("occurrence_id", sa.Integer),  # schema 3
    sa.Column("output_path", sa.Text),  # schema 3: the executed notebook
    sa.Column("directions", sa.Text),  # schema 4: {metric: "min" | "max"} the cell declared
    sa.Column("parent_id", sa.String(32)),  # schema 5: the production run a remote cell ran inside
    sa.Column("failure_class", sa.String(24)),  # schema 6: a FailureClass value, for a failed ending
    sa.Column("upstream_run_id", sa.String(32)),  # schema 7: the run of the --after job that started this one
    sa.Column("environment_warning", sa.Text),  # schema 7: how its environment differs from the promoted one
    sa.Column("environment_drift", sa.Text),  # schema 7: JSON list of {name, promoted, now}
    sa.Index("runs_by_notebook", "notebook", "created"),
    sa.Index("runs_by_status", "status"),
    sa.Index("runs_by_group", "group_id"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("step", sa.Integer),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("logged", sa.Float, nullable=False),
    sa.Index("metrics_by_run", "run_id", "key", "id"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("media_type", sa.String(128), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Index("artifacts_by_run", "run_id"),
)

results = sa.Table(  # schema 2: small results kept for --cache
    "results",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("blob", sa.LargeBinary, nullable=False),
)

notebook_versions = sa.Table(  # schema 3: immutable, content-hashed snapshots
    "notebook_versions",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

jobs = sa.Table(  # schema 3
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("notebook", sa.Text, nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("params", sa.Text, nullable=False, default="{}"),
    sa.Column("schedule", sa.Text),
    sa.Column("cluster", sa.Text),
    sa.Column("retries", sa.Integer, nullable=False, default=0),
    sa.Column("timeout", sa.Float),
    sa.Column("concurrency", sa.Integer, nullable=False, default=1),
    sa.Column("overlap", sa.String(8), nullable=False, default="skip"),
    sa.Column("catchup", sa.String(8), nullable=False, default="latest"),
    sa.Column("notify_url", sa.Text),
    sa.Column("notify_on", sa.String(8), nullable=False, default=NotifyOn.FAILURE.value),
    sa.Column("kernel", sa.String(128)),
    sa.Column("from_run", sa.String(32)),
    sa.Column("paused", sa.Boolean, nullable=False, default=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("checked_until", sa.Float, nullable=False),
    sa.Column("retry_on", sa.String(8), default=RetryOn.INFRA.value, server_default=RetryOn.INFRA.value),  # schema 6
    sa.Column("expect", sa.Text, default="[]", server_default="[]"),  # schema 6: JSON list of "metric<bound"
    sa.Column("after", sa.String(256)),  # schema 7: the name of the job whose successful runs start this one
    sa.Column("environment", sa.Text),  # schema 7: JSON, the promoted experiment's environment (and its run)
)

occurrences = sa.Table(  # schema 3: one row per (job, due time); the unique key makes it run once
    "occurrences",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(32), nullable=False),
    sa.Column("due", sa.Float, nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("not_before", sa.Float, nullable=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("run_id", sa.String(32)),
    sa.Column("runner_pid", sa.Integer),
    sa.Column("upstream_run_id", sa.String(32)),  # schema 7: the upstream run that made it due (--after)
    sa.UniqueConstraint("job_id", "due", name="one_occurrence_per_due_time"),
    sa.Index("occurrences_by_state", "state", "not_before"),
)

schedulers = sa.Table(  # schema 3: live schedulers and their heartbeats
    "schedulers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("heartbeat", sa.Float, nullable=False),
)

run_outputs = sa.Table(  # schema 7: cellfleet.output(name=value), one JSON value per name
    "run_outputs",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

environments = sa.Table(  # schema 7: every distribution behind an environment digest, kept once
    "environments",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("distributions", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

_SCHEMA_2_COLUMNS = (("runs", "cached_from", "VARCHAR(32)"), ("runs", "job_id", "VARCHAR(32)"))
_SCHEMA_3_COLUMNS = (
    ("runs", "attempt", "INTEGER"),
    ("runs", "owner", "VARCHAR(64)"),
    ("runs", "occurrence_id", "INTEGER"),
    ("runs", "output_path", "TEXT"),
)
_SCHEMA_4_COLUMNS = (("runs", "directions", "TEXT"),)
_SCHEMA_5_COLUMNS = (("runs", "parent_id", "VARCHAR(32)"),)
_SCHEMA_6_COLUMNS = (
    ("runs", "failure_class", "VARCHAR(24)"),
    ("jobs", "retry_on", f"VARCHAR(8) DEFAULT '{RetryOn.INFRA.value}'"),
    ("jobs", "expect", "TEXT DEFAULT '[]'"),
)
_SCHEMA_7_COLUMNS = (
    ("runs", "upstream_run_id", "VARCHAR(32)"),
    ("runs", "environment_warning", "TEXT"),
    ("runs", "environment_drift", "TEXT"),
    ("jobs", "after", "VARCHAR(256)"),
    ("jobs", "environment", "TEXT"),
    ("occurrences", "upstream_run_id", "VARCHAR(32)"),
)
_AFTER_3 = (*_SCHEMA_6_COLUMNS, *_SCHEMA_7_COLUMNS)
_LATER_JOB_COLUMNS = {column for table, column, _ in _AFTER_3 if table == "jobs"}
"""The jobs columns added after schema 3 made the table (left out when schema 3 makes it)."""
_LATER_OCCURRENCE_COLUMNS = {column for table, column, _ in _AFTER_3 if table == "occurrences"}


def schema_version(connection: sa.Connection) -> int:
    if not sa.inspect(connection).has_table("meta"):
        return 0
    row = connection.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else 0


def _upgrade_to_1(connection: sa.Connection) -> None:
    """Schema 1: runs (without the columns later versions add), metrics, artifacts."""
    later = (*_SCHEMA_2_COLUMNS, *_SCHEMA_3_COLUMNS, *_SCHEMA_4_COLUMNS, *_SCHEMA_5_COLUMNS, *_AFTER_3)
    added_later = {column for table, column, _ in later if table == "runs"}
    version_1 = sa.MetaData()
    for table in (meta, metrics, artifacts):
        table.to_metadata(version_1)
    columns = [column._copy() for column in runs.columns if column.name not in added_later]
    runs_1 = sa.Table("runs", version_1, *columns)
    for index in runs.indexes:
        sa.Index(index.name, *(runs_1.c[c.name] for c in index.columns))
    version_1.create_all(connection)


def _add_columns(connection: sa.Connection, columns: tuple[tuple[str, str, str], ...]) -> None:
    inspector = sa.inspect(connection)
    existing = {table: {c["name"] for c in inspector.get_columns(table)} for table in {t for t, _, _ in columns}}
    for table, column, kind in columns:
        if column not in existing[table]:
            connection.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))


def _upgrade_to_2(connection: sa.Connection) -> None:
    _add_columns(connection, _SCHEMA_2_COLUMNS)
    metadata.create_all(connection, tables=[results])


def _upgrade_to_3(connection: sa.Connection) -> None:
    _add_columns(connection, _SCHEMA_3_COLUMNS)
    version_3 = sa.MetaData()
    for table in (notebook_versions, schedulers):
        table.to_metadata(version_3)
    sa.Table("jobs", version_3, *(c._copy() for c in jobs.columns if c.name not in _LATER_JOB_COLUMNS))
    kept = [c._copy() for c in occurrences.columns if c.name not in _LATER_OCCURRENCE_COLUMNS]
    occurrences_3 = sa.Table("occurrences", version_3, *kept)
    sa.UniqueConstraint(occurrences_3.c.job_id, occurrences_3.c.due, name="one_occurrence_per_due_time")
    sa.Index("occurrences_by_state", occurrences_3.c.state, occurrences_3.c.not_before)
    version_3.create_all(connection)


def _upgrade_to_4(connection: sa.Connection) -> None:
    _add_columns(connection, _SCHEMA_4_COLUMNS)


def _upgrade_to_5(connection: sa.Connection) -> None:
    _add_columns(connection, _SCHEMA_5_COLUMNS)


def _upgrade_to_6(connection: sa.Connection) -> None:
    _add_columns(connection, _SCHEMA_6_COLUMNS)


def _upgrade_to_7(connection: sa.Connection) -> None:
    _add_columns(connection, _SCHEMA_7_COLUMNS)
    metadata.create_all(connection, tables=[run_outputs, environments])


_UPGRADES = {
    1: _upgrade_to_1,
    2: _upgrade_to_2,
    3: _upgrade_to_3,
    4: _upgrade_to_4,
    5: _upgrade_to_5,
    6: _upgrade_to_6,
    7: _upgrade_to_7,
}


_RACE_WORDS = ("duplicate column", "already exists", "pg_type_typname_nsp_index")
"""What a process that lost the race to create the schema sees (SQLite's, PostgreSQL's)."""

_SCHEMA_LOCK = 0x63656C6C666C74  # "cellflt": the PostgreSQL advisory lock held while the schema changes


def upgrade(engine: Engine, target: int = SCHEMA_VERSION, lock_wait: float | None = None) -> int:
    """Bring the schema up to ``target``; returns the version it was at.

    Several processes may open a new store at once. The one that changes the schema holds
    the database's write lock on SQLite and a transaction-scoped advisory lock on
    PostgreSQL, so the others wait, then find the work done. One that still loses a race
    to create a table or column (a process of an older Cellfleet, which took no advisory
    lock) reads the version again and carries on. ``lock_wait`` bounds the wait for that
    lock (default: SQLite's busy timeout; on PostgreSQL, no bound); a lock held longer is
    raised, not waited for again.
    """
    for attempt in range(3):
        started = time.monotonic()
        try:
            return _upgrade_once(engine, target, lock_wait)
        except sa.exc.DBAPIError as error:
            raced = not error.connection_invalidated and any(word in str(error) for word in _RACE_WORDS)
            if attempt == 2 or not (raced or _busy_at_once(error, started)):
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _busy_at_once(error: sa.exc.DBAPIError, started: float) -> bool:
    """SQLite's "locked" without waiting: it refuses at once, rather than wait, where waiting
    could deadlock (two connections opening a fresh store together); a held lock waits first."""
    return "database is locked" in str(error) and time.monotonic() - started < 0.5


def _upgrade_once(engine: Engine, target: int, lock_wait: float | None) -> int:
    with engine.connect() as connection:  # a store already up to date opens without the write lock
        found = schema_version(connection)
    if found >= target:
        _check_known(found)
        return found
    with engine.begin() as connection:
        _take_schema_lock(connection, lock_wait)
        found = schema_version(connection)
        _check_known(found)
        for version in range(found + 1, target + 1):
            _UPGRADES[version](connection)
        if target > found:
            _set_version(connection, target)
    return found


def _take_schema_lock(connection: sa.Connection, seconds: float | None) -> None:
    """Hold, until the transaction ends, the lock that makes one process at a time change the
    schema: SQLite's write lock, or PostgreSQL's advisory lock (other databases: none)."""
    if connection.dialect.name == "sqlite":
        with _lock_wait(connection, seconds):
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # hold the write lock while reading the version
    elif connection.dialect.name == "postgresql":
        previous = connection.execute(sa.text("SHOW lock_timeout")).scalar_one()
        if seconds is not None:
            connection.execute(sa.select(sa.func.set_config("lock_timeout", f"{max(1, int(seconds * 1000))}ms", True)))
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
        connection.execute(sa.select(sa.func.set_config("lock_timeout", previous, True)))


@contextlib.contextmanager
def _lock_wait(connection: sa.Connection, seconds: float | None) -> Iterator[None]:
    """On SQLite, wait at most ``seconds`` for the write lock inside the block."""
    if seconds is None or connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    connection.exec_driver_sql(f"PRAGMA busy_timeout={int(seconds * 1000)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(previous or 0)}")


def _check_known(found: int) -> None:
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"the store was written by a newer Cellfleet (schema {found}, this one knows {SCHEMA_VERSION}): "
            "upgrade cellfleet"
        )


def _set_version(connection: sa.Connection, version: int) -> None:
    connection.execute(sa.delete(meta).where(meta.c.key == "schema_version"))
    connection.execute(sa.insert(meta).values(key="schema_version", value=str(version)))
