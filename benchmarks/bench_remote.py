"""Side-by-side benchmarks of %%remote against raw Dask and ipyparallel's %%px.

    python benchmarks/bench_remote.py [--quick] [--json PATH] [--case NAME]

1. trivial: a trivial cell `x = 1`: %%remote, raw Dask on the same embedded cluster, raw Dask
   on a default LocalCluster, and %%px on 2 ipyparallel engines (remote_trivial.py);
2. fresh-kernel: the first %%remote in a fresh Jupyter kernel, cluster start included
   (remote_fresh_kernel.py);
3. chain: three chained cells over a 1 GiB array, remote against local: wall time, bytes
   through the kernel process's TCP comms, and the kernel's RSS growth (remote_chain.py);
4. gpu: (with a GPU) a trivial cell on the embedded LocalCUDACluster against raw Dask on it
   (remote_gpu.py).

Runs every case, or only the one ``--case`` names. Prints plain-text tables (median, p90,
ratios, targets) and writes a JSON copy to benchmarks/results/remote.json (one case:
remote-NAME.json). Every figure is measured; nothing is simulated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import remote_chain
import remote_fresh_kernel
import remote_gpu
import remote_prints
import remote_trivial
from timing import Plan

RESULTS = Path(__file__).resolve().parent / "results"
FULL = Plan(warmup=20, runs=300, kernels=3, chains=3)
QUICK = Plan(warmup=5, runs=40, kernels=1, chains=1)
# --case name: (JSON key, table), in the order the report prints them.
CASES: dict[str, tuple[str, Callable[[Any, Plan], str]]] = {
    "trivial": ("trivial", remote_trivial.report),
    "fresh-kernel": ("fresh_kernel", remote_fresh_kernel.report),
    "chain": ("chain", remote_chain.report),
    "gpu": ("gpu", remote_gpu.report),
    "prints": ("prints", remote_prints.report),
}


def noop() -> None:
    """The raw Dask task. Defined here, in ``__main__``, so Dask pickles it by value as it always has."""
    return None


def machine() -> dict[str, Any]:
    """Versions and the machine's CPUs and GPUs, for the report's first line."""
    import distributed

    from cellfleet import __version__
    from cellfleet.kernel import session as clusters

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "gpus": clusters.gpu_count(),
        "distributed": distributed.__version__,
        "cellfleet": __version__,
    }


@contextmanager
def isolated_store() -> Iterator[None]:
    """Runs are recorded in a throwaway store, not the project's; the embedded cluster is used."""
    os.environ.pop("CELLFLEET_SCHEDULER", None)
    with tempfile.TemporaryDirectory(prefix="cellfleet-bench-") as root:
        os.environ["CELLFLEET_ROOT"] = root
        try:
            yield
        finally:
            from cellfleet.store.recorder import writer_for

            writer_for().flush()
            os.environ.pop("CELLFLEET_ROOT", None)


def in_shell(shell: Any, plan: Plan) -> dict[str, Callable[[], Any]]:
    """The cases that run in this process's IPython shell, each ready to run."""
    return {
        "trivial": lambda: remote_trivial.bench(shell, plan, noop),
        "chain": lambda: remote_chain.bench(shell, plan),
        "gpu": lambda: remote_gpu.bench(shell, plan, noop),
    }


def run_cases(names: list[str], plan: Plan) -> dict[str, Any]:
    """The ``names`` cases' results, keyed as in the JSON copy."""
    from IPython.testing.globalipapp import start_ipython

    from cellfleet.kernel import session as clusters

    results: dict[str, Any] = {"machine": machine(), "plan": asdict(plan)}
    if "fresh-kernel" in names:
        results["fresh_kernel"] = remote_fresh_kernel.bench(plan)  # first, while nothing else runs here
    if "prints" in names:
        results["prints"] = remote_prints.bench(plan)  # in a kernel of its own
    rest = [name for name in names if name not in ("fresh-kernel", "prints")]
    if not rest:
        return results
    shell = start_ipython()
    shell.run_line_magic("load_ext", "cellfleet")
    try:
        cases = in_shell(shell, plan)
        for name in rest:
            results[CASES[name][0]] = cases[name]()
    finally:
        clusters.close_all()
    return results


def report(results: dict[str, Any], names: list[str], plan: Plan) -> str:
    """The machine line, then each case's tables."""
    m = results["machine"]
    head = (
        f"cellfleet {m['cellfleet']}, distributed {m['distributed']}, Python {m['python']}, "
        f"{m['cpus']} CPUs, {m['gpus']} GPUs"
    )
    tables = [render(results[key], plan) for name, (key, render) in CASES.items() if name in names]
    return "\n\n".join([head, *tables])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--case", choices=list(CASES), help="run only this case (default: all of them)")
    parser.add_argument(
        "--json", type=Path, help=f"where to write the JSON copy (default {RESULTS}/remote.json, or remote-CASE.json)"
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    names = [args.case] if args.case else list(CASES)
    path = args.json or RESULTS / (f"remote-{args.case}.json" if args.case else "remote.json")
    started = time.perf_counter()
    with isolated_store():
        results = run_cases(names, plan)
    results["quick"] = args.quick
    results["bench_seconds"] = time.perf_counter() - started
    print(report(results, names, plan))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"\n(benchmark took {results['bench_seconds']:.0f} s; JSON copy: {path})")


if __name__ == "__main__":
    main()
