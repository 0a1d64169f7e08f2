"""``cellfleet run --expect``: a one-off run whose final metrics break a bound fails (real kernels)."""

from __future__ import annotations

from cellfleet.protocol import RunKind, RunStatus
from cellfleet.store.database import Store
from jobs_helpers import cellfleet, write_notebook


def test_cellfleet_run_checks_its_expectations(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'cellfleet.db'}"
    notebook = write_notebook(tmp_path / "train.ipynb", ["import cellfleet\ncellfleet.log(loss=lr)"])
    broken = cellfleet(url, "run", str(notebook), "--expect", "loss<0.05")
    assert broken.returncode == 1
    assert ": expectations not met: loss was 0.1, not < 0.05 (--expect loss<0.05) (expectation)" in broken.stderr
    met = cellfleet(url, "run", str(notebook), "--expect", "loss<0.5", "--expect", "loss>0")
    assert met.returncode == 0, met.stderr
    statuses = sorted(run["status"] for run in Store(url).list_runs(kind=RunKind.PRODUCTION))
    assert statuses == [RunStatus.FAILED, RunStatus.SUCCEEDED]
    mistake = cellfleet(url, "run", str(notebook), "--expect", "loss=0.5")
    assert mistake.returncode == 2 and "'=' is not a comparison" in mistake.stderr
    assert len(Store(url).list_runs(kind=RunKind.PRODUCTION)) == 2  # a bad bound runs nothing
