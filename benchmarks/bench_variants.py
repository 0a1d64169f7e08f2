"""Variants and the store: makespan of a grid, cellfleet.log throughput, `runs ls` at scale.

    python benchmarks/bench_variants.py [--quick]

Side by side in one run on the embedded local cluster (2 workers here); prints a table of
medians, p90s and ratios, and writes benchmarks/results/variants.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from timing import elapsed, markdown_table, ranked_p90, summary, timed

RESULTS = Path(__file__).parent / "results"


def _sleep_one(index: int) -> int:
    time.sleep(1)
    return index


def _stats(samples: list[float]) -> dict[str, float]:
    """Median, p90 (nearest rank) and count."""
    return summary(samples, ranked_p90, keep=False)


def _shell() -> Any:
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "cellfleet")
    return shell


def bench_makespan(shell: Any, repeats: int) -> dict[str, dict[str, float]]:
    """8 variants of a 1 s cell on 2 workers vs the ideal 4 s and a plain Dask submit loop."""
    from cellfleet.kernel import session as clusters

    grid = "--grid i=0,1,2,3,4,5,6,7"
    shell.run_cell_magic("remote", grid, "import time\ntime.sleep(0.01)")  # warm: cluster up, imports done
    remote, dask = [], []
    client = clusters.connect(None).client
    for _ in range(repeats):
        remote.append(elapsed(lambda: shell.run_cell_magic("remote", grid, "import time\ntime.sleep(1)")))
        dask.append(elapsed(lambda: client.gather([client.submit(_sleep_one, i, pure=False) for i in range(8)])))
    return {"variants": _stats(remote), "dask_loop": _stats(dask)}


def bench_log(shell: Any, points: int) -> dict[str, float]:
    """cellfleet.log from a worker: cost per call in a tight loop, and points stored per second."""
    from cellfleet.store.recorder import writer_for

    body = (
        "import cellfleet, time\nstart = time.perf_counter()\n"
        f"for i in range({points}):\n    cellfleet.log(step=i, loss=1.0 / (i + 1))\n"
        "per_call = (time.perf_counter() - start) / " + str(points)
    )
    writer = writer_for()
    before = writer.store.count_metrics()
    start = time.perf_counter()
    shell.run_cell_magic("remote", "", body)
    writer.flush()
    seconds = time.perf_counter() - start
    stored = writer.store.count_metrics() - before
    return {
        "points": points,
        "stored": stored,
        "lost": points - stored,
        "points_per_s": stored / seconds,
        "per_call_us": shell.user_ns["per_call"] * 1e6,
    }


def _run_rows(runs: int, now: float) -> list[dict[str, Any]]:
    """``runs`` finished variant runs across 20 notebooks, the newest at ``now``."""
    return [
        {
            "id": f"r{i:06d}",
            "notebook": f"nb{i % 20}.ipynb",
            "kind": "variant",
            "status": "succeeded",
            "params": json.dumps({"lr": 10 ** -(i % 5), "batch": 32 * (1 + i % 4)}),
            "created": now - i,
            "started": now - i,
            "ended": now - i + 1,
            "cell_name": "In[1]",
            "code": "",
            "code_hash": "",
            "inputs": "{}",
            "environment": "{}",
            "output": "",
            "cell_id": "",
        }
        for i in range(runs)
    ]


def _fill_store(url: str, runs: int, points: int) -> None:
    """A store at ``url`` of ``runs`` runs sharing ``points`` metric points, inserted in bulk."""
    import sqlalchemy as sa

    from cellfleet.store.database import Store
    from cellfleet.store.schema import metrics
    from cellfleet.store.schema import runs as runs_table

    store = Store(url)
    now = time.time()
    per_run = points // runs
    with store.engine.begin() as connection:
        connection.execute(sa.insert(runs_table), _run_rows(runs, now))
        for start in range(0, runs, 500):
            batch = [
                {
                    "run_id": f"r{i:06d}",
                    "key": "loss" if s % 2 else "acc",
                    "step": s,
                    "value": 1.0 / (s + 1),
                    "logged": now,
                }
                for i in range(start, min(start + 500, runs))
                for s in range(per_run)
            ]
            connection.execute(sa.insert(metrics), batch)


def bench_runs_ls(repeats: int, runs: int, points: int) -> dict[str, dict[str, float]]:
    """`cellfleet runs ls` on a big store: the query and formatting, and the whole command."""
    from cellfleet.cli.runs import RUN_ACTIONS
    from cellfleet.store.database import Store

    folder = tempfile.mkdtemp()
    url = f"sqlite:///{folder}/big.db"
    _fill_store(url, runs, points)
    store = Store(url)
    args = argparse.Namespace(limit=50, notebook=None, status=None, kind=None)
    inside = timed(lambda: RUN_ACTIONS["ls"](store, args), repeats)
    ls = [sys.executable, "-m", "cellfleet.cli", "--db", url, "runs", "ls"]
    command = timed(lambda: subprocess.run(ls, check=True, capture_output=True), max(3, repeats // 4), warmup=0)
    return {"query_ms": _stats(inside), "command_ms": _stats(command), "runs": runs, "points": store.count_metrics()}


def _print_table(makespan: dict[str, Any], log: dict[str, Any], listing: dict[str, Any]) -> None:
    ideal = 4.0
    variants, loop = makespan["variants"], makespan["dask_loop"]
    query, command = listing["query_ms"], listing["command_ms"]
    points = f"{listing['runs']:,} runs / {listing['points']:,} points"
    rows = [
        [
            "8 variants x 1 s cell, 2 workers (s)",
            f"{variants['median']:.2f}",
            f"{variants['p90']:.2f}",
            f"{variants['median'] / ideal:.3f}x ideal 4 s",
            "≤ 1.15x",
        ],
        [
            "same, plain Dask submit loop (s)",
            f"{loop['median']:.2f}",
            f"{loop['p90']:.2f}",
            f"variants {variants['median'] / loop['median']:.3f}x loop",
            "",
        ],
        [
            "cellfleet.log from a worker: points stored/s",
            f"{log['points_per_s']:,.0f}",
            "",
            f"{log['stored']:,} of {log['points']:,} stored, {log['lost']} lost",
            "≥ 10,000/s, none lost",
        ],
        ["cellfleet.log cost per call in a loop (µs)", f"{log['per_call_us']:.2f}", "", "", ""],
        [f"runs ls, {points}: query (ms)", f"{query['median']:.1f}", f"{query['p90']:.1f}", "", "< 100 ms"],
        ["same, whole `cellfleet runs ls` process (ms)", f"{command['median']:.0f}", f"{command['p90']:.0f}", "", ""],
    ]
    print(markdown_table(["benchmark", "median", "p90", "ratio", "target"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller store")
    args = parser.parse_args()
    os.environ.setdefault("CELLFLEET_ROOT", tempfile.mkdtemp())
    os.environ["CELLFLEET_STATUS"] = "off"
    shell = _shell()
    makespan = bench_makespan(shell, 1 if args.quick else 3)
    log = bench_log(shell, 20_000 if args.quick else 100_000)
    listing = bench_runs_ls(5 if args.quick else 20, 10_000, 100_000 if args.quick else 1_000_000)
    _print_table(makespan, log, listing)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "variants.json").write_text(json.dumps({"makespan": makespan, "log": log, "runs_ls": listing}, indent=2))
    from cellfleet.kernel import session as clusters

    clusters.close_all()


if __name__ == "__main__":
    main()
