"""Side-by-side benchmarks of a large notebook input: sent at wire speed, and sent once.

    python benchmarks/bench_data.py [--quick] [--mib N] [--json PATH]

In one in-process IPython shell (``%load_ext cellfleet``) on the embedded cluster, a NumPy
array of 256 MiB (``--mib``) of random, incompressible float64s is defined in the notebook:

1. first cell: the first `%%remote` cell that reads it (`s = float(a[:1].sum())`), the
   array's content changed before each sample (``a[0] += 1``: a new fingerprint, so the data is
   sent again; nothing is allocated anew), against
   - a plain loopback TCP socket moving the same bytes (a thread sends them with ``sendall``,
     this thread receives them into a buffer with ``recv_into``), one connection, reused;
   - raw Dask on the same cluster (the client Cellfleet uses): ``client.submit(f, a)``, and
     ``client.scatter(a)`` then ``client.submit(f, future)`` (scatter's defaults, and with
     ``direct=True`` as Cellfleet scatters), each on a changed array too.
   Target: the first cell ≤ 2x the loopback time.
2. again: the same cell with the input unchanged, against `%%remote x = 1`, alternated.
   Target: ≤ 20 ms more than `x = 1`.
3. fingerprint: ``cellfleet.kernel.inputs.content_print`` on the large input, and the whole
   ``pack`` of the cell's inputs, as a share of the first cell's time. Target ≤ 5 %.

Every figure is measured; nothing is simulated. Prints plain-text tables of medians, p90s and
ratios, and writes a JSON copy to benchmarks/results/data.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_remote import isolated_store, machine
from timing import MiB, Plan, progress, summary, table, timed, verdict

RESULTS = Path(__file__).resolve().parent / "results"
FULL = Plan(warmup=1, runs=10, kernels=0, chains=30)
QUICK = Plan(warmup=1, runs=3, kernels=0, chains=8)
"""``runs``: samples of each 256 MiB transfer; ``chains``: samples of the cheap cells of case 2."""
READ = "s = float(a[:1].sum())"
LOOPBACK = "loopback TCP socket (same bytes)"
CELL = "%%remote first cell"
TRIVIAL = "x = 1"


def first(x: Any) -> float:
    """The raw Dask task: what the cell computes. Defined in ``__main__`` (pickled by value)."""
    return float(x[:1].sum())


# ---------------------------------------------------------------- case 1: the transfers


class Loopback:
    """One loopback TCP connection: a thread sends ``data``'s bytes (``sendall``), the caller
    receives them into a buffer allocated once (``recv_into``)."""

    def __init__(self, data: Any) -> None:
        self.view = memoryview(data).cast("B")
        self.buffer = bytearray(self.view.nbytes)
        server = socket.create_server(("127.0.0.1", 0))
        self.sender = socket.create_connection(server.getsockname())
        self.receiver, _ = server.accept()
        server.close()
        self.go, self.stop = threading.Semaphore(0), threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self) -> None:
        while True:
            self.go.acquire()
            if self.stop.is_set():
                return
            self.sender.sendall(self.view)

    def __call__(self) -> None:
        into = memoryview(self.buffer)
        self.go.release()
        got = 0
        while got < len(into):
            got += self.receiver.recv_into(into[got:], len(into) - got)
        if into[:8] != self.view[:8]:
            raise RuntimeError("the loopback copy differs from the data sent")

    def close(self) -> None:
        self.stop.set()
        self.go.release()
        self.thread.join()
        self.sender.close()
        self.receiver.close()


def remote(shell: Any, cell: str) -> None:
    shell.run_cell_magic("remote", "", cell)


def transfer_cases(shell: Any, loopback: Loopback) -> dict[str, Callable[[], None]]:
    """Each way of moving the (changed) array to a worker and reading its first element there."""
    import cellfleet

    client = cellfleet.client()
    namespace = shell.user_ns

    def check(value: Any) -> None:
        if value != namespace["a"][0]:
            raise RuntimeError(f"the task computed {value!r}, expected {namespace['a'][0]!r}")

    def cell() -> None:
        remote(shell, READ)
        check(namespace["s"])

    def scatter(**how: Any) -> Callable[[], None]:
        def once() -> None:
            future = client.scatter(namespace["a"], **how)
            check(client.submit(first, future).result())
            future.release()

        return once

    return {
        LOOPBACK: loopback,
        CELL: cell,
        "raw Dask: client.submit(f, a)": lambda: check(client.submit(first, namespace["a"]).result()),
        "raw Dask: client.scatter(a) + submit": scatter(),
        "raw Dask: client.scatter(a, direct=True) + submit": scatter(direct=True),
    }


def transfers(shell: Any, plan: Plan, warmup: int) -> dict[str, list[float]]:
    """Rounds of every case, the array's content changed before each sample (``a[0] += 1``);
    the first ``warmup`` rounds untimed (a worker's first touch of fresh memory is slow)."""
    loopback = Loopback(shell.user_ns["a"])
    try:
        cases = transfer_cases(shell, loopback)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        total = warmup + plan.runs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "large object in the task graph": the point of that row
            for i in range(total):
                progress(f"1. transfers: round {i + 1} of {total} ({'warm-up' if i < warmup else 'timed'})")
                for name, action in cases.items():
                    shell.run_cell("a[0] += 1").raise_error()
                    gc.collect()
                    took = timed(action, 1, 0)
                    if i >= warmup:
                        samples[name] += took
    finally:
        loopback.close()
    return samples


# ---------------------------------------------------------------- cases 2 and 3


def again(shell: Any, plan: Plan) -> dict[str, list[float]]:
    """The same cell on the unchanged input, alternated with `x = 1`."""
    remote(shell, READ)  # sent now, if it was not
    samples: dict[str, list[float]] = {"%%remote x = 1": [], "same cell, input unchanged": []}
    progress(f"2. cell again, input unchanged, against x = 1: {plan.chains} samples each")
    for _ in range(2):  # warm-up
        remote(shell, TRIVIAL)
        remote(shell, READ)
    for _ in range(plan.chains):
        samples["%%remote x = 1"] += timed(lambda: remote(shell, TRIVIAL), 1, 0)
        samples["same cell, input unchanged"] += timed(lambda: remote(shell, READ), 1, 0)
    return samples


def fingerprint(shell: Any, plan: Plan) -> dict[str, list[float]]:
    """``content_print`` on the large input, and the whole ``pack`` of the cell's inputs (ms)."""
    from cellfleet.kernel.inputs import content_print, pack

    namespace = shell.user_ns
    packed = pack({"a"}, namespace, "")
    large = packed.large["a"]
    runs = max(plan.runs, 5)
    return {
        "content_print (xxh3 over the buffer)": timed(lambda: content_print(large.frozen), runs),
        "pack (pickle out of band + fingerprint)": timed(lambda: pack({"a"}, namespace, ""), runs),
    }


def bench(plan: Plan, mib: int) -> dict[str, Any]:
    from IPython.testing.globalipapp import start_ipython

    from cellfleet.kernel import session as clusters

    shell = start_ipython()
    shell.run_line_magic("load_ext", "cellfleet")
    try:
        progress("starting the embedded cluster")
        remote(shell, TRIVIAL)
        shell.run_cell(f"import numpy as np\na = np.random.default_rng(0).random({mib * MiB // 8})").raise_error()
        warmup = plan.warmup + len(clusters.connect(None).workers())
        moved = transfers(shell, plan, warmup)
        cheap = again(shell, plan)
        prints = fingerprint(shell, plan)
    finally:
        clusters.close_all()
    return {
        "mib": mib,
        "nbytes": mib * MiB,
        "warmup": warmup,
        "transfers": {name: summary(s) for name, s in moved.items()},
        "again": {name: summary(s) for name, s in cheap.items()},
        "fingerprint": {name: summary(s) for name, s in prints.items()},
    }


# ---------------------------------------------------------------- the report


def report_transfers(result: dict[str, Any], plan: Plan) -> str:
    cases = result["transfers"]
    base = cases[LOOPBACK]
    rows = []
    for name, case in cases.items():
        ratio = case["median"] / base["median"]
        speed = result["nbytes"] / MiB / (case["median"] / 1000)
        row = [name, f"{case['median']:.1f}", f"{case['p90']:.1f}", f"{speed:,.0f}", f"{ratio:.2f}x"]
        target = ("<= 2x loopback", verdict(ratio, 2.0)) if name == CELL else ("", "")
        rows.append([*row, *target])
    title = (
        f"1. The first cell reading a {result['mib']} MiB input, content changed each time "
        f"(ms; {plan.runs} rounds of every case, alternated, after {result['warmup']} untimed)"
    )
    return table(title, ["case", "median", "p90", "MiB/s", "vs loopback", "target", "result"], rows)


def report_again(result: dict[str, Any], plan: Plan) -> str:
    cases = result["again"]
    base = cases["%%remote x = 1"]
    rows = []
    for name, case in cases.items():
        extra = case["median"] - base["median"]
        row = [name, f"{case['median']:.1f}", f"{case['p90']:.1f}", f"{case['median'] / base['median']:.2f}x"]
        more = name != "%%remote x = 1"
        row += [f"{extra:+.1f}" if more else "", "<= +20 ms" if more else "", verdict(extra, 20) if more else ""]
        rows.append(row)
    title = f"2. The same cell again, input unchanged (ms; {plan.chains} samples each, alternated)"
    return table(title, ["cell", "median", "p90", "vs x = 1", "ms more", "target", "result"], rows)


def report_fingerprint(result: dict[str, Any]) -> str:
    first_ms = result["transfers"][CELL]["median"]
    rows = []
    for name, case in result["fingerprint"].items():
        share = case["median"] / first_ms
        target = ("<= 5 %", verdict(share, 0.05)) if name.startswith("content_print") else ("", "")
        rows.append([name, f"{case['median']:.1f}", f"{case['p90']:.1f}", f"{share * 100:.1f} %", *target])
    title = f"3. Fingerprinting the {result['mib']} MiB input (ms), as a share of the first cell's median"
    return table(title, ["step", "median", "p90", "of first cell", "target", "result"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--mib", type=int, default=256, help="the input's size in MiB (default 256)")
    parser.add_argument("--json", type=Path, default=RESULTS / "data.json", help="where to write the JSON copy")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    with isolated_store():
        result = bench(plan, args.mib)
    result |= {"machine": machine(), "quick": args.quick, "bench_seconds": time.perf_counter() - started}
    m = result["machine"]
    head = f"cellfleet {m['cellfleet']}, distributed {m['distributed']}, Python {m['python']}, {m['cpus']} CPUs"
    load = f"load average {os.getloadavg()[0]:.1f} at the end"
    body = [report_transfers(result, plan), report_again(result, plan), report_fingerprint(result)]
    print("\n\n".join([f"{head}, {load}", *body]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"\n(benchmark took {result['bench_seconds']:.0f} s; JSON copy: {args.json})")


if __name__ == "__main__":
    main()
