"""The occurrence backlog stays bounded under the concurrency cap: overlap and catch-up apply to
occurrences that wait. Real store files and the real scheduler; counts only, never timings."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from cellfleet.production.scheduler import Scheduler
from cellfleet.protocol import OccurrenceState
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from jobs_helpers import cellfleet, stop, wait_for, write_notebook

JOBS = 6


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    url = f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}"
    return tmp_path, url, Store(url)


def _skipped(jobs: JobStore, job_id: str, policy: str) -> list[dict]:
    return [r for r in jobs.job_runs(job_id, limit=10_000) if r["status"] == "skipped" and policy in r["error"]]


def test_a_scheduler_at_its_cap_keeps_the_backlog_bounded(project):
    """6 jobs due every second, one slot: without catch-up on waiting occurrences, ~6 more a second."""
    folder, url, store = project
    notebook = write_notebook(folder / "tick.ipynb", ["pass"])
    for index in range(JOBS):
        assert cellfleet(url, "promote", str(notebook), "--every", "1s", "--name", f"tick{index}").returncode == 0
    jobs = JobStore(store)
    command = [sys.executable, "-m", "cellfleet.cli", "--db", url, "scheduler", "--concurrency", "1", "--poll", "0.2"]
    with open(folder / "scheduler.log", "ab") as log:
        scheduler = subprocess.Popen(command, stdout=log, stderr=log)
    queued: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            queued.append(jobs.count_occurrences(OccurrenceState.QUEUED))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        wait_for(lambda: _succeeded(store) >= 3)  # runs, one at a time, through the one slot
    finally:
        done.set()
        sampler.join()
        stop(scheduler)
    # each job: its newest waiting occurrence, and those planned since the last tick (a slow tick plans
    # two or three at once); held occurrences piling up would add about JOBS a second
    assert queued and max(queued) <= 3 * JOBS
    assert sum(len(_skipped(jobs, job["id"], "--catchup latest")) for job in jobs.list_jobs()) >= JOBS
    assert "tick failed" not in (folder / "scheduler.log").read_text()


def _succeeded(store: Store) -> int:
    return len([r for r in store.list_runs(kind="production", limit=10_000) if r["status"] == "succeeded"])


def _crowd(store: Store, tmp_path, catchup: str, overlap: str = "skip") -> list[dict]:
    jobs = JobStore(store)
    notebook = str(write_notebook(tmp_path / "job.ipynb", ["pass"]))
    return [
        jobs.create_job(name=f"job{index}", notebook=notebook, version="v1", params={}, schedule="every:10",
                        catchup=catchup, overlap=overlap)
        for index in range(3)
    ]  # fmt: skip


@pytest.mark.parametrize(("catchup", "most"), [("latest", 1), ("none", 1), ("all", 20)])
def test_catchup_applies_to_occurrences_held_back_by_the_cap(project, catchup, most):
    """A cap that holds every occurrence back (concurrency 0), driven tick by tick over 200 s of due times."""
    _, _, store = project
    created = _crowd(store, project[0], catchup)
    jobs, scheduler = JobStore(store), Scheduler(store, concurrency=0)
    start = max(job["created"] for job in created)
    counts = []
    for step in range(201):  # a tick a second, half a second after the due times: each is fresh
        scheduler.tick(start + 0.5 + step)
        counts.append(max(jobs.count_occurrences(OccurrenceState.QUEUED, job["id"]) for job in created))
    assert max(counts) == most  # "all" keeps each one: the user asked for every occurrence
    assert jobs.count_occurrences(OccurrenceState.QUEUED) == most * len(created)
    assert all(len(_skipped(jobs, job["id"], f"--catchup {catchup}")) == 20 - most for job in created)


def test_overlap_applies_to_occurrences_held_back_by_the_cap(project):
    """At the cap, a job whose run still goes skips (--overlap skip) what comes due, as it does below the cap."""
    _, _, store = project
    skipping, queueing = _crowd(store, project[0], "latest")[:2]
    jobs = JobStore(store)
    jobs.update_job(queueing["id"], overlap="queue")
    for job in (skipping, queueing):
        store.create_run(kind="production", job_id=job["id"], status="running", owner="another-scheduler")
        jobs.add_occurrence(job["id"], job["created"])
    Scheduler(store, concurrency=0)._launch({j["id"]: jobs.get_job(j["id"]) for j in (skipping, queueing)}, 1e10)
    assert jobs.count_occurrences(OccurrenceState.QUEUED, skipping["id"]) == 0
    assert len(_skipped(jobs, skipping["id"], "--overlap skip")) == 1
    assert jobs.count_occurrences(OccurrenceState.QUEUED, queueing["id"]) == 1  # it waits for the run
