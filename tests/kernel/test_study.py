"""The Optuna study behind ``--search``: samplers, pruners, storage on the store's URL."""

from __future__ import annotations

import importlib.util

import optuna
import pytest

from cellfleet.kernel.options import OptionError
from cellfleet.kernel.space import SearchOptions, parse_space
from cellfleet.kernel.study import distributions, open_study

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
    assert isinstance(opened.study.sampler, kind) and isinstance(opened.study.pruner, pruner)
    assert opened.pruning == (prune != "none")
    trial = opened.study.ask(distributions(SPACE))
    assert 1e-4 <= trial.params["lr"] <= 1e-1 and trial.params["layers"] in range(1, 7)
    assert trial.params["act"] in ("relu", "gelu")


def test_the_grid_sampler_takes_choices_and_integers():
    space = parse_space(["layers=int(1,3)", "act=choice(relu,gelu)"])
    study = open_study(SearchOptions(("x",), sampler="grid"), space, MIN).study
    seen = {tuple(study.ask(distributions(space)).params.values()) for _ in range(6)}
    assert len(seen) == 6


def test_cmaes_needs_its_package_or_says_how_to_get_it():
    options = SearchOptions(("x",), sampler="cmaes")
    space = parse_space(["lr=uniform(0,1)"])
    if importlib.util.find_spec("cmaes") is None:
        with pytest.raises(OptionError, match="pip install cmaes"):
            open_study(options, space, MIN)
    else:
        assert isinstance(open_study(options, space, MIN).study.sampler, optuna.samplers.CmaEsSampler)


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
