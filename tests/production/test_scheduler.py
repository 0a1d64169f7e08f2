"""Promotion and the scheduler service: real papermill, real kernels, real scheduler processes."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import psutil
import pytest

from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from jobs_helpers import cellfleet, start_scheduler, stop, wait_for, write_notebook


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with its own store; every process the test starts shares it."""
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    url = f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}"
    return tmp_path, url, Store(url)


@pytest.fixture
def schedulers(project):
    started = []

    def start():
        process = start_scheduler(project[1], project[0] / f"scheduler-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        stop(process)


def _runs(store: Store, job: str) -> list[dict]:
    jobs = JobStore(store)
    return jobs.job_runs(jobs.get_job(job)["id"], limit=1000)


def _promote(url: str, notebook: Path, *args: str) -> None:
    result = cellfleet(url, "promote", str(notebook), *args)
    assert result.returncode == 0, result.stderr


def test_a_promoted_notebook_runs_on_schedule_from_its_snapshot(project, schedulers):
    folder, url, store = project
    notebook = write_notebook(
        folder / "train.ipynb", ["import cellfleet\ncellfleet.log(score=lr * 10)\nprint('lr is', lr)"]
    )
    _promote(url, notebook, "--every", "2s", "--name", "every2", "-p", "lr", "0.5")
    schedulers()
    done = wait_for(lambda: len([r for r in _runs(store, "every2") if r["status"] == "succeeded"]) >= 2)
    assert done
    write_notebook(notebook, ["print('edited')"])  # production keeps running the promoted version
    before = {r["id"] for r in _runs(store, "every2")}
    wait_for(lambda: any(r["id"] not in before and r["status"] == "succeeded" for r in _runs(store, "every2")))
    for run in [r for r in _runs(store, "every2") if r["status"] == "succeeded"]:
        assert run["kind"] == "production" and run["params"] == {"lr": 0.5}
        assert store.final_metrics([run["id"]])[run["id"]] == {"score": 5.0}
        output = Path(run["output_path"]).read_text()
        assert "lr is 0.5" in output and "injected-parameters" in output and "edited" not in output


def test_a_failing_cell_retried_on_all_failures_then_failed_and_the_webhook_hears_it(project, schedulers):
    folder, url, store = project
    received: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    notebook = write_notebook(folder / "broken.ipynb", ["x = 1", "raise ValueError('bad data')"])
    hook = f"http://127.0.0.1:{server.server_port}/hook"
    _promote(url, notebook, "--name", "broken", "--retries", "1", "--retry-on", "all", "--notify", hook)
    dead_hook = ("--notify", "http://127.0.0.1:9/x", "--notify-on", "all")
    _promote(url, write_notebook(folder / "fine.ipynb", ["y = 2"]), "--name", "fine", *dead_hook)
    assert cellfleet(url, "jobs", "run-now", "broken").returncode == 0
    assert cellfleet(url, "jobs", "run-now", "fine").returncode == 0
    schedulers()
    runs = wait_for(
        lambda: [r for r in _runs(store, "broken") if r["status"] == "failed"][1:] and _runs(store, "broken")
    )
    assert sorted(r["attempt"] for r in runs) == [0, 1]
    assert all("cell 2 failed: ValueError: bad data" in r["error"] and r["failure_class"] == "user" for r in runs)
    wait_for(lambda: len(received) >= 2)
    assert {r["status"] for r in received} == {"failed"} and received[0]["job"] == "broken"
    assert {r["failure_class"] for r in received} == {"user"}
    assert wait_for(
        lambda: [r for r in _runs(store, "fine") if r["status"] == "succeeded"]
    )  # a dead hook hurts nothing
    server.shutdown()


def test_a_timeout_stops_a_sleeping_run_and_its_kernel(project, schedulers):
    folder, url, store = project
    notebook = write_notebook(folder / "sleepy.ipynb", ["import time\ntime.sleep(600)"])
    _promote(url, notebook, "--name", "sleepy", "--timeout", "3s")
    cellfleet(url, "jobs", "run-now", "sleepy")
    schedulers()
    (run,) = wait_for(lambda: [r for r in _runs(store, "sleepy") if r["status"] == "timed_out"])
    assert "3 s timeout" in run["error"] and run["failure_class"] == "timeout"
    pid = JobStore(store).occurrence(run["occurrence_id"])["runner_pid"]
    assert wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)


