"""The `cellfleet` command against a real store file, run as a separate process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cellfleet.store.database import MetricPoint, Store


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    store = Store(url)
    ids = []
    for lr in (0.1, 0.01):
        run_id = store.create_run(notebook="train.ipynb", cell_name="In[3]", kind="variant", params={"lr": lr})
        store.log_metrics([MetricPoint(run_id, "loss", lr * 10, 0), MetricPoint(run_id, "loss", lr, 1)])
        store.update_run(run_id, status="succeeded", started=1.0, ended=3.5, output="epoch 1\n")
        ids.append(run_id)
    store.create_run(notebook="other.ipynb", kind="interactive", status="failed", error="ValueError: boom",
                     failure_class="user")  # fmt: skip
    store.create_run(notebook="big.ipynb", kind="production", status="failed", error="MemoryError", failure_class="oom")
    return url, ids


def cellfleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cellfleet.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_runs_ls_filters_and_shows_params_and_final_metrics(db):
    url, ids = db
    listed = cellfleet("--db", url, "runs", "ls", "--kind", "variant")
    assert listed.returncode == 0
    assert all(run_id in listed.stdout for run_id in ids)
    assert "param.lr" in listed.stdout and "metric.loss" in listed.stdout and "other.ipynb" not in listed.stdout
    failed = cellfleet("--db", url, "runs", "ls", "--status", "failed")
    assert "other.ipynb" in failed.stdout and "train.ipynb" not in failed.stdout
    header, *rows = failed.stdout.splitlines()
    assert "failure_class" in header.split()
    assert any("big.ipynb" in row and " oom" in row for row in rows)
    assert any("other.ipynb" in row and " user" in row for row in rows)


def test_runs_show_names_the_failure_class(db):
    url, _ = db
    store = Store(url)
    (oom,) = [run for run in store.list_runs(status="failed") if run["failure_class"] == "oom"]
    shown = cellfleet("--db", url, "runs", "show", oom["id"])
    assert shown.returncode == 0 and "failure_class oom" in " ".join(shown.stdout.split())
    fine = cellfleet("--db", url, "runs", "show", store.list_runs(status="succeeded")[0]["id"])
    assert "failure_class" not in fine.stdout


def test_runs_show_and_compare(db):
    url, ids = db
    shown = cellfleet("--db", url, "runs", "show", ids[0][:6])
    assert shown.returncode == 0 and "lr" in shown.stdout and "points=2" in shown.stdout and "epoch 1" in shown.stdout
    compared = cellfleet("--db", url, "runs", "compare", *ids)
    assert compared.returncode == 0
    assert "0.01*" in compared.stdout  # the lower loss is marked best


@pytest.mark.parametrize(
    ("args", "message"),
    [(("runs", "show", "zzzz"), "no run 'zzzz'"), (("runs", "ls", "--limit", "0"), "--limit must be 1 or more")],
)
def test_mistakes_are_one_line_errors(db, args, message):
    url, _ = db
    result = cellfleet("--db", url, *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_promote_prints_the_job_and_keeps_the_policies_it_was_given(db, tmp_path, monkeypatch):
    from cellfleet.store.jobs import JobStore
    from jobs_helpers import write_notebook

    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    url, ids = db
    notebook = write_notebook(tmp_path / "train.ipynb", ["print(lr)"])
    options = ("--every", "1h", "--from-run", ids[1][:8], "--overlap", "queue", "--catchup", "none")
    result = cellfleet("--db", url, "promote", str(notebook), *options)
    assert result.returncode == 0, result.stderr
    job = JobStore(Store(url)).get_job("train")
    assert result.stdout.startswith(f"promoted {notebook} as job train ({job['id']}), version {job['version'][:12]}")
    assert "every 3600s; next run " in result.stdout
    assert (job["params"], job["overlap"], job["catchup"], job["notify_on"]) == (
        {"lr": 0.01},
        "queue",
        "none",
        "failure",
    )
    refused = cellfleet("--db", url, "promote", str(notebook), "--overlap", "sometimes")
    assert (
        refused.returncode == 2
        and "invalid choice: 'sometimes' (choose from 'skip', 'queue', 'allow')" in refused.stderr
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the following arguments are required: command; see `cellfleet --help`"),
        (("bogus",), "argument command: invalid choice: 'bogus'"),
        (("jobs",), "the following arguments are required: action; see `cellfleet jobs --help`"),
        (
            ("runs", "ls", "--limit", "many"),
            "argument --limit: invalid int value: 'many'; see `cellfleet runs ls --help`",
        ),
        (("runs", "ls", "--colour", "red"), "unrecognized arguments: --colour red"),
        (("promote",), "the following arguments are required: notebook; see `cellfleet promote --help`"),
        (("promote", "x.ipynb", "--name"), "argument --name: expected one argument; give the option a value"),
        (("promote", "x.ipynb", "--every", "-5s"), "--every '-5s' must be longer than 0"),
        (("promote", "x.ipynb", "--every", "-1"), "--every '-1' must be longer than 0"),
        (("promote", "x.ipynb", "--cron", ""), "--cron '' is not a cron expression"),
        (("promote", "x.ipynb", "--cron", "0 0 30 2 *"), "--cron '0 0 30 2 *' never fires"),
        (("promote", "x.ipynb", "--every", "99999999999999d"), "--every '99999999999999d' is too long"),
        (("scheduler", "--poll", "soon"), "argument --poll: invalid float value: 'soon'"),
    ],
)
def test_every_mistake_is_one_line_with_exit_status_2(db, args, message):
    url, _ = db
    result = cellfleet("--db", url, *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("cellfleet: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "usage:" not in result.stderr


def test_main_returns_the_exit_status_of_a_mistake_and_of_help(db, capsys):
    from cellfleet.cli import main

    url, _ = db
    assert main(["--db", url, "promote", "x.ipynb", "--every"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cellfleet: error: argument --every: expected one argument") and err.count("\n") == 1
    assert main(["--db", url, "promote", "x.ipynb", "--cron", "0 0 31 2 *"]) == 2
    assert capsys.readouterr().err.startswith("cellfleet: error: --cron '0 0 31 2 *' never fires")
    assert main(["--help"]) == 0
    assert "usage: cellfleet" in capsys.readouterr().out
