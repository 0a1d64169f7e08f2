"""The experiment store on a real SQLite file and a real PostgreSQL server: upgrades,
concurrent writers and openers, queries."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pytest
import sqlalchemy as sa

from cellfleet import StoreError
from cellfleet.store.database import MetricPoint, Store, _engine
from cellfleet.store.jobs import JobStore
from cellfleet.store.schema import SCHEMA_VERSION, schema_version, upgrade

WRITERS, RUNS_EACH, POINTS_EACH, OPENERS = 4, 25, 2000, 4


def _write_runs(url: str, worker: int) -> None:
    store = Store(url)
    for number in range(RUNS_EACH):
        run_id = store.create_run(notebook=f"w{worker}.ipynb", params={"n": number})
        store.update_run(run_id, status="succeeded")
    points = [MetricPoint(f"w{worker}", "loss", float(i), i) for i in range(POINTS_EACH)]
    for start in range(0, POINTS_EACH, 100):
        store.log_metrics(points[start : start + 100])


def test_several_processes_writing_at_once_lose_nothing(store_url):
    url = store_url
    Store(url)  # create the schema once, as a kernel would
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_runs, args=(url, w)) for w in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    store = Store(url)
    assert store.count_runs() == WRITERS * RUNS_EACH
    assert store.count_metrics() == WRITERS * POINTS_EACH
    assert len(store.list_runs(status="succeeded", limit=1000)) == WRITERS * RUNS_EACH


def test_a_store_of_an_older_schema_upgrades_in_place(store_url):
    url = store_url
    engine = _engine(url)
    upgrade(engine, target=1)
    with engine.begin() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("runs")}
        assert "cached_from" not in columns
        connection.execute(
            sa.text(
                "INSERT INTO runs (id, notebook, cell_id, cell_name, kind, status, code, code_hash, params, inputs,"
                " created, environment, output) VALUES ('old1', 'a.ipynb', '', 'In[1]', 'interactive', "
                "'succeeded', 'x = 1', 'h', '{\"lr\": 0.1}', '{}', 1.0, '{}', '')"
            )
        )
    engine.dispose()
    store = Store(url)
    with store.engine.connect() as connection:
        assert schema_version(connection) == SCHEMA_VERSION
    old = store.get_run("old1")
    assert old["params"] == {"lr": 0.1} and old["cached_from"] is None
    store.update_run("old1", cached_from="x")
    assert store.get_run("old1")["cached_from"] == "x"


def test_a_schema_5_store_upgrades_to_6_keeping_its_runs_and_jobs(store_url):
    engine = _engine(store_url)
    upgrade(engine, target=5)  # the store an older Cellfleet made, with a run and a job in it
    with engine.begin() as connection:
        inspector = sa.inspect(connection)
        assert "failure_class" not in {c["name"] for c in inspector.get_columns("runs")}
        assert not {"retry_on", "expect"} & {c["name"] for c in inspector.get_columns("jobs")}
        connection.execute(
            sa.text(
                "INSERT INTO runs (id, notebook, cell_id, cell_name, kind, status, code, code_hash, params, inputs,"
                " created, environment, output, error, job_id, attempt) VALUES ('old5', 'a.ipynb', '', 'nightly',"
                " 'production', 'failed', '', 'h', '{}', '{}', 1.0, '{}', '', 'cell 2 failed: ValueError', 'job5', 0)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO jobs (id, name, notebook, version, params, retries, concurrency, overlap, catchup,"
                " notify_on, paused, created, checked_until) VALUES ('job5', 'nightly', 'a.ipynb', 'h', '{}', 2, 1,"
                " 'skip', 'latest', 'failure', false, 1.0, 1.0)"
            )
        )
    engine.dispose()
    store = Store(store_url)
    with store.engine.connect() as connection:
        assert schema_version(connection) == SCHEMA_VERSION
    old = store.get_run("old5")
    assert old["failure_class"] is None and old["error"] == "cell 2 failed: ValueError"
    store.update_run("old5", failure_class="user")
    assert store.get_run("old5")["failure_class"] == "user"
    job = JobStore(store).get_job("nightly")
    assert (job["retries"], job["retry_on"], job["expect"]) == (2, "infra", [])  # an old job retries infrastructure
    made = JobStore(store).create_job(name="new", notebook="b.ipynb", version="h", retry_on="all", expect=["loss<1"])
    assert (made["retry_on"], made["expect"]) == ("all", ["loss<1"])


def test_a_store_from_a_newer_cellfleet_is_refused(store_url):
    url = store_url
    store = Store(url)
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match="newer Cellfleet"):
        Store(url)


def test_final_metrics_and_series(store_url):
    store = Store(store_url)
    run = store.create_run(params={"lr": 1})
    store.log_metrics([MetricPoint(run, "loss", v, s, 100.0 + s) for s, v in enumerate([3.0, 2.0, 1.5])])
    before = time.time()
    store.log_metrics([MetricPoint(run, "acc", 0.9)])
    assert store.final_metrics([run]) == {run: {"loss": 1.5, "acc": 0.9}}
    assert store.metric_series(run)["loss"] == [(0, 3.0, 100.0), (1, 2.0, 101.0), (2, 1.5, 102.0)]
    ((step, value, logged),) = store.metric_series(run)["acc"]  # no time given: stamped on write
    assert (step, value) == (None, 0.9) and before <= logged <= time.time()


def test_an_unreachable_database_is_a_clear_error():
    with pytest.raises(StoreError, match="cannot open the experiment store"):
        Store("sqlite:////proc/no/such/place.db")


def test_artifacts_with_the_same_name_are_all_kept(store_url):
    store = Store(store_url)
    run = store.create_run()
    first = store.add_artifact(run, "figure.png", b"epoch-1", "image/png")
    second = store.add_artifact(run, "figure.png", b"epoch-2", "image/png")
    assert first != second and first.read_bytes() == b"epoch-1" and second.read_bytes() == b"epoch-2"
    assert [a["name"] for a in store.list_artifacts(run)] == ["figure.png", "figure-2.png"]


def test_run_prefixes_are_literal_not_patterns(store_url):
    store = Store(store_url)
    store.create_run(id="abc123")
    assert store.find_runs("abc") == ["abc123"]
    assert store.find_runs("_") == [] and store.find_runs("%") == []


def _open(url: str, start: Any) -> None:
    start.wait(60)  # every process imported and ready: they open the store at the same moment
    Store(url)


def test_processes_opening_a_new_store_at_once_all_succeed(new_store_url):
    context = multiprocessing.get_context("spawn")
    for _ in range(4):
        url, start = new_store_url(), context.Barrier(OPENERS)
        processes = [context.Process(target=_open, args=(url, start)) for _ in range(OPENERS)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(120)
        assert [p.exitcode for p in processes] == [0] * OPENERS
        with Store(url).engine.connect() as connection:
            assert schema_version(connection) == SCHEMA_VERSION
