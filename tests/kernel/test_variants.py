"""Variants, metrics, artifacts and the cache, on a real shell, cluster and store."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from cellfleet import runs
from cellfleet.store.recorder import writer_for
from conftest import eventually, run

GRID = "--grid lr=0.1,0.01 --grid batch=32,64 --minimize loss"
TRAIN = (
    "import cellfleet\nfor step in range(3):\n    cellfleet.log(step=step, loss=lr * batch / (step + 1))\n"
    "print('trained', lr, batch)\nmodel = {'lr': lr, 'batch': batch}\n"
    "if lr == 0.1 and batch == 64:\n    raise ValueError('diverged')"
)


def _store():
    writer = writer_for()
    writer.flush()
    return writer.store


def test_a_grid_records_a_run_per_variant_and_adopts_the_best(shell, capsys):
    result = run(shell, GRID, TRAIN)
    assert result.success, result.error_in_exec
    table = capsys.readouterr().out
    assert "ValueError: diverged" in table and "succeeded" in table and "0.106667*" in table
    group = shell.find_cell_magic("remote").__self__.runner.variants.groups[-1]
    recorded = {r["id"]: r for r in _store().list_runs(group_id=group.group_id)}
    assert len(recorded) == 4
    assert all(r["directions"] == {"loss": "min"} for r in recorded.values())  # for the panel's compare view
    statuses = sorted(r["status"] for r in recorded.values())
    assert statuses == ["failed", "succeeded", "succeeded", "succeeded"]
    assert {(r["params"]["lr"], r["params"]["batch"]) for r in recorded.values()} == {
        (0.1, 32),
        (0.1, 64),
        (0.01, 32),
        (0.01, 64),
    }
    finals = _store().final_metrics(recorded)
    assert all(len(_store().metric_series(run_id)["loss"]) == 3 for run_id in recorded)
    assert min(f["loss"] for f in finals.values()) == pytest.approx(0.01 * 32 / 3)
    assert "model" not in shell.user_ns
    shell.run_line_magic("adopt", "best")
    assert shell.user_ns["model"] == {"lr": 0.01, "batch": 32}


def test_variants_run_at_once_one_per_worker(shell, tmp_path):
    shell.user_ns["folder"] = str(tmp_path)
    body = (
        "import os, time\nopen(os.path.join(folder, f'started-{k}'), 'w').close()\n"
        "deadline = time.time() + 60\n"
        "while len([f for f in os.listdir(folder) if f.startswith('started')]) < 2 and time.time() < deadline:\n"
        "    time.sleep(0.02)\nsaw = len([f for f in os.listdir(folder) if f.startswith('started')])"
    )
    assert run(shell, "--grid k=1,2", body).success
    results = shell.find_cell_magic("remote").__self__.runner.variants.groups[-1].results
    assert [r.values["saw"] for r in results] == [2, 2]  # each saw the other running beside it


def test_max_parallel_runs_variants_one_after_another(shell):
    assert run(shell, "--grid k=1,2,3 --max-parallel 1", "import time\ntime.sleep(0.2)").success
    group = shell.find_cell_magic("remote").__self__.runner.variants.groups[-1]
    recorded = sorted(_store().list_runs(group_id=group.group_id), key=lambda r: r["started"])
    for before, after in itertools.pairwise(recorded):
        assert after["started"] >= before["ended"] - 0.05  # no two were running at once


def test_variants_from_a_notebook_list(shell):
    shell.user_ns["configs"] = [{"width": 2}, {"width": 3}]
    assert run(shell, "--variants configs", "area = width * width").success
    shell.run_line_magic("adopt", "1")
    assert shell.user_ns["area"] == 9


def test_metrics_reach_the_store_while_the_cell_runs(shell, tmp_path):
    gate = tmp_path / "gate"
    shell.user_ns["gate"] = str(gate)
    before = set(r["id"] for r in _store().list_runs(limit=1000))

    def open_gate_when_the_metric_is_stored():
        def stored() -> bool:
            fresh = [r for r in _store().list_runs(limit=50) if r["id"] not in before]
            return any("early" in _store().final_metrics([r["id"]])[r["id"]] for r in fresh)

        if eventually(stored, 60):
            gate.touch()

    watcher = threading.Thread(target=open_gate_when_the_metric_is_stored)
    watcher.start()
    body = "import cellfleet, os, time\ncellfleet.log(early=1.0)\nwhile not os.path.exists(gate):\n    time.sleep(0.02)"
    result = run(shell, "--timeout 90", body)
    watcher.join()
    assert result.success, "the metric was not stored while the cell ran"


def test_artifacts_from_a_worker_are_stored(shell, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_text("hello")
    shell.user_ns["notes"] = str(source)
    body = (
        "import cellfleet\nimport matplotlib.pyplot as plt\nfigure = plt.figure()\nplt.plot([1, 2])\n"
        "cellfleet.log_artifact(figure, 'curve.png')\ncellfleet.log_artifact(notes)\nplt.close('all')"
    )
    assert run(shell, "", body).success
    store = _store()
    latest = store.list_runs(limit=1)[0]
    stored = {a["name"]: a for a in store.list_artifacts(latest["id"])}
    assert stored["curve.png"]["media_type"] == "image/png" and stored["notes.txt"]["size"] == 5
    with open(stored["notes.txt"]["path"]) as handle:
        assert handle.read() == "hello"


def test_cache_hit_skips_execution(shell, tmp_path, capsys):
    counter = tmp_path / "executions"
    shell.user_ns["counter"] = str(counter)
    shell.user_ns["n"] = 4
    body = "open(counter, 'a').write('x')\nprint('computed')\nsquared = n * n"
    assert run(shell, "--cache", body).success
    del shell.user_ns["squared"]
    assert run(shell, "--cache", body).success
    assert shell.user_ns["squared"] == 16 and counter.read_text() == "x"
    out = capsys.readouterr()
    assert out.out.count("computed") == 2 and "cache hit" in out.err  # the output is replayed
    shell.user_ns["n"] = 5
    assert run(shell, "--cache", body).success
    assert shell.user_ns["squared"] == 25 and counter.read_text() == "xx"


def test_a_cache_hit_deletes_and_changes_in_place_as_the_cell_did(shell):
    body = "del scratch\nhistory.append(len(history))\nstamp = 7"
    shell.user_ns.update(scratch=1, history=[])
    assert run(shell, "--cache", body).success
    assert "scratch" not in shell.user_ns and shell.user_ns["history"] == [0]
    alias = shell.user_ns["history"] = []
    shell.user_ns.update(scratch=1)
    del shell.user_ns["stamp"]
    assert run(shell, "--cache", body).success  # the same code and inputs: a hit
    assert shell.user_ns["stamp"] == 7 and "scratch" not in shell.user_ns
    assert alias == [0] and shell.user_ns["history"] is alias  # changed in place, like a local cell


def test_a_cache_hit_needs_the_projects_own_modules_unchanged(shell, tmp_path, monkeypatch):
    """A fix to a module of the project (imported by name, so not an input) runs the cell again."""
    module = Path(os.environ["CELLFLEET_ROOT"]) / "cf_project_helpers.py"
    module.write_text("SCALE = 2\n")
    monkeypatch.syspath_prepend(str(module.parent))
    assert shell.run_cell("import cf_project_helpers").success
    shell.user_ns["counter"] = str(tmp_path / "runs")
    body = "open(counter, 'a').write('x')\nanswer = 42"
    assert run(shell, "--cache", body).success and run(shell, "--cache", body).success
    assert (tmp_path / "runs").read_text() == "x"  # the second was a hit
    module.write_text("SCALE = 33  # fixed\n")
    assert run(shell, "--cache", body).success
    assert (tmp_path / "runs").read_text() == "xx"


def test_local_cells_log_into_a_run_of_their_own(shell):
    shell.run_cell("import cellfleet\ncellfleet.log(local_metric=3.5)")
    latest = _store().list_runs(limit=1)[0]
    assert latest["kind"] == "interactive" and latest["status"] == "succeeded"
    assert _store().final_metrics([latest["id"]])[latest["id"]] == {"local_metric": 3.5}


def test_runs_as_a_dataframe(shell):
    assert run(shell, "--grid alpha=1,2", "import cellfleet\ncellfleet.log(score=alpha * 10)").success
    writer_for().flush()
    frame = runs(kind="variant")
    assert {"param.alpha", "metric.score", "status", "kind"} <= set(frame.columns)
    assert set(frame.dropna(subset=["param.alpha"])["metric.score"]) >= {10.0, 20.0}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--grid lr=", "give lr at least one value"),
        ("--grid =1,2", "NAME=V1,V2"),
        ("--grid lr=1 --variants '[{}]'", "either --grid or --variants"),
        ("--variants nothing_here", "no variable 'nothing_here'"),
        ("--variants '[1, 2]'", "list of dicts"),
        ("--grid lr=1 --nowait", "--nowait does not combine"),
        ("--maximize acc", "go with --grid"),
        ("--grid lr=1 --max-parallel 0", "--max-parallel must be more than 0"),
    ],
)
def test_bad_variant_arguments_are_usage_errors(shell, line, message):
    result = run(shell, line, "x = 1")
    assert isinstance(result.error_in_exec, UsageError)
    assert message in str(result.error_in_exec)


def test_an_unknown_metric_to_optimise_is_reported(shell):
    result = run(shell, "--grid lr=1,2 --minimize acc", "import cellfleet\ncellfleet.log(loss=lr)")
    assert isinstance(result.error_in_exec, UsageError)
    assert "'acc'" in str(result.error_in_exec) and "loss" in str(result.error_in_exec)


def test_adopt_mistakes_say_what_to_do(shell):
    assert run(shell, "--grid lr=1,2", "y = lr").success
    for which, message in (("9", "variants 0 to 1"), ("nobody", "not a run"), ("best", "which metric")):
        with pytest.raises(UsageError, match=message):
            shell.run_line_magic("adopt", which)


def test_log_rejects_non_numbers_and_skips_nan_without_stopping_the_cell(shell):
    result = run(shell, "", "import cellfleet\ncellfleet.log(loss=float('nan'), acc=0.5)\nafter = True")
    assert result.success and shell.user_ns["after"] is True
    latest = _store().list_runs(limit=1)[0]
    assert _store().final_metrics([latest["id"]])[latest["id"]] == {"acc": 0.5}
    result = run(shell, "", "import cellfleet\ncellfleet.log(name='adam')")
    assert isinstance(result.error_in_exec, TypeError) and "not a number" in str(result.error_in_exec)


def test_promote_from_the_notebook_takes_the_best_variants_params(shell, tmp_path, capsys):
    from cellfleet.store.jobs import JobStore
    from jobs_helpers import write_notebook

    assert run(shell, "--grid lr=0.5,0.05 --minimize loss", "import cellfleet\ncellfleet.log(loss=lr)").success
    notebook = write_notebook(tmp_path / "train.ipynb", ["print(lr)"])
    shell.run_line_magic("promote", f"{notebook} --every 1h --name nightly-train --from-run best --retries 2")
    assert "promoted" in capsys.readouterr().out
    job = JobStore(_store()).get_job("nightly-train")
    assert job["params"] == {"lr": 0.05} and job["schedule"] == "every:3600" and job["retries"] == 2
    with pytest.raises(UsageError, match="not a cron expression"):
        shell.run_line_magic("promote", f"{notebook} --cron 'every day'")
    with pytest.raises(UsageError, match="--overlap"):
        shell.run_line_magic("promote", f"{notebook} --overlap sometimes")


def test_interrupting_chatty_variants_stops_them_all(shell, client):
    import _thread

    from cellfleet import CellCancelled
    from cellfleet.worker.task import running_cells

    timer = threading.Timer(1.5, _thread.interrupt_main)
    timer.start()
    body = "import time\nwhile True:\n    print('tick', i, flush=True)\n    time.sleep(0.02)"
    result = run(shell, "--grid i=1,2", body)
    timer.join()
    assert isinstance(result.error_in_exec, CellCancelled)
    assert eventually(lambda: not any(client.run(running_cells).values()))
