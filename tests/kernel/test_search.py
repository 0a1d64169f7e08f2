"""``%%remote --search``: Optuna studies over a cell, on a real shell, cluster and store."""

from __future__ import annotations

import os
import threading

import optuna
import pytest
from IPython.core.error import UsageError
from jupyter_client.manager import start_new_kernel

from cellfleet import CellCancelled
from cellfleet.store.database import Store, engine_url
from cellfleet.store.recorder import writer_for
from cellfleet.worker.task import running_cells
from conftest import eventually, run
from kernel_helpers import execute

# val_loss falls with the steps; a trial with bad=10 is far worse at every step than one with bad=0
TRAIN = (
    "import time, cellfleet\n"
    "for step in range(STEPS):\n"
    "    cellfleet.log(step=step, val_loss=bad + 1 / (step + 1))\n"
    "    time.sleep(0.02)\n"
    "model = {'bad': bad}\n"
)


def _store():
    writer = writer_for()
    writer.flush()
    return writer.store


def _group(shell):
    return shell.find_cell_magic("remote").__self__.runner.variants.groups[-1]


def _runs(shell):
    return _store().list_runs(group_id=_group(shell).group_id)


def test_a_search_runs_trials_and_adopts_the_best(shell, capsys):
    shell.user_ns["STEPS"] = 3
    line = "--search bad=choice(0,10) --search lr=loguniform(1e-4,1e-1) --trials 4 --minimize val_loss --seed 1"
    result = run(shell, line + " --prune none", TRAIN)
    assert result.success, result.error_in_exec
    table = capsys.readouterr().out
    assert "search of 4 trials: best val_loss=" in table and "4 done" in table
    recorded = _runs(shell)
    assert len(recorded) == 4
    assert {r["kind"] for r in recorded} == {"trial"} and {r["status"] for r in recorded} == {"succeeded"}
    assert all(set(r["params"]) == {"bad", "lr"} and 1e-4 <= r["params"]["lr"] <= 1e-1 for r in recorded)
    assert all(r["directions"] == {"val_loss": "min"} for r in recorded)
    shell.run_line_magic("adopt", "best")
    best = min(r["params"]["bad"] for r in recorded)
    assert shell.user_ns["model"] == {"bad": best}


