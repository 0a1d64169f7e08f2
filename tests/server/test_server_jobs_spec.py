"""The promote dialog's JSON through the real server into a JobSpec and a job (pytest-jupyter's jp_fetch)."""

from __future__ import annotations

import json

import pytest

from cellfleet.store.database import Store
from jobs_helpers import post_job, refused, write_notebook


@pytest.fixture
def store(jp_root_dir):
    write_notebook(jp_root_dir / "train.ipynb", ["print(lr)"], parameters="lr = 0.1\nlayers = 2")
    return Store(f"sqlite:///{jp_root_dir / '.cellfleet' / 'cellfleet.db'}")


async def test_every_option_of_the_dialog_reaches_the_job(jp_fetch, store):
    job = await post_job(jp_fetch, {
        "notebook": "train.ipynb", "cron": "0 2 * * *", "name": "nightly", "params": {"lr": 0.5},
        "cluster": "tcp://sched:8786", "retries": 3, "timeout": "30m", "concurrency": 2, "overlap": "queue",
        "catchup": "all", "notify": "https://hooks.example/x", "notify_on": "all", "kernel": "python3",
        "retry_on": "all", "expect": ["val_loss<0.2", "accuracy >= 0.9"],
    })  # fmt: skip
    assert job["name"] == "nightly" and job["schedule"] == "cron:0 2 * * *" and job["params"] == {"lr": 0.5}
    assert (job["retries"], job["timeout"], job["concurrency"]) == (3, 1800.0, 2)
    assert (job["overlap"], job["catchup"], job["notify_on"]) == ("queue", "all", "all")
    assert job["notify_url"] == "https://hooks.example/x" and job["cluster"] == "tcp://sched:8786"
    assert (
        job["kernel"] == "python3" and job["retry_on"] == "all" and job["expect"] == ["val_loss<0.2", "accuracy>=0.9"]
    )


async def test_nulls_take_the_defaults_and_params_win_over_the_runs(jp_fetch, store):
    run_id = store.create_run(notebook="train.ipynb", kind="variant", params={"lr": 0.01, "layers": 4})
    job = await post_job(jp_fetch, {"notebook": "train.ipynb", "from_run": run_id, "params": {"layers": 8},
                                    "retries": None, "overlap": None, "every": None})  # fmt: skip
    assert job["params"] == {"lr": 0.01, "layers": 8} and job["from_run"] == run_id
    assert job["name"] == "train" and job["schedule"] is None
    assert (job["retries"], job["overlap"], job["catchup"], job["notify_on"]) == (0, "skip", "latest", "failure")
    assert (job["retry_on"], job["expect"]) == ("infra", [])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"cron": 5}, "cron must be a string"),
        ({"notify": ["x"]}, "notify must be a string"),
        ({"retries": True}, "retries must be a whole number from 0 to 99"),
        ({"retries": -1}, "retries must be a whole number from 0 to 99"),
        ({"concurrency": 1001}, "concurrency must be a whole number from 1 to 1000"),
        ({"params": ["lr"]}, "params must be an object of parameter names to values"),
        ({"overlap": "sometimes"}, "overlap must be skip, queue or allow (got 'sometimes')"),
        ({"catchup": "most"}, "catchup must be none, latest or all (got 'most')"),
        ({"notify_on": "success"}, "notify_on must be failure or all (got 'success')"),
        ({"notify": "ftp://x"}, "--notify 'ftp://x': give an http:// or https:// URL"),
        ({"every": "1h", "cron": "0 2 * * *"}, "give either --cron or --every, not both"),
        ({"timeout": "forever"}, "--timeout 'forever' is not a duration: write it like 30s, 5m, 2h or 1d"),
        ({"from_run": "zzzz"}, "--from-run zzzz: no single run matches; list runs with `cellfleet runs ls`"),
        (
            {"cron": "0 0 30 2 *"},
            "--cron '0 0 30 2 *' never fires: no date from now on matches it (like 30 February); "
            'give a date that exists, like "0 0 28 2 *"',
        ),
        (
            {"every": "99999999999999d"},
            "--every '99999999999999d' is too long: the longest interval is 36500d (about 100 years)",
        ),
        (
            {"cron": ""},
            "--cron '' is not a cron expression: write five fields, minute hour day month weekday, "
            'like "0 2 * * *" for 02:00 every day',
        ),
        (
            {"flavour": 1},
            "unknown field 'flavour'; the fields are notebook, params, cron, every, name, from_run, cluster, "
            "timeout, overlap, catchup, notify, notify_on, kernel, retries, concurrency, retry_on, expect, after",
        ),
        ({"retry_on": "user"}, "retry_on must be infra or all (got 'user')"),
        ({"retry_on": 1}, "retry_on must be a string"),
        ({"expect": "val_loss<0.2"}, 'expect must be a list of strings, like ["val_loss<0.2"]'),
        ({"expect": [{"val_loss": 0.2}]}, 'expect must be a list of strings, like ["val_loss<0.2"] (got dict)'),
        (
            {"expect": ["val_loss=<0.2"]},
            "--expect 'val_loss=<0.2': '=<' is not a comparison; write METRIC OP NUMBER with OP one of "
            '< <= > >= == !=, like "val_loss<0.2"',
        ),
        (
            {"expect": ["accuracy>high"]},
            "--expect 'accuracy>high': 'high' is not a number; write METRIC OP NUMBER with OP one of "
            '< <= > >= == !=, like "val_loss<0.2"',
        ),
    ],
)
async def test_bad_options_get_a_400_with_one_line(jp_fetch, store, body, message):
    code, text = await refused(jp_fetch, {"notebook": "train.ipynb", **body})
    assert code == 400 and text == message


