"""Case (b) of bench_search.py: a real model, scikit-learn's digits trained by epochs.

The cell trains ``MLPClassifier(hidden_layer_sizes=(64,))`` with ``partial_fit``, one epoch a
call, and logs the validation log loss after each: ``cellfleet.log(step=epoch, val_loss=...)``.
The data (scikit-learn's bundled digits, 1,797 8x8 images: 75 % train, 25 % validation,
standardised) is made in the notebook and read by the cell, so it travels to the workers once.
Side by side, as for the synthetic curves: the full grid of 64 (8 x 8: ``alpha``, the L2
penalty, log-spaced 1e-5..1, and ``lr``, the initial learning rate of Adam, log-spaced
1e-4..1e-1) against ``--search`` over the same ranges (loguniform, so a search may land
between grid points and beat the grid) with ``--trials 64 --prune asha`` and ``--trials 24
--prune median``. The cost is the cell bodies' own seconds on the workers (real training
now, not sleeps).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from timing import median, p90, plural, progress, table, verdict

__all__ = ["EPOCHS", "bench", "body", "cases", "report"]

EPOCHS = 20
VALUES = 8
ALPHA = (1e-5, 1.0)
LR = (1e-4, 1e-1)
GAP_TARGET = 1.0  # % above the grid's best
COST_TARGET = 0.35  # of the grid's worker-seconds


def _grid_values(low: float, high: float) -> list[str]:
    steps = [math.log10(low) + (math.log10(high) - math.log10(low)) * i / (VALUES - 1) for i in range(VALUES)]
    return [f"{10**s:.3g}" for s in steps]


GRID = " ".join(f"--grid {name}=" + ",".join(_grid_values(*span)) for name, span in (("alpha", ALPHA), ("lr", LR)))
SPACE = " ".join(
    f"--search {name}=loguniform({span[0]:g},{span[1]:g})" for name, span in (("alpha", ALPHA), ("lr", LR))
)


def data(namespace: dict[str, Any]) -> None:
    """The notebook's data: X_train, y_train, X_val, y_val (standardised with the training split's scale)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    features, labels = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(features, labels, test_size=0.25, random_state=0, stratify=labels)
    scale = StandardScaler().fit(X_train)
    namespace.update(X_train=scale.transform(X_train), X_val=scale.transform(X_val), y_train=y_train, y_val=y_val)


def body(spans: Path, cpu: Path) -> str:
    """The cell: EPOCHS epochs of partial_fit, val_loss logged after each; ``pid start end`` to
    ``spans`` and the body's CPU seconds (its thread's: BLAS runs one thread on Dask workers) to ``cpu``."""
    return (
        "import os, time\nimport numpy as np\nimport cellfleet\n"
        "from sklearn.metrics import log_loss\nfrom sklearn.neural_network import MLPClassifier\n"
        "_began, _cpu = time.time(), time.thread_time()\ntry:\n"
        "    classes = np.arange(10)\n"
        "    model = MLPClassifier(hidden_layer_sizes=(64,), alpha=alpha, learning_rate_init=lr, batch_size=64,\n"
        "                          random_state=0)\n"
        f"    for epoch in range({EPOCHS}):\n"
        "        model.partial_fit(X_train, y_train, classes=classes)\n"
        "        cellfleet.log(step=epoch, val_loss=log_loss(y_val, model.predict_proba(X_val), labels=classes))\n"
        "finally:\n"
        f"    with open({str(cpu)!r}, 'a') as _spans:\n"
        "        _spans.write(f'{time.thread_time() - _cpu!r}\\n')\n"
        f"    with open({str(spans)!r}, 'a') as _spans:\n"
        "        _spans.write(f'{os.getpid()} {_began!r} {time.time()!r}\\n')\n"
    )


def cases(seeds: int) -> list[tuple[str, str, str]]:
    """(config, name, %%remote line) of each case, the grid first."""
    found = [("grid", "full grid, 64 points", GRID)]
    for config, trials in (("asha", 64), ("median", 24)):
        for seed in range(seeds):
            line = f"{SPACE} --trials {trials} --prune {config} --seed {seed} --minimize val_loss"
            found.append((config, f"search {trials}, {config}, seed {seed}", line))
    return found


def bench(shell: Any, measure: Callable[..., dict[str, Any]], spans: Path, seeds: int) -> dict[str, Any]:
    """Run every case (``measure`` is bench_search's: one case, read back from the store and spans)."""
    data(shell.user_ns)
    cpu = spans.with_name("digits-cpu.txt")
    cell = body(spans, cpu)
    progress("digits: warming up (sklearn imported on the workers, the data sent once)")
    measure(shell, "--grid alpha=1e-3 --grid lr=1e-3,1e-2", cell, 0.0, spans)
    measured = []
    for config, name, line in cases(seeds):
        progress(f"digits, {name}: %%remote {line}")
        before = len(cpu.read_text().split())
        case = measure(shell, line, cell, 0.0, spans)
        case.update(name=name, config=config, cpu_seconds=sum(map(float, cpu.read_text().split()[before:])))
        measured.append(case)
        progress(f"  {case['wall_s']:.1f} s wall, best {case['best']}, {case['statuses']}")
    return {"epochs": EPOCHS, "seeds": seeds, "space": SPACE, "grid": GRID, "cases": measured}


