"""Resume from the failed cell: a retry (and `cellfleet run --resume RUN`) restores the `%%remote`
cells the failed attempt finished instead of running them again. Real `cellfleet scheduler`
processes, real papermill kernels, real embedded Dask clusters; what ran is counted by a file each
remote cell appends to on its worker, never by timing."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from jobs_helpers import cellfleet, start_scheduler, stop, wait_for, write_notebook


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with its own store; every process the test starts shares it."""
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    monkeypatch.setenv("CELLFLEET_WORKERS", "1")  # each run's kernel starts a small embedded cluster
    monkeypatch.setenv("CELLFLEET_STATUS", "off")
    monkeypatch.delenv("CELLFLEET_SCHEDULER", raising=False)
    url = f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}"
    return tmp_path, url, Store(url)


def _flaky_notebook(folder: Path) -> Path:
    """Three remote cells (one keeps its result on the cluster), then a local cell that fails
    the first time only, then a remote cell after it; ``ran.txt`` gets a line per remote run."""
    ran, mark = folder / "ran.txt", folder / "failed-once"
    appends = f"open({str(ran)!r}, 'a').write('{{}}\\n')  # closed at once: nothing else for the cell to keep\n"
    cells = [
        "%load_ext cellfleet",
        "data = list(range(100))",
        "%%remote\n" + appends.format("total") + "total = sum(data)\nprint('total is', total)",
        "%%remote\n" + appends.format("doubled") + "doubled = total * scale",
        "%%remote --keep kept\n" + appends.format("kept") + "kept = [total] * 3",
        f"import os\nif not os.path.exists({str(mark)!r}):\n    open({str(mark)!r}, 'w').close()\n"
        "    raise RuntimeError('flaky storage')",
        "%%remote\n" + appends.format("after") + "final = doubled + 1",
        "import cellfleet\ncellfleet.log(final=final)",
    ]
    return write_notebook(folder / "flaky.ipynb", cells, parameters="scale = 2")


def _production(store: Store, status: str | None = None) -> list[dict]:
    """The production runs (not the cells they ran), oldest first."""
    found = store.list_runs(kind="production", status=status, limit=100)
    return sorted((run for run in found if not run["parent_id"]), key=lambda run: run["created"])


def _lines(folder: Path) -> list[str]:
    return (folder / "ran.txt").read_text().split()


def _cells(run: dict) -> list[dict]:
    return nbformat.read(run["output_path"], as_version=4).cells


def _restored(run: dict) -> list[dict]:
    """The output notebook's cells marked restored, with their metadata."""
    return [cell.metadata["cellfleet"]["restored_from"] for cell in _cells(run) if "cellfleet" in cell.metadata]


def _stderr(cell: dict) -> str:
    return "".join(out.get("text", "") for out in cell.get("outputs", []) if out.get("name") == "stderr")


def test_a_retry_restores_the_remote_cells_the_failed_attempt_finished(project):
    folder, url, store = project
    notebook = _flaky_notebook(folder)
    assert (
        cellfleet(url, "promote", str(notebook), "--name", "flaky", "--retries", "1", "--retry-on", "all").returncode
        == 0
    )
    assert cellfleet(url, "jobs", "run-now", "flaky").returncode == 0
    jobs = JobStore(store)
    job = jobs.get_job("flaky")
    scheduler = start_scheduler(url, folder / "scheduler.log")
    try:
        done = lambda: [r for r in jobs.job_runs(job["id"]) if r["status"] == "succeeded"]  # noqa: E731
        wait_for(done, seconds=240)
    finally:
        stop(scheduler)
    first, retry = sorted(jobs.job_runs(job["id"]), key=lambda run: run["attempt"])
    assert (first["attempt"], first["status"], retry["attempt"], retry["status"]) == (0, "failed", 1, "succeeded")
    assert retry["environment"]["resume_from"] == first["id"]
    # the first attempt ran its three remote cells; the retry ran only the kept one and the one after the failure
    assert _lines(folder) == ["total", "doubled", "kept", "kept", "after"]
    children = {run["cell_name"]: run for run in store.list_runs(limit=100) if run["parent_id"] == retry["id"]}
    originals = {run["cell_name"]: run for run in store.list_runs(limit=100) if run["parent_id"] == first["id"]}
    restored = {name for name, run in children.items() if run["cached_from"]}
    assert len(restored) == 2 and all(children[n]["cached_from"] == originals[n]["id"] for n in restored)
    assert store.final_metrics([retry["id"]])[retry["id"]] == {"final": 9901.0}
    marks = _restored(retry)
    assert marks == [{"attempt": 0, "run": first["id"]}] * 2
    texts = [_stderr(cell) for cell in _cells(retry) if "cellfleet" in cell.metadata]
    assert all(f"cellfleet: restored from attempt 0 (run {first['id']}), not run again" in t for t in texts)
    streams = ["".join(o.get("text", "") for o in cell.get("outputs", [])) for cell in _cells(retry)]
    assert any("total is 4950" in text for text in streams)  # the restored cell's own output is replayed


def test_cellfleet_run_resume_restores_a_failed_run_and_refuses_a_bad_run_id(project):
    folder, url, store = project
    notebook = _flaky_notebook(folder)
    failed = cellfleet(url, "run", str(notebook))
    assert failed.returncode == 1 and "flaky storage" in failed.stderr
    (first,) = _production(store, "failed")
    assert _lines(folder) == ["total", "doubled", "kept"]
    resumed = cellfleet(url, "run", str(notebook), "--resume", first["id"][:10])
    assert resumed.returncode == 0, resumed.stderr
    assert _lines(folder) == ["total", "doubled", "kept", "kept", "after"]
    (second,) = _production(store, "succeeded")
    assert second["attempt"] == 1 and second["environment"]["resume_from"] == first["id"]
    assert _restored(second) == [{"attempt": 0, "run": first["id"]}] * 2

    unknown = cellfleet(url, "run", str(notebook), "--resume", "nosuchrun")
    assert unknown.returncode == 2 and "cellfleet runs ls --kind production --status failed" in unknown.stderr
    succeeded = cellfleet(url, "run", str(notebook), "--resume", second["id"])
    assert succeeded.returncode == 2 and "only a failed" in succeeded.stderr
    other = write_notebook(folder / "other.ipynb", ["x = 1"])
    elsewhere = cellfleet(url, "run", str(other), "--resume", first["id"])
    assert elsewhere.returncode == 2 and f"--resume {first['id']}`" in elsewhere.stderr
    for refused in (unknown, succeeded, elsewhere):
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert len(_production(store)) == 2  # a refused --resume records no run
