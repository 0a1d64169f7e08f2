"""The demo notebook runs top to bottom in a real kernel, and scripts/show_notebook.py prints it.

The script runs in a subprocess with the interpreter running pytest (the project's venv
when run as ``.venv/bin/python -m pytest``); the kernel starts its own embedded cluster.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "show_notebook.py"
QUICKSTART = ROOT / "examples" / "quickstart.ipynb"

pytestmark = pytest.mark.timeout(400)


def show(notebook: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run show_notebook.py on ``notebook``; the run is bounded at 300 s."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(notebook), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    executed = tmp_path_factory.mktemp("demo") / "quickstart.ipynb"
    return show(QUICKSTART, "--output", str(executed)), executed


def test_the_demo_runs_without_error(demo):
    result, _ = demo
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_the_demo_shows_every_feature(demo):
    text = demo[0].stdout
    assert "epoch 1/5" in text and "epoch 5/5" in text  # output streamed from the remote cell
    assert "<remote signal: " in text and "128.00 MiB" in text  # the large result stayed remote
    assert "<remote profile: " in text  # --keep
    assert "ndarray (256,)" in text and "first values:" in text  # %pull brought it here
    assert "[HTML table rendered: 5 rows]" in text  # the DataFrame's HTML, made on the worker
    assert re.search(r"\[image/png \d+x\d+\]", text)  # the figure drawn on the worker
    assert re.search(r"0\s+\w{12}\s+0\.5\s+[\d.]+\*\s+succeeded", text)  # the variants table, best starred
    assert "cellfleet: adopted run " in text and "adopted loss " in text  # %adopt best
    assert "workers " in text and "cluster " in text  # %cellfleet status
    assert "base64" not in text and "iVBOR" not in text  # images are described, never dumped


def test_the_demo_is_saved_clean_and_the_executed_copy_has_outputs(demo):
    clean = nbformat.read(QUICKSTART, as_version=4)
    nbformat.validate(clean)
    assert clean.metadata.kernelspec.name == "cellfleet"
    code = [cell for cell in clean.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    executed = nbformat.read(demo[1], as_version=4)
    assert all(cell.execution_count for cell in executed.cells if cell.cell_type == "code")


def test_a_file_that_is_not_a_notebook_is_one_line_of_error(tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("just some text\n")
    result = show(text_file)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "not a Jupyter notebook" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_missing_file_is_one_line_of_error(tmp_path):
    result = show(tmp_path / "absent.ipynb")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"show_notebook: {tmp_path / 'absent.ipynb'}: no such file"]


def test_a_failing_cell_exits_1_naming_the_cell(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "cellfleet", "display_name": "Python 3 (cellfleet)"}
    notebook.cells = [nbformat.v4.new_code_cell("print('first')"), nbformat.v4.new_code_cell("1 / 0")]
    path = tmp_path / "failing.ipynb"
    nbformat.write(notebook, path)
    result = show(path)
    assert result.returncode == 1
    assert "first" in result.stdout and "ZeroDivisionError: division by zero" in result.stdout
    assert "cell In [2]" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stdout + result.stderr
