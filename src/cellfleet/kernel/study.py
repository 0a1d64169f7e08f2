"""The Optuna side of ``%%remote --search``: the study, its sampler, pruner and storage.

Without ``--study`` the study lives in the kernel's memory. With ``--study NAME`` it lives
in Optuna's RDB storage on the experiment store's own SQLAlchemy URL (``CELLFLEET_DB``, else
the project's SQLite file), so the same cell after a kernel restart continues it, and its
trials keep one run group (kept as a user attribute of the study).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from cellfleet.config import default_url
from cellfleet.errors import StoreError
from cellfleet.kernel.options import OptionError
from cellfleet.kernel.space import Dimension, SearchOptions
from cellfleet.store.database import engine_url, open_store

__all__ = ["OpenedStudy", "StepScaledPruner", "distributions", "open_study"]

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
        # with_margin (CMA-ES with margin) keeps int(...) params from collapsing onto one value;
        # choice(...) params it cannot model: they are drawn at random, said once by open_study
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            margin = any(d.kind == "int" for d in dimensions)
            return optuna.samplers.CmaEsSampler(seed=seed, with_margin=margin, warn_independent_sampling=False)
    # - n_startup_trials 10 (Optuna's): random trials before the model; half of the default
    #   20-trial search, a sixth of a 64-trial one; a smaller share measured no better;
    # - multivariate: searched params interact (the best learning rate depends on the width), so
    #   they are modelled jointly, not one by one (Optuna >= 5's default; set for older ones);
    # - constant_liar: K trials are asked while K - 1 others still run; the liar counts the
    #   running ones as poor, so the K asked at once spread out instead of landing together.
    with warnings.catch_warnings():  # both are experimental in Optuna < 5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True, constant_liar=True)


class StepScaledPruner(optuna.pruners.BasePruner):
    """One of Optuna's pruners, made once a trial has finished, from how many steps it logged.

    Cellfleet does not know how many steps a cell logs until one trial ran to its end, so
    settings relative to a cell's length (warm up for half of it, say) wait for that; until
    then nothing is pruned, as with Optuna's own ``min_resource="auto"``. A study continued
    with ``--study`` has finished trials at once.
    """

    def __init__(self, make: Callable[[int], optuna.pruners.BasePruner]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self.inner: optuna.pruners.BasePruner | None = None
        """The pruner made (``None`` until a trial finished)."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        with self._lock:  # trials report from their own threads
            if self.inner is None:
                finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                steps = [t.last_step for t in finished if t.last_step is not None]
                if not steps:
                    return False
                self.inner = self._make(max(steps))
            inner = self.inner
        return inner.prune(study, trial)


def _median(trials: int, last_step: int) -> optuna.pruners.BasePruner:
    # The median rule stops every trial below the finished trials' median at the same step, with
    # no allowance for learning curves that cross (a larger learning rate looks better early,
    # whatever it ends at), so a trial is judged only from half the steps a finished trial
    # logged: a poor trial still saves up to half its cost, and the misleading start of every
    # curve is left out. A few finished trials first (5, fewer in a short search), as Optuna.
    return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, trials // 4)), n_warmup_steps=last_step // 2)


def _pruner(options: SearchOptions) -> optuna.pruners.BasePruner:
    if options.prune == "median":
        return StepScaledPruner(functools.partial(_median, options.trials))
    if options.prune == "asha":
        # ASHA is for many cheap trials: each costs at least its first rung, so the first rung is
        # early (min_resource "auto": 1 % of the steps the first finished trial logged, at least
        # one step) and each rung keeps a quarter (reduction_factor 4: Optuna's and Ray Tune's).
        # It trusts early steps: on curves that cross late, a later first rung or a gentler factor
        # found the slow starters more often only at far more cost (benchmarks/search_replay.py,
        # benchmarks/README.md); --prune median suits those curves.
        return optuna.pruners.SuccessiveHalvingPruner(min_resource="auto", reduction_factor=4)
    if options.prune == "hyperband":
        # Hyperband runs ASHA brackets from the earliest first rung (step 1) to one near the end, so
        # it needs no guess of how early curves can be trusted; max_resource from the first finished
        # trial (the steps the cell logs); a third kept per rung (Hyperband's eta = 3)
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto", reduction_factor=3)
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
    drawn = [d.name for d in dimensions if d.kind == "choice"]
    if options.sampler == "cmaes" and drawn:
        notes.append(f"cellfleet: cmaes draws {', '.join(drawn)} at random (it models numbers only; tpe models all)")
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
