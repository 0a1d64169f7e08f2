"""--nowait cells: the notebook goes on; names arrive when the cell completes; %wait blocks."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from conftest import run

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
