"""Three chained `%%remote` cells over a Parquet dataset 3x the workers' memory, against plain Dask.

    python benchmarks/bench_bigdata.py [--quick] [--workers N] [--limit-mib N] [--factor F] [--json PATH]

A Parquet dataset (pandas + pyarrow, one file per partition of 8 MiB in memory: ``id``,
``key`` (10,000 groups), ``x``, ``y``) whose in-memory size is ``--factor`` (3) times the
workers' total memory limit is written to a temporary folder. The embedded cluster starts with
``CELLFLEET_WORKERS`` (2) workers of ``CELLFLEET_MEMORY_LIMIT`` (512 MiB) each, in a throwaway
project root (``CELLFLEET_ROOT``), so the workers spill to its ``.cellfleet/spill``. Then, in
one in-process IPython shell, alternated, each repeated:

- %%remote: three cells, each waiting for the last one's persisted data on the workers:
  ``read_parquet``, a filter and a derived column, ``.persist()``; a groupby aggregation,
  ``.persist()``; a small ``.compute()`` (the 5 largest group sums), the only data that comes
  back to the notebook;
- plain Dask: the same three steps written in the kernel on the same cluster, on the client
  Cellfleet uses (``.persist(scheduler=client)`` twice, then ``.compute(scheduler=client)``);
- plain Dask, wait() each step: the same, with ``distributed.wait`` after each persist, as a
  remote cell waits for what it persisted before it ends (the control for that difference).

Reported: wall time of the three steps (target: %%remote ≤ 1.2x plain Dask), the bytes through
the kernel process's TCP comms (``remote_meters.CommMeter``, which wraps distributed's TCP
comm; target < 1 MiB on the kernel's own data paths), what the workers spilled, and whether
any worker died. Every figure is measured; nothing is simulated. JSON copy:
benchmarks/results/bigdata.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_remote import isolated_store, machine
from remote_meters import CommMeter
from timing import MiB, median, plural, progress, size, table, verdict

RESULTS = Path(__file__).resolve().parent / "results"
ROWS = 2**18
"""Rows per file: 4 columns of 8 bytes, 8 MiB in memory."""
GROUPS = 10_000
CELLS = (
    "import dask.dataframe as dd\n"
    "df = dd.read_parquet(PATH)\n"
    "df = df[df.x > 0.5]\n"
    "df = df.assign(z=df.x * df.y).persist()",
    "g = df.groupby('key').agg({'z': 'sum', 'x': 'count'}).persist()",
    "top = g.z.nlargest(5).compute()",
)
REMOTE, PLAIN, SETTLED = "%%remote (3 cells)", "plain Dask in the kernel", "plain Dask, wait() each step"


# ---------------------------------------------------------------- the data and the cluster


def write_dataset(folder: Path, nbytes: int) -> dict[str, Any]:
    """Parquet files of :data:`ROWS` rows each, ``nbytes`` in memory in all; returns what was written."""
    import numpy as np
    import pandas as pd

    folder.mkdir(parents=True)
    files = max(1, round(nbytes / (ROWS * 32)))
    for i in range(files):
        if i % 50 == 0:
            progress(f"writing the dataset: file {i + 1} of {files}")
        rng = np.random.default_rng(i)
        frame = pd.DataFrame(
            {
                "id": np.arange(i * ROWS, (i + 1) * ROWS),
                "key": rng.integers(0, GROUPS, ROWS),
                "x": rng.random(ROWS),
                "y": rng.random(ROWS),
            }
        )
        frame.to_parquet(folder / f"part-{i:05d}.parquet", index=False)
    on_disk = sum(path.stat().st_size for path in folder.iterdir())
    return {"files": files, "in_memory": files * ROWS * 32, "on_disk": on_disk, "rows": files * ROWS}


def spill_state(dask_worker: Any) -> dict[str, int]:
    """What a worker holds in memory and on disk, and the bytes it has spilled (``sizeof``)."""
    data = dask_worker.data
    slow = getattr(data, "slow", {})
    spilled = getattr(data, "spilled_total", None)
    return {
        "in_memory": len(getattr(data, "fast", data)),
        "on_disk": len(slow),
        "spilled_bytes": int(spilled[0]) if spilled is not None else 0,
        "memory_limit": int(dask_worker.memory_manager.memory_limit or 0),
    }


def warm_imports() -> None:
    import dask.dataframe  # noqa: F401
    import pyarrow.parquet  # noqa: F401


def du(folder: Path) -> int:
    """Bytes of the files under ``folder`` (a file the workers remove meanwhile counts 0)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except FileNotFoundError:
            continue
    return total


