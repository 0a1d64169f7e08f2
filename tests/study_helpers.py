"""Helpers for the study-view tests: a search's trials written as the kernel writes them
(a :class:`RunRecorder` per trial through a :class:`StoreWriter`), and a kept Optuna study."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cellfleet.protocol import RunKind, RunStatus
from cellfleet.store.database import Store, engine_url
from cellfleet.store.recorder import RunRecorder, StoreWriter


@dataclass
class TrialSpec:
    """One trial to record: its params, what it logs (``(step, {metric: value})``) and how it ends."""

    params: dict[str, Any]
    logs: list[tuple[int | None, dict[str, float]]] = field(default_factory=list)
    status: RunStatus = RunStatus.SUCCEEDED


def record_search(
    store: Store,
    trials: Sequence[TrialSpec],
    group_id: str = "search1",
    directions: dict[str, str] | None = None,
    label: str = "train",
    kind: RunKind = RunKind.TRIAL,
) -> list[str]:
    """Record ``trials`` (numbered 0, 1, ...) in the run group ``group_id``; returns their run ids."""
    writer = StoreWriter(store)
    ids = []
    try:
        for number, spec in enumerate(trials):
            fields = {"kind": kind, "group_id": group_id, "variant": number, "params": spec.params}
            recorder = RunRecorder(writer, notebook="tune.ipynb", cell_id="c1", cell_name=label,
                                   directions=directions or {"loss": "min"}, **fields)  # fmt: skip
            if spec.status != RunStatus.QUEUED:
                recorder.running("tcp://worker:1", None)
            for logged, (step, values) in enumerate(spec.logs):
                recorder.metric(values, step, 1000.0 + number + logged / 100)
            if spec.status.ended:
                recorder.finish(spec.status)
            ids.append(recorder.run_id)
    finally:
        assert writer.close(), "the store writer did not finish"
    assert not writer.errors, writer.errors
    return ids


def lr_matters(count: int = 30, seed: int = 0) -> list[TrialSpec]:
    """``count`` finished trials sampled at random (seeded) whose loss depends on ``lr`` only
    (best at 1e-3); ``units`` and ``act`` vary with no effect on it."""
    draw = random.Random(seed)
    trials = []
    for _ in range(count):
        lr = 10 ** draw.uniform(-5, -1)
        params = {"lr": lr, "units": draw.randint(8, 1024), "act": draw.choice(["relu", "gelu", "tanh"])}
        loss = (math.log10(lr) + 3) ** 2
        trials.append(TrialSpec(params, [(0, {"loss": loss + 1}), (1, {"loss": loss})]))
    return trials


def keep_study(url: str, name: str, group_id: str) -> None:
    """An Optuna study kept in the store at ``url`` (as ``--study NAME`` keeps it) for ``group_id``."""
    import optuna

    storage = optuna.storages.RDBStorage(engine_url(url))
    try:
        study = optuna.create_study(storage=storage, study_name=name)
        study.set_user_attr("unrelated", "x")
        study.set_user_attr("cellfleet_group", group_id)
    finally:
        storage.engine.dispose()