def _gap(best: float | None, of: float) -> float:
    return math.inf if best is None else (best / of - 1) * 100


def _ratios(grid: dict[str, Any], case: dict[str, Any]) -> dict[str, float]:
    """The case's cost as ratios to the grid's: worker-seconds, CPU seconds, epochs, wall time."""
    keys = {"worker-s": "body_seconds", "cpu-s": "cpu_seconds", "epochs": "steps_logged", "wall": "wall_s"}
    return {name: case[key] / grid[key] for name, key in keys.items()}


def _beaten(grid: dict[str, Any], case: dict[str, Any]) -> int:
    """How many of the grid's points the case's best is better than (or as good as)."""
    return 0 if case["best"] is None else sum(1 for value in grid["finals"] if case["best"] <= value)


def _per_case(grid: dict[str, Any], case: dict[str, Any]) -> list[str]:
    done, pruned = case["statuses"].get("succeeded", 0), case["statuses"].get("pruned", 0)
    params = case["best_params"] or {}
    ratios = _ratios(grid, case)
    return [
        case["name"],
        f"{done}/{pruned}",
        "-" if case["best"] is None else f"{case['best']:.4f}",
        f"{_gap(case['best'], grid['best']):+.2f} %",
        ", ".join(f"{k}={v:.3g}" for k, v in params.items()) or "-",
        f"{_beaten(grid, case)}/{len(grid['finals'])}",
        f"{case['body_seconds']:.1f}",
        f"{ratios['worker-s']:.3f}x",
        f"{case['cpu_seconds']:.1f}",
        f"{ratios['cpu-s']:.3f}x",
        f"{case['steps_logged']}",
        f"{ratios['epochs']:.3f}x",
        f"{case['wall_s']:.1f}",
        f"{ratios['wall']:.3f}x",
    ]


def _summary(grid: dict[str, Any], group: list[dict[str, Any]], config: str) -> list[str]:
    gaps = [_gap(case["best"], grid["best"]) for case in group]
    ratios = [_ratios(grid, case) for case in group]
    costs = [r["worker-s"] for r in ratios]
    met = sum(1 for g, c in zip(gaps, costs, strict=True) if g <= GAP_TARGET and c <= COST_TARGET)
    cells = [f"search {group[0]['runs']}, {config} ({plural(len(group), 'seed')})"]
    beaten = [float(_beaten(grid, case)) for case in group]
    cells += [f"{median(gaps):+.2f} %", f"{p90(gaps):+.2f} %", f"{median(beaten):g}/{len(grid['finals'])}"]
    for name in ("worker-s", "cpu-s", "epochs", "wall"):
        values = [r[name] for r in ratios]
        cells += [f"{median(values):.3f}x", f"{p90(values):.3f}x"]
    return [
        *cells,
        f"{met}/{len(group)}",
        verdict(median(gaps), GAP_TARGET) + " / " + verdict(median(costs), COST_TARGET),
    ]


def report(result: dict[str, Any]) -> None:
    measured = result["cases"]
    grid = measured[0]
    headers = ["case", "done/pruned", "best val_loss", "gap to grid", "best params", "grid beaten", "worker-s"]
    headers.append("of grid")
    headers += ["cpu-s", "of grid", "epochs", "of grid", "wall s", "of grid"]
    title = (
        f"(b) digits: MLPClassifier(64) by partial_fit, {result['epochs']} epochs, val_loss = validation log loss "
        "(a negative gap: the search beat the grid)"
    )
    print(table(title, headers, [_per_case(grid, case) for case in measured]))
    print(
        "grid beaten: the grid's points at or above the case's best val_loss. worker-s: the cell bodies' own\n"
        "time on the workers, as in (a); cpu-s: their threads' CPU time (less moved by other processes on a\n"
        "shared machine); epochs: partial_fit calls made, pruned trials included."
    )
    print()
    rows = []
    for config in ("asha", "median"):
        group = [case for case in measured if case["config"] == config]
        if group:
            rows.append(_summary(grid, group, config))
    headers = ["case", "median gap", "p90 gap", "grid beaten", "worker-s", "p90", "cpu-s", "p90", "epochs", "p90"]
    headers += ["wall", "p90", "seeds both met", "gap / cost"]
    targets = (
        "(b) digits, medians and p90s over seeds of the gap to the grid's best and of each cost as a ratio to the "
        f"grid's; targets: within {GAP_TARGET:g} % for <= {COST_TARGET:.0%} of the worker-seconds"
    )
    print(table(targets, headers, rows))
