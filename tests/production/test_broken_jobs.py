"""A job whose schedule cannot fire: refused at promotion; a row of it in the store is broken, not fatal.

Real store files, the real `cellfleet` command and a real `cellfleet scheduler` process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cellfleet.production.promote import snapshot
from cellfleet.production.schedules import job_state, parse_schedule, schedule_problem
from cellfleet.protocol import JobState
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from jobs_helpers import cellfleet, start_scheduler, stop, wait_for, write_notebook

BROKEN_ROWS = {
    "feb30": ("cron:0 0 30 2 *", "its cron schedule '0 0 30 2 *' never fires"),
    "forever": ("every:8.64e+18", "its interval of 8.64e+18 s is too long: its next time is past any date"),
    "garbled": ("cron:every day", "its schedule 'cron:every day' cannot be read"),
    "zero": ("every:0", "its interval '0' is not a finite number of seconds above 0"),
}
"""Rows no promotion writes now (an older version's, or written straight into the store)."""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    url = f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}"
    return tmp_path, url, Store(url)


def _write_broken_rows(store: Store, notebook: Path) -> None:
    jobs, version = JobStore(store), snapshot(notebook, store).digest
    for name, (schedule, _) in BROKEN_ROWS.items():
        jobs.create_job(name=name, notebook=str(notebook), version=version, params={}, schedule=schedule)


def _succeeded(store: Store, name: str) -> list[dict]:
    jobs = JobStore(store)
    return [r for r in jobs.job_runs(jobs.get_job(name)["id"], limit=1000) if r["status"] == "succeeded"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cron", "0 0 30 2 *"), "--cron '0 0 30 2 *' never fires: no date from now on matches it"),
        (("--cron", "0 0 31 4,6 *"), "--cron '0 0 31 4,6 *' never fires"),
        (("--every", "99999999999999d"), "--every '99999999999999d' is too long: the longest interval is 36500d"),
        (("--every", "9" * 400), "is too long"),
        (("--cron", ""), "--cron '' is not a cron expression"),
        (("--every", ""), "--every '' is not a duration"),
        (("--every", "-5s"), "--every '-5s' must be longer than 0"),
    ],
)
def test_a_schedule_that_cannot_fire_is_refused_with_one_line(project, args, message):
    folder, url, store = project
    notebook = write_notebook(folder / "train.ipynb", ["pass"])
    result = cellfleet(url, "promote", str(notebook), *args)
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("cellfleet: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert JobStore(store).list_jobs() == []


def test_a_broken_row_does_not_stop_a_valid_job_and_shows_as_broken(project):
    folder, url, store = project
    notebook = write_notebook(folder / "tick.ipynb", ["pass"])
    assert cellfleet(url, "promote", str(notebook), "--every", "2s", "--name", "tick").returncode == 0
    _write_broken_rows(store, notebook)
    scheduler = start_scheduler(url, folder / "scheduler.log")
    try:
        wait_for(lambda: len(_succeeded(store, "tick")) >= 2)
        assert cellfleet(url, "jobs", "run-now", "feb30").returncode == 0  # on demand, a broken job still runs
        wait_for(lambda: _succeeded(store, "feb30"))
        listed = cellfleet(url, "jobs", "ls")
    finally:
        stop(scheduler)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    lines = listed.stdout.splitlines()
    rows = {line.split()[1]: line for line in lines[1 : lines.index("")]}  # the table, then why each is broken
    assert rows["tick"].split()[2] == "active" and len(rows) == 1 + len(BROKEN_ROWS)
    for name, (_, problem) in BROKEN_ROWS.items():
        assert rows[name].split()[2] == "broken" and "never (broken)" in rows[name]
        assert any(line.startswith(f"job {name} is broken: {problem}") for line in lines)
    log = (folder / "scheduler.log").read_text()
    for name in BROKEN_ROWS:
        assert log.count(f"job {name} (") == 1  # logged once, not at every tick
    assert "tick failed" not in log and "Traceback" not in log


def test_jobs_show_names_the_problem_and_pausing_does_not_hide_it(project):
    folder, url, store = project
    _write_broken_rows(store, write_notebook(folder / "tick.ipynb", ["pass"]))
    assert cellfleet(url, "jobs", "pause", "feb30").returncode == 0
    shown = cellfleet(url, "jobs", "show", "feb30")
    assert shown.returncode == 0 and "never (broken)" in shown.stdout
    assert "state        broken (job feb30 is broken: its cron schedule '0 0 30 2 *' never fires" in shown.stdout
    state, problem = job_state(JobStore(store).get_job("feb30"))
    assert state is JobState.BROKEN and problem == "its cron schedule '0 0 30 2 *' never fires"


def test_every_schedule_promotion_accepts_has_a_next_time():
    for cron, every in [("0 2 * * *", None), ("0 0 29 2 *", None), (None, "36500d"), (None, "1s")]:
        schedule = parse_schedule(cron, every)
        assert schedule is not None and schedule_problem(schedule.text, 1.8e9, 1.8e9) is None
    assert schedule_problem(None, 1.8e9, 1.8e9) is None
