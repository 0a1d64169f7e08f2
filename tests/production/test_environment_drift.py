"""Each run records its environment; a production run whose environment differs from the promoted
experiment's carries a warning naming the packages (real kernels, a real scheduler process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cellfleet import experiment
from cellfleet.environment import DIGEST, PackageChange, describe, differences, drift_warning
from cellfleet.protocol import RunKind, RunStatus
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from cellfleet.store.outputs import distributions_of
from dask_processes import DaskCluster
from jobs_helpers import cellfleet, start_scheduler, stop, wait_for, write_notebook


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    url = f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}"
    return tmp_path, url, Store(url)


def _distribution(folder: Path, name: str, version: str) -> None:
    """A real installed distribution's metadata (what importlib.metadata reads), on a path of its own."""
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_a_run_in_a_drifted_environment_names_the_packages_that_differ(project, monkeypatch):
    folder, url, store = project
    notebook = write_notebook(folder / "train.ipynb", ["import cellfleet\ncellfleet.log(loss=lr)"])
    experiment_run = cellfleet(url, "run", str(notebook))
    assert experiment_run.returncode == 0, experiment_run.stderr
    (source,) = store.list_runs(kind=RunKind.PRODUCTION)
    recorded = store.get_run(source["id"])["environment"]
    assert recorded["python"] and recorded["numpy"] and len(recorded[DIGEST]) == 16
    assert distributions_of(store, recorded[DIGEST])["numpy"] == recorded["numpy"]  # the full list, kept once
    same = cellfleet(url, "promote", str(notebook), "--name", "same", "--from-run", source["id"], "--check")
    assert same.returncode == 0, same.stderr
    (checked,) = JobStore(store).job_runs(JobStore(store).get_job("same")["id"])
    assert checked["environment_warning"] is None and checked["environment_drift"] == []
    assert cellfleet(url, "promote", str(notebook), "--name", "drifted", "--from-run", source["id"]).returncode == 0
    extra = folder / "extra"
    _distribution(extra, "numpy", "0.0.1")  # found before the real one, as a changed install would be
    _distribution(extra, "tinyextra", "1.0")
    monkeypatch.setenv("PYTHONPATH", str(extra))
    assert cellfleet(url, "jobs", "run-now", "drifted").returncode == 0
    jobs = JobStore(store)
    scheduler = start_scheduler(url, folder / "scheduler.log")
    try:
        job = jobs.get_job("drifted")
        (run,) = wait_for(lambda: [r for r in jobs.job_runs(job["id"]) if RunStatus(r["status"]).ended], 180)  # type: ignore[misc]
    finally:
        stop(scheduler)
    assert run["status"] == RunStatus.SUCCEEDED, run["error"]
    assert run["environment"]["numpy"] == "0.0.1" and run["environment"][DIGEST] != recorded[DIGEST]
    assert run["environment_drift"] == [
        {"name": "numpy", "promoted": recorded["numpy"], "now": "0.0.1"},
        {"name": "tinyextra", "promoted": None, "now": "1.0"},
    ]
    warning = run["environment_warning"]
    assert warning.startswith(f"environment differs from the promoted experiment's (run {source['id']}): ")
    assert f"numpy {recorded['numpy']} -> 0.0.1, tinyextra absent -> 1.0" in warning
    shown = cellfleet(url, "runs", "show", run["id"])
    assert "warning      environment differs" in shown.stdout


def test_a_job_promoted_from_a_remote_cell_is_compared_on_the_workers(project, tmp_path):
    """Like with like: the experiment's worker against the workers the run's own remote cells used
    (here a worker of a real external cluster that drifted while the kernels' side did not)."""
    folder, url, store = project
    cells = ["%load_ext cellfleet", "%%remote\nimport cellfleet\ncellfleet.log(loss=lr)"]
    notebook = write_notebook(folder / "remote.ipynb", cells)
    dask = DaskCluster(tmp_path / "dask").start()
    try:
        dask.worker("plain")
        assert cellfleet(url, "run", str(notebook), "--cluster", dask.address).returncode == 0
        (cell,) = [run for run in store.list_runs(kind=RunKind.PRODUCTION) if run["parent_id"]]
        assert cell["worker"] and DIGEST in cell["environment"]  # the worker's environment

        def checked(name: str) -> dict:
            args = ("--name", name, "--from-run", cell["id"], "--cluster", dask.address, "--check")
            done = cellfleet(url, "promote", str(notebook), *args)
            assert done.returncode == 0, done.stderr
            (run,) = JobStore(store).job_runs(JobStore(store).get_job(name)["id"])
            return run

        same = checked("same-workers")
        assert same["environment_warning"] is None and same["environment_drift"] == []
        extra = folder / "extra"
        _distribution(extra, "numpy", "0.0.1")
        dask.stop_worker("plain")
        dask.worker("drifted", preload=f"import sys\nsys.path.insert(0, {str(extra)!r})\n")
        drifted = checked("drifted-workers")
    finally:
        dask.close()
    assert drifted["environment"]["numpy"] == cell["environment"]["numpy"]  # the executing process did not drift
    warning = drifted["environment_warning"]
    assert warning.startswith(f"environment differs from the promoted experiment's (run {cell['id']}): ")
    assert f"numpy {cell['environment']['numpy']} -> 0.0.1" in warning


def test_differences_name_key_packages_without_the_full_lists():
    promoted = {"python": "3.11.7", "numpy": "2.1.0", DIGEST: "a" * 16}
    now = {"python": "3.11.7", "numpy": "2.2.0", "torch": "2.5.0", DIGEST: "b" * 16}
    assert differences(promoted, now) == [
        PackageChange("numpy", "2.1.0", "2.2.0"),
        PackageChange("torch", None, "2.5.0"),
    ]
    only_digest = differences({**promoted, DIGEST: "c" * 16}, {**promoted, DIGEST: "d" * 16})
    assert only_digest == [PackageChange(DIGEST, "c" * 16, "d" * 16)]
    assert differences({"python": "3.10"}, now) == []  # recorded before digests: not compared
    assert differences(describe(), describe()) == []
    assert drift_warning([], "x") is None


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        ({}, TypeError, r"needs at least one name=value"),
        ({"rows": {1, 2}}, TypeError, r"rows=\{1, 2\} cannot be stored as JSON .* give strings, numbers"),
        ({"loss": float("nan")}, TypeError, r"loss=nan cannot be stored as JSON"),
        ({"upstream_run_id": "x"}, ValueError, r"given to downstream jobs by the scheduler; use another name"),
        ({"blob": "x" * (2**20 + 1)}, ValueError, r"over 1 MiB as JSON; store it as a file"),
        ({"import os; x": 1}, ValueError, r"'import os; x' is not a Python name .* as a variable of that name"),
        ({"class": 1}, ValueError, r"'class' is not a Python name"),
        ({"n" * 129: 1}, ValueError, r"is not a Python name of up to 128 characters"),
    ],
)
def test_outputs_that_cannot_be_stored_are_one_line_errors(values, error, match):
    with pytest.raises(error, match=match) as info:
        experiment.output(**values)
    assert "\n" not in str(info.value)