async def test_nothing_is_stored_when_an_option_is_refused(jp_fetch, store):
    from cellfleet.store.jobs import JobStore

    await refused(jp_fetch, {"notebook": "train.ipynb", "name": "bad", "overlap": "never"})
    assert JobStore(store).list_jobs() == []


async def test_a_broken_row_is_listed_as_broken_beside_the_jobs_that_work(jp_fetch, store, jp_root_dir):
    from cellfleet.production.promote import snapshot
    from cellfleet.store.jobs import JobStore

    await post_job(jp_fetch, {"notebook": "train.ipynb", "name": "hourly", "every": "1h"})
    version = snapshot(jp_root_dir / "train.ipynb", store).digest  # a row an older version wrote
    broken = JobStore(store).create_job(
        name="feb30", notebook="train.ipynb", version=version, params={}, schedule="cron:0 0 30 2 *"
    )
    listed = json.loads((await jp_fetch("cellfleet", "api", "jobs")).body)["jobs"]
    by_name = {job["name"]: job for job in listed}
    assert by_name["hourly"]["state"] == "active" and by_name["hourly"]["next_run"] is not None
    assert by_name["hourly"]["problem"] is None
    assert (by_name["feb30"]["state"], by_name["feb30"]["next_run"]) == ("broken", None)
    assert by_name["feb30"]["problem"] == "its cron schedule '0 0 30 2 *' never fires"
    detail = json.loads((await jp_fetch("cellfleet", "api", "jobs", broken["id"])).body)
    assert detail["job"]["state"] == "broken" and detail["runs"] == []
    paused = await jp_fetch("cellfleet", "api", "jobs", broken["id"], "pause", method="POST", body="")
    assert json.loads(paused.body)["state"] == "broken"  # pausing does not hide it


async def test_runs_and_job_histories_carry_their_failure_class(jp_fetch, store):
    from cellfleet.store.jobs import JobStore

    job = await post_job(jp_fetch, {"notebook": "train.ipynb", "name": "classed", "retries": 1})
    error = "cell 2 failed: MemoryError: "
    failed = store.create_run(kind="production", job_id=job["id"], status="failed", error=error, failure_class="oom")
    fine = store.create_run(kind="production", job_id=job["id"], status="succeeded")
    detail = json.loads((await jp_fetch("cellfleet", "api", "runs", failed)).body)["run"]
    assert detail["failure_class"] == "oom" and detail["status"] == "failed"
    page = json.loads((await jp_fetch("cellfleet", "api", "runs", params={"kind": "production"})).body)["runs"]
    assert {run["id"]: run["failure_class"] for run in page} == {failed: "oom", fine: None}
    history = json.loads((await jp_fetch("cellfleet", "api", "jobs", job["id"])).body)
    assert {run["id"]: run["failure_class"] for run in history["runs"]} == {failed: "oom", fine: None}
    assert history["job"]["retry_on"] == "infra" and JobStore(store).get_job("classed")["retry_on"] == "infra"


async def test_a_job_history_carries_final_metrics_beside_the_run_it_was_promoted_from(jp_fetch, store):
    from cellfleet.store.database import MetricPoint

    experiment = store.create_run(kind="variant", status="succeeded", notebook="train.ipynb")
    store.log_metrics([MetricPoint(experiment, "loss", 0.5, 0), MetricPoint(experiment, "loss", 0.2, 1)])
    job = await post_job(jp_fetch, {"notebook": "train.ipynb", "name": "drifting", "from_run": experiment})
    runs = [store.create_run(kind="production", job_id=job["id"], status="succeeded") for _ in range(2)]
    for run_id, loss in zip(runs, (0.25, 0.4), strict=True):
        store.log_metrics([MetricPoint(run_id, "loss", loss, 0), MetricPoint(run_id, "acc", 0.9, 0)])
    detail = json.loads((await jp_fetch("cellfleet", "api", "jobs", job["id"])).body)
    assert {run["id"]: run["final_metrics"] for run in detail["runs"]} == {
        runs[0]: {"loss": 0.25, "acc": 0.9}, runs[1]: {"loss": 0.4, "acc": 0.9},
    }  # fmt: skip
    assert detail["source"]["id"] == experiment and detail["source"]["final_metrics"] == {"loss": 0.2}
    alone = await post_job(jp_fetch, {"notebook": "train.ipynb", "name": "alone"})
    assert json.loads((await jp_fetch("cellfleet", "api", "jobs", alone["id"])).body)["source"] is None
