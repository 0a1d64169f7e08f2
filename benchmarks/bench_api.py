"""The panel's server API on a store of 10,000 runs and 1,000,000 metric points.

    python benchmarks/bench_api.py [--quick]

Starts a real Jupyter server with the cellfleet extension and times, over HTTP with a token,
the requests the panel makes: the runs list (first page, filtered by notebook, deep offset,
sorted by status), one run, and comparing 10 runs. The baseline is the same query made in
process on the store (so the ratio is the HTTP, auth and JSON overhead). Prints medians, p90
and ratios; writes benchmarks/results/api.json. Target: median < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cellfleet.store.database import Store
from cellfleet.store.queries import run_page
from synthetic import build_store
from timing import fixed_table, median, quantile, timed

RESULTS = Path(__file__).parent / "results"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server(folder: Path, port: int, token: str) -> subprocess.Popen:
    command = [
        *(sys.executable, "-m", "jupyter", "server", f"--ServerApp.port={port}", "--ServerApp.open_browser=False"),
        *(f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}", "--ServerApp.allow_root=True"),
    ]
    env = {**os.environ, "CELLFLEET_ROOT": str(folder)}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    sys.exit("the Jupyter server did not start")


def _cases(store: Store, ids: list[str]) -> dict[str, tuple[str, Callable[[], Any]]]:
    """Each case: its API path and the same work done in process."""
    ten = ids[-10:]

    def compare() -> None:
        store.final_metrics(ten)
        for run_id in ten:
            store.get_run(run_id)
            store.metric_series(run_id)

    def one_run() -> None:
        store.get_run(ids[0])
        store.metric_series(ids[0])
        store.list_artifacts(ids[0])

    page = {"sort": "-created", "limit": 100}
    return {
        "runs, first page of 100": ("runs?limit=100", lambda: run_page(store, offset=0, **page)),
        "runs of one notebook": (
            "runs?notebook=bench.ipynb&limit=100",
            lambda: run_page(store, offset=0, notebook="bench.ipynb", **page),
        ),
        "runs, offset 5000": ("runs?limit=100&offset=5000", lambda: run_page(store, offset=5000, **page)),
        "runs sorted by status": (
            "runs?limit=100&sort=status",
            lambda: run_page(store, sort="status", limit=100, offset=0),
        ),
        "runs sorted by final loss": (
            "runs?limit=100&sort=metric.loss",
            lambda: run_page(store, sort="metric.loss", limit=100, offset=0),
        ),
        "runs sorted by a param": (
            "runs?limit=100&sort=-param.lr",
            lambda: run_page(store, sort="-param.lr", limit=100, offset=0),
        ),
        "one run with its series": (f"runs/{ids[0]}", one_run),
        "compare 10 runs": (f"compare?ids={','.join(ten)}", compare),
    }


def _table(rows: list[tuple[str, list[float], list[float]]]) -> str:
    """HTTP median and p90 (nearest rank) per request, the store's median, and their ratio."""
    cells = []
    for label, http, direct in rows:
        p50, base = median(http), median(direct)
        cells.append([label, f"{p50:.1f}", f"{quantile(http, 0.9):.1f}", f"{base:.1f}", f"{p50 / base:.1f}x", "< 100"])
    headers = ["request", "HTTP p50", "HTTP p90", "store p50", "ratio", "target"]
    return fixed_table(headers, cells, widths=[26, 8, 8, 9, 6])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 runs and 100,000 points, 10 repeats")
    args = parser.parse_args()
    n_runs, repeats = (1_000, 10) if args.quick else (10_000, 30)
    with tempfile.TemporaryDirectory(prefix="cellfleet-bench-api-") as name:
        folder = Path(name)
        ids = build_store(folder, n_runs, steps=50)
        store = Store(f"sqlite:///{folder / '.cellfleet' / 'cellfleet.db'}")
        points = store.count_metrics()
        port, token = _free_port(), secrets.token_hex(16)
        server = _server(folder, port, token)
        try:
            rows = []
            for label, (path, direct) in _cases(store, ids).items():
                url = f"http://127.0.0.1:{port}/cellfleet/api/{path}"
                request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
                http = timed(lambda request=request: urllib.request.urlopen(request).read(), repeats)
                rows.append((label, http, timed(direct, repeats)))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\npanel API on {n_runs:,} runs and {points:,} metric points (ms, {repeats} repeats)\n")
    print(_table(rows))
    RESULTS.mkdir(exist_ok=True)
    results = {label: {"http": http, "store": direct} for label, http, direct in rows}
    (RESULTS / "api.json").write_text(json.dumps({"runs": n_runs, "points": points, "results": results}, indent=2))


if __name__ == "__main__":
    main()
