"""--nowait cells: the notebook goes on; names arrive when the cell completes; %wait blocks."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from cellfleet import CellCancelled
from cellfleet.kernel.magics import parse_remote_options
from cellfleet.kernel.remote import RemoteRunner
from cellfleet.worker.task import running_cells
from conftest import eventually, run

WAIT_FOR_FILE = "import os, time\nwhile not os.path.exists(gate):\n    time.sleep(0.02)\n"


def test_nowait_returns_at_once_and_wait_delivers_the_names(shell, tmp_path):
    shell.user_ns["gate"] = str(tmp_path / "gate")
    assert run(shell, "--nowait --name bg", WAIT_FOR_FILE + "late = 5").success
    assert "late" not in shell.user_ns  # the cell is still blocked on the gate
    (tmp_path / "gate").touch()
    shell.run_line_magic("wait", "bg")
    assert shell.user_ns["late"] == 5


def test_a_cell_reading_a_pending_name_waits_for_it(shell, tmp_path, capsys):
    shell.user_ns["gate"] = str(tmp_path / "gate")
    assert run(shell, "--nowait --name maker", WAIT_FOR_FILE + "made = 2").success
    (tmp_path / "gate").touch()
    assert run(shell, "", "doubled = made * 2").success
    assert shell.user_ns["doubled"] == 4
    assert "waits for maker" in capsys.readouterr().out


def test_wait_reraises_the_cells_error(shell):
    assert run(shell, "--nowait --name broken", "1 / 0").success
    with pytest.raises(ZeroDivisionError):
        shell.run_line_magic("wait", "broken")


def test_wait_for_an_unknown_name_is_a_usage_error(shell):
    with pytest.raises(UsageError, match="no --nowait cell is named"):
        shell.run_line_magic("wait", "nobody")


def test_a_name_still_running_cannot_be_reused(shell, tmp_path):
    shell.user_ns["gate"] = str(tmp_path / "gate")
    assert run(shell, "--nowait --name busy", WAIT_FOR_FILE + "a = 1").success
    result = run(shell, "--nowait --name busy", "b = 2")
    assert isinstance(result.error_in_exec, UsageError) and "still running" in str(result.error_in_exec)
    (tmp_path / "gate").touch()
    shell.run_line_magic("wait", "busy")
    assert shell.user_ns["a"] == 1 and "b" not in shell.user_ns


def _runner(shell) -> RemoteRunner:
    return shell.find_cell_magic("remote").__self__.runner


def test_a_cell_finishing_while_another_executes_assigns_its_names_after_it(shell, tmp_path):
    shell.user_ns["gate"] = str(tmp_path / "gate")
    assert run(shell, "--nowait --name during", WAIT_FOR_FILE + "late = 5").success
    shell.user_ns["pending"] = _runner(shell).pending.cells["during"]
    local = "open(gate, 'w').close()\nfinished = pending.done.wait(60)\nseen_while_running = 'late' in globals()"
    assert shell.run_cell(local).success
    assert shell.user_ns["finished"] is True
    assert shell.user_ns["seen_while_running"] is False  # the running cell's namespace did not change
    assert shell.user_ns["late"] == 5  # assigned once that cell ended
    shell.run_line_magic("wait", "during")


def test_a_cell_finishing_while_nothing_executes_assigns_its_names_at_once(shell, tmp_path):
    shell.user_ns["gate"] = str(tmp_path / "gate")
    assert run(shell, "--nowait --name idle", WAIT_FOR_FILE + "early = 7").success
    (tmp_path / "gate").touch()
    assert eventually(lambda: shell.user_ns.get("early") == 7)
    shell.run_line_magic("wait", "idle")


def test_closing_the_runner_cancels_and_joins_its_nowait_cells(shell, tmp_path, client):
    runner = RemoteRunner(shell)
    shell.user_ns["gate"] = str(tmp_path / "never")
    runner.run(parse_remote_options("--nowait --name forever"), WAIT_FOR_FILE + "never = 1")
    pending = runner.pending.cells["forever"]
    assert eventually(lambda: any(client.run(running_cells).values()))
    runner.close()
    assert pending.thread is not None and not pending.thread.is_alive()
    assert isinstance(pending.error, CellCancelled) and "never" not in shell.user_ns
    assert eventually(lambda: not any(client.run(running_cells).values()))
    assert runner.pending.before_cell not in shell.events.callbacks["pre_run_cell"]
