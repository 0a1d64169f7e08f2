"""Side-by-side benchmarks of %%remote against raw Dask and ipyparallel's %%px.

    python benchmarks/bench_remote.py [--quick] [--json PATH]

1. a trivial cell `x = 1`: %%remote, raw Dask on the same embedded cluster, raw Dask on a
   default LocalCluster, and %%px on 2 ipyparallel engines;
2. the first %%remote in a fresh Jupyter kernel, cluster start included;
3. three chained cells over a 1 GiB array, remote against local: wall time, bytes through
   the kernel process's TCP comms, and the kernel's RSS growth;
4. (with a GPU) a trivial cell on the embedded LocalCUDACluster against raw Dask on it.

Prints plain-text tables (median, p90, ratios, targets) and writes a JSON copy to
benchmarks/results/remote.json. Every figure is measured; nothing is simulated.
"""

from __future__ import annotations

import argparse
import contextvars
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "remote.json"
MiB = 2**20
GiB = 2**30
TRIVIAL = "x = 1"
CHAIN = ("import numpy as np\na = np.ones(2**27)", "b = a * 2", "s = float(b.sum())")
CHAIN_SUM = 2.0 * 2**27


@dataclass(frozen=True)
class Plan:
    """How many repetitions each benchmark makes."""

    warmup: int
    runs: int
    kernels: int
    chains: int


FULL = Plan(warmup=20, runs=300, kernels=3, chains=3)
QUICK = Plan(warmup=5, runs=40, kernels=1, chains=1)


def noop() -> None:
    return None


# ---------------------------------------------------------------- statistics and tables


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10, method="inclusive")[-1] if len(samples) > 1 else samples[0]


def summary(samples: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(samples), "p90": p90(samples), "n": len(samples), "samples": samples}


