"""``%promote --after / --check`` and ``cellfleet.output`` in a real IPython shell (the check's
run in a real kernel of its own)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from cellfleet.protocol import RunStatus
from cellfleet.store.jobs import JobStore
from cellfleet.store.outputs import outputs_of
from cellfleet.store.recorder import writer_for
from jobs_helpers import write_notebook


def _store():
    writer = writer_for()
    writer.flush()
    return writer.store


def test_output_in_a_local_cell_is_stored_with_its_run(shell, tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    assert shell.run_cell("import cellfleet\ncellfleet.output(rows=3, names=['a', 'b'])").success
    latest = _store().list_runs(limit=1)[0]
    assert outputs_of(_store(), latest["id"]) == {"rows": 3, "names": ["a", "b"]}
    assert latest["environment"]["python"] and latest["environment"]["distributions"]
    result = shell.run_cell("cellfleet.output(when=object())")
    assert isinstance(result.error_in_exec, TypeError) and "cannot be stored as JSON" in str(result.error_in_exec)


def test_promote_magic_takes_after_and_check(shell, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    prep = write_notebook(tmp_path / "prep.ipynb", ["import cellfleet\ncellfleet.output(rows=7)"], parameters=None)
    train = write_notebook(tmp_path / "train.ipynb", ["assert rows == 7"], parameters="rows = 0")
    shell.run_line_magic("promote", f"{prep} --check")
    shell.run_line_magic("promote", f"{train} --after prep --check")
    printed = capsys.readouterr().out
    assert "next run after each successful run of job prep" in printed and "which succeeded" in printed
    jobs = JobStore(_store())
    (checked,) = jobs.job_runs(jobs.get_job("train")["id"])
    assert checked["status"] == RunStatus.SUCCEEDED and checked["params"]["rows"] == 7
    with pytest.raises(UsageError, match=r"^%promote: --after prep would make a cycle, prep -> prep"):
        shell.run_line_magic("promote", f"{prep} --name prep --after prep")
    bad = write_notebook(tmp_path / "bad.ipynb", ["1 / 0"], parameters=None)
    with pytest.raises(UsageError, match=r"^%promote: --check: run \w+ failed \(user\).*ZeroDivisionError"):
        shell.run_line_magic("promote", f"{bad} --every 1h --check")
    assert [job["name"] for job in jobs.list_jobs()] == ["prep", "train"]
