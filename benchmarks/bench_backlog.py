"""The scheduler under its concurrency cap: many jobs due every second, fewer slots than jobs.

    python benchmarks/bench_backlog.py [--jobs 20] [--every 1s] [--seconds 60] [--concurrency 4] [--quick]

Side by side in one script run, each case on a store of its own and a real `cellfleet scheduler`
process: the crowded case (``--jobs`` jobs, default policies ``--overlap skip --catchup latest``)
against the baseline of one job alone under the same cap. While the scheduler runs, the script
samples the queued occurrences (how many, and how old the oldest is); afterwards it reads each
started run's lag (launch - due). Prints a table of medians, p90s and ratios to the baseline;
writes benchmarks/results/backlog.json.
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
from typing import Any

import nbformat

from timing import markdown_table, median, progress, ranked_p90, verdict

RESULTS = Path(__file__).parent / "results"


def _notebook(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell("total = sum(range(1000))")]
    path = folder / "tick.ipynb"
    nbformat.write(notebook, path)
    return path


def _promote(url: str, folder: Path, jobs: int, every: str) -> None:
    from cellfleet.production.promote import promote
    from cellfleet.production.spec import JobSpec
    from cellfleet.store.database import Store

    store, notebook = Store(url), _notebook(folder)
    for index in range(jobs):
        promote(notebook, JobSpec(name=f"tick-{index:02d}", every=every), store)


def _sample(url: str, seconds: float, every: float) -> dict[str, list[float]]:
    """Queued occurrences, and the age of the oldest, every ``every`` seconds for ``seconds``."""
    from cellfleet.protocol import OccurrenceState
    from cellfleet.store.database import Store
    from cellfleet.store.jobs import JobStore

    jobs = JobStore(Store(url))
    samples: dict[str, list[float]] = {"queued": [], "oldest": []}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = time.time()
        samples["queued"].append(jobs.count_occurrences(OccurrenceState.QUEUED))
        ready = jobs.ready_occurrences(now)
        samples["oldest"].append(max((now - o["due"] for o in ready), default=0.0))
        time.sleep(every)
    return samples


def run_case(jobs: int, every: str, seconds: float, concurrency: int, poll: float) -> dict[str, Any]:
    """One case on a fresh store: promote, run a scheduler for ``seconds``, measure."""
    folder = Path(tempfile.mkdtemp())
    os.environ["CELLFLEET_ROOT"] = str(folder)
    url = f"sqlite:///{folder / '.cellfleet' / 'cellfleet.db'}"
    _promote(url, folder, jobs, every)
    command = [sys.executable, "-m", "cellfleet.cli", "--db", url, "scheduler",
               "--concurrency", str(concurrency), "--poll", str(poll)]  # fmt: skip
    scheduler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        samples = _sample(url, seconds, 0.25)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(120)
    return {"jobs": jobs, **_outcome(url), "max_queued": max(samples["queued"]),
            "max_oldest_queued_s": max(samples["oldest"])}  # fmt: skip


def _outcome(url: str) -> dict[str, Any]:
    from cellfleet.store.database import Store

    store = Store(url)
    runs = store.list_runs(kind="production", limit=1_000_000)
    started = [r for r in runs if r["started"] and (r["environment"] or {}).get("launched")]
    lags = [r["environment"]["launched"] - r["environment"]["due"] for r in started]
    skipped = [r for r in runs if r["status"] == "skipped"]
    return {
        "started": len(started), "lag_median_s": median(lags) if lags else float("nan"),
        "lag_p90_s": ranked_p90(lags) if lags else float("nan"), "lag_max_s": max(lags, default=float("nan")),
        "skipped_overlap": sum("--overlap" in (r["error"] or "") for r in skipped),
        "skipped_catchup": sum("--catchup" in (r["error"] or "") for r in skipped),
    }  # fmt: skip


def _print(crowded: dict[str, Any], alone: dict[str, Any], args: argparse.Namespace) -> None:
    rows = []
    for label, case in (
        (f"{crowded['jobs']} jobs, cap {args.concurrency}", crowded),
        ("1 job alone (baseline)", alone),
    ):
        ratio = case["lag_median_s"] / alone["lag_median_s"] if alone["lag_median_s"] else float("nan")
        rows.append([
            label, str(case["started"]), f"{case['lag_median_s']:.2f}", f"{case['lag_p90_s']:.2f}",
            f"{case['lag_max_s']:.2f}", f"{ratio:.2f}x", str(case["max_queued"]),
            f"{case['max_oldest_queued_s']:.2f}", f"{case['skipped_overlap']} / {case['skipped_catchup']}",
        ])  # fmt: skip
    headers = ["case", "runs started", "lag p50 (s)", "lag p90 (s)", "lag max (s)", "p50 vs baseline",
               "max queued", "oldest queued (s)", "skipped overlap / catch-up"]  # fmt: skip
    print(f"every {args.every} for {args.seconds:g} s, scheduler --concurrency {args.concurrency} --poll {args.poll}")
    print(markdown_table(headers, rows))
    bound = 2 * crowded["jobs"]
    print(f"target: at most 2 queued per job ({bound}): {verdict(crowded['max_queued'], bound)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20, help="jobs in the crowded case (default 20)")
    parser.add_argument("--every", default="1s", help="each job's interval (default 1s)")
    parser.add_argument("--seconds", type=float, default=60, help="how long each case runs (default 60)")
    parser.add_argument("--concurrency", type=int, default=4, help="the scheduler's cap (default 4)")
    parser.add_argument("--poll", type=float, default=0.25, help="the scheduler's poll (default 0.25)")
    parser.add_argument("--quick", action="store_true", help="8 jobs for 20 s")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.seconds = 8, 20.0
    progress(f"{args.jobs} jobs every {args.every} for {args.seconds:g} s under a cap of {args.concurrency}")
    crowded = run_case(args.jobs, args.every, args.seconds, args.concurrency, args.poll)
    progress("baseline: 1 job alone")
    alone = run_case(1, args.every, args.seconds, args.concurrency, args.poll)
    _print(crowded, alone, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "backlog.json").write_text(
        json.dumps({"args": vars(args), "crowded": crowded, "alone": alone}, indent=2)
    )


if __name__ == "__main__":
    main()
