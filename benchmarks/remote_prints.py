"""Case 5 of bench_remote.py: 10 MB of prints, the same cell run locally and with %%remote.

One real kernel (jupyter_client's ``KernelManager``); each cell is timed from the client until
the kernel is idle again, with every output message received. The remote cell streams its
output through Dask events and is cut at 8 MiB with a note; the local one shows it all.
"""

from __future__ import annotations

import os
from typing import Any

from remote_fresh_kernel import execute
from timing import Plan, plural, progress, summary, table

__all__ = ["bench", "report"]

LINES = 1_000_000
PRINTS = f"for i in range({LINES}):\n    print('x' * 9)\n"
"""10,000,000 characters in a million print calls."""


def bench(plan: Plan) -> dict[str, Any]:
    """``plan.chains`` rounds of the local cell, then the remote one, in one kernel."""
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(env={**os.environ, "CELLFLEET_STATUS": "off"})
    kc = km.client()
    local, remote = [], []
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        execute(kc, "%load_ext cellfleet\n")
        execute(kc, "%%remote\nx = 1\n")  # the cluster is up before timing starts
        for i in range(plan.chains):
            progress(f"5. prints round {i + 1} of {plan.chains}")
            local.append(execute(kc, PRINTS))
            remote.append(execute(kc, "%%remote\n" + PRINTS))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    return {"local": summary(local), "remote": summary(remote), "local_runs": local, "remote_runs": remote}


def report(result: dict[str, Any], plan: Plan) -> str:
    """Medians and p90s of both cells, and the remote/local ratio."""
    local, remote = result["local"], result["remote"]
    rows = [
        ["local cell", f"{local['median']:.2f}", f"{local['p90']:.2f}", "1.00x"],
        [
            "%%remote cell (cut at 8 MiB)",
            f"{remote['median']:.2f}",
            f"{remote['p90']:.2f}",
            f"{remote['median'] / local['median']:.2f}x",
        ],
    ]
    title = f"5. 10 MB of prints, until the kernel is idle (s; {plural(plan.chains, 'round')})"
    return table(title, ["cell", "median", "p90", "vs local"], rows)