def _seed_good_first(trials: int) -> int:
    """A seed with which the random sampler picks bad=0 first, then bad=10 at least twice."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {"bad": optuna.distributions.CategoricalDistribution((0, 10))}
    for seed in range(100):
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        picks = [study.ask(space).params["bad"] for _ in range(trials)]
        if picks[0] == 0 and picks.count(10) >= 2:
            return seed
    raise AssertionError("no seed found")


def test_poor_trials_are_pruned_and_stop_early(shell, capsys):
    shell.user_ns["STEPS"] = 60
    seed = _seed_good_first(5)
    line = f"--search bad=choice(0,10) --trials 5 --max-parallel 1 --minimize val_loss --sampler random --seed {seed}"
    result = run(shell, line, TRAIN)
    assert result.success, result.error_in_exec
    recorded = _runs(shell)
    pruned = [r for r in recorded if r["status"] == "pruned"]
    done = [r for r in recorded if r["status"] == "succeeded"]
    assert pruned and done, [(r["params"], r["status"]) for r in recorded]
    assert all(r["params"]["bad"] == 10 for r in pruned)
    store = _store()
    for r in done:
        assert len(store.metric_series(r["id"])["val_loss"]) == 60  # ran to the end
    for r in pruned:
        assert len(store.metric_series(r["id"])["val_loss"]) < 60  # stopped at a cellfleet.log call
        assert "pruned at step" in r["error"]
    assert "pruned" in capsys.readouterr().out


def test_a_cell_that_logs_without_steps_says_once_it_cannot_prune(shell, capsys):
    body = "import cellfleet\ncellfleet.log(score=x * x)"
    result = run(shell, "--search x=uniform(-1,1) --trials 3 --maximize score --seed 0", body)
    assert result.success, result.error_in_exec
    assert capsys.readouterr().out.count("this search cannot prune") == 1


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("--search lr=loguniform(0,1) --minimize loss", "loguniform(LOW,HIGH) with 0 < LOW < HIGH"),
        ("--search lr=normal(0,1) --minimize loss", "unknown distribution 'normal'"),
        ("--search layers=int(1,2.5) --minimize loss", "int(LOW,HIGH) or int(LOW,HIGH,STEP)"),
        ("--search lr=uniform(1) --minimize loss", "uniform(LOW,HIGH)"),
        ("--search lr=uniform(0,1)", "needs an objective"),
        ("--search lr=uniform(0,1) --grid b=1,2 --minimize loss", "not both"),
        ("--trials 3", "--trials goes with --search"),
        ("--search lr=uniform(0,1) --sampler grid --minimize loss", "--sampler grid"),
    ],
)
def test_bad_searches_are_one_line_usage_errors(shell, line, shown):
    with pytest.raises(UsageError, match=None) as caught:
        shell.run_cell_magic("remote", line, "x = 1")
    assert shown in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_study_kept_in_the_store_given_by_cellfleet_db_continues(shell, monkeypatch, store_url):
    monkeypatch.setenv("CELLFLEET_DB", store_url)
    url = engine_url(store_url)
    shell.user_ns["STEPS"] = 2
    line = "--search bad=choice(0,10) --trials 2 --minimize val_loss --study kept --prune none"
    assert run(shell, line, TRAIN).success
    first = _group(shell).group_id
    assert len(optuna.load_study(study_name="kept", storage=url).trials) == 2  # in the store's own database
    shell.find_cell_magic("remote").__self__.runner.variants.groups.clear()
    assert run(shell, line, TRAIN).success
    study = optuna.load_study(study_name="kept", storage=url)
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert _group(shell).group_id == first  # one run group for the whole study
    writer_for().flush()
    runs = Store(store_url).list_runs(group_id=first)
    assert sorted(r["variant"] for r in runs) == [0, 1, 2, 3] and {r["kind"] for r in runs} == {"trial"}


def test_a_study_continues_after_a_kernel_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    manager, client = start_new_kernel(kernel_name="cellfleet", env={**os.environ, "CELLFLEET_DB": url})
    cell = "%%remote --search x=int(1,9) --trials 2 --maximize score --study restart --prune none\n"
    cell += "import cellfleet\ncellfleet.log(score=x)"
    try:
        first = execute(client, cell)
        assert not first.errors, first.tracebacks
        manager.restart_kernel(now=True)
        client.wait_for_ready(timeout=60)
        second = execute(client, cell)
        assert not second.errors, second.tracebacks
        assert "continuing study 'restart': 2 trials so far, 2 more" in second.text
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    study = optuna.load_study(study_name="restart", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert len(Store(url).list_runs(kind="trial")) == 4


def test_interrupting_a_search_stops_every_trial(shell, client):
    import _thread

    timer = threading.Timer(1.5, _thread.interrupt_main)
    timer.start()
    body = (
        "import time, cellfleet\nfor step in range(10**6):\n    cellfleet.log(step=step, loss=x)\n    time.sleep(0.02)"
    )
    result = run(shell, "--search x=uniform(0,1) --trials 6 --max-parallel 2 --minimize loss --prune none", body)
    timer.join()
    assert isinstance(result.error_in_exec, CellCancelled)
    assert eventually(lambda: not any(client.run(running_cells).values()))
    statuses = sorted(r["status"] for r in _runs(shell))
    assert statuses == ["cancelled", "cancelled"]  # the two running; no others were started


def test_several_objectives_show_the_pareto_front_and_do_not_prune(shell, capsys):
    body = "import cellfleet\ncellfleet.log(step=0, cost=x, error=(1 - x) ** 2)"
    line = "--search x=uniform(0,1) --trials 4 --minimize cost --minimize error --seed 2"
    result = run(shell, line, body)
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert "pruning is off" in out and "Pareto front (" in out


def test_the_live_table_is_drawn_and_left_as_the_comparison(shell, monkeypatch, capsys):
    monkeypatch.setenv("CELLFLEET_STATUS", "text")
    body = "import time, cellfleet\nfor step in range(30):\n    cellfleet.log(step=step, loss=x)\n    time.sleep(0.03)"
    result = run(shell, "--search x=int(1,3) --trials 2 --minimize loss --prune none --seed 0", body)
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert "search of 2 trials: no trial done yet; 0 done" in out  # drawn before any trial ended
    assert "2 done, 0 running" in out


def test_the_search_line_is_parsed_into_options():
    from cellfleet.kernel.magics import parse_remote_options

    options = parse_remote_options(
        "gpu --search lr=loguniform(1e-5,1e-1) --search act=choice(relu,gelu) --trials 32 --minimize val_loss "
        "--sampler random --prune asha --study s1 --max-parallel 2 --seed 7"
    )
    assert options.search is not None and options.gpus == 1 and options.max_parallel == 2
    assert options.search.space == ("lr=loguniform(1e-5,1e-1)", "act=choice(relu,gelu)")
    assert (options.search.trials, options.search.sampler, options.search.prune) == (32, "random", "asha")
    assert (options.search.study, options.search.seed) == ("s1", 7)
    assert not options.fans_out  # --grid and --variants keep their own path


def test_adopt_takes_a_trial_by_its_number_in_a_real_kernel(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    manager, client = start_new_kernel(kernel_name="cellfleet", env={**os.environ, "CELLFLEET_DB": url})
    cell = "%%remote --search x=int(1,9) --trials 2 --maximize score --study numbered --prune none --seed 3\n"
    cell += "import cellfleet\ncellfleet.log(score=x)\nchosen = x"
    try:
        for _ in range(2):  # the second run continues the study: its trials are numbers 2 and 3
            ran = execute(client, cell)
            assert not ran.errors, ran.tracebacks
        adopted = execute(client, "%adopt 3\nprint('chosen', chosen)")
        assert not adopted.errors, adopted.tracebacks
        wrong = execute(client, "%adopt 0")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    third = next(t for t in optuna.load_study(study_name="numbered", storage=url).trials if t.number == 3)
    run_id = next(r["id"] for r in Store(url).list_runs(kind="trial") if r["variant"] == 3)
    assert f"adopted run {run_id} (x={third.params['x']})" in adopted.text
    assert f"chosen {third.params['x']}" in adopted.text
    assert "UsageError: %adopt 0: the last group has trials 2 to 3 (its table's first column)" in wrong.text


def test_a_cmaes_search_over_two_floats_runs_and_records_its_trials(shell):
    body = "import cellfleet\ncellfleet.log(loss=(x - 0.3) ** 2 + (y + 0.2) ** 2)"
    line = "--search x=uniform(-1,1) --search y=uniform(-1,1) --trials 4 --sampler cmaes --minimize loss --seed 0"
    result = run(shell, line + " --max-parallel 2 --prune none", body)
    assert result.success, result.error_in_exec
    recorded = _runs(shell)
    assert len(recorded) == 4 and {r["status"] for r in recorded} == {"succeeded"}
    assert all(-1 <= r["params"]["x"] <= 1 and -1 <= r["params"]["y"] <= 1 for r in recorded)
    assert len({(r["params"]["x"], r["params"]["y"]) for r in recorded}) == 4


def _seed_picking(first: int, then: int) -> int:
    """A seed with which the random sampler picks bad=first, then bad=then."""
    space = {"bad": optuna.distributions.CategoricalDistribution((0, 10))}
    for seed in range(100):
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        if [study.ask(space).params["bad"] for _ in range(2)] == [first, then]:
            return seed
    raise AssertionError("no seed found")


# Trial 1 (bad=10) is pruned at step 20; its worker takes the mark, then dies with it before its
# next cellfleet.log. Its retry, on a live worker, writes each step it reaches to a file.
RETRIED = (
    "import os, time, cellfleet\n"
    "from cellfleet.worker.capture import active_capture\n"
    "from cellfleet.worker.pruning import _PRUNED\n"
    "me, retry = active_capture().cell_id.rpartition('-')[0], os.path.exists(marker)\n"
    "for step in range(STEPS):\n"
    "    if bad and retry:\n"
    "        with open(reached, 'a') as out:\n"
    "            out.write(f'{step}\\n')\n"
    "    cellfleet.log(step=step, val_loss=bad + 1 / (step + 1))\n"
    "    time.sleep(0.02)\n"
    "    if bad and not retry and me in _PRUNED:\n"
    "        open(marker, 'w').close()\n"
    "        os._exit(1)\n"
)


def test_a_pruned_trial_retried_after_its_worker_died_is_stopped_on_its_new_worker(shell, tmp_path):
    shell.user_ns.update(STEPS=40, marker=str(tmp_path / "died"), reached=str(tmp_path / "reached"))
    seed = _seed_picking(0, 10)
    line = f"--search bad=choice(0,10) --trials 2 --max-parallel 1 --minimize val_loss --sampler random --seed {seed}"
    result = run(shell, line + " --retries 1", RETRIED)
    assert result.success, result.error_in_exec
    assert (tmp_path / "died").exists()  # the first attempt took the decision and died with it
    statuses = {r["params"]["bad"]: r["status"] for r in _runs(shell)}
    assert statuses == {0: "succeeded", 10: "pruned"}
    reached = (tmp_path / "reached").read_text().split()
    assert 1 <= len(reached) < 40  # the retry was stopped at one of its cellfleet.log calls
