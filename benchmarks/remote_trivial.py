"""Case 1 of bench_remote.py: a trivial cell `x = 1`, %%remote against raw Dask and %%px.

The baselines: raw Dask on the client Cellfleet uses (same cluster), raw Dask on a default
LocalCluster, and ipyparallel's %%px on 2 engines. Ratios are %%remote over each baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from timing import Plan, elapsed, progress, summary, table, timed, verdict

__all__ = ["TRIVIAL", "bench", "report"]

TRIVIAL = "x = 1"


def remote_cell(shell: Any, plan: Plan) -> tuple[list[float], float]:
    """%%remote `x = 1`; also the seconds of the very first one (embedded cluster start)."""
    first = elapsed(lambda: shell.run_cell_magic("remote", "", TRIVIAL))
    return timed(lambda: shell.run_cell_magic("remote", "", TRIVIAL), plan.runs, plan.warmup), first


def raw_same_cluster(plan: Plan, noop: Callable[[], None]) -> list[float]:
    import cellfleet

    client = cellfleet.client()
    return timed(lambda: client.submit(noop, pure=False).result(), plan.runs, plan.warmup)


def raw_default_cluster(plan: Plan, noop: Callable[[], None]) -> list[float]:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        return timed(lambda: client.submit(noop, pure=False).result(), plan.runs, plan.warmup)


def px(shell: Any, plan: Plan) -> list[float] | None:
    """%%px `x = 1` on 2 ipyparallel engines; None when ipyparallel is not installed."""
    try:
        import ipyparallel
    except ImportError:
        progress("ipyparallel is not installed: %%px skipped")
        return None
    cluster = ipyparallel.Cluster(n=2)
    rc = cluster.start_and_connect_sync()
    try:
        rc.activate()
        return timed(lambda: shell.run_cell_magic("px", "", TRIVIAL), plan.runs, plan.warmup)
    finally:
        rc.close()
        cluster.stop_cluster_sync()


def bench(shell: Any, plan: Plan, noop: Callable[[], None]) -> dict[str, Any]:
    """Every variant of the trivial cell; ``noop`` is the raw Dask task (defined in ``__main__``)."""
    progress("1. trivial cell: %%remote")
    samples, first = remote_cell(shell, plan)
    progress("1. trivial cell: raw Dask on the same cluster")
    cases = {"%%remote": samples, "raw Dask, same cluster": raw_same_cluster(plan, noop)}
    progress("1. trivial cell: raw Dask on a default LocalCluster")
    cases["raw Dask, default LocalCluster"] = raw_default_cluster(plan, noop)
    progress("1. trivial cell: ipyparallel %%px")
    px_samples = px(shell, plan)
    if px_samples is not None:
        cases["ipyparallel %%px"] = px_samples
    return {"first_remote_s": first, "cases": {name: summary(s) for name, s in cases.items()}}


def report(result: dict[str, Any], plan: Plan) -> str:
    """The medians table, the ratios table with targets, and the first call's time."""
    cases = result["cases"]
    rows = [[name, f"{c['median']:.2f}", f"{c['p90']:.2f}"] for name, c in cases.items()]
    title = f"1. Trivial cell `x = 1` (ms; {plan.runs} timed runs after {plan.warmup} warm-up)"
    out = [table(title, ["case", "median", "p90"], rows)]
    out.append(table("", ["%%remote against", "p50 ratio", "p90 ratio", "target", "p50 result"], ratio_rows(cases)))
    out.append(f"first %%remote in this process (embedded cluster start included): {result['first_remote_s']:.2f} s")
    return "\n".join(out)


def ratio_rows(cases: dict[str, Any]) -> list[list[str]]:
    """%%remote over each baseline, median and p90, judged against its target."""
    remote = cases["%%remote"]
    targets: dict[str, tuple[str, Callable[[float], str]]] = {
        "raw Dask, same cluster": ("<= 1.2x", lambda r: verdict(r, 1.2)),
        "raw Dask, default LocalCluster": ("(none)", lambda r: "-"),
        "ipyparallel %%px": ("< 1x; stretch <= 0.5x", px_verdict),
    }
    rows = []
    for name, (target, judge) in targets.items():
        if name not in cases:
            rows.append([name, "skipped", "", target, ""])
            continue
        p50 = remote["median"] / cases[name]["median"]
        rows.append([name, f"{p50:.2f}x", f"{remote['p90'] / cases[name]['p90']:.2f}x", target, judge(p50)])
    return rows


def px_verdict(ratio: float) -> str:
    stretch = "stretch met" if ratio <= 0.5 else "stretch NOT met"
    return f"{verdict(ratio, 1.0, strict=True)}, {stretch}"
