"""Schema 7 (pipelines, declared outputs, environments): a schema 6 store upgrades in place,
keeping its runs, jobs and occurrences, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from cellfleet.store.database import Store, _engine
from cellfleet.store.jobs import JobStore
from cellfleet.store.outputs import distributions_of, outputs_of, save_distributions, save_output
from cellfleet.store.schema import SCHEMA_VERSION, schema_version, upgrade


def _columns(connection: sa.Connection, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(connection).get_columns(table)}


def test_a_schema_6_store_upgrades_to_7_keeping_its_runs_jobs_and_occurrences(store_url):
    engine = _engine(store_url)
    upgrade(engine, target=6)
    with engine.begin() as connection:
        assert "upstream_run_id" not in _columns(connection, "runs") | _columns(connection, "occurrences")
        assert "after" not in _columns(connection, "jobs")
        assert not sa.inspect(connection).has_table("run_outputs")
        connection.execute(sa.text(
            "INSERT INTO runs (id, notebook, cell_id, cell_name, kind, status, code, code_hash, params, inputs,"
            " created, environment, output, job_id, attempt) VALUES ('old6', 'a.ipynb', '', 'prep', 'production',"
            " 'succeeded', '', 'h', '{}', '{}', 1.0, '{\"python\": \"3.11\"}', '', 'job6', 0)"
        ))  # fmt: skip
        connection.execute(sa.text(
            "INSERT INTO jobs (id, name, notebook, version, params, retries, concurrency, overlap, catchup,"
            " notify_on, paused, created, checked_until, retry_on, expect) VALUES ('job6', 'prep', 'a.ipynb', 'h',"
            " '{}', 0, 1, 'skip', 'latest', 'failure', false, 1.0, 1.0, 'infra', '[]')"
        ))  # fmt: skip
        connection.execute(sa.text(
            "INSERT INTO occurrences (job_id, due, state, attempt, not_before) VALUES ('job6', 5.0, 'done', 0, 5.0)"
        ))  # fmt: skip
    engine.dispose()
    store = Store(store_url)
    with store.engine.connect() as connection:
        assert schema_version(connection) == SCHEMA_VERSION == 7
    old = store.get_run("old6")
    assert old["upstream_run_id"] is None and old["environment_warning"] is None and old["environment_drift"] is None
    jobs = JobStore(store)
    prep = jobs.get_job("prep")
    assert prep["after"] is None and prep["environment"] is None
    made = jobs.create_job(name="train", notebook="b.ipynb", version="h", after="prep", environment={"python": "3.11"})
    assert [job["id"] for job in jobs.downstream_jobs("prep")] == [made["id"]] and made["environment"]["python"]
    assert jobs.last_success("job6") == "old6"
    assert jobs.add_occurrence(made["id"], 9.0, upstream_run_id="old6")
    assert jobs.ready_occurrences(10.0)[0]["upstream_run_id"] == "old6"
    save_output(store, "old6", "rows", "1200")
    save_output(store, "old6", "rows", "1300")  # the later declaration wins
    assert outputs_of(store, "old6") == {"rows": 1300}
    save_distributions(store, "d" * 16, {"numpy": "2.1.0"})
    save_distributions(store, "d" * 16, {"numpy": "2.1.0"})  # kept once
    assert distributions_of(store, "d" * 16) == {"numpy": "2.1.0"} and distributions_of(store, "e" * 16) is None


def test_a_new_store_has_every_schema_7_column(store_url):
    store = Store(store_url)
    with store.engine.connect() as connection:
        assert {"upstream_run_id", "environment_warning", "environment_drift"} <= _columns(connection, "runs")
        assert {"after", "environment"} <= _columns(connection, "jobs")
        assert "upstream_run_id" in _columns(connection, "occurrences")
        assert {"run_id", "name", "value"} <= _columns(connection, "run_outputs")