# ---------------------------------------------------------------- the two variants


def run_remote(shell: Any, path: str, steps: list[float]) -> Any:
    shell.user_ns["PATH"] = path
    for cell in CELLS:
        start = time.perf_counter()
        shell.run_cell_magic("remote", "", cell)
        steps.append(time.perf_counter() - start)
    return shell.user_ns["top"], None


def run_plain(client: Any, path: str, steps: list[float], settle: bool = False) -> Any:
    """The same steps in the kernel; ``settle``: waiting for each persisted collection, as a
    remote cell does before it ends. ``.persist(scheduler=client)``, not ``client.persist(df)``:
    with Dask 2026.8 the latter, on a groupby aggregation of a persisted frame, keeps one of the
    aggregation's output partitions (a wrong result); the method lowers the expression first."""
    import dask.dataframe as dd
    from distributed import wait

    start = time.perf_counter()
    df = dd.read_parquet(path)
    df = df[df.x > 0.5]
    df = df.assign(z=df.x * df.y).persist(scheduler=client)
    if settle:
        with client.as_current():
            wait(df)
    steps.append(time.perf_counter() - start)
    g = df.groupby("key").agg({"z": "sum", "x": "count"}).persist(scheduler=client)
    if settle:
        with client.as_current():
            wait(g)
    steps.append(time.perf_counter() - start - sum(steps))
    top = g.z.nlargest(5).compute(scheduler=client)
    steps.append(time.perf_counter() - start - sum(steps))
    return top, (df, g)  # held until the spill is measured, as the notebook's variables are


def release_remote(shell: Any) -> None:
    shell.run_cell("del df, g, top, dd").raise_error()


