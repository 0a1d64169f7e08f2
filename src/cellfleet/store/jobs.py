"""Jobs in the store: notebook versions, jobs, occurrences and scheduler leases.

Every state change that two schedulers could race on is a compare-and-set ``UPDATE``
(or an ``INSERT`` under a unique key), so exactly one of them wins it.
"""

from __future__ import annotations

import os
import platform
import time
import uuid
from typing import Any

import sqlalchemy as sa

from cellfleet.errors import PromotionError
from cellfleet.protocol import OccurrenceState, RetryOn, RunKind, RunStatus
from cellfleet.store.database import Store, decode_row, encode_json
from cellfleet.store.schema import jobs, notebook_versions, occurrences, runs, schedulers

__all__ = ["JobStore"]

_JOB_JSON = ("params", "expect", "environment")


class JobStore:
    """Job operations on a :class:`~cellfleet.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # notebook versions --------------------------------------------------------

    def save_version(self, digest: str, path: str, content: str) -> None:
        with self.engine.begin() as connection:
            exists = connection.execute(sa.select(notebook_versions.c.hash).where(notebook_versions.c.hash == digest))
            if exists.first() is None:
                connection.execute(
                    sa.insert(notebook_versions).values(hash=digest, path=path, content=content, created=time.time())
                )

    def version_content(self, digest: str) -> str | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(notebook_versions.c.content).where(notebook_versions.c.hash == digest))
            found = row.first()
        return found[0] if found else None

    # jobs -----------------------------------------------------------------------

    def create_job(self, **fields: Any) -> dict[str, Any]:
        now = time.time()
        row = {"id": uuid.uuid4().hex[:10], "created": now, "checked_until": now, **fields}
        row["params"] = encode_json(row.get("params") or {})
        row["expect"] = encode_json(list(row.get("expect") or []))
        if row.get("environment") is not None:
            row["environment"] = encode_json(row["environment"])
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(jobs).values(**row))
        except sa.exc.IntegrityError:
            raise PromotionError(
                f"a job named {fields['name']!r} exists: promote with another --name, "
                f"or `cellfleet jobs delete {fields['name']}` first",
                problem="conflict",
            ) from None
        return self.get_job(row["id"])

    def get_job(self, key: str) -> dict[str, Any]:
        """A job by id, name, or unique id prefix; ``PromotionError`` when there is none."""
        with self.engine.connect() as connection:
            prefix = jobs.c.id.startswith(key, autoescape=True)
            query = sa.select(jobs).where(sa.or_(jobs.c.id == key, jobs.c.name == key, prefix))
            rows = connection.execute(query.limit(3)).mappings().all()
        exact = [row for row in rows if key in (row["id"], row["name"])]  # a name beats an id prefix
        rows = exact[:1] or rows
        if len(rows) != 1:
            problem = "no job" if not rows else "several jobs match"
            raise PromotionError(f"{problem} {key!r}: list jobs with `cellfleet jobs ls`", problem="missing")
        return _decoded_job(dict(rows[0]))

    def list_jobs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(jobs).order_by(jobs.c.created)).mappings().all()
        return [_decoded_job(dict(row)) for row in rows]

    def downstream_jobs(self, name: str) -> list[dict[str, Any]]:
        """The jobs that run after each successful run of the job ``name`` (``--after``)."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(jobs).where(jobs.c.after == name).order_by(jobs.c.created)).mappings()
            return [_decoded_job(dict(row)) for row in rows]

    def last_success(self, job_id: str) -> str | None:
        """The id of the job's newest succeeded run, if any."""
        query = sa.select(runs.c.id).where(runs.c.job_id == job_id, runs.c.parent_id.is_(None))
        query = query.where(runs.c.status == RunStatus.SUCCEEDED).order_by(runs.c.created.desc()).limit(1)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return row[0] if row else None

    def update_job(self, job_id: str, **fields: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.update(jobs).where(jobs.c.id == job_id).values(**fields))

    def delete_job(self, job_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.delete(occurrences).where(occurrences.c.job_id == job_id))
            connection.execute(sa.delete(jobs).where(jobs.c.id == job_id))

    def job_runs(self, job_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The job's runs, newest first (not the remote cells that ran inside them)."""
        query = sa.select(runs).where(runs.c.job_id == job_id, runs.c.parent_id.is_(None))
        query = query.order_by(runs.c.created.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [decode_row(dict(row)) for row in connection.execute(query).mappings()]

    # occurrences ----------------------------------------------------------------

    def add_occurrence(self, job_id: str, due: float, upstream_run_id: str | None = None) -> bool:
        """Record that ``job_id`` is due at ``due`` (made due by ``upstream_run_id``, for an
        ``--after`` job); False when some scheduler already did."""
        fields = {"job_id": job_id, "due": due, "attempt": 0, "not_before": due, "upstream_run_id": upstream_run_id}
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(occurrences).values(state=OccurrenceState.QUEUED, **fields))
        except sa.exc.IntegrityError:
            return False
        return True

    def ready_occurrences(self, now: float) -> list[dict[str, Any]]:
        query = (
            sa.select(occurrences)
            .where(occurrences.c.state == OccurrenceState.QUEUED, occurrences.c.not_before <= now)
            .order_by(occurrences.c.not_before)
        )
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def count_occurrences(self, state: OccurrenceState, job_id: str | None = None) -> int:
        """How many occurrences (of ``job_id``, or of every job) are in ``state``: the backlog, for queued."""
        query = sa.select(sa.func.count()).select_from(occurrences).where(occurrences.c.state == state)
        if job_id is not None:
            query = query.where(occurrences.c.job_id == job_id)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def claim(self, occurrence: dict[str, Any], scheduler_id: str) -> bool:
        """Compare-and-set queued → running for this attempt; True for the one scheduler that wins."""
        changes = {"state": OccurrenceState.RUNNING, "claimed_by": scheduler_id}
        return self._transition(occurrence["id"], occurrence["attempt"], OccurrenceState.QUEUED, changes)

    def set_occurrence(self, occurrence_id: int, **fields: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.update(occurrences).where(occurrences.c.id == occurrence_id).values(**fields))

    def requeue(self, occurrence_id: int, attempt: int, not_before: float) -> bool:
        """running → queued for the next attempt (a retry), won by one scheduler."""
        changes = {
            "state": OccurrenceState.QUEUED,
            "attempt": attempt + 1,
            "not_before": not_before,
            "claimed_by": None,
        }
        return self._transition(occurrence_id, attempt, OccurrenceState.RUNNING, changes)

    def close_occurrence(self, occurrence_id: int, attempt: int, state: OccurrenceState) -> bool:
        return self._transition(occurrence_id, attempt, OccurrenceState.RUNNING, {"state": state})

    def claimed_occurrences(self) -> list[dict[str, Any]]:
        """Occurrences some scheduler has taken and not finished."""
        with self.engine.connect() as connection:
            query = sa.select(occurrences).where(occurrences.c.state == OccurrenceState.RUNNING)
            return [dict(row) for row in connection.execute(query).mappings()]

    def occurrence(self, occurrence_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(occurrences).where(occurrences.c.id == occurrence_id)).mappings().first()
        return dict(row) if row else None

    def _transition(
        self, occurrence_id: int, attempt: int, from_state: OccurrenceState, changes: dict[str, Any]
    ) -> bool:
        query = (
            sa.update(occurrences)
            .where(occurrences.c.id == occurrence_id, occurrences.c.attempt == attempt)
            .where(occurrences.c.state == from_state)
            .values(**changes)
        )
        with self.engine.begin() as connection:
            return connection.execute(query).rowcount == 1

    def running_runs(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """The production runs running now (not the remote cells running inside them)."""
        query = sa.select(runs).where(runs.c.kind == RunKind.PRODUCTION, runs.c.status == RunStatus.RUNNING)
        query = query.where(runs.c.parent_id.is_(None))
        if job_id is not None:
            query = query.where(runs.c.job_id == job_id)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def finish_run(self, run_id: str, owner: str | None, **fields: Any) -> bool:
        """running → an ending, only if the run is still running (and still ``owner``'s)."""
        query = sa.update(runs).where(runs.c.id == run_id, runs.c.status == RunStatus.RUNNING)
        if owner is not None:
            query = query.where(runs.c.owner == owner)
        with self.engine.begin() as connection:
            return connection.execute(query.values(**fields)).rowcount == 1

    # schedulers -----------------------------------------------------------------

    def heartbeat(self, scheduler_id: str) -> None:
        values = {"host": platform.node(), "pid": os.getpid(), "heartbeat": time.time()}
        with self.engine.begin() as connection:
            changed = connection.execute(sa.update(schedulers).where(schedulers.c.id == scheduler_id).values(**values))
            if changed.rowcount == 0:
                connection.execute(sa.insert(schedulers).values(id=scheduler_id, **values))

    def schedulers(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as connection:
            return {row["id"]: dict(row) for row in connection.execute(sa.select(schedulers)).mappings()}

    def forget_scheduler(self, scheduler_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.delete(schedulers).where(schedulers.c.id == scheduler_id))


def _decoded_job(row: dict[str, Any]) -> dict[str, Any]:
    import json

    for key in _JOB_JSON:
        row[key] = json.loads(row[key]) if isinstance(row.get(key), str) else row.get(key)
    row["expect"] = row.get("expect") or []
    row["retry_on"] = row.get("retry_on") or RetryOn.INFRA.value  # as a job an older Cellfleet wrote retries
    return row