def timed(action: Callable[[], object], plan: Plan) -> list[float]:
    """Milliseconds per call of ``action``, after ``plan.warmup`` untimed calls."""
    for _ in range(plan.warmup):
        action()
    samples = []
    for _ in range(plan.runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [title, align(headers, widths), "  ".join("-" * width for width in widths)]
    lines += [align(row, widths) for row in rows]
    return "\n".join(lines)


def align(cells: list[str], widths: list[int]) -> str:
    first = cells[0].ljust(widths[0])
    rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
    return "  ".join([first, *rest]).rstrip()


def verdict(value: float, limit: float, strict: bool = False) -> str:
    return "met" if (value < limit if strict else value <= limit) else "NOT met"


def size(nbytes: float) -> str:
    if abs(nbytes) >= GiB:
        return f"{nbytes / GiB:.2f} GiB"
    if abs(nbytes) >= MiB:
        return f"{nbytes / MiB:.1f} MiB"
    return f"{nbytes / 1024:.1f} KiB"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- 1. trivial cell


def trivial_remote(shell: Any, plan: Plan) -> tuple[list[float], float]:
    """%%remote `x = 1`; also the seconds of the very first one (embedded cluster start)."""
    start = time.perf_counter()
    shell.run_cell_magic("remote", "", TRIVIAL)
    first = time.perf_counter() - start
    return timed(lambda: shell.run_cell_magic("remote", "", TRIVIAL), plan), first


def trivial_raw_same_cluster(plan: Plan) -> list[float]:
    import cellfleet

    client = cellfleet.client()
    return timed(lambda: client.submit(noop, pure=False).result(), plan)


def trivial_raw_default_cluster(plan: Plan) -> list[float]:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        return timed(lambda: client.submit(noop, pure=False).result(), plan)


def trivial_px(shell: Any, plan: Plan) -> list[float] | None:
    try:
        import ipyparallel
    except ImportError:
        progress("ipyparallel is not installed: %%px skipped")
        return None
    cluster = ipyparallel.Cluster(n=2)
    rc = cluster.start_and_connect_sync()
    try:
        rc.activate()
        return timed(lambda: shell.run_cell_magic("px", "", TRIVIAL), plan)
    finally:
        rc.close()
        cluster.stop_cluster_sync()


def bench_trivial(shell: Any, plan: Plan) -> dict[str, Any]:
    progress("1. trivial cell: %%remote")
    remote, first = trivial_remote(shell, plan)
    progress("1. trivial cell: raw Dask on the same cluster")
    cases = {"%%remote": remote, "raw Dask, same cluster": trivial_raw_same_cluster(plan)}
    progress("1. trivial cell: raw Dask on a default LocalCluster")
    cases["raw Dask, default LocalCluster"] = trivial_raw_default_cluster(plan)
    progress("1. trivial cell: ipyparallel %%px")
    px = trivial_px(shell, plan)
    if px is not None:
        cases["ipyparallel %%px"] = px
    return {"first_remote_s": first, "cases": {name: summary(s) for name, s in cases.items()}}


def trivial_tables(result: dict[str, Any], plan: Plan) -> str:
    cases = result["cases"]
    rows = [[name, f"{c['median']:.2f}", f"{c['p90']:.2f}"] for name, c in cases.items()]
    title = f"1. Trivial cell `x = 1` (ms; {plan.runs} timed runs after {plan.warmup} warm-up)"
    out = [table(title, ["case", "median", "p90"], rows)]
    out.append(table("", ["%%remote against", "p50 ratio", "p90 ratio", "target", "p50 result"], ratio_rows(cases)))
    out.append(f"first %%remote in this process (embedded cluster start included): {result['first_remote_s']:.2f} s")
    return "\n".join(out)


def ratio_rows(cases: dict[str, Any]) -> list[list[str]]:
    remote = cases["%%remote"]
    targets = {
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


# ---------------------------------------------------------------- 2. first cell in a fresh kernel


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


def bench_fresh_kernel(plan: Plan) -> dict[str, Any]:
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


def fresh_kernel_table(result: dict[str, Any], plan: Plan) -> str:
    names = {"load_ext": "%load_ext cellfleet", "first_remote": "first %%remote `x = 1`", "total": "total"}
    rows = []
    for key, name in names.items():
        case = result["cases"][key]
        target, judged = ("<= 2.5 s", verdict(case["median"], 2.5)) if key == "total" else ("", "")
        rows.append([name, f"{case['median']:.2f}", f"{case['p90']:.2f}", target, judged])
    title = f"2. First %%remote in a fresh kernel, cluster start included (s; {plural(plan.kernels, 'fresh kernel')})"
    note = f"processes left running after kernel shutdown: {result['leftover_processes']}"
    return table(title, ["step", "median", "p90", "target", "result"], rows) + "\n" + note


# ---------------------------------------------------------------- 3. chained cells over 1 GiB


_reading: contextvars.ContextVar[Any] = contextvars.ContextVar("bench_reading_comm", default=None)


class CommMeter:
    """Counts the bytes every TCP comm of this process sends and receives, per comm.

    It wraps ``distributed.comm.tcp.TCP.write`` (which returns the bytes it queued) and the
    payload reads of ``TCP.read`` (``read_bytes_rw``, plus the 8-byte length header); a
    context variable tells the read wrapper which comm is reading.
    """

    HEADER = 8

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        self._lock = threading.Lock()
        self._originals: dict[str, Any] = {}

    def add(self, comm: Any, sent: int = 0, received: int = 0) -> None:
        with self._lock:
            entry = self.counts[(comm.local_address, comm.peer_address)]
            entry[0] += sent
            entry[1] += received

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def install(self) -> None:
        from distributed.comm import tcp

        self._originals = {"write": tcp.TCP.write, "read": tcp.TCP.read, "read_bytes_rw": tcp.read_bytes_rw}
        tcp.TCP.write = self._wrap_write(tcp.TCP.write)
        tcp.TCP.read = self._wrap_read(tcp.TCP.read)
        tcp.read_bytes_rw = self._wrap_read_bytes(tcp.read_bytes_rw)

    def uninstall(self) -> None:
        from distributed.comm import tcp

        tcp.TCP.write = self._originals["write"]
        tcp.TCP.read = self._originals["read"]
        tcp.read_bytes_rw = self._originals["read_bytes_rw"]

    def _wrap_write(self, original: Any) -> Any:
        async def write(comm: Any, *args: Any, **kwargs: Any) -> Any:
            nbytes = await original(comm, *args, **kwargs)
            self.add(comm, sent=int(nbytes))
            return nbytes

        return write

    def _wrap_read(self, original: Any) -> Any:
        async def read(comm: Any, *args: Any, **kwargs: Any) -> Any:
            token = _reading.set(comm)
            try:
                message = await original(comm, *args, **kwargs)
            finally:
                _reading.reset(token)
            self.add(comm, received=self.HEADER)
            return message

        return read

    def _wrap_read_bytes(self, original: Any) -> Any:
        async def read_bytes_rw(stream: Any, n: int) -> Any:
            buffer = await original(stream, n)
            comm = _reading.get()
            if comm is not None:
                self.add(comm, received=n)
            return buffer

        return read_bytes_rw

    def split(self, scheduler_address: str) -> dict[str, int]:
        """Bytes to and from other processes, and the client's own traffic with the scheduler."""
        with self._lock:
            counts = {key: list(value) for key, value in self.counts.items()}
        own = own_addresses() | {local for local, _ in counts}
        out = dict.fromkeys(("other_sent", "other_received", "client_sent", "client_received"), 0)
        for (_, peer), (sent, received) in counts.items():
            if peer not in own:
                out["other_sent"] += sent
                out["other_received"] += received
            if peer == scheduler_address:
                out["client_sent"] += sent
                out["client_received"] += received
        return out


def own_addresses() -> set[str]:
    """The TCP addresses of this process's own sockets (listening and connected)."""
    import psutil

    return {f"tcp://{c.laddr.ip}:{c.laddr.port}" for c in psutil.Process().net_connections(kind="tcp") if c.laddr}


def rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


class PeakRss:
    """The kernel's RSS before, at the end, and at its highest (sampled every 5 ms) in a block."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.before = self.after = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss())

    def __enter__(self) -> PeakRss:
        self.before = self.peak = rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = rss()
        self.peak = max(self.peak, self.after)


def run_chain_remote(shell: Any) -> None:
    for cell in CHAIN:
        shell.run_cell_magic("remote", "", cell)


def run_chain_local(shell: Any) -> None:
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


def bench_chain(shell: Any, plan: Plan) -> dict[str, Any]:
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
        variants = chain_repetitions(shell, plan, meter, session, warmups)
    finally:
        meter.uninstall()
    medians = {
        name: {k: statistics.median(r[k] for r in runs[warmups:]) for k in runs[0]} for name, runs in variants.items()
    }
    return {"warmups": warmups, "runs": variants, "medians": medians, "control": control}


def chain_repetitions(
    shell: Any, plan: Plan, meter: CommMeter, session: Any, warmups: int
) -> dict[str, list[dict[str, float]]]:
    """Each variant's repetitions in a block (the first ``warmups`` are not timed).

    Blocks, not alternation: the local variant's 2 GiB, allocated and freed between two
    remote repetitions, makes the workers' next allocation touch fresh memory again.
    """
    runners = {"%%remote (3 cells)": run_chain_remote, "local (3 cells)": run_chain_local}
    variants: dict[str, list[dict[str, float]]] = {}
    total = warmups + plan.chains
    for name, runner in runners.items():
        variants[name] = []
        for i in range(total):
            progress(f"3. {name}: repetition {i + 1} of {total} ({'warm-up' if i < warmups else 'timed'})")
            variants[name].append(chain_once(shell, runner, meter, session))
    return variants


def chain_table(result: dict[str, Any], plan: Plan) -> str:
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
    control = result["control"]
    note = (
        "meter check: gathering one 1 MiB result read "
        f"{size(control['other_received'])} from other processes, "
        f"{size(control['client_received'])} client<-scheduler"
    )
    return table(title, ["measure", *names], rows) + "\n" + note + "\n" + CHAIN_LEGEND


def chain_verdict(runs: list[dict[str, float]]) -> str:
    """Judged on the repetition (warm-ups included) that moved the most bytes through the kernel."""
    keys = ("other_sent", "other_received", "client_sent", "client_received")
    worst = max(sum(run[key] for key in keys) for run in runs)
    return f"{verdict(worst, MiB, strict=True)} (worst run {size(worst)})"


CHAIN_LEGEND = (
    "kernel <-> other processes: bytes sent + received on this process's TCP comms whose peer is another\n"
    "  process (the workers; the embedded scheduler runs inside the kernel process);\n"
    "client <-> scheduler: the Dask client's own traffic with the scheduler (in-process here; it would\n"
    "  cross the network with a remote scheduler). Both are medians; the target takes their sum, worst run.\n"
    "A worker's first touch of fresh memory is slow on this machine: hence the warm-up runs."
)


# ---------------------------------------------------------------- 4. GPU


def bench_gpu(shell: Any, plan: Plan) -> dict[str, Any] | None:
    from cellfleet.kernel import session as clusters

    if clusters.gpu_count() == 0:
        return None
    progress("4. GPU: %%remote gpu and raw Dask with GPU=1")
    session = clusters.connect(None)
    remote = timed(lambda: shell.run_cell_magic("remote", "gpu", TRIVIAL), plan)
    raw = timed(lambda: session.client.submit(noop, pure=False, resources={"GPU": 1}).result(), plan)
    cases = {"%%remote gpu": summary(remote), "raw Dask, same cluster, GPU=1": summary(raw)}
    return {"gpus": clusters.gpu_count(), "cluster": type(session.cluster).__name__, "cases": cases}


def gpu_table(result: dict[str, Any] | None, plan: Plan) -> str:
    if result is None:
        return "4. GPU: skipped: no GPU"
    cases = result["cases"]
    rows = [[name, f"{c['median']:.2f}", f"{c['p90']:.2f}"] for name, c in cases.items()]
    remote, raw = cases["%%remote gpu"], cases["raw Dask, same cluster, GPU=1"]
    ratio = remote["median"] / raw["median"]
    rows.append(["%%remote gpu / raw Dask", f"{ratio:.2f}x", f"{remote['p90'] / raw['p90']:.2f}x"])
    title = f"4. GPU: trivial cell on the embedded {result['cluster']} ({result['gpus']} GPUs; ms; {plan.runs} runs)"
    return table(title, ["case", "median", "p90"], rows) + f"\ntarget p50 <= 1.2x raw Dask: {verdict(ratio, 1.2)}"


# ---------------------------------------------------------------- running it all


def machine() -> dict[str, Any]:
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


def run_all(plan: Plan) -> dict[str, Any]:
    from IPython.testing.globalipapp import start_ipython

    from cellfleet.kernel import session as clusters

    results: dict[str, Any] = {"machine": machine(), "plan": asdict(plan)}
    results["fresh_kernel"] = bench_fresh_kernel(plan)  # first, while nothing else runs here
    shell = start_ipython()
    shell.run_line_magic("load_ext", "cellfleet")
    try:
        results["trivial"] = bench_trivial(shell, plan)
        results["chain"] = bench_chain(shell, plan)
        results["gpu"] = bench_gpu(shell, plan)
    finally:
        clusters.close_all()
    return results


def report(results: dict[str, Any], plan: Plan) -> str:
    m = results["machine"]
    head = (
        f"cellfleet {m['cellfleet']}, distributed {m['distributed']}, Python {m['python']}, "
        f"{m['cpus']} CPUs, {m['gpus']} GPUs"
    )
    parts = [
        head,
        trivial_tables(results["trivial"], plan),
        fresh_kernel_table(results["fresh_kernel"], plan),
        chain_table(results["chain"], plan),
        gpu_table(results["gpu"], plan),
    ]
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the JSON copy (default {RESULTS})")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    with isolated_store():
        results = run_all(plan)
    results["quick"] = args.quick
    results["bench_seconds"] = time.perf_counter() - started
    print(report(results, plan))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"\n(benchmark took {results['bench_seconds']:.0f} s; JSON copy: {args.json})")


if __name__ == "__main__":
    main()
