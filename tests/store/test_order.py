"""Pages of runs ordered by a column, a param or a final metric: the same order on SQLite and
on PostgreSQL, runs without the value last, ties newest first."""

from __future__ import annotations

import pytest

from cellfleet.store.database import MetricPoint, Store
from cellfleet.store.queries import run_page

PARAMS = {"r0": {"lr": 0.1}, "r1": {"lr": None}, "r2": {}, "r3": {"lr": 0.01}, "r4": {"lr": "x"}, "r5": {"lr": 1}}


@pytest.fixture
def store(store_url):
    store = Store(store_url)
    for number, (run_id, params) in enumerate(PARAMS.items()):
        store.create_run(id=run_id, params=params, created=float(number), status="succeeded", cell_name=f"c{number}")
    for run_id, loss in (("r0", 0.5), ("r3", 0.2), ("r5", 0.9)):
        store.log_metrics([MetricPoint(run_id, "loss", loss * 10, 0), MetricPoint(run_id, "loss", loss, 1)])
    return store


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("param.lr", ["r3", "r0", "r5", "r4", "r2", "r1"]),  # numbers, then text; absent and null last
        ("-param.lr", ["r4", "r5", "r0", "r3", "r2", "r1"]),
        ("metric.loss", ["r3", "r0", "r5", "r4", "r2", "r1"]),
        ("-metric.loss", ["r5", "r0", "r3", "r4", "r2", "r1"]),
        ("created", ["r0", "r1", "r2", "r3", "r4", "r5"]),
        ("-cell_name", ["r5", "r4", "r3", "r2", "r1", "r0"]),
        ("ended", ["r5", "r4", "r3", "r2", "r1", "r0"]),  # none has ended: all tie, newest first
    ],
)
def test_runs_are_ordered_alike_on_every_database(store, sort, expected):
    page = run_page(store, sort, limit=10, offset=0)
    assert [run["id"] for run in page["runs"]] == expected and page["total"] == len(PARAMS)


def test_a_page_filters_by_several_statuses_and_counts_them(store):
    store.create_run(id="f1", status="failed", created=10.0)
    rows, total = store.page_runs({"status": ["failed", "succeeded"], "kind": None}, "-created", limit=2)
    assert [row["id"] for row in rows] == ["f1", "r5"] and total == len(PARAMS) + 1
    assert store.changed_runs(since=9.0)[0]["id"] == "f1"
