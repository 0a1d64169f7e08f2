"""Pipelines through the real server: a job's ``after`` and a run's upstream, outputs and
environment warning in the API records; a bad ``after`` is a 4xx with one line."""

from __future__ import annotations

import json

import pytest

from cellfleet.protocol import RunKind, RunStatus
from cellfleet.store.database import Store
from cellfleet.store.outputs import save_output
from jobs_helpers import post_job, refused, write_notebook


@pytest.fixture
def store(jp_root_dir):
    for name in ("prep", "train"):
        write_notebook(jp_root_dir / f"{name}.ipynb", ["x = 1"], parameters=None)
    return Store(f"sqlite:///{jp_root_dir / '.cellfleet' / 'cellfleet.db'}")


async def test_a_chain_shows_in_the_jobs_and_runs_records(jp_fetch, store):
    prep = await post_job(jp_fetch, {"notebook": "prep.ipynb"})
    train = await post_job(jp_fetch, {"notebook": "train.ipynb", "after": "prep"})
    assert prep["after"] is None and train["after"] == "prep" and train["schedule"] is None
    listed = json.loads((await jp_fetch("cellfleet", "api", "jobs")).body)["jobs"]
    assert {job["name"]: job["after"] for job in listed} == {"prep": None, "train": "prep"}
    upstream = store.create_run(kind=RunKind.PRODUCTION, job_id=prep["id"], status=RunStatus.SUCCEEDED)
    save_output(store, upstream, "rows", "1200")
    drift = [{"name": "numpy", "promoted": "2.1.0", "now": "2.2.0"}]
    warning = "environment differs from the promoted experiment's (run r1): numpy 2.1.0 -> 2.2.0"
    run = store.create_run(kind=RunKind.PRODUCTION, job_id=train["id"], status=RunStatus.FAILED,
                           upstream_run_id=upstream, environment_drift=drift, environment_warning=warning)  # fmt: skip
    detail = json.loads((await jp_fetch("cellfleet", "api", "jobs", train["id"])).body)
    (shown,) = detail["runs"]
    assert shown["upstream_run_id"] == upstream and shown["environment_warning"] == warning
    assert shown["environment_drift"] == drift
    one = json.loads((await jp_fetch("cellfleet", "api", "runs", upstream)).body)
    assert one["outputs"] == {"rows": 1200}
    assert json.loads((await jp_fetch("cellfleet", "api", "runs", run)).body)["run"]["upstream_run_id"] == upstream


async def test_a_bad_after_is_refused_with_one_line(jp_fetch, store):
    await post_job(jp_fetch, {"notebook": "prep.ipynb"})
    code, message = await refused(jp_fetch, {"notebook": "train.ipynb", "after": "nightly"})
    assert code == 404 and "no job named 'nightly'" in message
    code, message = await refused(jp_fetch, {"notebook": "train.ipynb", "name": "t", "after": "t"})
    assert code == 400 and "cycle, t -> t" in message
    code, message = await refused(jp_fetch, {"notebook": "train.ipynb", "after": "prep", "every": "1h"})
    assert code == 400 and "drop --cron/--every" in message
    code, message = await refused(jp_fetch, {"notebook": "train.ipynb", "after": 5})
    assert code == 400 and message == "after must be a string"
    code, message = await refused(jp_fetch, {"notebook": "train.ipynb", "check": True})
    assert code == 400 and "unknown field 'check'" in message
