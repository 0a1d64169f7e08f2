"""--check: the snapshot runs once, now, before the job is active (real kernels, real processes)."""

from __future__ import annotations

import pytest

from cellfleet.production.schedules import job_state
from cellfleet.protocol import JobState, RunKind, RunStatus
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from jobs_helpers import cellfleet, write_notebook


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    url = f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}"
    return tmp_path, url, Store(url)


def test_a_failed_check_leaves_no_job_and_says_why(project):
    folder, url, store = project
    notebook = write_notebook(folder / "nightly.ipynb", ["assert lr < 0.05, f'lr {lr} is too high'"])
    done = cellfleet(url, "promote", str(notebook), "--every", "1h", "-p", "lr", "0.5", "--check")
    assert done.returncode == 2 and done.stdout == ""
    message = done.stderr.strip()
    assert "\n" not in message and message.startswith("cellfleet: error: --check: run ")
    assert "failed (user): cell 2 failed: AssertionError: lr 0.5 is too high" in message
    assert "no job was made: fix the notebook and promote again" in message
    assert JobStore(store).list_jobs() == []
    (run,) = store.list_runs(kind=RunKind.PRODUCTION)
    assert run["status"] == RunStatus.FAILED and run["params"] == {"lr": 0.5} and run["id"] in message
    assert cellfleet(url, "runs", "logs", run["id"]).returncode == 0  # the log the message points to


def test_a_check_that_breaks_an_expectation_fails_too(project):
    folder, url, store = project
    notebook = write_notebook(folder / "train.ipynb", ["import cellfleet\ncellfleet.log(loss=0.7)"])
    done = cellfleet(url, "promote", str(notebook), "--every", "1h", "--expect", "loss<0.5", "--check")
    assert (
        done.returncode == 2
        and "(expectation): expectations not met: loss was 0.7" in done.stderr
        and "no job was made" in done.stderr
    )
    assert JobStore(store).list_jobs() == []


def test_a_passing_check_makes_the_job_active_from_now(project):
    folder, url, store = project
    notebook = write_notebook(folder / "nightly.ipynb", ["import cellfleet\ncellfleet.log(loss=lr)"])
    done = cellfleet(url, "promote", str(notebook), "--every", "1h", "-p", "lr", "0.01", "--check")
    assert done.returncode == 0, done.stderr
    jobs = JobStore(store)
    job = jobs.get_job("nightly")
    (run,) = jobs.job_runs(job["id"])
    assert f"checked by run {run['id']}, which succeeded" in done.stdout and "next run" in done.stdout
    assert run["status"] == RunStatus.SUCCEEDED and run["params"] == {"lr": 0.01}
    assert job["paused"] is False and job_state(job)[0] is JobState.ACTIVE
    assert job["checked_until"] >= run["ended"]  # the schedule starts after the check: nothing to catch up
