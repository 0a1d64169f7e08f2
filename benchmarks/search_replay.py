"""Replays bench_search.py's synthetic case offline, over many seeds, to compare pruner settings.

    python benchmarks/search_replay.py [--quick] [--seeds N] [--json PATH]

No cluster and no sleeps: the same curves (bench_search.CURVE), the same Optuna objects (the
sampler and pruner Cellfleet's ``open_study`` builds, and alternatives to them), and the
search's own rhythm: K = 2 trials at once, each asked when a slot frees, a step of every
running trial per tick, each step reported and ``should_prune`` asked; a pruned trial logs 1
or 2 more steps (the lag the benchmark measures) before it ends. Cost is steps run over the
grid's 64 x 20. It says what a setting does over many seeds (bench_search.py runs 5, on real
workers) and why: where the grid's best points rank at each step. Figures are of this replay,
not of the cluster; bench_search.py is the measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from bench_search import COST_TARGET, GAP_TARGET, RESULTS, SPACE, STEPS, VALUES, curve
from timing import median, p90, progress, table

K = 2
LAG = (1, 2)
GRID_STEPS = VALUES * VALUES * STEPS

MakePruner = Callable[[], optuna.pruners.BasePruner]
SPECS = tuple(SPACE.split()[1::2])  # li=int(0,7), wi=int(0,7)


def _scaled(make: Callable[[int], optuna.pruners.BasePruner]) -> MakePruner:
    from cellfleet.kernel.study import StepScaledPruner

    return lambda: StepScaledPruner(make)


SH, MP = optuna.pruners.SuccessiveHalvingPruner, optuna.pruners.MedianPruner
CONFIGS: list[tuple[str, int, str | MakePruner]] = [
    ("asha: cellfleet's (eta 4, min_resource auto = 1)", 64, "asha"),
    ("asha: eta 3, min_resource 1 (rungs 1, 3, 9)", 64, lambda: SH(min_resource=1, reduction_factor=3)),
    ("asha: eta 3, min_resource 2 (rungs 2, 6, 18)", 64, lambda: SH(min_resource=2, reduction_factor=3)),
    ("asha: eta 4, min_resource 3 (rungs 3, 12)", 64, lambda: SH(min_resource=3, reduction_factor=4)),
    ("asha: eta 2, min_resource 2 (rungs 2, 4, 8, 16)", 64, lambda: SH(min_resource=2, reduction_factor=2)),
    ("asha: eta 3, min_resource 5 (rungs 5, 15)", 64, lambda: SH(min_resource=5, reduction_factor=3)),
    ("hyperband: cellfleet's (Optuna's)", 64, "hyperband"),
    ("median: cellfleet's (warm-up half the steps)", 24, "median"),
    (
        "median: warm-up a third of the steps",
        24,
        _scaled(lambda last: MP(n_startup_trials=5, n_warmup_steps=last // 3)),
    ),
    ("median: Optuna's (no warm-up)", 24, lambda: MP(n_startup_trials=5)),
    ("no pruning", 24, "none"),
]


def _study(seed: int, trials: int, pruner: str | MakePruner) -> optuna.Study:
    """The study Cellfleet's open_study makes for the search (its TPE), with another pruner when given one."""
    from cellfleet.kernel.space import SearchOptions, parse_space
    from cellfleet.kernel.study import open_study

    prune = pruner if isinstance(pruner, str) else "none"
    options = SearchOptions(SPECS, trials=trials, prune=prune, seed=seed)
    study = open_study(options, parse_space(SPECS), [("val_loss", "minimize")]).study
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return study if isinstance(pruner, str) else optuna.create_study(sampler=study.sampler, pruner=pruner())


def replay(pruner: str | MakePruner, trials: int, seed: int) -> tuple[float, float]:
    """One search: (best final value among trials that ran to their end, steps run / the grid's)."""
    study = _study(seed, trials, pruner)
    space = {name: optuna.distributions.IntDistribution(0, VALUES - 1) for name in ("li", "wi")}
    rng = random.Random(seed)
    running: list[dict[str, Any]] = []
    launched, steps, best = 0, 0, math.inf
    while launched < trials or running:
        while launched < trials and len(running) < K:
            running.append({"trial": study.ask(space), "step": 0, "pruned": None, "lag": rng.choice(LAG)})
            launched += 1
        for item in rng.sample(running, len(running)):
            trial, step = item["trial"], item["step"]
            value = curve(trial.params["li"], trial.params["wi"], step)
            steps += 1
            if item["pruned"] is None:
                trial.report(value, step)
                item["pruned"] = step if trial.should_prune() else None
            if item["pruned"] is not None and (step >= item["pruned"] + item["lag"] or step == STEPS - 1):
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                running.remove(item)
            elif step == STEPS - 1:
                study.tell(trial, value)
                best = min(best, value)
                running.remove(item)
            else:
                item["step"] = step + 1
    return best, steps / GRID_STEPS


def ranks() -> list[list[str]]:
    """Where the grid's points within 1 % of its best rank (of 64) at each step."""
    points = [(li, wi) for li in range(VALUES) for wi in range(VALUES)]
    best = min(curve(li, wi, STEPS - 1) for li, wi in points)
    near = [p for p in points if curve(*p, STEPS - 1) <= best * (1 + GAP_TARGET / 100)]
    rows = []
    for step in (0, 1, 2, 3, 4, 6, 8, 10, 12, 14, 16, STEPS - 1):
        order = sorted(points, key=lambda p, s=step: curve(*p, s))
        rows.append([str(step), *(str(order.index(p) + 1) for p in near)])
    return [[f"li={li}, wi={wi}" for li, wi in near], *rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 seeds per setting (default 30)")
    parser.add_argument("--seeds", type=int, help="seeds per setting")
    parser.add_argument("--json", type=Path, default=RESULTS / "search-replay.json", help="where the JSON copy goes")
    args = parser.parse_args()
    seeds = args.seeds or (5 if args.quick else 30)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    best = min(curve(li, wi, STEPS - 1) for li in range(VALUES) for wi in range(VALUES))
    found: dict[str, Any] = {"seeds": seeds, "k": K, "lag": list(LAG), "grid_best": best, "settings": {}}
    rows = []
    for name, trials, pruner in CONFIGS:
        progress(f"{name}: {seeds} seeds")
        runs = [replay(pruner, trials, seed) for seed in range(seeds)]
        gaps = [(value / best - 1) * 100 for value, _ in runs]
        costs = [cost for _, cost in runs]
        found["settings"][name] = {"trials": trials, "gaps": gaps, "costs": costs}
        near = sum(1 for g in gaps if g <= GAP_TARGET)
        both = sum(1 for g, c in zip(gaps, costs, strict=True) if g <= GAP_TARGET and c <= COST_TARGET)
        rows.append([name, str(trials), f"{median(gaps):.2f} %", f"{p90(gaps):.2f} %", f"{near}/{seeds}"])
        rows[-1] += [f"{median(costs):.3f}x", f"{p90(costs):.3f}x", f"{both}/{seeds}"]
    headers = ["setting (TPE: cellfleet's)", "trials", "median gap", "p90 gap", "within 1 %", "median cost", "p90"]
    headers.append("both met")
    print(table(f"Replay of bench_search's synthetic case, {seeds} seeds each (K = {K})", headers, rows))
    print()
    near, *steps = ranks()
    print(table("Rank (of 64) at each step of the grid's points within 1 % of its best", ["step", *near], steps))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
