"""A search's trials read back for the study view: the inferred space, the final values, the
cut at the limit, and the name of a kept Optuna study (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from cellfleet.kernel import study as kernel_study
from cellfleet.protocol import Direction, RunKind, RunStatus
from cellfleet.server.importance import param_importances
from cellfleet.store.database import Store
from cellfleet.store.studies import GROUP_ATTR, Objective, ParamKind, ParamSpace, group_kinds, infer_space, load_study
from study_helpers import TrialSpec, keep_study, lr_matters, record_search


def test_kinds_and_log_scales_are_inferred_from_the_values_taken():
    space = infer_space(
        [
            {"lr": 1e-4, "units": 8, "drop": 0.1, "act": "relu", "wide": 1, "flag": True, "mixed": 1},
            {"lr": 1e-2, "units": 800, "drop": 0.5, "act": "gelu", "wide": 2.5, "flag": False, "mixed": "a"},
            {"lr": 3e-3, "units": 80, "drop": 0.3, "act": "relu", "wide": -1, "mixed": None},
        ]
    )
    assert space == (
        ParamSpace("lr", ParamKind.FLOAT, log=True, low=1e-4, high=1e-2),
        ParamSpace("units", ParamKind.INT, log=True, low=8, high=800),
        ParamSpace("drop", ParamKind.FLOAT, log=False, low=0.1, high=0.5),
        ParamSpace("act", ParamKind.CATEGORICAL, choices=("gelu", "relu")),
        ParamSpace("wide", ParamKind.FLOAT, log=False, low=-1, high=2.5),
        ParamSpace("flag", ParamKind.CATEGORICAL, choices=(False, True)),
        ParamSpace("mixed", ParamKind.CATEGORICAL, choices=(None, 1, "a")),
    )


@pytest.mark.parametrize(
    ("values", "log"),
    [([1, 100], True), ([1, 99], False), ([0.001, 0.1], True), ([0, 1000], False), ([-100, -1], False)],
)
def test_a_number_is_log_scaled_when_positive_over_two_decades(values, log):
    (space,) = infer_space([{"x": value} for value in values])
    assert space.log is log


def test_bools_and_ints_stay_apart_and_non_finite_numbers_are_categorical():
    (flags,) = infer_space([{"x": True}, {"x": 1}, {"x": 1}])
    assert flags.kind == ParamKind.CATEGORICAL and flags.choices == (True, 1)
    (odd,) = infer_space([{"x": 1.0}, {"x": float("inf")}])
    assert odd.kind == ParamKind.CATEGORICAL


def test_a_trial_without_a_param_does_not_count_for_it():
    assert infer_space([{"a": 1}, {"a": 2, "b": "x"}]) == (
        ParamSpace("a", ParamKind.INT, low=1, high=2),
        ParamSpace("b", ParamKind.CATEGORICAL, choices=("x",)),
    )


def test_trials_come_back_with_their_last_objective_values_and_steps(store_url):
    store = Store(store_url)
    specs = [
        TrialSpec({"lr": 0.1}, [(0, {"loss": 3.0, "acc": 0.1}), (2, {"loss": 2.0}), (1, {"loss": 2.5})]),
        TrialSpec({"lr": 0.01}, [(0, {"loss": 9.0})], RunStatus.PRUNED),
        TrialSpec({"lr": 0.001}, [(None, {"loss": 1.0})]),
        TrialSpec({"lr": 0.0001}, status=RunStatus.RUNNING),
    ]
    ids = record_search(store, specs, directions={"loss": "min", "acc": "max"})
    study = load_study(store, "search1")
    assert study is not None and study.total == 4 and study.label == "train" and study.study_name is None
    assert study.objectives == (Objective("loss", Direction.MIN), Objective("acc", Direction.MAX))  # as declared
    assert [t.run_id for t in study.trials] == ids and [t.number for t in study.trials] == [0, 1, 2, 3]
    assert [t.values for t in study.trials] == [
        {"acc": 0.1, "loss": 2.5},
        {"acc": None, "loss": 9.0},
        {"acc": None, "loss": 1.0},
        {"acc": None, "loss": None},
    ]
    assert [t.last_step for t in study.trials] == [2, 0, None, None]
    assert [t.status for t in study.trials] == [RunStatus.SUCCEEDED, RunStatus.PRUNED, RunStatus.SUCCEEDED,
                                                RunStatus.RUNNING]  # fmt: skip
    assert study.trials[3].started is not None and study.trials[3].ended is None
    assert study.params == (ParamSpace("lr", ParamKind.FLOAT, log=True, low=0.0001, high=0.1),)


def test_a_long_search_is_cut_to_its_newest_trials_and_the_note_says_so(store_url):
    store = Store(store_url)
    record_search(store, lr_matters(8))
    study = load_study(store, "search1", limit=5)
    assert study is not None and study.total == 8 and [t.number for t in study.trials] == [3, 4, 5, 6, 7]
    assert all(t.values["loss"] is not None for t in study.trials)
    note = param_importances(study).note
    assert note == "the search has 8 trials: these are the latest 5"


def test_a_group_without_trials_is_no_study(store_url):
    store = Store(store_url)
    record_search(store, [TrialSpec({"lr": 0.1})], group_id="grid1", kind=RunKind.VARIANT)
    assert load_study(store, "grid1") is None and group_kinds(store, "grid1") == {"variant": 1}
    assert load_study(store, "nothing") is None and group_kinds(store, "nothing") == {}


def test_a_kept_optuna_study_is_named_by_its_group(store_url):
    store = Store(store_url)
    record_search(store, lr_matters(3), group_id="kept1")
    record_search(store, lr_matters(3), group_id="other")
    keep_study(store_url, "tune-lr", "kept1")
    named = load_study(store, "kept1")
    assert named is not None and named.study_name == "tune-lr"
    other = load_study(store, "other")
    assert other is not None and other.study_name is None


def test_the_kernel_keeps_the_group_under_the_attribute_the_store_reads():
    assert kernel_study._GROUP_ATTR == GROUP_ATTR
