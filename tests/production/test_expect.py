"""--expect: the pure parser and check, and the final metrics they are checked against (a real
store on SQLite and on PostgreSQL: a production run's own metrics and its remote cells')."""

from __future__ import annotations

import pytest

from cellfleet.errors import PromotionError
from cellfleet.production.expect import FORM, Expectation, parse_expectations, unmet
from cellfleet.store.database import MetricPoint, Store
from cellfleet.store.queries import production_finals


@pytest.mark.parametrize(
    ("text", "metric", "op", "bound", "written"),
    [
        ("val_loss<0.2", "val_loss", "<", 0.2, "val_loss<0.2"),
        ("accuracy >= 0.9", "accuracy", ">=", 0.9, "accuracy>=0.9"),
        ("  loss <= 1e-3 ", "loss", "<=", 0.001, "loss<=0.001"),
        ("epochs==10", "epochs", "==", 10.0, "epochs==10"),
        ("delta!=-2.5", "delta", "!=", -2.5, "delta!=-2.5"),
        ("val/acc>0.123456789", "val/acc", ">", 0.123456789, "val/acc>0.123456789"),
        ("loss<inf", "loss", "<", float("inf"), "loss<inf"),
    ],
)
def test_good_forms_parse_into_a_typed_record(text, metric, op, bound, written):
    expectation = Expectation.parse(text)
    assert expectation == Expectation(metric, op, bound)
    assert str(expectation) == written and Expectation.parse(str(expectation)) == expectation


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no comparison"),
        ("val_loss 0.2", "no comparison"),
        ("val_loss=0.2", "'=' is not a comparison"),
        ("val_loss<<0.2", "'<<' is not a comparison"),
        ("val_loss=>0.2", "'=>' is not a comparison"),
        ("<0.2", "no metric named"),
        ("val loss<0.2", "'val loss' is not a metric name"),
        ("1st<0.2", "'1st' is not a metric name"),
        ("val_loss<", "no number to compare with"),
        ("val_loss<low", "'low' is not a number"),
        ("val_loss<nan", "'nan' is not a number"),
        ("val_loss<0.2<0.3", "'0.2<0.3' is not a number"),
    ],
)
def test_bad_forms_are_one_line_showing_the_right_form(text, problem):
    with pytest.raises(PromotionError) as info:
        Expectation.parse(text)
    message = str(info.value)
    assert message == f"--expect {text!r}: {problem}; {FORM}" and "\n" not in message
    assert 'like "val_loss<0.2"' in message and "< <= > >= == !=" in message


@pytest.mark.parametrize("texts", ["val_loss<0.2", {"val_loss": "<0.2"}, 5, [0.2]])
def test_expect_must_be_a_list_of_strings(texts):
    with pytest.raises(PromotionError, match=r'^expect must be a list of strings, like \["val_loss<0.2"\]'):
        parse_expectations(texts)


def test_unmet_names_the_metric_its_value_and_the_bound_or_that_it_was_never_logged():
    finals = {"val_loss": 0.35, "accuracy": 0.95}
    assert unmet(["val_loss<0.5", "accuracy>=0.9"], finals) is None
    assert unmet([], finals) is None
    assert (
        unmet(["val_loss<0.2"], finals) == "expectations not met: val_loss was 0.35, not < 0.2 (--expect val_loss<0.2)"
    )
    assert unmet([Expectation("f1", ">", 0.5), "accuracy<0.9"], finals) == (
        "expectations not met: f1 was never logged (--expect f1>0.5); "
        "accuracy was 0.95, not < 0.9 (--expect accuracy<0.9)"
    )


def test_final_metrics_count_the_remote_cells_a_production_run_ran(store_url):
    store = Store(store_url)
    run = store.create_run(kind="production", status="running")
    cell = store.create_run(kind="production", parent_id=run, status="succeeded")
    elsewhere = store.create_run(kind="interactive", status="succeeded")
    store.log_metrics([MetricPoint(run, "loss", 0.9, 0), MetricPoint(cell, "loss", 0.4, 1)])
    store.log_metrics([MetricPoint(cell, "accuracy", 0.8), MetricPoint(run, "accuracy", 0.91)])
    store.log_metrics([MetricPoint(elsewhere, "loss", 0.01), MetricPoint(elsewhere, "f1", 1.0)])
    finals = production_finals(store, run)
    assert finals == {"loss": 0.4, "accuracy": 0.91}  # the last logged of each, wherever in the run
    assert unmet(["loss<0.5", "accuracy>=0.9"], finals) is None
    assert unmet(["f1>0.5"], finals) == "expectations not met: f1 was never logged (--expect f1>0.5)"
