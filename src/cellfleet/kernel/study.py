"""The Optuna side of ``%%remote --search``: the study, its sampler, pruner and storage.

Without ``--study`` the study lives in the kernel's memory. With ``--study NAME`` it lives
in Optuna's RDB storage on the experiment store's own SQLAlchemy URL (``CELLFLEET_DB``, else
the project's SQLite file), so the same cell after a kernel restart continues it, and its
trials keep one run group (kept as a user attribute of the study).
"""

from __future__ import annotations

import functools
import importlib.util
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from cellfleet.config import default_url
from cellfleet.errors import StoreError
from cellfleet.kernel.options import OptionError
from cellfleet.kernel.space import Dimension, SearchOptions
from cellfleet.store.database import engine_url, open_store

__all__ = ["OpenedStudy", "distributions", "open_study"]

_GROUP_ATTR = "cellfleet_group"


@dataclass
class OpenedStudy:
    """A study ready for trials, and what to tell the user about it."""

    study: optuna.Study
    group_id: str
    pruning: bool
    notes: list[str] = field(default_factory=list)


def distributions(dimensions: Sequence[Dimension]) -> dict[str, optuna.distributions.BaseDistribution]:
    """Each dimension as the Optuna distribution a trial samples."""
    found: dict[str, optuna.distributions.BaseDistribution] = {}
    for d in dimensions:
        if d.kind == "choice":
            found[d.name] = optuna.distributions.CategoricalDistribution(d.choices)
        elif d.kind == "int":
            found[d.name] = optuna.distributions.IntDistribution(int(d.low), int(d.high), step=d.step)
        else:
            found[d.name] = optuna.distributions.FloatDistribution(d.low, d.high, log=d.kind == "loguniform")
    return found


def _sampler(options: SearchOptions, dimensions: Sequence[Dimension], objectives: int) -> optuna.samplers.BaseSampler:
    seed = options.seed
    if options.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if options.sampler == "grid":
        return optuna.samplers.GridSampler({d.name: d.grid() for d in dimensions}, seed=seed)
    if options.sampler == "cmaes":
        if objectives > 1:
            raise OptionError("--sampler cmaes searches one objective: use tpe or random with several")
        if importlib.util.find_spec("cmaes") is None:
            raise OptionError("--sampler cmaes needs the cmaes package: pip install cmaes (or use --sampler tpe)")
        return optuna.samplers.CmaEsSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(options: SearchOptions) -> optuna.pruners.BasePruner:
    if options.prune == "median":  # a few finished trials first, fewer in a short search
        return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, options.trials // 4)))
    if options.prune == "asha":
        return optuna.pruners.SuccessiveHalvingPruner()
    if options.prune == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


@functools.cache
def _rdb_storage(url: str) -> optuna.storages.RDBStorage:
    """One Optuna storage (and connection pool) per store URL, for the kernel's life."""
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def _storage(name: str | None) -> optuna.storages.BaseStorage | None:
    if name is None:
        return None  # in memory, for this cell's run only
    url = default_url()
    try:
        open_store(url)  # made (its folder too) and brought up to date first, as for any run
    except StoreError as error:
        raise OptionError(f"--study {name}: {error}; or drop --study to search in memory") from None
    try:
        return _rdb_storage(engine_url(url))
    except Exception as error:  # a store Optuna cannot open: say where
        raise OptionError(
            f"--study {name}: cannot keep the study in the store ({type(error).__name__}: {error}); "
            "check CELLFLEET_DB, or drop --study to search in memory"
        ) from None


def open_study(
    options: SearchOptions, dimensions: Sequence[Dimension], objectives: Sequence[tuple[str, str]]
) -> OpenedStudy:
    """Create the study (or load ``--study NAME`` to continue it) with its sampler and pruner."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the table says what Optuna would log
    notes = []
    several = len(objectives) > 1
    pruner = _pruner(options)
    if several and options.prune != "none":
        notes.append("cellfleet: pruning is off: Optuna prunes searches of one objective, and this one has several")
        pruner = optuna.pruners.NopPruner()
    storage, sampler = _storage(options.study), _sampler(options, dimensions, len(objectives))
    directions = [optuna.study.StudyDirection[direction.upper()] for _, direction in objectives]
    study = optuna.create_study(
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        study_name=options.study,
        directions=directions,
        load_if_exists=True,
    )
    if list(study.directions) != directions:  # a kept study: Optuna loads it whatever was asked
        kept = ", ".join(d.name.lower() for d in study.directions)
        asked = ", ".join(f"{direction} {metric}" for metric, direction in objectives)
        raise OptionError(
            f"--study {options.study} was made to {kept}, not to {asked}: give the same "
            "--minimize/--maximize as before, or use another --study name"
        )
    group_id = study.user_attrs.get(_GROUP_ATTR)
    if not isinstance(group_id, str):
        group_id = uuid.uuid4().hex[:12]
        study.set_user_attr(_GROUP_ATTR, group_id)
    done = len(study.trials)
    if done:
        notes.append(f"cellfleet: continuing study {options.study!r}: {done} trials so far, {options.trials} more")
    return OpenedStudy(study, group_id, not isinstance(pruner, optuna.pruners.NopPruner), notes)
