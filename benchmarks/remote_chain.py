"""Case 3 of bench_remote.py: three chained cells over a 1 GiB array, %%remote against local.

Per variant: untimed warm-ups (one per worker), then ``plan.chains`` timed repetitions; wall
time, bytes through the kernel process's TCP comms, the kernel's RSS growth, and the bytes the
workers hold afterwards.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from remote_meters import CommMeter, PeakRss
from timing import MiB, Plan, median, plural, progress, size, table, verdict

__all__ = ["CHAIN", "bench", "report"]

CHAIN = ("import numpy as np\na = np.ones(2**27)", "b = a * 2", "s = float(b.sum())")
CHAIN_SUM = 2.0 * 2**27
TRAFFIC = ("other_sent", "other_received", "client_sent", "client_received")
LEGEND = (
    "kernel <-> other processes: bytes sent + received on this process's TCP comms whose peer is another\n"
    "  process (the workers; the embedded scheduler runs inside the kernel process);\n"
    "client <-> scheduler: the Dask client's own traffic with the scheduler (in-process here; it would\n"
    "  cross the network with a remote scheduler). Both are medians; the target takes their sum, worst run.\n"
    "A worker's first touch of fresh memory is slow on this machine: hence the warm-up runs."
)


def run_remote(shell: Any) -> None:
    for cell in CHAIN:
        shell.run_cell_magic("remote", "", cell)


def run_local(shell: Any) -> None:
    for cell in CHAIN:
        shell.run_cell(cell).raise_error()


def cluster_bytes(client: Any) -> int:
    """Bytes of data the embedded cluster's workers hold."""
    return int(sum(client.nbytes(summary=True).values()))


def wait_released(client: Any, seconds: float = 60.0) -> None:
    """Wait until the workers have dropped the chain's data (bounded; each check asks the scheduler)."""
    deadline = time.monotonic() + seconds
    while cluster_bytes(client) > 64 * MiB and time.monotonic() < deadline:
        pass


def chain_once(shell: Any, runner: Callable[[Any], None], meter: CommMeter, session: Any) -> dict[str, float]:
    """One repetition of the three cells: its measures; then the variables are deleted and released."""
    gc.collect()
    meter.reset()
    with PeakRss() as memory:
        start = time.perf_counter()
        runner(shell)
        elapsed = time.perf_counter() - start
    traffic = meter.split(session.address)
    if shell.user_ns.get("s") != CHAIN_SUM:
        raise RuntimeError(f"the chain computed s = {shell.user_ns.get('s')!r}, expected {CHAIN_SUM}")
    kept = cluster_bytes(session.client)
    shell.run_cell("del a, b, s, np").raise_error()
    gc.collect()
    wait_released(session.client)
    growth, peak = memory.after - memory.before, memory.peak - memory.before
    return {"seconds": elapsed, "rss_growth": growth, "rss_peak_growth": peak, "kept_on_cluster": kept, **traffic}


def meter_control(meter: CommMeter, session: Any) -> dict[str, int]:
    """The meter's reading for a task whose 1 MiB result the client gathers: proves it counts."""
    import numpy as np

    meter.reset()
    value = session.client.submit(np.ones, MiB // 8, pure=False).result()
    assert value.nbytes == MiB
    return meter.split(session.address)


def bench(shell: Any, plan: Plan) -> dict[str, Any]:
    """Both variants' repetitions with the byte meter installed, and the meter's control reading."""
    from cellfleet.kernel import session as clusters

    session = clusters.connect(None)
    if not session.address.startswith("tcp://"):
        progress(f"the scheduler address {session.address} is not TCP: the byte meter sees nothing")
    # A worker's first touch of fresh memory is slow: one untimed repetition per worker.
    warmups = max(1, len(session.workers()))
    meter = CommMeter()
    meter.install()
    try:
        control = meter_control(meter, session)
        variants = repetitions(shell, plan, meter, session, warmups)
    finally:
        meter.uninstall()
    medians = {name: {k: median([r[k] for r in runs[warmups:]]) for k in runs[0]} for name, runs in variants.items()}
    return {"warmups": warmups, "runs": variants, "medians": medians, "control": control}


def repetitions(
    shell: Any, plan: Plan, meter: CommMeter, session: Any, warmups: int
) -> dict[str, list[dict[str, float]]]:
    """Each variant's repetitions in a block (the first ``warmups`` are not timed).

    Blocks, not alternation: the local variant's 2 GiB, allocated and freed between two
    remote repetitions, makes the workers' next allocation touch fresh memory again.
    """
    runners = {"%%remote (3 cells)": run_remote, "local (3 cells)": run_local}
    variants: dict[str, list[dict[str, float]]] = {}
    total = warmups + plan.chains
    for name, runner in runners.items():
        variants[name] = []
        for i in range(total):
            progress(f"3. {name}: repetition {i + 1} of {total} ({'warm-up' if i < warmups else 'timed'})")
            variants[name].append(chain_once(shell, runner, meter, session))
    return variants


def report(result: dict[str, Any], plan: Plan) -> str:
    """One column per variant, one row per measure (medians of the timed repetitions)."""
    warmups, names = result["warmups"], list(result["medians"])
    medians = [result["medians"][name] for name in names]
    runs = [result["runs"][name] for name in names]
    rows = [
        [f"wall s (median of {plan.chains})", *(f"{m['seconds']:.2f}" for m in medians)],
        ["wall s, each timed run", *(", ".join(f"{r['seconds']:.2f}" for r in rs[warmups:]) for rs in runs)],
        ["wall s, first (cold) warm-up run", *(f"{rs[0]['seconds']:.2f}" for rs in runs)],
        ["kernel <-> other processes", *(size(m["other_sent"] + m["other_received"]) for m in medians)],
        ["client <-> scheduler", *(size(m["client_sent"] + m["client_received"]) for m in medians)],
        ["kernel RSS growth", *(size(m["rss_growth"]) for m in medians)],
        ["kernel RSS peak growth", *(size(m["rss_peak_growth"]) for m in medians)],
        ["held on the cluster after the cells", *(size(m["kept_on_cluster"]) for m in medians)],
        [
            "target < 1 MiB through the kernel",
            *(chain_verdict(rs) if n.startswith("%%") else "" for n, rs in zip(names, runs, strict=True)),
        ],
    ]
    title = (
        f"3. Three chained cells over a 1 GiB array ({plural(plan.chains, 'timed repetition')} "
        f"after {plural(warmups, 'untimed warm-up')}, per variant)"
    )
    return table(title, ["measure", *names], rows) + "\n" + control_note(result["control"]) + "\n" + LEGEND


def control_note(control: dict[str, int]) -> str:
    return (
        "meter check: gathering one 1 MiB result read "
        f"{size(control['other_received'])} from other processes, "
        f"{size(control['client_received'])} client<-scheduler"
    )


def chain_verdict(runs: list[dict[str, float]]) -> str:
    """Judged on the repetition (warm-ups included) that moved the most bytes through the kernel."""
    worst = max(sum(run[key] for key in TRAFFIC) for run in runs)
    return f"{verdict(worst, MiB, strict=True)} (worst run {size(worst)})"
