"""Resume from the failed cell: a retry's wall time against the failed first attempt's.

    python benchmarks/bench_resume.py [--quick] [--repeats N] [--sleep SECONDS]

The notebook has 12 cells: the parameters, ``%load_ext cellfleet``, a local cell making the
data, six ``%%remote`` cells that each sleep ``--sleep`` seconds (5 by default) on a worker,
a local summary, cell 11, which fails on the first attempt only (a marker file), and a local
``cellfleet.log``. Two ways to retry, each measured ``--repeats`` times in a fresh project:

- the scheduler: a job promoted with ``--retries 1 --retry-on all``, run by a real
  ``cellfleet scheduler``; the wall time of each attempt is its run's start to end in the
  store (the child process's Python start-up and the retry's back-off are outside both);
- ``cellfleet run`` and then ``cellfleet run --resume RUN``: each command's wall time.

Prints the medians and p90s of both attempts and their ratio (target: the retry ≤ 15 % of the
first attempt); writes benchmarks/results/resume.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from timing import elapsed, markdown_table, median, p90, progress, verdict

RESULTS = Path(__file__).parent / "results"
TARGET = 0.15


def notebook(folder: Path, sleep: float) -> Path:
    """The 12-cell notebook; ``ran.txt`` in ``folder`` gets a line per remote cell run."""
    ran, mark = str(folder / "ran.txt"), str(folder / "failed-once")
    remote = "%%remote\nimport time\ntime.sleep(sleep)\nopen({ran!r}, 'a').write('{name}\\n')\n{name} = {expr}"
    steps = [("a", "sum(data)"), ("b", "a * 2"), ("c", "b + a"), ("d", "c - 1"), ("e", "d * d"), ("f", "e % 97")]
    cells = [
        "%load_ext cellfleet",
        "data = list(range(10_000))",
        *(remote.format(ran=ran, name=name, expr=expr) for name, expr in steps),
        "summary = {'a': a, 'f': f}\nprint(summary)",
        f"import os\nif not os.path.exists({mark!r}):\n    open({mark!r}, 'w').close()\n"
        "    raise RuntimeError('cell 11 fails on the first attempt only')",
        "import cellfleet\ncellfleet.log(f=f)",
    ]
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell(f"sleep = {sleep!r}")
    parameters.metadata["tags"] = ["parameters"]
    book.cells = [parameters, *(nbformat.v4.new_code_cell(source) for source in cells)]
    assert len(book.cells) == 12
    path = folder / "resume.ipynb"
    nbformat.write(book, path)
    return path


def _project() -> tuple[Path, str, dict[str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-resume-"))
    env = {**os.environ, "CELLFLEET_ROOT": str(folder), "CELLFLEET_WORKERS": "2", "CELLFLEET_STATUS": "off"}
    env.pop("CELLFLEET_SCHEDULER", None)
    return folder, f"sqlite:///{folder / '.cellfleet' / 'cellfleet.db'}", env


def _cli(url: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cellfleet.cli", "--db", url, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def _remote_runs(folder: Path) -> int:
    return len((folder / "ran.txt").read_text().split())


def by_scheduler(sleep: float) -> tuple[float, float, int]:
    """One job whose first attempt fails at cell 11, retried by a real scheduler: both attempts'
    wall times (start to end, from the store) and how many remote cells ran in all."""
    from cellfleet.store.database import Store
    from cellfleet.store.jobs import JobStore

    folder, url, env = _project()
    promoted = _cli(url, env, "promote", str(notebook(folder, sleep)), "--name", "resume", "--retries", "1",
                    "--retry-on", "all")  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr
    assert _cli(url, env, "jobs", "run-now", "resume").returncode == 0
    command = [sys.executable, "-m", "cellfleet.cli", "--db", url, "scheduler", "--poll", "0.2"]
    scheduler = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jobs = JobStore(Store(url))
    job = jobs.get_job("resume")
    try:
        while not any(run["status"] == "succeeded" for run in jobs.job_runs(job["id"])):
            time.sleep(0.5)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(60)
    first, retry = sorted(jobs.job_runs(job["id"]), key=lambda run: run["attempt"])
    assert first["status"] == "failed", first["error"]
    return first["ended"] - first["started"], retry["ended"] - retry["started"], _remote_runs(folder)


def by_cellfleet_run(sleep: float) -> tuple[float, float, int]:
    """``cellfleet run`` (fails at cell 11), then ``cellfleet run --resume RUN``: each command's
    wall time, and how many remote cells ran in all."""
    folder, url, env = _project()
    path = notebook(folder, sleep)
    first_s = elapsed(lambda: _cli(url, env, "run", str(path)))
    from cellfleet.store.database import Store

    (failed,) = [run for run in Store(url).list_runs(kind="production", status="failed") if not run["parent_id"]]
    resumed: list[subprocess.CompletedProcess[str]] = []
    retry_s = elapsed(lambda: resumed.append(_cli(url, env, "run", str(path), "--resume", failed["id"])))
    assert resumed[0].returncode == 0, resumed[0].stderr
    return first_s, retry_s, _remote_runs(folder)


def _rows(name: str, samples: list[tuple[float, float, int]]) -> list[list[str]]:
    first = [s[0] for s in samples]
    retry = [s[1] for s in samples]
    ratio = median(retry) / median(first)
    ran = sorted({s[2] for s in samples})
    return [
        [f"{name}: first attempt, fails at cell 11 (s)", f"{median(first):.2f}", f"{p90(first):.2f}", "1.00",
         ""],
        [f"{name}: the retry (s); remote cells run in all: {ran}", f"{median(retry):.2f}", f"{p90(retry):.2f}",
         f"{ratio:.3f}", f"≤ {TARGET:.2f}: {verdict(ratio, TARGET)}"],
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of each")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=5.0, help="seconds each remote cell sleeps (default 5)")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    results: dict[str, list[tuple[float, float, int]]] = {"scheduler": [], "cellfleet run": []}
    for index in range(repeats):
        progress(f"repeat {index + 1} of {repeats}: the scheduler's retry")
        results["scheduler"].append(by_scheduler(args.sleep))
        progress(f"repeat {index + 1} of {repeats}: cellfleet run, then --resume")
        results["cellfleet run"].append(by_cellfleet_run(args.sleep))
    rows = [row for name, samples in results.items() for row in _rows(name, samples)]
    print(f"12-cell notebook, six %%remote cells of {args.sleep:g} s each, {repeats} repeats")
    print(markdown_table(["benchmark", "median", "p90", "ratio", "target"], rows))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "resume.json").write_text(json.dumps({"sleep": args.sleep, **results}, indent=2))


if __name__ == "__main__":
    main()
