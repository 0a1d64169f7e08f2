"""Scheduler policies on a real store, driven tick by tick (no sleeping on the clock)."""

from __future__ import annotations

import pytest

from cellfleet.production.scheduler import Scheduler, backoff
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from jobs_helpers import cellfleet, write_notebook


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    return Store(f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}")


def _job(store: Store, tmp_path, **fields) -> dict:
    jobs = JobStore(store)
    notebook = write_notebook(tmp_path / "job.ipynb", ["pass"])
    defaults = {"name": "job", "notebook": str(notebook), "version": "v1", "params": {}, "schedule": "every:10"}
    job = jobs.create_job(**{**defaults, **fields})
    return job


@pytest.mark.parametrize(("catchup", "expected"), [("none", 1), ("latest", 2), ("all", 6)])
def test_catchup_decides_what_happens_to_missed_occurrences(store, tmp_path, catchup, expected):
    job = _job(store, tmp_path, catchup=catchup)
    jobs = JobStore(store)
    start = job["created"]
    jobs.update_job(job["id"], checked_until=start)
    scheduler = Scheduler(store)
    now = start + 60.5  # down for a minute: due times at +10 ... +60, the last one fresh
    scheduler._plan([jobs.get_job(job["id"])], now)
    due = sorted(o["due"] - start for o in jobs.ready_occurrences(float("inf")))
    assert len(due) == expected
    assert due[-1] == pytest.approx(60)


def _due_while_running(store: Store, tmp_path, overlap: str) -> tuple[JobStore, dict]:
    """A job whose previous run still goes when its next occurrence comes due; one tick."""
    job = _job(store, tmp_path, overlap=overlap, schedule=None)
    jobs = JobStore(store)
    store.create_run(kind="production", job_id=job["id"], status="running", owner="someone")
    jobs.add_occurrence(job["id"], job["created"])
    Scheduler(store)._launch({job["id"]: jobs.get_job(job["id"])}, job["created"] + 1)
    return jobs, job


def test_overlap_skip_records_a_skipped_run(store, tmp_path):
    jobs, job = _due_while_running(store, tmp_path, "skip")
    skipped = [r for r in jobs.job_runs(job["id"]) if r["status"] == "skipped"]
    assert len(skipped) == 1 and "--overlap skip" in skipped[0]["error"]
    assert not jobs.ready_occurrences(float("inf"))


def test_overlap_queue_waits_for_the_previous_run(store, tmp_path):
    jobs, job = _due_while_running(store, tmp_path, "queue")
    assert len(jobs.ready_occurrences(float("inf"))) == 1  # still queued, nothing started
    assert all(r["status"] == "running" for r in jobs.job_runs(job["id"]))


def test_a_claim_is_won_by_one_scheduler_only(store, tmp_path):
    job = _job(store, tmp_path, schedule=None)
    jobs = JobStore(store)
    assert jobs.add_occurrence(job["id"], 100.0) and not jobs.add_occurrence(job["id"], 100.0)
    (occurrence,) = jobs.ready_occurrences(float("inf"))
    assert jobs.claim(occurrence, "a") and not jobs.claim(occurrence, "b")


def test_backoff_doubles_and_is_capped():
    assert [backoff(n) for n in range(4)] == [1, 2, 4, 8]
    assert backoff(30) == 300


def test_a_dying_kernel_fails_the_run_with_that_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    notebook = write_notebook(tmp_path / "dies.ipynb", ["import os\nos._exit(1)"])
    result = cellfleet(url, "run", str(notebook))
    assert result.returncode == 1
    assert "the kernel died" in result.stderr and "Traceback" not in result.stderr
    (run,) = Store(url).list_runs(kind="production")
    assert run["status"] == "failed" and "kernel died" in run["error"]
    follow = cellfleet(url, "runs", "logs", run["id"], "--follow")
    assert follow.returncode == 0 and "Executing" in follow.stdout and "failed" in follow.stdout