def wait_released(client: Any, seconds: float = 120.0) -> None:
    """Wait until the workers hold (almost) nothing (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        held = client.run(lambda dask_worker: len(dask_worker.data))
        if sum(held.values()) == 0:
            return
        time.sleep(0.2)
    progress(f"the workers still hold data after {seconds:.0f} s: {held}")


def traffic(meter: CommMeter, scheduler: str) -> dict[str, int]:
    """The kernel process's TCP bytes, by path.

    ``client``: the kernel's Dask client with the (in-process) scheduler; ``opened``:
    connections this process opened to the workers (the client's direct transfers, the
    scheduler's requests to them); ``accepted``: connections the workers opened to the
    embedded scheduler (task messages, heartbeats, graphs a cell submits from its worker,
    the cells' events): control traffic, which a remote scheduler would carry instead.
    """
    from remote_meters import own_addresses

    with meter._lock:
        counts = {key: sum(value) for key, value in meter.counts.items()}
    own = own_addresses() | {local for local, _ in counts}
    out = {"client": 0, "opened": 0, "accepted": 0}
    for (local, peer), nbytes in counts.items():
        if peer == scheduler:
            out["client"] += nbytes
        elif peer not in own:
            out["accepted" if local == scheduler else "opened"] += nbytes
    return out


def once(
    name: str, action: Callable[[list[float]], Any], meter: CommMeter, session: Any, spill: Path
) -> dict[str, Any]:
    """One run of a variant: wall time, traffic, spill, the workers before and after."""
    before = set(session.workers())
    gc.collect()
    meter.reset()
    start = time.perf_counter()
    error, steps, kept = None, [], None
    try:
        top, kept = action(steps)
    except Exception as failed:  # reported: a pipeline that cannot complete is a result
        top, error = None, f"{type(failed).__name__}: {failed}"
    seconds = time.perf_counter() - start
    moved = traffic(meter, session.address)
    workers = session.client.run(spill_state)
    after = set(session.workers())
    del kept
    result = {
        "seconds": seconds,
        "steps": steps,
        "error": error,
        "top": [float(v) for v in top.to_list()] if top is not None else None,
        "traffic": moved,
        "spilled_keys": sum(w["on_disk"] for w in workers.values()),
        "spilled_bytes": sum(w["spilled_bytes"] for w in workers.values()),
        "spill_folder": du(spill),
        "workers_lost": len(before - after),
        "memory_limits": sorted(w["memory_limit"] for w in workers.values()),
    }
    each = ", ".join(f"{step:.1f}" for step in steps)
    progress(f"{name}: {seconds:.1f} s ({each}), {error or 'done'}, spilled {size(result['spilled_bytes'])}")
    return result


def bench(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from IPython.testing.globalipapp import start_ipython

    from cellfleet.config import spill_directory
    from cellfleet.kernel import session as clusters

    limit = args.limit_mib * MiB
    os.environ |= {"CELLFLEET_WORKERS": str(args.workers), "CELLFLEET_MEMORY_LIMIT": str(limit)}
    data = folder / "data"
    dataset = write_dataset(data, int(args.factor * args.workers * limit))
    shell = start_ipython()
    shell.run_line_magic("load_ext", "cellfleet")
    meter = CommMeter()
    runs: dict[str, list[dict[str, Any]]] = {REMOTE: [], PLAIN: [], SETTLED: []}
    try:
        progress("starting the embedded cluster")
        shell.run_cell_magic("remote", "", "x = 1")
        session = clusters.connect(None)
        session.client.run(warm_imports)  # both variants' workers read Parquet with these
        meter.install()
        variants = {
            REMOTE: (lambda steps: run_remote(shell, str(data), steps), lambda: release_remote(shell)),
            PLAIN: (lambda steps: run_plain(session.client, str(data), steps), lambda: None),
            SETTLED: (lambda steps: run_plain(session.client, str(data), steps, settle=True), lambda: None),
        }
        for i in range(args.repeats):
            for name, (action, release) in variants.items():
                progress(f"{name}: run {i + 1} of {args.repeats}")
                runs[name].append(once(name, action, meter, session, spill_directory()))
                if runs[name][-1]["error"] is None:
                    release()
                gc.collect()
                wait_released(session.client)
    finally:
        meter.uninstall()
        clusters.close_all()
    return {"dataset": dataset, "workers": args.workers, "limit": limit, "factor": args.factor, "runs": runs}


# ---------------------------------------------------------------- the report


def report(result: dict[str, Any]) -> str:
    names = list(result["runs"])
    runs = [result["runs"][name] for name in names]
    ok = [[r for r in rs if r["error"] is None] for rs in runs]
    seconds = [median([r["seconds"] for r in rs]) if rs else float("nan") for rs in ok]
    kernel_paths = [[r["traffic"]["client"] + r["traffic"]["opened"] for r in rs] for rs in runs]
    rows = [
        ["completed", *(f"{len(k)} of {len(rs)}" for k, rs in zip(ok, runs, strict=True))],
        [f"wall s (median of {len(runs[0])})", *(f"{s:.1f}" for s in seconds)],
        ["wall s, each run", *(", ".join(f"{r['seconds']:.1f}" for r in rs) for rs in runs)],
        ["vs plain Dask", *(f"{s / seconds[1]:.2f}x" for s in seconds)],
        ["seconds per step (median)", *(steps_cell(rs) for rs in ok)],
        ["kernel client <-> scheduler (worst)", *(size(max(r["traffic"]["client"] for r in rs)) for rs in runs)],
        ["kernel -> workers, opened here (worst)", *(size(max(r["traffic"]["opened"] for r in rs)) for rs in runs)],
        ["workers -> embedded scheduler (worst)", *(size(max(r["traffic"]["accepted"] for r in rs)) for rs in runs)],
        ["spilled by the workers (median)", *(size(median([r["spilled_bytes"] for r in rs])) for rs in runs)],
        ["keys on disk after the run (median)", *(f"{median([r['spilled_keys'] for r in rs]):.0f}" for rs in runs)],
        ["workers lost", *(str(sum(r["workers_lost"] for r in rs)) for rs in runs)],
        ["same 5 largest sums in every run", *(str(same_top(result["runs"])) for _ in names)],
    ]
    worst = max(kernel_paths[0])
    blank = [""] * (len(names) - 1)
    targets = [
        ["target: wall <= 1.2x plain Dask", verdict(seconds[0] / seconds[1], 1.2), *blank],
        ["target: < 1 MiB through the kernel", f"{verdict(worst, MiB, strict=True)} ({size(worst)})", *blank],
    ]
    d = result["dataset"]
    limits = result["runs"][names[0]][0]["memory_limits"]
    title = (
        f"Three chained cells over {d['files']} Parquet files, {size(d['in_memory'])} in memory "
        f"({size(d['on_disk'])} on disk), {result['factor']:g}x the workers' memory: "
        f"{plural(result['workers'], 'worker')} of {size(result['limit'])} "
        f"(workers report {', '.join(size(v) for v in limits)}); runs alternated"
    )
    return table(title, ["measure", *names], rows + targets) + "\n" + LEGEND


LEGEND = (
    "kernel client <-> scheduler: the kernel's Dask client with the embedded scheduler (in the kernel process;\n"
    "  it would cross the network with a remote one); kernel -> workers: connections the kernel process opened to\n"
    "  the workers (direct gathers and scatters, the scheduler's requests); the target is on these two together,\n"
    "  worst run. workers -> embedded scheduler: connections the workers opened to the scheduler (task messages,\n"
    "  heartbeats, the graph a cell submits from its worker, the cells' events), shown apart: control traffic\n"
    "  that lives in the kernel process only because the embedded scheduler does."
)


def steps_cell(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return ""
    return " + ".join(f"{median([r['steps'][i] for r in runs]):.1f}" for i in range(len(runs[0]["steps"])))


def same_top(runs: dict[str, list[dict[str, Any]]]) -> bool:
    """Whether every run found the same 5 largest sums (to 1e-9: the sums' order varies)."""
    import math

    tops = [r["top"] for rs in runs.values() for r in rs if r["top"] is not None]
    return bool(tops) and all(all(map(math.isclose, top, tops[0])) for top in tops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each variant (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="embedded workers (default 2)")
    parser.add_argument("--limit-mib", type=int, default=512, help="each worker's memory limit, MiB (default 512)")
    parser.add_argument("--factor", type=float, default=3.0, help="the dataset's size over the workers' memory")
    parser.add_argument("--json", type=Path, default=RESULTS / "bigdata.json", help="where to write the JSON copy")
    args = parser.parse_args()
    args.repeats = 1 if args.quick else 2
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="cellfleet-bench-bigdata-"))
    try:
        with isolated_store():
            result = bench(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result |= {"machine": machine(), "quick": args.quick, "bench_seconds": time.perf_counter() - started}
    m = result["machine"]
    head = f"cellfleet {m['cellfleet']}, distributed {m['distributed']}, Python {m['python']}, {m['cpus']} CPUs"
    print(f"{head}, load average {os.getloadavg()[0]:.1f} at the end\n\n{report(result)}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"\n(benchmark took {result['bench_seconds']:.0f} s; JSON copy: {args.json})")


if __name__ == "__main__":
    main()
