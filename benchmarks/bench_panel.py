"""The Experiments panel's first render in a real JupyterLab (headless Debian Chromium).

    python benchmarks/bench_panel.py [--quick]

For a store of 100 runs and one of 10,000 runs (with their metrics), it opens the notebook in
JupyterLab, then times the Runs view from asking for it to its first rows on screen (page
fetch + React render), repeatedly. Needs `make test`'s browser setup (tests/ui/node_modules,
/usr/bin/chromium). Prints medians, p90 and the ratio to the small store; writes
benchmarks/results/panel.json. Target: under 1 s with 10,000 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from synthetic import build_store
from timing import fixed_table, median, quantile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
UI = ROOT / "tests" / "ui"


def measure(folder: Path, repeats: int, spec: str = "panel-render.bench.ts", **env_extra: str) -> dict:
    """Run the browser benchmark ``spec`` (in tests/ui/bench) on the store and server root
    ``folder``; returns the JSON it wrote to BENCH_OUT. ``env_extra``: more BENCH_* settings."""
    out = folder / "samples.json"
    env = {
        **os.environ,
        "CELLFLEET_ROOT": str(folder),
        "JUPYTERLAB_GALATA_ROOT_DIR": str(folder),
        "BENCH_OUT": str(out),
        "BENCH_REPEATS": str(repeats),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **env_extra,
    }
    command = ["npx", "playwright", "test", "-c", "playwright.bench.config.ts", spec]
    done = subprocess.run(command, cwd=UI, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not out.exists():
        sys.exit(f"the browser benchmark failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 repeats, 10 metric steps per run")
    args = parser.parse_args()
    repeats, steps = (5, 10) if args.quick else (15, 50)
    results = {}
    for n_runs in (100, 10_000):
        with tempfile.TemporaryDirectory(prefix="cellfleet-bench-panel-") as folder:
            build_store(Path(folder), n_runs, steps)
            results[n_runs] = measure(Path(folder), repeats)
    base = median(results[100]["samples"])
    print(f"\nfirst render of the Runs view (ms), {repeats} repeats; {steps} steps x 2 metrics per run\n")
    rows = []
    for n_runs, found in results.items():
        p50, p90 = median(found["samples"]), quantile(found["samples"], 0.9)
        rows.append([f"{n_runs} runs", f"{p50:.1f}", f"{p90:.1f}", f"{p50 / base:.2f}x", str(found["rows"]), "< 1000"])
    headers = ["store", "median", "p90", "vs 100 runs", "rows in DOM", "target"]
    print(fixed_table(headers, rows, widths=[12, 8, 8, 11, 11], left=0, rule=72))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "panel.json").write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
