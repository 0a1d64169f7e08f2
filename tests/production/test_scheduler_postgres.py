"""Production on a PostgreSQL store: two scheduler processes share it and run each occurrence
once; the job commands and a tracked production run work there; no log or message shows the
store's password."""

from __future__ import annotations

import pytest

from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from jobs_helpers import cellfleet, start_scheduler, stop, wait_for, write_notebook


@pytest.fixture
def project(tmp_path, monkeypatch, postgres_url):
    """A project folder whose store is a fresh PostgreSQL database (its URL carries a password)."""
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    return tmp_path, postgres_url, Store(postgres_url)


def _runs(store: Store, job: str) -> list[dict]:
    jobs = JobStore(store)
    return jobs.job_runs(jobs.get_job(job)["id"], limit=1000)


def _promote(url: str, *args: str) -> None:
    result = cellfleet(url, "promote", *args)
    assert result.returncode == 0, result.stderr


def test_two_schedulers_on_one_postgresql_store_run_each_occurrence_once(project, postgres_server):
    folder, url, store = project
    options = ("--name", "tick", "--every", "1s", "--overlap", "allow", "--concurrency", "4")
    _promote(url, str(write_notebook(folder / "tick.ipynb", ["pass"])), *options)
    logs = [folder / "scheduler-0.log", folder / "scheduler-1.log"]
    started = [start_scheduler(url, log) for log in logs]
    try:
        wait_for(lambda: len([r for r in _runs(store, "tick") if r["status"] == "succeeded"]) >= 6)
        runs = [r for r in _runs(store, "tick") if r["status"] != "running"]
    finally:
        for process in started:
            stop(process)
    by_occurrence: dict[int, list[dict]] = {}
    for run in runs:  # an occurrence a newer due time overtook has one run too, skipped
        by_occurrence.setdefault(run["occurrence_id"], []).append(run)
    assert all(len(group) == 1 for group in by_occurrence.values())
    dues = [r["environment"]["due"] for r in runs if r["status"] != "skipped"]
    assert len(dues) == len(set(dues)) >= 6
    for log in logs:
        text = log.read_text()
        assert "postgresql://postgres:***@" in text and postgres_server.password not in text


def test_a_production_run_is_tracked_on_postgresql(project, postgres_server):
    folder, url, store = project
    notebook = write_notebook(
        folder / "once.ipynb", ["import cellfleet\ncellfleet.log(score=lr * 10)\nprint('ran once')"]
    )
    _promote(url, str(notebook), "--name", "once", "-p", "lr", "0.5")
    assert "once" in cellfleet(url, "jobs", "ls").stdout
    assert cellfleet(url, "jobs", "run-now", "once").returncode == 0
    done = cellfleet(url, "scheduler", "--once", timeout=180)
    assert done.returncode == 0, done.stderr
    assert postgres_server.password not in done.stdout + done.stderr
    (run,) = _runs(store, "once")
    assert run["status"] == "succeeded" and run["kind"] == "production" and run["params"] == {"lr": 0.5}
    assert store.final_metrics([run["id"]])[run["id"]] == {"score": 5.0}
    logs = cellfleet(url, "runs", "logs", run["id"])
    assert logs.returncode == 0 and "ran once" in logs.stdout
    missing = cellfleet(url, "runs", "show", "nosuchrun")
    assert missing.returncode == 2 and "no run 'nosuchrun' in postgresql://postgres:***@" in missing.stderr
    assert postgres_server.password not in missing.stderr
