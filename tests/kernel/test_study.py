"""The Optuna study behind ``--search``: samplers, pruners, storage on the store's URL."""

from __future__ import annotations

import importlib.util

import optuna
import pytest

from cellfleet.kernel.options import OptionError
from cellfleet.kernel.space import SearchOptions, parse_space
from cellfleet.kernel.study import StepScaledPruner, distributions, open_study

SPACE = parse_space(["lr=loguniform(1e-4,1e-1)", "layers=int(1,6)", "act=choice(relu,gelu)"])
MIN = [("loss", "minimize")]


@pytest.mark.parametrize(
    ("sampler", "kind"),
    [("tpe", optuna.samplers.TPESampler), ("random", optuna.samplers.RandomSampler)],
)
@pytest.mark.parametrize(
    ("prune", "pruner"),
    [
        ("median", optuna.pruners.MedianPruner),
        ("asha", optuna.pruners.SuccessiveHalvingPruner),
        ("hyperband", optuna.pruners.HyperbandPruner),
        ("none", optuna.pruners.NopPruner),
    ],
)
def test_each_sampler_and_pruner_is_optunas_own(sampler, kind, prune, pruner):
    opened = open_study(SearchOptions(("x",), sampler=sampler, prune=prune, seed=1), SPACE, MIN)
    assert isinstance(opened.study.sampler, kind)
    assert opened.pruning == (prune != "none")
    trial = opened.study.ask(distributions(SPACE))
    assert 1e-4 <= trial.params["lr"] <= 1e-1 and trial.params["layers"] in range(1, 7)
    assert trial.params["act"] in ("relu", "gelu")
    _finish(opened.study, trial, steps=20)
    second = opened.study.ask(distributions(SPACE))
    second.report(1.0, 0)
    second.should_prune()
    made = opened.study.pruner
    made = made.inner if isinstance(made, StepScaledPruner) else made  # made once a trial finished
    assert made is not None and isinstance(made, pruner)


def _finish(study, trial, steps, value=1.0, start=0):
    for step in range(start, steps):
        trial.report(value, step)
    study.tell(trial, value)


def test_tpe_models_the_params_jointly_and_spreads_the_trials_asked_at_once():
    sampler = open_study(SearchOptions(("x",), seed=1), SPACE, MIN).study.sampler
    assert sampler._multivariate is True and sampler._constant_liar is True  # Optuna has no public getter
    assert sampler._n_startup_trials == 10


def test_the_median_pruner_waits_for_half_the_steps_a_finished_trial_logged():
    study = open_study(SearchOptions(("x",), trials=4, prune="median"), SPACE, MIN).study
    space = distributions(SPACE)
    first = study.ask(space)
    first.report(1.0, 0)
    assert not first.should_prune()  # nothing has finished: nothing is pruned
    _finish(study, first, steps=40, start=1)
    poor = study.ask(space)
    for step in range(19):
        poor.report(5.0, step)
        assert not poor.should_prune(), step  # warming up: steps 0-18 of a 40-step cell
    poor.report(5.0, 19)
    assert poor.should_prune()  # from step 19 (half of 0-39) on, far above the median


def test_the_grid_sampler_takes_choices_and_integers():
    space = parse_space(["layers=int(1,3)", "act=choice(relu,gelu)"])
    study = open_study(SearchOptions(("x",), sampler="grid"), space, MIN).study
    seen = {tuple(study.ask(distributions(space)).params.values()) for _ in range(6)}
    assert len(seen) == 6


def test_cmaes_is_installed_with_cellfleet_and_says_it_draws_choices_at_random():
    assert importlib.util.find_spec("cmaes") is not None  # a dependency of cellfleet
    options = SearchOptions(("x",), sampler="cmaes")
    opened = open_study(options, parse_space(["lr=uniform(0,1)", "n=int(1,4)"]), MIN)
    assert isinstance(opened.study.sampler, optuna.samplers.CmaEsSampler) and not opened.notes
    opened = open_study(options, SPACE, MIN)
    assert any("cmaes draws act at random" in note for note in opened.notes)


def test_cmaes_without_its_package_says_how_to_get_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cmaes" else real(name, *a))
    with pytest.raises(OptionError, match="pip install cmaes"):
        open_study(SearchOptions(("x",), sampler="cmaes"), parse_space(["lr=uniform(0,1)"]), MIN)


def test_several_objectives_turn_pruning_off_with_a_note():
    opened = open_study(SearchOptions(("x",)), SPACE, [("cost", "minimize"), ("acc", "maximize")])
    assert not opened.pruning and any("pruning is off" in note for note in opened.notes)
    assert [d.name for d in opened.study.directions] == ["MINIMIZE", "MAXIMIZE"]


def test_a_kept_study_keeps_its_group_and_its_directions(monkeypatch, tmp_path):
    monkeypatch.setenv("CELLFLEET_DB", f"sqlite:///{tmp_path / 'store.db'}")
    options = SearchOptions(("x",), study="kept")
    first = open_study(options, SPACE, MIN)
    first.study.tell(first.study.ask(distributions(SPACE)), 1.0)
    again = open_study(options, SPACE, MIN)
    assert again.group_id == first.group_id and len(again.study.trials) == 1
    assert "continuing study 'kept': 1 trials so far" in again.notes[-1]
    with pytest.raises(
        OptionError, match=r"--study kept was made to minimize, not to maximize loss: .* another --study name"
    ):
        open_study(options, SPACE, [("loss", "maximize")])
