"""Production that heals itself: failure classes, retries by class, --expect, and `cellfleet run`'s
exit status for out of memory. Real papermill kernels, real `cellfleet scheduler` processes, real
store files; counts and classes only, never timings."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from cellfleet.protocol import OccurrenceState
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
def scheduler(project):
    process = start_scheduler(project[1], project[0] / "scheduler.log")
    yield process
    stop(process)


@pytest.fixture
def hook():
    """A webhook endpoint; yields its URL and the summaries it received."""
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
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def _runs(store: Store, job: str) -> list[dict]:
    jobs = JobStore(store)
    return sorted(jobs.job_runs(jobs.get_job(job)["id"], limit=100), key=lambda run: run["attempt"])


def _closed(store: Store, job: str) -> list[dict]:
    """The job's runs once its occurrence is closed (no retry can follow); ``[]`` before."""
    runs = _runs(store, job)
    occurrence = JobStore(store).occurrence(runs[0]["occurrence_id"]) if runs else None
    closed = occurrence is not None and occurrence["state"] in (OccurrenceState.DONE, OccurrenceState.FAILED)
    return runs if closed else []


def _promote_and_queue(url: str, notebook: Path, name: str, *args: str) -> None:
    promoted = cellfleet(url, "promote", str(notebook), "--name", name, *args)
    assert promoted.returncode == 0, promoted.stderr
    assert cellfleet(url, "jobs", "run-now", name).returncode == 0


def test_infra_failures_are_retried_and_the_cells_own_only_under_retry_on_all(project, scheduler):
    folder, url, store = project
    dies = write_notebook(folder / "dies.ipynb", ["import os\nos._exit(1)"])
    raises = write_notebook(folder / "raises.ipynb", ["x = 1", "raise ValueError('bad data')"])
    _promote_and_queue(url, dies, "dies", "--retries", "1")
    _promote_and_queue(url, raises, "raises", "--retries", "1")
    _promote_and_queue(url, raises, "raises-all", "--retries", "1", "--retry-on", "all")
    died = wait_for(lambda: _closed(store, "dies"))
    assert [(r["attempt"], r["status"], r["failure_class"]) for r in died] == [
        (0, "failed", "kernel_died"),
        (1, "failed", "kernel_died"),
    ]
    assert all("the kernel died" in r["error"] for r in died)
    (raised,) = wait_for(lambda: _closed(store, "raises"))  # infra (the default): the cell's own error, once
    assert (raised["failure_class"], raised["error"]) == ("user", "cell 2 failed: ValueError: bad data")
    assert JobStore(store).get_job("raises")["retry_on"] == "infra"
    retried = wait_for(lambda: _closed(store, "raises-all"))
    assert [(r["attempt"], r["failure_class"]) for r in retried] == [(0, "user"), (1, "user")]
    listed = cellfleet(url, "jobs", "ls").stdout
    assert "failed (user)" in listed and "failed (kernel_died)" in listed
    shown = cellfleet(url, "jobs", "show", "raises").stdout
    assert "retry_on     infra" in shown and "failure" in shown and " user " in shown


def test_expectations_pass_fail_and_miss_and_a_broken_one_is_notified_not_retried(project, monkeypatch, hook):
    folder, url, store = project
    address, received = hook
    monkeypatch.setenv("CELLFLEET_WORKERS", "1")  # the embedded cluster of the remote cell's run
    logs = "import cellfleet\ncellfleet.log(score=lr * 10)"
    remote = "%%remote\nimport cellfleet\ncellfleet.log(remote_score=2.5)"
    meets = write_notebook(folder / "meets.ipynb", ["%load_ext cellfleet", logs, remote], parameters="lr = 0.5")
    plain = write_notebook(folder / "plain.ipynb", [logs], parameters="lr = 0.5")
    _promote_and_queue(url, meets, "meets", "--expect", "score<=5", "--expect", "remote_score > 2")
    _promote_and_queue(url, plain, "breaks", "--expect", "score<1", "--retries", "2", "--retry-on", "all",
                       "--notify", address)  # fmt: skip
    _promote_and_queue(url, plain, "misses", "--expect", "val_loss<0.2", "--expect", "score==5")
    process = start_scheduler(url, folder / "scheduler.log")
    try:
        (met,) = wait_for(lambda: _closed(store, "meets"), seconds=180)
        (broke,) = wait_for(lambda: _closed(store, "breaks"))
        (missed,) = wait_for(lambda: _closed(store, "misses"))
        wait_for(lambda: received)
    finally:
        stop(process)
    assert (met["status"], met["failure_class"], met["error"]) == ("succeeded", None, None)
    assert (broke["status"], broke["failure_class"]) == ("failed", "expectation")
    assert broke["error"] == "expectations not met: score was 5, not < 1 (--expect score<1)"
    assert missed["error"] == "expectations not met: val_loss was never logged (--expect val_loss<0.2)"
    (summary,) = received
    assert (summary["job"], summary["failure_class"], summary["error"]) == ("breaks", "expectation", broke["error"])
    assert summary["metrics"] == {"score": 5.0}
    assert JobStore(store).get_job("breaks")["expect"] == ["score<1"]


def test_cellfleet_run_exits_3_when_a_cell_runs_out_of_memory_and_1_for_its_own_error(project):
    folder, url, _ = project
    big = write_notebook(folder / "big.ipynb", ["data = bytearray(1 << 60)"], parameters=None)  # malloc refuses it
    done = cellfleet(url, "run", str(big))
    assert done.returncode == 3, done.stderr
    assert "MemoryError" in done.stderr and "(oom)" in done.stderr and "Traceback" not in done.stderr
    (run,) = Store(url).list_runs(kind="production")
    assert (run["status"], run["failure_class"]) == ("failed", "oom")
    bad = write_notebook(folder / "bad.ipynb", ["raise ValueError('bad data')"], parameters=None)
    failed = cellfleet(url, "run", str(bad))
    assert failed.returncode == 1 and "ValueError: bad data (user)" in failed.stderr
    listed = cellfleet(url, "runs", "ls", "--kind", "production").stdout
    assert " oom" in listed and " user" in listed
    assert "exit status: 0 the run succeeded, 1 it failed" in cellfleet(url, "run", "--help").stdout
