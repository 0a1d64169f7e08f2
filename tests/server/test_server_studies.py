"""``GET studies/<group_id>`` on a real Jupyter server, over a store the trials were recorded in
as the kernel records them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tornado.httpclient import HTTPClientError

from cellfleet.protocol import RunKind, RunStatus
from cellfleet.store.database import Store
from study_helpers import TrialSpec, lr_matters, record_search


@pytest.fixture
def store(jp_root_dir, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(jp_root_dir))
    return Store(f"sqlite:///{jp_root_dir / '.cellfleet' / 'cellfleet.db'}")


async def study(jp_fetch, group_id: str) -> dict:
    response = await jp_fetch("cellfleet", "api", "studies", group_id)
    return json.loads(response.body)


async def refused(jp_fetch, group_id: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("cellfleet", "api", "studies", group_id, **kwargs)
    return info.value.code, json.loads(info.value.response.body)["message"]


async def test_a_search_shows_its_space_its_trials_and_their_final_values(jp_fetch, store):
    specs = [
        TrialSpec({"lr": 1e-4, "units": 16, "act": "relu"}, [(0, {"loss": 1.0, "acc": 0.5}), (1, {"loss": 0.5})]),
        TrialSpec({"lr": 1e-2, "units": 64, "act": "gelu"}, [(0, {"loss": 2.0}), (1, {"loss": 1.5})], RunStatus.PRUNED),
        TrialSpec({"lr": 1e-3, "units": 32, "act": "tanh"}, [(0, {"loss": 0.75}), (1, {"loss": 0.25})]),
    ]
    ids = record_search(store, specs, directions={"loss": "min"}, label="fit")
    found = await study(jp_fetch, "search1")
    assert {k: found[k] for k in ("group_id", "label", "study_name", "objectives")} == {
        "group_id": "search1", "label": "fit", "study_name": None,
        "objectives": [{"metric": "loss", "direction": "min"}],
    }  # fmt: skip
    assert found["params"] == [
        {"name": "act", "kind": "categorical", "log": False, "choices": ["gelu", "relu", "tanh"]},
        {"name": "lr", "kind": "float", "log": True, "choices": None},
        {"name": "units", "kind": "int", "log": False, "choices": None},
    ]
    trials = found["trials"]
    assert [t["run_id"] for t in trials] == ids and [t["number"] for t in trials] == [0, 1, 2]
    assert [t["status"] for t in trials] == ["succeeded", "pruned", "succeeded"]
    assert [t["values"] for t in trials] == [{"loss": 0.5}, {"loss": 1.5}, {"loss": 0.25}]
    assert [t["last_step"] for t in trials] == [1, 1, 1] and trials[1]["params"] == specs[1].params
    assert all(isinstance(t["started"], float) and t["ended"] >= t["started"] for t in trials)
    ranked = [i["importance"] for i in found["importances"]]
    assert len(ranked) == 3 and ranked == sorted(ranked, reverse=True) and found["importance_note"] is None


async def test_importances_rank_first_the_one_param_the_objective_depends_on(jp_fetch, store):
    record_search(store, lr_matters())
    found = await study(jp_fetch, "search1")
    ranked = found["importances"]
    assert ranked[0]["param"] == "lr" and {i["param"] for i in ranked} == {"lr", "units", "act"}
    assert ranked[0]["importance"] > 0.5 and sum(i["importance"] for i in ranked) == pytest.approx(1.0)
    assert found["importance_note"] is None


async def test_a_maximised_objective_ranks_alike(jp_fetch, store):
    trials = lr_matters()
    for spec in trials:
        spec.logs = [(step, {"score": -values["loss"]}) for step, values in spec.logs]
    record_search(store, trials, directions={"score": "max"})
    assert (await study(jp_fetch, "search1"))["importances"][0]["param"] == "lr"


async def test_too_few_finished_trials_give_no_importances_and_say_why(jp_fetch, store):
    specs = [
        TrialSpec({"lr": 0.1}, [(0, {"loss": 1.0})]),
        TrialSpec({"lr": 0.2}, [(0, {"loss": 2.0})], RunStatus.PRUNED),
        TrialSpec({"lr": 0.3}, [(0, {"loss": 3.0})], RunStatus.RUNNING),
        TrialSpec({"lr": 0.4}, [], RunStatus.FAILED),
    ]
    record_search(store, specs)
    found = await study(jp_fetch, "search1")
    assert found["importances"] == [] and len(found["trials"]) == 4
    assert found["importance_note"] == "importances need at least 2 finished trials; 1 so far"


async def test_a_param_with_one_value_is_left_out_and_named(jp_fetch, store):
    trials = lr_matters(8)
    for spec in trials:
        spec.params = {"lr": spec.params["lr"], "batch": 32}
    record_search(store, trials)
    found = await study(jp_fetch, "search1")
    assert [i["param"] for i in found["importances"]] == ["lr"] and found["importances"][0]["importance"] == 1.0
    assert found["importance_note"] == "left out batch: one value in every finished trial"
    record_search(store, [TrialSpec({"batch": 32}, [(0, {"loss": 1.0})])] * 2, group_id="flat")
    flat = await study(jp_fetch, "flat")
    assert flat["importances"] == []
    assert flat["importance_note"] == "importances need a param that takes more than one value: batch took one " \
                                      "value in every finished trial"  # fmt: skip


async def test_several_objectives_rank_for_the_first_and_say_so(jp_fetch, store):
    trials = lr_matters()
    for spec in trials:
        spec.logs = [(step, {**values, "seconds": 1.0}) for step, values in spec.logs]
    record_search(store, trials, directions={"loss": "min", "seconds": "min"})
    found = await study(jp_fetch, "search1")
    assert [o["metric"] for o in found["objectives"]] == ["loss", "seconds"]
    assert found["trials"][0]["values"] == {**trials[0].logs[-1][1], "seconds": 1.0}
    assert found["importances"][0]["param"] == "lr"
    assert found["importance_note"] == "importances are for loss, the first of 2 objectives (loss, seconds)"


async def test_objectives_come_in_the_order_the_cell_declared_them(jp_fetch, store):
    record_search(store, lr_matters(3), directions={"seconds": "min", "loss": "min"})
    found = await study(jp_fetch, "search1")
    assert [o["metric"] for o in found["objectives"]] == ["seconds", "loss"]


async def test_the_curves_hold_every_point_of_each_objective_of_every_trial(jp_fetch, store):
    specs = [
        TrialSpec({"lr": 0.1}, [(0, {"loss": 3.0, "acc": 0.1}), (1, {"loss": 2.0}), (2, {"loss": 1.0})]),
        TrialSpec({"lr": 0.2}, [(0, {"loss": 4.0})], RunStatus.PRUNED),
        TrialSpec({"lr": 0.3}, status=RunStatus.RUNNING),
    ]
    ids = record_search(store, specs)
    response = await jp_fetch("cellfleet", "api", "studies", "search1", "curves")
    found = json.loads(response.body)
    assert found["objectives"] == ["loss"] and set(found["series"]) == set(ids[:2])  # acc is not an objective
    first = found["series"][ids[0]]["loss"]
    assert [(step, value) for step, value, _ in first] == [(0, 3.0), (1, 2.0), (2, 1.0)]
    assert [logged for *_, logged in first] == sorted(logged for *_, logged in first)
    assert [(s, v) for s, v, _ in found["series"][ids[1]]["loss"]] == [(0, 4.0)]


async def test_the_curves_of_a_group_that_is_not_a_search_get_a_404(jp_fetch, store):
    record_search(store, [TrialSpec({"lr": 0.1})] * 2, group_id="grid1", kind=RunKind.VARIANT)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("cellfleet", "api", "studies", "grid1", "curves")
    assert info.value.code == 404 and "is not a search" in json.loads(info.value.response.body)["message"]


async def test_an_unknown_group_and_a_group_of_variants_get_a_one_line_404(jp_fetch, store):
    record_search(store, [TrialSpec({"lr": 0.1})] * 2, group_id="grid1", kind=RunKind.VARIANT)
    code, message = await refused(jp_fetch, "no-such-group")
    assert code == 404 and "'no-such-group'" in message and "\n" not in message
    code, message = await refused(jp_fetch, "grid1")
    assert code == 404 and message.startswith("run group 'grid1' is not a search: it holds 2 variant runs")


async def test_the_study_needs_authentication(jp_fetch, store):
    record_search(store, lr_matters(3))
    code, _ = await refused(jp_fetch, "search1", headers={"Authorization": ""})
    assert code == 403


_PREPARE = """
import sys
from cellfleet.server import _prepare_study_views
from cellfleet.server.state import ServerState
state = ServerState(sys.argv[1])
_prepare_study_views(state)
state.close()
print('optuna' in sys.modules)
"""


@pytest.mark.parametrize("searched", [True, False])
def test_a_store_holding_a_search_has_optuna_imported_before_the_first_study(store, searched):
    record_search(store, lr_matters(2), kind=RunKind.TRIAL if searched else RunKind.VARIANT)
    probe = [sys.executable, "-c", _PREPARE, store.url]
    done = subprocess.run(probe, capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == str(searched)


def test_the_server_does_not_import_optuna_until_a_study_is_asked_for():
    probe = "import sys, cellfleet.server, cellfleet.server.routes; print('optuna' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "False"
