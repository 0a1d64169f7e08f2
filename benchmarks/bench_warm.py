"""Side-by-side benchmarks of the warm shared cluster (`cellfleet cluster start`).

    python benchmarks/bench_warm.py [--quick] [--json PATH]

1. restart: the first `%%remote x = 1` after a kernel restart, timed from the client
   (jupyter_client, kernel ``python3``, `%load_ext cellfleet` first), in a project whose
   shared cluster runs against one with none, where that cell starts the kernel's private
   embedded cluster. The kernels are restarted in turn, one project then the other. The
   second `x = 1` of each kernel is shown too.
2. preload: a cell `import scipy.stats` on a worker that preloaded it (`--preload
   scipy.stats`) against a worker that did not, and `x = 1`, each the first cell on freshly
   restarted workers (`Client.restart`, as `cellfleet cluster restart-workers` does), so the
   import on the plain worker is a cold import every time. scipy.stats stands for torch or
   CuPy (not installed on this CPU machine): neither cellfleet nor Dask imports it, and
   it takes over a second to import. Each kernel has imported it itself beforehand (the
   module travels back to the notebook by reference).

Every figure is measured; nothing is simulated. Prints plain-text tables of medians, p90s and
ratios, and writes a JSON copy to benchmarks/results/warm.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from remote_fresh_kernel import execute
from timing import Plan, plural, progress, summary, table, verdict

RESULTS = Path(__file__).resolve().parent / "results"
FULL = Plan(warmup=0, runs=30, kernels=10, chains=0)
QUICK = Plan(warmup=0, runs=5, kernels=3, chains=0)
HEAVY = "scipy.stats"
TRIVIAL = "%%remote\nx = 1\n"


def environment(root: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "CELLFLEET_SCHEDULER"}
    return {**env, "CELLFLEET_ROOT": str(root), "CELLFLEET_STATUS": "off"}


def cellfleet(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cellfleet.cli", *args],
        capture_output=True, text=True, env=environment(root), cwd=root, timeout=180, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"cellfleet {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def shared_cluster(root: Path, *args: str) -> Iterator[str]:
    """A shared cluster in the project at ``root``; yields its scheduler address."""
    from cellfleet.cluster.record import paths, read_record

    cellfleet(root, "cluster", "start", "--gpus", "0", *args)
    try:
        record = read_record(paths(root).record)
        assert record is not None
        yield record.address
    finally:
        cellfleet(root, "cluster", "stop")


@contextmanager
def kernel(root: Path) -> Iterator[Any]:
    """A ``python3`` kernel in the project at ``root`` (its manager; ``km.kc`` its client)."""
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=environment(root), cwd=str(root))
    try:
        km.kc = km.client()
        km.kc.start_channels()
        km.kc.wait_for_ready(timeout=120)
        yield km
    finally:
        km.kc.stop_channels()
        km.shutdown_kernel(now=False)


def after_restart(km: Any) -> dict[str, float]:
    """Restart the kernel; then `%load_ext`, the first and the second trivial cell (ms)."""
    km.kc.stop_channels()
    km.restart_kernel(now=False)
    km.kc = km.client()
    km.kc.start_channels()
    km.kc.wait_for_ready(timeout=120)
    load = execute(km.kc, "%load_ext cellfleet\n")
    first = execute(km.kc, TRIVIAL)
    second = execute(km.kc, TRIVIAL)
    return {"load_ext": load * 1000, "first": first * 1000, "second": second * 1000}


def bench_restart(folder: Path, plan: Plan) -> dict[str, Any]:
    """Case 1: kernels restarted in turn, with and without the shared cluster."""
    shared_root, private_root = folder / "shared", folder / "private"
    shared_root.mkdir()
    private_root.mkdir()
    runs: dict[str, list[dict[str, float]]] = {"shared": [], "private": []}
    with shared_cluster(shared_root, "--workers", "2"), kernel(shared_root) as shared, kernel(private_root) as private:
        for i in range(plan.kernels):
            progress(f"1. kernel restart {i + 1} of {plan.kernels}")
            runs["shared"].append(after_restart(shared))
            runs["private"].append(after_restart(private))
    steps = ("load_ext", "first", "second")
    return {
        "runs": runs,
        "cases": {name: {step: summary([r[step] for r in rs]) for step in steps} for name, rs in runs.items()},
    }


def restarted(address: str) -> None:
    from distributed import Client

    with Client(address, timeout="10s", set_as_default=False) as client:
        client.restart(timeout=180, wait_for_workers=True)


def has_heavy(address: str) -> bool:
    from distributed import Client

    with Client(address, timeout="10s", set_as_default=False) as client:
        return all(client.run(lambda: HEAVY in sys.modules).values())


def bench_preload(folder: Path, plan: Plan) -> dict[str, Any]:
    """Case 2: the heavy import on preloaded and plain workers, and `x = 1`, after a worker restart."""
    pre_root, plain_root = folder / "preloaded", folder / "plain"
    pre_root.mkdir()
    plain_root.mkdir()
    samples: dict[str, list[float]] = {"x = 1": [], "import, preloaded": [], "import, not preloaded": []}
    cell = f"%%remote\nimport {HEAVY}\n"
    with (
        shared_cluster(pre_root, "--workers", "1", "--preload", HEAVY) as pre,
        shared_cluster(plain_root, "--workers", "1") as plain,
        kernel(pre_root) as pre_kernel,
        kernel(plain_root) as plain_kernel,
    ):
        for km in (pre_kernel, plain_kernel):
            execute(km.kc, f"%load_ext cellfleet\nimport {HEAVY}\n")
            execute(km.kc, TRIVIAL)
        for i in range(plan.runs):
            progress(f"2. preload sample {i + 1} of {plan.runs}")
            restarted(plain)
            if has_heavy(plain):
                raise RuntimeError(f"the plain workers have {HEAVY} already: choose another heavy module")
            samples["x = 1"].append(execute(plain_kernel.kc, TRIVIAL) * 1000)
            samples["import, not preloaded"].append(execute(plain_kernel.kc, cell) * 1000)
            restarted(pre)
            samples["import, preloaded"].append(execute(pre_kernel.kc, cell) * 1000)
    return {"module": HEAVY, "cases": {name: summary(s) for name, s in samples.items()}}


def report_restart(result: dict[str, Any], plan: Plan) -> str:
    cases = result["cases"]
    names = {"load_ext": "%load_ext cellfleet", "first": "first `x = 1`", "second": "second `x = 1`"}
    rows = []
    for step, name in names.items():
        shared, private = cases["shared"][step], cases["private"][step]
        row = [name, f"{shared['median']:.1f}", f"{shared['p90']:.1f}", f"{private['median']:.1f}"]
        row += [f"{private['p90']:.1f}", f"{private['median'] / shared['median']:.1f}x"]
        target = ("<= 100 ms", verdict(shared["median"], 100)) if step == "first" else ("", "")
        rows.append([*row, *target])
    title = f"1. After a kernel restart (ms, from the client; {plural(plan.kernels, 'restart')} of each kernel)"
    headers = ["cell", "shared p50", "shared p90", "private p50", "private p90", "private/shared", "target", "result"]
    return table(title, headers, rows)


def report_preload(result: dict[str, Any], plan: Plan) -> str:
    cases = result["cases"]
    base = cases["x = 1"]
    rows = []
    for name, case in cases.items():
        extra = case["median"] - base["median"]
        row = [name, f"{case['median']:.1f}", f"{case['p90']:.1f}", f"{case['median'] / base['median']:.2f}x"]
        row.append(f"{extra:+.1f}" if name != "x = 1" else "")
        target = ("<= +20 ms", verdict(extra, 20)) if name == "import, preloaded" else ("", "")
        rows.append([*row, *target])
    title = (
        f"2. `import {result['module']}` as the first cell on freshly restarted workers "
        f"(ms, from the client; {plan.runs} samples each)"
    )
    return table(title, ["cell", "median", "p90", "vs x = 1", "ms more", "target", "result"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--json", type=Path, default=RESULTS / "warm.json", help="where to write the JSON copy")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="cellfleet-bench-warm-"))
    results = {"restart": bench_restart(folder, plan), "preload": bench_preload(folder, plan)}
    shutil.rmtree(folder)  # kept, with the clusters' logs, when the benchmark failed
    results["quick"] = args.quick
    results["bench_seconds"] = time.perf_counter() - started
    import distributed

    import cellfleet

    head = f"cellfleet {cellfleet.__version__}, distributed {distributed.__version__}, {os.cpu_count()} CPUs"
    print("\n\n".join([head, report_restart(results["restart"], plan), report_preload(results["preload"], plan)]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"\n(benchmark took {results['bench_seconds']:.0f} s; JSON copy: {args.json})")


if __name__ == "__main__":
    main()
