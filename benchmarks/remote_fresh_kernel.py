"""Case 2 of bench_remote.py: the first %%remote in a fresh Jupyter kernel, cluster start included.

A real kernel (jupyter_client's ``KernelManager``, kernel ``python3``) is timed from the client:
``%load_ext cellfleet``, then the first %%remote `x = 1`; each kernel is shut down and the
processes it started (cluster workers, nannies) must not outlive it.
"""

from __future__ import annotations

import time
from typing import Any

from remote_trivial import TRIVIAL
from timing import Plan, plural, progress, summary, table, verdict

__all__ = ["bench", "report"]


def execute(kc: Any, code: str) -> float:
    """Seconds for the kernel to run ``code``; raises when the kernel reports an error."""
    errors: list[str] = []

    def hook(message: dict[str, Any]) -> None:
        if message["msg_type"] == "error":
            errors.append("\n".join(message["content"]["traceback"]))

    start = time.perf_counter()
    reply = kc.execute_interactive(code, timeout=180, output_hook=hook)
    elapsed = time.perf_counter() - start
    if reply["content"]["status"] != "ok" or errors:
        raise RuntimeError(f"the kernel failed to run {code!r}:\n" + "\n".join(errors))
    return elapsed


def kernel_descendants(km: Any) -> list[Any]:
    """The processes the kernel started, and theirs (psutil processes)."""
    import psutil

    pid = km.provisioner.pid if km.provisioner is not None else None
    try:
        return psutil.Process(pid).children(recursive=True) if pid else []
    except psutil.NoSuchProcess:
        return []


def leftovers(processes: list[Any], seconds: float = 15.0) -> int:
    """How many of ``processes`` still run after ``seconds``; those are then killed."""
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=seconds)
    for process in alive:
        process.kill()
    return len(alive)


def one_fresh_kernel() -> dict[str, float]:
    """One kernel's timings, and how many of its processes outlived its shutdown."""
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        load = execute(kc, "%load_ext cellfleet\n")
        first = execute(kc, f"%%remote\n{TRIVIAL}\n")
        children = kernel_descendants(km)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    return {"load_ext": load, "first_remote": first, "total": load + first, "leftover_processes": leftovers(children)}


def bench(plan: Plan) -> dict[str, Any]:
    """``plan.kernels`` fresh kernels, one after another."""
    runs = []
    for i in range(plan.kernels):
        progress(f"2. fresh kernel {i + 1} of {plan.kernels}")
        runs.append(one_fresh_kernel())
    keys = ("load_ext", "first_remote", "total")
    return {
        "runs": runs,
        "cases": {key: summary([run[key] for run in runs]) for key in keys},
        "leftover_processes": sum(run["leftover_processes"] for run in runs),
    }


def report(result: dict[str, Any], plan: Plan) -> str:
    """The steps' medians and p90s, the target on the total, and the processes left over."""
    names = {"load_ext": "%load_ext cellfleet", "first_remote": "first %%remote `x = 1`", "total": "total"}
    rows = []
    for key, name in names.items():
        case = result["cases"][key]
        target, judged = ("<= 2.5 s", verdict(case["median"], 2.5)) if key == "total" else ("", "")
        rows.append([name, f"{case['median']:.2f}", f"{case['p90']:.2f}", target, judged])
    title = f"2. First %%remote in a fresh kernel, cluster start included (s; {plural(plan.kernels, 'fresh kernel')})"
    note = f"processes left running after kernel shutdown: {result['leftover_processes']}"
    return table(title, ["step", "median", "p90", "target", "result"], rows) + "\n" + note
