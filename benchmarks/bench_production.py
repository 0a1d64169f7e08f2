"""Production runs and the scheduler: overhead vs bare papermill, lateness, idle CPU.

    python benchmarks/bench_production.py [--quick]

Prints a table of medians, p90/p95 and ratios; writes benchmarks/results/production.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil

from timing import elapsed, markdown_table, median, quantile, ranked_p90

RESULTS = Path(__file__).parent / "results"


def _notebook(folder: Path, work: str = "total = sum(range(n))\nprint(total)", name: str = "job") -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell("n = 10")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(work)]
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


def _timed(command: list[str], env: dict[str, str]) -> float:
    return elapsed(lambda: subprocess.run(command, check=True, capture_output=True, env=env))


def bench_overhead(folder: Path, url: str, repeats: int, notebook: Path) -> dict[str, float]:
    """`cellfleet run` vs the `papermill` command on the same notebook, alternating."""
    env = {**os.environ, "CELLFLEET_ROOT": str(folder)}
    bare = [sys.executable, "-m", "papermill", str(notebook), str(folder / "out.ipynb"), "-p", "n", "100",
            "-k", "python3", "--no-progress-bar"]  # fmt: skip
    ours = [sys.executable, "-m", "cellfleet.cli", "--db", url, "run", str(notebook), "-p", "n", "100",
            "--kernel", "python3"]  # fmt: skip
    _timed(bare, env), _timed(ours, env)  # warm the file cache
    papermill_s, cellfleet_s = [], []
    for _ in range(repeats):
        papermill_s.append(_timed(bare, env))
        cellfleet_s.append(_timed(ours, env))
    return {
        "papermill_median": median(papermill_s), "papermill_p90": ranked_p90(papermill_s),
        "cellfleet_median": median(cellfleet_s), "cellfleet_p90": ranked_p90(cellfleet_s),
        "ratio": median(cellfleet_s) / median(papermill_s),
    }  # fmt: skip


def _scheduler(url: str, folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cellfleet.cli", "--db", url, "scheduler"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "CELLFLEET_ROOT": str(folder)},
    )  # fmt: skip


def bench_lateness(folder: Path, url: str, occurrences: int) -> dict[str, float]:
    """Start time minus due time over many occurrences of a job due every 2 s.

    Each run starts a kernel (about a second of CPU): at 1 s intervals a 2-core machine is
    saturated by the runs themselves, which measures the machine, not the scheduler.
    """
    from cellfleet.store.database import Store
    from cellfleet.store.jobs import JobStore

    notebook = _notebook(folder)
    subprocess.run(
        [sys.executable, "-m", "cellfleet.cli", "--db", url, "promote", str(notebook), "--name", "tick",
         "--every", "2s", "--overlap", "allow", "--concurrency", "4"],
        check=True, capture_output=True, env={**os.environ, "CELLFLEET_ROOT": str(folder)},
    )  # fmt: skip
    jobs = JobStore(Store(url))
    job = jobs.get_job("tick")
    process = _scheduler(url, folder)
    try:
        while len([r for r in jobs.job_runs(job["id"], 10_000) if r["started"]]) < occurrences:
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    runs = [r for r in jobs.job_runs(job["id"], 10_000) if r["started"]]
    launched = [r["environment"]["launched"] - r["environment"]["due"] for r in runs]
    started = [r["started"] - r["environment"]["due"] for r in runs]
    return {
        "n": len(runs), "p50": median(launched), "p95": quantile(launched, 0.95), "max": max(launched),
        "process_p50": median(started), "process_p95": quantile(started, 0.95),
    }  # fmt: skip


def bench_idle_cpu(folder: Path, url: str, seconds: float) -> float:
    """CPU a scheduler uses with a job that is not due, as % of one core."""
    subprocess.run(
        [sys.executable, "-m", "cellfleet.cli", "--db", url, "promote", str(_notebook(folder)), "--name", "nightly",
         "--cron", "0 3 1 1 *"],
        check=True, capture_output=True, env={**os.environ, "CELLFLEET_ROOT": str(folder)},
    )  # fmt: skip
    process = _scheduler(url, folder)
    time.sleep(3)  # let it start
    watched = psutil.Process(process.pid)
    before = sum(watched.cpu_times()[:2])
    time.sleep(seconds)
    used = sum(watched.cpu_times()[:2]) - before
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    return 100 * used / seconds


def _print_table(
    overhead: dict[str, float], working: dict[str, float], lateness: dict[str, float], idle: float, seconds: int
) -> None:
    rows = [
        ["bare `papermill` run (s)", f"{overhead['papermill_median']:.2f}", f"{overhead['papermill_p90']:.2f}",
         "1.00", ""],
        ["`cellfleet run`, recorded in the store (s)", f"{overhead['cellfleet_median']:.2f}",
         f"{overhead['cellfleet_p90']:.2f}", f"{overhead['ratio']:.3f}", "≤ 1.10"],
        ["bare `papermill`, a notebook computing for 5 s (s)", f"{working['papermill_median']:.2f}",
         f"{working['papermill_p90']:.2f}", "1.00", ""],
        ["`cellfleet run`, same notebook (s)", f"{working['cellfleet_median']:.2f}",
         f"{working['cellfleet_p90']:.2f}", f"{working['ratio']:.3f}", "≤ 1.10"],
        [f"lateness, launch - due, {lateness['n']} occurrences every 2 s (s)", f"{lateness['p50']:.3f}",
         f"p95 {lateness['p95']:.3f}", f"max {lateness['max']:.3f}", "p95 ≤ 1 s"],
        ["same, until the run's process is up and recording (s)", f"{lateness['process_p50']:.3f}",
         f"p95 {lateness['process_p95']:.3f}", "Python start-up of the run", ""],
        [f"scheduler idle CPU, % of a core over {seconds} s", f"{idle:.2f}", "", "", ""],
    ]  # fmt: skip
    print(markdown_table(["benchmark", "median", "p90/p95", "ratio / note", "target"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = {}
    for name in ("overhead", "lateness", "idle"):
        folder = Path(tempfile.mkdtemp())
        runs[name] = (folder, f"sqlite:///{folder / '.cellfleet' / 'cellfleet.db'}")
    folder = runs["overhead"][0]
    overhead = bench_overhead(*runs["overhead"], 3 if args.quick else 10, _notebook(folder))
    busy = _notebook(
        folder, "import time\nend = time.time() + 5\nwhile time.time() < end:\n    sum(range(1000))", "busy"
    )
    working = bench_overhead(*runs["overhead"], 2 if args.quick else 5, busy)
    lateness = bench_lateness(*runs["lateness"], 8 if args.quick else 30)
    idle = bench_idle_cpu(*runs["idle"], 15 if args.quick else 60)
    _print_table(overhead, working, lateness, idle, 15 if args.quick else 60)
    RESULTS.mkdir(exist_ok=True)
    summary = {"overhead": overhead, "overhead_5s_notebook": working, "lateness": lateness, "idle_cpu_percent": idle}
    (RESULTS / "production.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
