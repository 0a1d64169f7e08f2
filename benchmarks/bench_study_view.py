"""The study view of a large search in a real JupyterLab (headless Debian Chromium).

    python benchmarks/bench_study_view.py [--quick] [--trials N] [--steps N]

On a store holding one search of 1,000 trials x 100 steps (``synthetic.build_search_store``:
a quarter pruned, a few failed, four running), it times, from the click on the group's Study
button to the trials table's rows and every chart (best so far, parallel coordinates, curves)
painted: the first open after the server started (which has imported Optuna in the background by
then), the first open on a fresh page, and opening it again on the same page; then the
compare view of the 50 best trials' curves, from the command to its charts painted. The study
view draws the objective curve of every trial (100,000 points, fetched in one request).
Needs `make test`'s browser setup (tests/ui/node_modules, /usr/bin/chromium) and a built
labextension. Prints medians and p90 against the 1 s target; writes benchmarks/results/study-view.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench_panel import RESULTS, measure
from synthetic import build_search_store
from timing import fixed_table, median, quantile

TARGET_MS = 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 fresh pages, 3 repeats")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    fresh, repeats = (2, 3) if args.quick else (5, 10)
    with tempfile.TemporaryDirectory(prefix="cellfleet-bench-study-") as folder:
        build_search_store(Path(folder), args.trials, args.steps)
        found = measure(Path(folder), repeats, "study-render.bench.ts", BENCH_FRESH=str(fresh))
    print(
        f"\nstudy view of {args.trials} trials x {args.steps} steps (ms); {found['summary']}\n"
        f"trial rows in the DOM: {found['trialRows']}; curves drawn: {found['curves']} series\n"
    )
    cases = [
        ("study: first open after server start (1x)", found["first"][:1]),
        (f"study: first open, fresh page ({fresh - 1}x)", found["first"][1:]),
        (f"study: opened again ({repeats}x)", found["again"]),
        (f"compare {found['compared']} trials' curves ({repeats}x)", found["compare"]),
    ]
    rows = []
    for name, samples in cases:
        p50, p90 = median(samples), quantile(samples, 0.9)
        verdict = "met" if p90 < TARGET_MS else "missed"
        rows.append([name, f"{p50:.1f}", f"{p90:.1f}", f"{p50 / TARGET_MS:.2f}x", f"< {TARGET_MS:.0f} ({verdict})"])
    headers = ["case", "median", "p90", "vs 1 s", "target (p90)"]
    print(fixed_table(headers, rows, widths=[42, 8, 8, 7], left=1, rule=88))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "study-view.json").write_text(
        json.dumps({"trials": args.trials, "steps": args.steps, **found}, indent=2)
    )


if __name__ == "__main__":
    main()
