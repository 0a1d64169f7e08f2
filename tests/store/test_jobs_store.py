"""Jobs in the store, on SQLite and on PostgreSQL: every change two schedulers could race on
is won by exactly one of them."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import pytest

from cellfleet import PromotionError
from cellfleet.protocol import OccurrenceState, RunStatus
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore

RACERS = 8


@pytest.fixture
def jobs(store_url):
    return JobStore(Store(store_url))


def _job(jobs: JobStore, name: str = "nightly") -> dict:
    return jobs.create_job(name=name, notebook="train.ipynb", version="0" * 64, params={"lr": 0.1},
                           schedule="every:60", paused=False)  # fmt: skip


def _race(attempts: list[Callable[[], bool]]) -> list[bool]:
    """Every one of ``attempts`` at once, each from a thread of its own."""
    start, results = threading.Barrier(len(attempts)), []

    def one(attempt: Callable[[], bool]) -> None:
        start.wait(30)
        results.append(attempt())

    threads = [threading.Thread(target=one, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_a_job_name_is_taken_once_and_read_back_whole(jobs):
    job = _job(jobs)
    assert job["params"] == {"lr": 0.1} and job["paused"] is False and jobs.get_job("nightly")["id"] == job["id"]
    with pytest.raises(PromotionError, match="a job named 'nightly' exists") as info:
        _job(jobs)
    assert info.value.problem == "conflict" and [j["name"] for j in jobs.list_jobs()] == ["nightly"]
    jobs.update_job(job["id"], paused=True)
    assert jobs.get_job(job["id"][:4])["paused"] is True


def test_each_due_time_is_recorded_and_claimed_once(jobs, store_url):
    job = _job(jobs)
    racers = [JobStore(Store(store_url)) for _ in range(RACERS)]  # an engine each, as schedulers have
    added = _race([functools.partial(racer.add_occurrence, job["id"], 100.0) for racer in racers])
    assert sorted(added) == [False] * (RACERS - 1) + [True]
    (occurrence,) = jobs.ready_occurrences(now=200.0)
    won = _race([functools.partial(racer.claim, occurrence, f"scheduler-{n}") for n, racer in enumerate(racers)])
    assert won.count(True) == 1 and jobs.occurrence(occurrence["id"])["state"] == OccurrenceState.RUNNING
    assert jobs.requeue(occurrence["id"], 0, not_before=300.0) and not jobs.requeue(occurrence["id"], 0, 300.0)
    assert jobs.ready_occurrences(now=200.0) == [] and jobs.ready_occurrences(now=300.0)[0]["attempt"] == 1


def test_a_run_ends_once_and_only_for_its_owner(jobs):
    run_id = jobs.store.create_run(kind="production", status=RunStatus.RUNNING, owner="scheduler-a")
    assert not jobs.finish_run(run_id, "scheduler-b", status=RunStatus.FAILED)
    assert jobs.finish_run(run_id, "scheduler-a", status=RunStatus.SUCCEEDED)
    assert not jobs.finish_run(run_id, None, status=RunStatus.FAILED)
    assert jobs.store.get_run(run_id)["status"] == RunStatus.SUCCEEDED


def test_heartbeats_and_notebook_versions(jobs):
    jobs.heartbeat("scheduler-a")
    first = jobs.schedulers()["scheduler-a"]["heartbeat"]
    jobs.heartbeat("scheduler-a")
    assert list(jobs.schedulers()) == ["scheduler-a"] and jobs.schedulers()["scheduler-a"]["heartbeat"] >= first
    jobs.forget_scheduler("scheduler-a")
    assert jobs.schedulers() == {}
    jobs.save_version("f" * 64, "train.ipynb", "{}")
    jobs.save_version("f" * 64, "train.ipynb", "{}")
    assert jobs.version_content("f" * 64) == "{}" and jobs.version_content("e" * 64) is None


def test_the_remote_cells_of_a_run_are_linked_to_it_not_counted_as_runs_of_its_job(jobs):
    job = _job(jobs)
    store = jobs.store
    run = store.create_run(kind="production", job_id=job["id"], status=RunStatus.RUNNING, owner="scheduler-1")
    cell = store.create_run(kind="production", job_id=job["id"], parent_id=run, status=RunStatus.RUNNING)
    assert store.get_run(cell)["parent_id"] == run
    assert [r["id"] for r in jobs.job_runs(job["id"])] == [run]
    assert [r["id"] for r in jobs.running_runs(job["id"])] == [run]
