"""%%remote against a real IPython shell and a real Dask LocalCluster."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cellfleet import RemoteHandle, SerializationError
from cellfleet.kernel.inputs import pack
from cellfleet.protocol import KeepReason
from conftest import run


def test_reads_travel_and_writes_come_back(shell):
    shell.user_ns["y"] = 41
    result = run(shell, "", "x = y + 1\nlabel = f'x={x}'")
    assert result.success
    assert shell.user_ns["x"] == 42 and shell.user_ns["label"] == "x=42"
    assert shell.user_ns["y"] == 41


def test_functions_defined_in_the_notebook_travel_by_value(shell):
    shell.run_cell(
        "K = 3\ndef helper(v):\n    return v * K\nclass Box:\n    def __init__(self, v):\n        self.v = v"
    )
    assert run(shell, "", "z = helper(2)\nbox = Box(z)").success
    assert shell.user_ns["z"] == 6
    assert shell.user_ns["box"].v == 6


def test_functions_defined_remotely_come_back_and_run_here(shell):
    assert run(shell, "", "def square(v):\n    return v * v").success
    assert shell.user_ns["square"](7) == 49


def test_last_expression_shows_the_workers_rich_repr(shell):
    result = run(shell, "", "import pandas as pd\nframe = pd.DataFrame({'a': [1, 2]})\nframe")
    data, _ = result.result._repr_mimebundle_()
    assert "<table" in data["text/html"]
    assert "frame" in shell.user_ns


def test_deleting_a_name_deletes_it_here(shell):
    shell.user_ns["gone"] = 1
    assert run(shell, "", "del gone").success
    assert "gone" not in shell.user_ns


def test_a_failing_cell_leaves_the_namespace_untouched(shell):
    shell.user_ns["a"] = 1
    result = run(shell, "", "a = 2\nb = 3\n1 / 0")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    lines = "\n".join(result.error_in_exec._render_traceback_())
    assert "line 4" in lines and "on worker tcp://" in lines and "1 / 0" in lines  # line 1: %%remote
    assert shell.user_ns["a"] == 1 and "b" not in shell.user_ns


def test_name_error_is_raised_as_locally(shell):
    result = run(shell, "", "value = undefined_name_here")
    assert isinstance(result.error_in_exec, NameError)


def test_an_unpicklable_variable_is_named_with_its_type(shell):
    shell.user_ns["lock"] = threading.Lock()
    result = run(shell, "", "print(lock)")
    assert isinstance(result.error_in_exec, SerializationError)
    message = str(result.error_in_exec)
    assert "'lock'" in message and "lock" in message.split("(")[1]
    assert "\n" not in message


def test_unpicklable_results_stay_remote(shell):
    assert run(shell, "", "import threading\nguard = threading.Lock()\nn = 1").success
    handle = shell.user_ns["guard"]
    assert isinstance(handle, RemoteHandle) and handle.info.reason == "unpicklable"
    assert shell.user_ns["n"] == 1


def test_large_results_stay_remote_and_are_used_in_place(shell, monkeypatch, client):
    monkeypatch.setenv("CELLFLEET_REMOTE_THRESHOLD", "1MiB")
    assert run(shell, "", "import numpy as np\narr = np.ones(10**6)").success
    handle = shell.user_ns["arr"]
    assert isinstance(handle, RemoteHandle)
    assert "arr" in repr(handle) and "numpy.ndarray" in repr(handle) and "(1000000,)" in repr(handle)
    assert "&lt;remote" in handle._repr_html_()
    shipped = pack({"arr"}, shell.user_ns, client.scheduler.address)
    assert shipped.packed == {} and shipped.handle_names == ("arr",)
    assert run(shell, "", "total = float(arr.sum())").success
    assert shell.user_ns["total"] == 1e6


def test_a_result_whose_size_cannot_be_measured_stays_remote(shell):
    body = "class Unsized:\n    def __sizeof__(self):\n        raise RuntimeError('no size')\nodd = Unsized()\nfine = 1"
    assert run(shell, "", body).success
    handle = shell.user_ns["odd"]
    assert isinstance(handle, RemoteHandle) and handle.info.reason == KeepReason.UNMEASURED
    assert handle.info.nbytes is None and "size unknown" in repr(handle)
    assert shell.user_ns["fine"] == 1
    assert run(shell, "", "kind = type(odd).__name__").success  # used in place
    assert shell.user_ns["kind"] == "Unsized"


def test_pull_brings_a_host_copy(shell, monkeypatch):
    monkeypatch.setenv("CELLFLEET_REMOTE_THRESHOLD", "1KiB")
    assert run(shell, "", "import numpy as np\nvec = np.arange(1000)").success
    assert isinstance(shell.user_ns["vec"], RemoteHandle)
    shell.run_line_magic("pull", "vec")
    np.testing.assert_array_equal(shell.user_ns["vec"], np.arange(1000))


def test_keep_and_pull_override_the_size_rule(shell, monkeypatch):
    monkeypatch.setenv("CELLFLEET_REMOTE_THRESHOLD", "1KiB")
    assert run(shell, "--keep small --pull big", "small = 1\nbig = list(range(10_000))").success
    assert isinstance(shell.user_ns["small"], RemoteHandle)
    assert shell.user_ns["small"].info.reason == "kept"
    assert shell.user_ns["big"] == list(range(10_000))


def test_keep_of_a_name_the_cell_does_not_assign_is_a_usage_error(shell):
    result = run(shell, "--keep nothing", "x = 1")
    assert "does not assign" in str(result.error_in_exec)


def test_a_handle_lost_with_its_worker_is_recomputed(shell, monkeypatch, client):
    monkeypatch.setenv("CELLFLEET_REMOTE_THRESHOLD", "1KiB")
    shell.user_ns["n"] = 5000
    assert run(shell, "", "import numpy as np\nseq = np.arange(n)").success
    handle = shell.user_ns["seq"]
    handle.future.result()  # wait until it is a key in Dask's memory
    holders = client.who_has([handle.future])[handle.future.key]
    client.restart_workers(list(holders))
    assert run(shell, "", "total = int(seq.sum())").success
    assert shell.user_ns["total"] == sum(range(5000))


def test_magics_inside_a_remote_cell_are_refused(shell):
    result = run(shell, "", "%time x = 1")
    assert "cannot run inside a %%remote cell" in str(result.error_in_exec)


def test_an_empty_cell_is_refused(shell):
    assert "empty" in str(run(shell, "", "   ").error_in_exec)


def test_syntax_errors_point_at_the_cell(shell):
    result = run(shell, "", "x = (")
    assert isinstance(result.error_in_exec, SyntaxError)
    assert "<cell" in "".join(result.error_in_exec._render_traceback_())


def test_help_shows_examples(shell):
    doc = shell.find_cell_magic("remote").__doc__
    assert "%%remote gpu" in doc and "--timeout" in doc and "Examples" in doc


def test_status_reports_the_cluster(shell, capsys):
    shell.run_line_magic("cellfleet", "status")
    out = capsys.readouterr().out
    assert "workers   2" in out and "embedded LocalCluster" in out


@pytest.mark.parametrize("line", ["", "cpu"])
def test_output_streams_into_the_cell(shell, capsys, line):
    assert run(shell, line, "print('to stdout')\nimport sys\nprint('to stderr', file=sys.stderr)").success
    captured = capsys.readouterr()
    assert "to stdout" in captured.out and "to stderr" in captured.err
