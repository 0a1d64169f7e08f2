"""papermill's own test notebooks: a production run must end the way papermill ends on them."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from cellfleet.store.database import Store
from jobs_helpers import cellfleet

PEERS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "papermill"
CASES = {
    "simple_execute": {"msg": "hello"},
    "complex_parameters": {"msg": "hello"},
    "nb_version_4.4": {"var": 2},
    "result_no_exec": {"foo": 3},
    "no_parameters": {"msg": "hello"},
    "sysexit0": {},
    "sysexit1": {},
    "systemexit": {},
    "broken1": {},
    "broken2": {},
    "line_magic_error": {},
}

pytestmark = pytest.mark.skipif(not PEERS.is_dir(), reason="the shared conformance notebooks are not beside the repo")


def _summary(path: Path) -> tuple[list[int | None], str]:
    notebook = nbformat.read(path, as_version=4)
    counts = [cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code"]
    injected = [c.source for c in notebook.cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    return counts, "".join(injected)


def _papermill(source: Path, output: Path, params: dict) -> bool:
    try:
        papermill.execute_notebook(
            str(source), str(output), parameters=params, progress_bar=False, kernel_name="python3"
        )
    except papermill.PapermillExecutionError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_production_run_ends_as_papermill_does(name, tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    source, params = PEERS / f"{name}.ipynb", CASES[name]
    expected_ok = _papermill(source, tmp_path / "papermill.ipynb", params)
    url = f"sqlite:///{tmp_path / '.cellfleet' / 'cellfleet.db'}"
    flags = [arg for key, value in params.items() for arg in ("-p", key, repr(value))]
    result = cellfleet(url, "run", str(source), "--kernel", "python3", *flags)
    assert (result.returncode == 0) is expected_ok, result.stderr
    (run,) = Store(url).list_runs(kind="production")
    assert run["status"] == ("succeeded" if expected_ok else "failed")
    assert run["params"] == params
    assert _summary(Path(run["output_path"])) == _summary(tmp_path / "papermill.ipynb")
