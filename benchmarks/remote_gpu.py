"""Case 4 of bench_remote.py: a trivial cell on the embedded LocalCUDACluster, against raw Dask.

%%remote gpu `x = 1` against ``client.submit(noop, resources={"GPU": 1})`` on the same
cluster; skipped when NVML sees no GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from remote_trivial import TRIVIAL
from timing import Plan, progress, summary, table, timed, verdict

__all__ = ["bench", "report"]


def bench(shell: Any, plan: Plan, noop: Callable[[], None]) -> dict[str, Any] | None:
    """Both variants' timings; None without a GPU. ``noop`` is the raw Dask task."""
    from cellfleet.kernel import session as clusters

    if clusters.gpu_count() == 0:
        return None
    progress("4. GPU: %%remote gpu and raw Dask with GPU=1")
    session = clusters.connect(None)
    remote = timed(lambda: shell.run_cell_magic("remote", "gpu", TRIVIAL), plan.runs, plan.warmup)
    raw = timed(lambda: session.client.submit(noop, pure=False, resources={"GPU": 1}).result(), plan.runs, plan.warmup)
    cases = {"%%remote gpu": summary(remote), "raw Dask, same cluster, GPU=1": summary(raw)}
    return {"gpus": clusters.gpu_count(), "cluster": type(session.cluster).__name__, "cases": cases}


def report(result: dict[str, Any] | None, plan: Plan) -> str:
    """Medians, p90s and the ratio, with the target; one line when skipped."""
    if result is None:
        return "4. GPU: skipped: no GPU"
    cases = result["cases"]
    rows = [[name, f"{c['median']:.2f}", f"{c['p90']:.2f}"] for name, c in cases.items()]
    remote, raw = cases["%%remote gpu"], cases["raw Dask, same cluster, GPU=1"]
    ratio = remote["median"] / raw["median"]
    rows.append(["%%remote gpu / raw Dask", f"{ratio:.2f}x", f"{remote['p90'] / raw['p90']:.2f}x"])
    title = f"4. GPU: trivial cell on the embedded {result['cluster']} ({result['gpus']} GPUs; ms; {plan.runs} runs)"
    return table(title, ["case", "median", "p90"], rows) + f"\ntarget p50 <= 1.2x raw Dask: {verdict(ratio, 1.2)}"
