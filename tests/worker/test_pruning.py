"""A pruned search trial stops at its next ``cellfleet.log`` (real Capture objects, no cluster)."""

from __future__ import annotations

import pytest

import cellfleet
from cellfleet.errors import TrialPruned
from cellfleet.protocol import MetricItem
from cellfleet.worker import pruning
from cellfleet.worker.capture import Capture


@pytest.fixture(autouse=True)
def _no_marks(monkeypatch):
    monkeypatch.setattr(pruning, "_PRUNED", {})


def test_log_raises_trial_pruned_in_the_pruned_cell_only_after_recording_the_point():
    sent = []
    pruned, other = Capture(sent.append, "aaaa-0"), Capture(sent.append, "bbbb-0")
    pruning.mark_pruned("aaaa", "trial 3 was pruned at step 2")
    with other:
        cellfleet.log(step=2, loss=1.0)  # another cell logs on
    with pruned, pytest.raises(TrialPruned, match="trial 3 was pruned at step 2"):
        cellfleet.log(step=3, loss=2.0)
    assert next(i for i in pruned.remainder() if isinstance(i, MetricItem)).values == {"loss": 2.0}


def test_a_retried_attempt_of_a_pruned_cell_is_pruned_too():
    pruning.mark_pruned("cccc", "pruned")
    with pytest.raises(TrialPruned):
        pruning.stop_if_pruned("cccc-1")
    pruning.stop_if_pruned("cccd-1")


def test_trial_pruned_is_not_an_exception_so_except_exception_lets_it_through():
    assert issubclass(TrialPruned, BaseException) and not issubclass(TrialPruned, Exception)
    assert cellfleet.TrialPruned is TrialPruned


def test_marks_are_bounded(monkeypatch):
    monkeypatch.setattr(pruning, "_KEEP", 3)
    for number in range(5):
        pruning.mark_pruned(f"id{number}", "pruned")
    assert list(pruning._PRUNED) == ["id2", "id3", "id4"]
