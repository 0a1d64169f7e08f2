"""Variants and the store: makespan of a grid, cellfleet.log throughput, `runs ls` at scale.

    python benchmarks/bench_variants.py [--quick]

Side by side in one run on the embedded local cluster (2 workers here); prints a table of
medians, p90s and ratios, and writes benchmarks/results/variants.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import quantile

RESULTS = Path(__file__).parent / "results"


def _sleep_one(index: int) -> int:
    time.sleep(1)
    return index


def _stats(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "p90": quantile(samples, 0.9), "n": len(samples)}


def _shell():
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "cellfleet")
    return shell


def bench_makespan(shell, repeats: int) -> dict[str, dict[str, float]]:
    """8 variants of a 1 s cell on 2 workers vs the ideal 4 s and a plain Dask submit loop."""
    from cellfleet.kernel import session as clusters

    grid = "--grid i=0,1,2,3,4,5,6,7"
    shell.run_cell_magic("remote", grid, "import time\ntime.sleep(0.01)")  # warm: cluster up, imports done
    remote, dask = [], []
    client = clusters.connect(None).client
    for _ in range(repeats):
        start = time.perf_counter()
        shell.run_cell_magic("remote", grid, "import time\ntime.sleep(1)")
        remote.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.gather([client.submit(_sleep_one, i, pure=False) for i in range(8)])
        dask.append(time.perf_counter() - start)
    return {"variants": _stats(remote), "dask_loop": _stats(dask)}


def bench_log(shell, points: int) -> dict[str, float]:
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
    elapsed = time.perf_counter() - start
    stored = writer.store.count_metrics() - before
    return {
        "points": points,
        "stored": stored,
        "lost": points - stored,
        "points_per_s": stored / elapsed,
        "per_call_us": shell.user_ns["per_call"] * 1e6,
    }


def _fill_store(url: str, runs: int, points: int) -> None:
    import sqlalchemy as sa

    from cellfleet.store.database import Store
    from cellfleet.store.schema import metrics
    from cellfleet.store.schema import runs as runs_table

    store = Store(url)
    now = time.time()
    rows = [
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
    per_run = points // runs
    with store.engine.begin() as connection:
        connection.execute(sa.insert(runs_table), rows)
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
    RUN_ACTIONS["ls"](store, args)
    inside = []
    for _ in range(repeats):
        start = time.perf_counter()
        RUN_ACTIONS["ls"](store, args)
        inside.append((time.perf_counter() - start) * 1000)
    command = []
    for _ in range(max(3, repeats // 4)):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cellfleet.cli", "--db", url, "runs", "ls"], check=True, capture_output=True
        )
        command.append((time.perf_counter() - start) * 1000)
    return {"query_ms": _stats(inside), "command_ms": _stats(command), "runs": runs, "points": store.count_metrics()}


def _print_table(makespan, log, listing) -> None:
    ideal = 4.0
    variants, loop = makespan["variants"], makespan["dask_loop"]
    print("| benchmark | median | p90 | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| 8 variants x 1 s cell, 2 workers (s) | {variants['median']:.2f} | {variants['p90']:.2f} | "
        f"{variants['median'] / ideal:.3f}x ideal 4 s | ≤ 1.15x |"
    )
    print(
        f"| same, plain Dask submit loop (s) | {loop['median']:.2f} | {loop['p90']:.2f} | "
        f"variants {variants['median'] / loop['median']:.3f}x loop | |"
    )
    print(
        f"| cellfleet.log from a worker: points stored/s | {log['points_per_s']:,.0f} | | "
        f"{log['stored']:,} of {log['points']:,} stored, {log['lost']} lost | ≥ 10,000/s, none lost |"
    )
    print(f"| cellfleet.log cost per call in a loop (µs) | {log['per_call_us']:.2f} | | | |")
    query, command = listing["query_ms"], listing["command_ms"]
    print(
        f"| runs ls, {listing['runs']:,} runs / {listing['points']:,} points: query (ms) | {query['median']:.1f} | "
        f"{query['p90']:.1f} | | < 100 ms |"
    )
    print(f"| same, whole `cellfleet runs ls` process (ms) | {command['median']:.0f} | {command['p90']:.0f} | | |")


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
