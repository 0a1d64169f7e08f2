"""GPU benchmark: %%remote gpu on the embedded LocalCUDACluster vs raw Dask on the same cluster.

    python benchmarks/bench_gpu.py [--runs N]

Prints a markdown table of medians, p90s and ratios; prints "skipped: no GPU" without one.
"""

from __future__ import annotations

import argparse

from timing import elapsed, markdown_table, median, quantile, timed


def _noop() -> None:
    return None


def _row(name: str, samples: list[float], baseline: list[float] | None) -> list[str]:
    p50 = median(samples)
    ratio = f"{p50 / median(baseline):.2f}x" if baseline else "1.00x"
    return [name, f"{p50:.2f}", f"{quantile(samples, 0.9):.2f}", ratio]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    from cellfleet.kernel import session as clusters

    if clusters.gpu_count() == 0:
        print("skipped: no GPU")
        return
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "cellfleet")
    start_seconds = elapsed(lambda: shell.run_cell_magic("remote", "gpu --require-gpu", "x = 1"))
    client = clusters.connect(None).client
    raw = timed(lambda: client.submit(_noop, pure=False, resources={"GPU": 1}).result(), args.runs, warmup=10)
    remote = timed(lambda: shell.run_cell_magic("remote", "gpu", "x = 1"), args.runs, warmup=10)
    matmul = "import cupy as cp\na = cp.random.random((2048, 2048))\ns = float((a @ a).sum())"
    gpu_cell = timed(lambda: shell.run_cell_magic("remote", "gpu", matmul), max(args.runs // 10, 5), warmup=3)
    print(
        f"GPUs: {clusters.gpu_count()}; first %%remote gpu cell, LocalCUDACluster start included: {start_seconds:.2f} s"
    )
    rows = [
        _row("raw Dask submit(noop).result(), GPU=1", raw, None),
        _row("%%remote gpu `x = 1`", remote, raw),
        _row("%%remote gpu CuPy 2048² matmul + sum", gpu_cell, None),
    ]
    print(markdown_table(["case (ms)", "median", "p90", "vs raw Dask"], rows))
    clusters.close_all()


if __name__ == "__main__":
    main()