def test_a_killed_scheduler_leaves_an_interrupted_run_that_is_retried_once(project, schedulers):
    folder, url, store = project
    marks = folder / "marks.txt"
    cells = [f"open({str(marks)!r}, 'a').write('start\\n')", "import time\ntime.sleep(4)",
             f"open({str(marks)!r}, 'a').write('end\\n')"]  # fmt: skip
    _promote(url, write_notebook(folder / "long.ipynb", cells), "--name", "long", "--retries", "1")
    cellfleet(url, "jobs", "run-now", "long")
    first = schedulers()
    wait_for(lambda: marks.exists() and "start" in marks.read_text())
    stop(first, kill=True)
    schedulers()
    runs = wait_for(lambda: [r for r in _runs(store, "long") if r["status"] == "succeeded"] and _runs(store, "long"))
    statuses = sorted((r["status"], r["failure_class"]) for r in runs)
    assert statuses == [("interrupted", "cancelled"), ("succeeded", None)]
    assert marks.read_text().count("end") == 1  # the orphaned first run never finished its work
    assert len({r["occurrence_id"] for r in runs}) == 1


def test_two_schedulers_on_one_store_run_each_occurrence_once(project, schedulers):
    folder, url, store = project
    options = ("--name", "tick", "--every", "1s", "--overlap", "allow", "--concurrency", "4")
    _promote(url, write_notebook(folder / "tick.ipynb", ["pass"]), *options)
    schedulers()
    schedulers()
    wait_for(lambda: len([r for r in _runs(store, "tick") if r["status"] == "succeeded"]) >= 6)
    runs = [r for r in _runs(store, "tick") if r["status"] != "running"]
    by_occurrence = {}
    for run in runs:
        by_occurrence.setdefault(run["occurrence_id"], []).append(run)
    assert all(len(group) == 1 for group in by_occurrence.values())
    dues = [r["environment"]["due"] for r in runs if r["status"] != "skipped"]
    assert len(dues) == len(set(dues))


def test_scheduler_once_runs_what_is_due_and_exits(project):
    folder, url, store = project
    _promote(url, write_notebook(folder / "once.ipynb", ["print('ran once')"]), "--name", "once")
    cellfleet(url, "jobs", "run-now", "once")
    result = cellfleet(url, "scheduler", "--once", timeout=180)
    assert result.returncode == 0
    (run,) = _runs(store, "once")
    assert run["status"] == "succeeded"
    logs = cellfleet(url, "runs", "logs", run["id"])
    assert logs.returncode == 0 and "ran once" in logs.stdout


def test_jobs_commands(project):
    folder, url, _ = project
    _promote(url, write_notebook(folder / "daily.ipynb", ["pass"]), "--cron", "0 2 * * *", "--name", "daily")
    listed = cellfleet(url, "jobs", "ls")
    assert "daily" in listed.stdout and "cron 0 2 * * *" in listed.stdout
    assert "paused" in cellfleet(url, "jobs", "pause", "daily").stdout
    assert "paused" in cellfleet(url, "jobs", "ls").stdout
    assert "resumed" in cellfleet(url, "jobs", "resume", "daily").stdout
    assert "no runs yet" in cellfleet(url, "jobs", "show", "daily").stdout
    assert cellfleet(url, "jobs", "delete", "%").returncode == 2  # a prefix, not a pattern: deletes nothing
    assert "deleted" in cellfleet(url, "jobs", "delete", "daily").stdout
    gone = cellfleet(url, "jobs", "show", "daily")
    assert gone.returncode == 2 and "no job 'daily'" in gone.stderr


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        ("good", ("--cron", "61 * * * *"), "is not a cron expression"),
        ("good", ("--every", "soon"), "is not a duration"),
        ("good", ("-p", "momentum", "0.9"), "unknown parameter 'momentum'"),
        ("plain", ("-p", "lr", "0.9"), "has no parameters cell"),
        ("missing", (), "no notebook at"),
        ("text", (), "is not a Jupyter notebook"),
        ("good", ("--notify", "ftp://x"), "give an http:// or https:// URL"),
        ("good", ("--retries", "100"), "retries must be a whole number from 0 to 99"),
        ("good", ("--timeout", "ages"), "--timeout 'ages' is not a duration"),
        ("good", ("--every", "1h", "--cron", "0 2 * * *"), "give either --cron or --every, not both"),
        ("jsonlist", (), "is not a Jupyter notebook"),
    ],
)
def test_promotion_mistakes_are_one_line_errors(project, make, args, message):
    folder, url, _ = project
    paths = {
        "good": lambda: write_notebook(folder / "good.ipynb", ["pass"]),
        "plain": lambda: write_notebook(folder / "plain.ipynb", ["pass"], parameters=None),
        "missing": lambda: folder / "absent.ipynb",
        "text": lambda: (folder / "notes.ipynb").write_text("not json") and folder / "notes.ipynb",
        "jsonlist": lambda: (folder / "list.ipynb").write_text("[]") and folder / "list.ipynb",
    }
    result = cellfleet(url, "promote", str(paths[make]()), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
