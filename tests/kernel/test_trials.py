"""A trial's prune decision goes to the worker running it, and follows a retried trial to its new worker."""

from __future__ import annotations

import optuna
import pytest

from cellfleet.kernel.trials import PruneWatch
from cellfleet.worker.pruning import mark_pruned


class _Client:
    """Records ``client.run`` calls; workers in ``gone`` refuse them, as a dead worker does."""

    def __init__(self, gone: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[tuple, list[str] | None]] = []
        self.gone = gone

    def run(self, function, *args, workers=None, callback_timeout=None):
        assert function is mark_pruned and callback_timeout
        if workers and set(workers) & self.gone:
            raise OSError(f"Timed out trying to connect to {workers[0]}")
        self.sent.append((args, workers))
        return dict.fromkeys(workers or [], True)


@pytest.fixture
def trial():
    """A trial whose pruner stops it as soon as its loss goes above 1."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1.0))
    return study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})


def _watch(trial, client) -> PruneWatch:
    watch = PruneWatch(trial, "loss", True, client)
    watch.cell_id = "c0ffee"
    return watch


def test_the_decision_goes_to_the_worker_of_the_running_attempt_only(trial):
    client = _Client()
    watch = _watch(trial, client)
    watch.started("tcp://a:1")
    watch.observe({"loss": 0.5}, 0)
    assert client.sent == [] and watch.pruned_at is None
    watch.observe({"loss": 2.0}, 1)
    assert watch.pruned_at == 1
    assert client.sent == [(("c0ffee", "trial 0 was pruned at step 1 (loss=2)"), ["tcp://a:1"])]
    watch.observe({"loss": 3.0}, 2)  # a step logged before the mark arrived: decided once
    assert len(client.sent) == 1 and watch.steps == 3


def test_a_retried_attempt_is_told_as_it_starts_on_its_new_worker(trial):
    client = _Client()
    watch = _watch(trial, client)
    watch.started("tcp://a:1")
    watch.observe({"loss": 2.0}, 0)
    watch.started("tcp://b:2")  # worker a died; the retry started on b
    assert [workers for _, workers in client.sent] == [["tcp://a:1"], ["tcp://b:2"]]
    assert client.sent[1][0] == client.sent[0][0]  # the same cell id and reason
    watch.observe({"loss": 2.0}, 0)  # the retry's first step: no second decision
    assert len(client.sent) == 2


def test_a_decision_the_dead_worker_cannot_take_reaches_the_retry(trial, capsys):
    client = _Client(gone=frozenset({"tcp://a:1"}))
    watch = _watch(trial, client)
    watch.started("tcp://a:1")
    watch.observe({"loss": 2.0}, 0)
    assert "could not tell worker tcp://a:1 to stop pruned trial 0" in capsys.readouterr().err
    watch.started("tcp://b:2")
    assert client.sent == [(("c0ffee", "trial 0 was pruned at step 0 (loss=2)"), ["tcp://b:2"])]


def test_an_attempt_started_before_any_decision_is_not_told(trial):
    client = _Client()
    watch = _watch(trial, client)
    watch.started("tcp://a:1")
    watch.started("tcp://b:2")
    assert client.sent == [] and watch.worker == "tcp://b:2"
