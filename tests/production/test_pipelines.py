"""Notebook pipelines (--after and cellfleet.output): real scheduler processes and real kernels."""

from __future__ import annotations

import pytest

from cellfleet.protocol import OccurrenceState, RunStatus
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from cellfleet.store.outputs import outputs_of
from jobs_helpers import cellfleet, start_scheduler, stop, wait_for, write_notebook

PREP = "import cellfleet\ncellfleet.output(rows=1200, table={'path': 'clean.parquet', 'columns': ['a', 'b']})"
TRAIN = (
    "assert rows == 1200 and table == {'path': 'clean.parquet', 'columns': ['a', 'b']}, (rows, table)\n"
    "assert upstream_run_id, 'no upstream run id'\n"
    "import cellfleet\ncellfleet.log(rows=rows)"
)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    url = f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}"
    return tmp_path, url, Store(url)


def _promote(url: str, *args: str) -> None:
    done = cellfleet(url, "promote", *args)
    assert done.returncode == 0, done.stderr


def _ended(jobs: JobStore, name: str) -> list[dict]:
    return [run for run in jobs.job_runs(jobs.get_job(name)["id"]) if RunStatus(run["status"]).ended]


def test_a_job_after_another_gets_its_run_id_and_outputs_and_a_failed_link_stops_the_chain(project):
    folder, url, store = project
    write_notebook(folder / "prep.ipynb", [PREP], parameters="n = 1")
    write_notebook(folder / "train.ipynb", [TRAIN], parameters="rows = 0\ntable = None\nupstream_run_id = None")
    write_notebook(folder / "broken.ipynb", ["raise ValueError('no data today')"], parameters=None)
    write_notebook(folder / "report.ipynb", ["print('never')"], parameters=None)
    _promote(url, str(folder / "prep.ipynb"))
    _promote(url, str(folder / "train.ipynb"), "--after", "prep")
    _promote(url, str(folder / "broken.ipynb"))
    _promote(url, str(folder / "report.ipynb"), "--after", "broken")
    jobs = JobStore(store)
    assert jobs.get_job("train")["after"] == "prep" and jobs.get_job("train")["schedule"] is None
    for name in ("prep", "broken"):
        assert cellfleet(url, "jobs", "run-now", name).returncode == 0
    scheduler = start_scheduler(url, folder / "scheduler.log")
    try:
        (train,) = wait_for(lambda: _ended(jobs, "train"), 180)  # type: ignore[misc]
        (broken,) = wait_for(lambda: _ended(jobs, "broken"), 180)  # type: ignore[misc]
        wait_for(lambda: jobs.count_occurrences(OccurrenceState.RUNNING) == 0)
    finally:
        stop(scheduler)
    (prep,) = _ended(jobs, "prep")
    assert outputs_of(store, prep["id"]) == {"rows": 1200, "table": {"path": "clean.parquet", "columns": ["a", "b"]}}
    assert train["status"] == RunStatus.SUCCEEDED, train["error"]
    assert train["upstream_run_id"] == prep["id"] and train["params"]["upstream_run_id"] == prep["id"]
    assert store.final_metrics([train["id"]])[train["id"]] == {"rows": 1200.0}
    assert broken["status"] == RunStatus.FAILED and "no data today" in broken["error"]
    assert jobs.job_runs(jobs.get_job("report")["id"]) == []  # the failed link started nothing after it
    shown = cellfleet(url, "jobs", "show", "train")
    assert "after        job prep" in shown.stdout and prep["id"] in shown.stdout


def test_the_check_of_a_job_after_another_follows_the_upstreams_newest_successful_run(project):
    folder, url, store = project
    write_notebook(folder / "prep.ipynb", [PREP], parameters="n = 1")
    write_notebook(folder / "train.ipynb", [TRAIN], parameters="rows = 0\ntable = None\nupstream_run_id = None")
    _promote(url, str(folder / "prep.ipynb"), "--check")  # prep's one run: its check
    _promote(url, str(folder / "train.ipynb"), "--after", "prep", "--check")  # checked with that run's outputs
    jobs = JobStore(store)
    (checked,) = jobs.job_runs(jobs.get_job("train")["id"])
    (prep,) = jobs.job_runs(jobs.get_job("prep")["id"])
    assert checked["status"] == RunStatus.SUCCEEDED and checked["upstream_run_id"] == prep["id"]


def test_cycles_and_unknown_upstreams_are_refused_naming_them(project):
    folder, url, store = project
    for name in ("prep", "b", "c"):
        write_notebook(folder / f"{name}.ipynb", ["x = 1"], parameters=None)
    _promote(url, str(folder / "prep.ipynb"))
    _promote(url, str(folder / "b.ipynb"), "--after", "prep")
    _promote(url, str(folder / "c.ipynb"), "--after", "b")
    assert cellfleet(url, "jobs", "delete", "prep").returncode == 0  # b still follows the name "prep"
    refused = cellfleet(url, "promote", str(folder / "prep.ipynb"), "--after", "c")
    assert refused.returncode == 2
    assert "would make a cycle, prep -> b -> c -> prep" in refused.stderr and refused.stderr.count("\n") == 1
    itself = cellfleet(url, "promote", str(folder / "prep.ipynb"), "--after", "prep")
    assert itself.returncode == 2 and "cycle, prep -> prep" in itself.stderr
    unknown = cellfleet(url, "promote", str(folder / "prep.ipynb"), "--after", "nightly")
    assert unknown.returncode == 2 and "no job named 'nightly'; promote it first" in unknown.stderr
    both = cellfleet(url, "promote", str(folder / "prep.ipynb"), "--after", "c", "--every", "1h")
    assert both.returncode == 2 and "drop --cron/--every" in both.stderr
    assert [job["name"] for job in JobStore(store).list_jobs()] == ["b", "c"]
    _promote(url, str(folder / "prep.ipynb"), "--name", "prep")  # promoted again, the chain is whole
    assert JobStore(store).downstream_jobs("prep")[0]["name"] == "b"
