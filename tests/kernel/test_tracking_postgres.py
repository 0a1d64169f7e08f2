"""Tracking on a PostgreSQL store (``CELLFLEET_DB``): remote and local cells record their runs,
metrics and artifacts there; without the driver, the cell still runs and one line says what
to install."""

from __future__ import annotations

import sys

import pytest

from cellfleet.store.recorder import writer_for
from conftest import run


@pytest.fixture
def on_postgres(shell, postgres_url, monkeypatch):
    """The shell, recording to a fresh PostgreSQL database."""
    monkeypatch.setenv("CELLFLEET_DB", postgres_url)
    yield shell
    writer_for(postgres_url).flush()


def _store(url: str):
    writer = writer_for(url)
    writer.flush()
    return writer.store


def test_a_remote_cell_is_tracked_on_postgresql(on_postgres, postgres_url, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    on_postgres.user_ns.update(lr=0.5, notes=str(notes))
    body = (
        "import cellfleet\nfor step in range(3):\n    cellfleet.log(loss=lr / (step + 1))\n"
        "cellfleet.log_artifact(notes)"
    )
    assert run(on_postgres, "", body).success
    store = _store(postgres_url)
    assert store.engine.dialect.name == "postgresql"
    (recorded,) = store.list_runs()
    assert recorded["status"] == "succeeded" and recorded["worker"] and recorded["params"] == {}
    assert [point[1] for point in store.metric_series(recorded["id"])["loss"]] == [0.5, 0.25, 0.5 / 3]
    assert [a["size"] for a in store.list_artifacts(recorded["id"])] == [5]


def test_a_grid_records_each_variant_on_postgresql(on_postgres, postgres_url):
    assert run(on_postgres, "--grid alpha=1,2 --maximize score", "import cellfleet\ncellfleet.log(score=alpha)").success
    on_postgres.run_cell("import cellfleet\ncellfleet.log(local_metric=3.5)")
    store = _store(postgres_url)
    variants = store.list_runs(kind="variant")
    assert sorted(r["params"]["alpha"] for r in variants) == [1, 2] and {r["status"] for r in variants} == {"succeeded"}
    finals = store.final_metrics(r["id"] for r in variants)
    assert sorted(f["score"] for f in finals.values()) == [1, 2]
    (local,) = store.list_runs(kind="interactive")
    assert store.final_metrics([local["id"]])[local["id"]] == {"local_metric": 3.5}


def test_without_the_driver_a_cell_runs_and_names_the_extra(shell, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` fails, as before the extra
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    monkeypatch.setenv("CELLFLEET_DB", "postgresql://cf:s3cr3t-pw@/nowhere?host=/nonexistent")
    result = run(shell, "", "x = 41\nprint('ran')")
    assert result.success and shell.user_ns["x"] == 41
    captured = capsys.readouterr()
    assert "ran" in captured.out and "Traceback" not in captured.err
    (warning,) = [line for line in captured.err.splitlines() if "tracking is off" in line]
    assert "pip install 'cellfleet[postgres]'" in warning and "s3cr3t-pw" not in captured.err + captured.out
