"""End to end in a real kernel: the "Python 3 (cellfleet)" kernelspec, nbclient and
jupyter_client, on the kernel's own embedded LocalCluster."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

from cellfleet.kernel import session as clusters

CELLS = {
    "frame": "%%remote\nimport pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3]})\ndf",
    "display": "%%remote\nfrom IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))\nprint('after')",
    "figure": "%%remote\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('t');",
    "before": "kept = 1\ndef helper(v):\n    return v + 100",
    "failing": "%%remote\nkept = 2\nboom = 1 / 0",
    "after": "print(kept, 'boom' in globals())",
    "gpu": "%%remote gpu\nvia_gpu_cell = helper(1)",
    "show": "print(via_gpu_cell)",
    "threshold": "import os\nos.environ['CELLFLEET_REMOTE_THRESHOLD'] = '1KiB'",
    "make": "%%remote\nimport numpy as np\nbig = np.arange(10_000)",
    "handle": "big",
    "use": "%%remote\ns = int(big.sum())\nprint(s)",
    "slow": "%%remote --name slow\nimport time\ntime.sleep(1)",
    "grid": (
        "%%remote --grid lr=0.1,0.01 --grid batch=32,64 --minimize loss\nimport cellfleet\n"
        "for step in range(2):\n    cellfleet.log(step=step, loss=lr * batch / (step + 1))\n"
        "weights = [lr, batch]\nif lr == 0.1 and batch == 64:\n    raise RuntimeError('exploded')"
    ),
    "adopt": "%adopt best\nprint(weights)",
}


@pytest.fixture(scope="module")
def executed() -> dict[str, list[dict]]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS.values()]
    client = NotebookClient(notebook, kernel_name="cellfleet", timeout=180, allow_errors=True)
    client.execute()
    return {name: cell.outputs for name, cell in zip(CELLS, notebook.cells, strict=True)}


def _text(outputs: list[dict]) -> str:
    parts = []
    for output in outputs:
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
        elif output["output_type"] == "error":
            parts.append("\n".join(output["traceback"]))
    return "\n".join(parts)


def test_rich_result_is_computed_on_the_worker(executed):
    (result,) = [o for o in executed["frame"] if o["output_type"] == "execute_result"]
    assert "<table" in result["data"]["text/html"]


def test_display_calls_and_output_keep_their_order(executed):
    outputs = executed["display"]
    kinds = [o["output_type"] for o in outputs]
    assert kinds == ["display_data", "stream"]
    assert outputs[0]["data"]["text/html"] == "<b>bold</b>" and outputs[1]["text"] == "after\n"


def test_matplotlib_figures_appear_as_images(executed):
    assert any("image/png" in o.get("data", {}) for o in executed["figure"])


def test_failure_shows_the_workers_traceback_and_leaves_variables(executed):
    (error,) = [o for o in executed["failing"] if o["output_type"] == "error"]
    assert error["ename"] == "ZeroDivisionError"
    trace = "\n".join(error["traceback"])
    assert "line 3" in trace and "on worker tcp://" in trace
    assert _text(executed["after"]).strip() == "1 False"


def test_gpu_cell_uses_notebook_functions(executed):
    assert _text(executed["show"]).strip() == "101"
    if clusters.gpu_count() == 0:
        assert "no GPU on this machine" in _text(executed["gpu"])


def test_handles_show_where_data_lives_and_are_used_in_place(executed):
    assert "<remote big: numpy.ndarray (10000,)" in _text(executed["handle"])
    assert _text(executed["use"]).strip() == str(sum(range(10_000)))


def test_a_slow_cell_shows_its_final_status(executed):
    assert "[slow] done on tcp://" in _text(executed["slow"])


def test_labels_and_traceback_names_match_the_cells_number(executed):
    number = list(CELLS).index("failing") + 1  # cells run in order from In [1]
    (error,) = [o for o in executed["failing"] if o["output_type"] == "error"]
    assert f"<cell In[{number}]>" in "\n".join(error["traceback"])


def test_figure_size_metadata_matches_the_png(executed):
    import base64

    (figure,) = [o for o in executed["figure"] if "image/png" in o.get("data", {})]
    png = base64.b64decode(figure["data"]["image/png"])
    size = figure["metadata"]["image/png"]
    assert (size["width"], size["height"]) == (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))


@pytest.fixture
def kernel() -> Iterator[tuple]:
    manager, client = start_new_kernel(kernel_name="cellfleet")
    yield manager, client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def _messages(client, msg_id: str) -> Iterator[dict]:
    """This execution's iopub messages until the kernel is idle again (bounded wait)."""
    while True:
        try:
            message = client.get_iopub_msg(timeout=120)
        except queue.Empty:
            pytest.fail("the kernel stopped sending output")
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return
        yield message


def test_output_streams_while_the_cell_runs(kernel, tmp_path: Path):
    _, client = kernel
    gate = tmp_path / "gate"
    code = (
        f"%%remote\nimport os, time\nprint('first', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}):\n    time.sleep(0.02)\nprint('second')"
    )
    texts = []
    for message in _messages(client, client.execute(code)):
        if message["msg_type"] == "stream":
            texts.append(message["content"]["text"])
            if "first" in message["content"]["text"]:
                gate.touch()  # only reachable if 'first' arrived while the cell was blocked
    assert "first" in texts[0] and "second" in "".join(texts)


def test_interrupting_the_kernel_stops_the_remote_cell(kernel):
    manager, client = kernel
    code = "%%remote\nimport time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.02)"
    errors = []
    for message in _messages(client, client.execute(code)):
        if message["msg_type"] == "stream" and "looping" in message["content"]["text"]:
            manager.interrupt_kernel()
        if message["msg_type"] == "error":
            errors.append(message["content"]["ename"])
    assert errors == ["CellCancelled"]
    check = (
        "import time, cellfleet\nfrom cellfleet.worker.task import running_cells\nc = cellfleet.client()\n"
        "for _ in range(300):\n    busy = any(c.run(running_cells).values())\n"
        "    if not busy:\n        break\n    time.sleep(0.1)\nprint('busy' if busy else 'idle')"
    )
    texts: list[dict] = []
    reply = client.execute_interactive(check, timeout=120, output_hook=texts.append)
    assert reply["content"]["status"] == "ok"
    printed = "".join(m["content"].get("text", "") for m in texts if m["msg_type"] == "stream")
    assert printed.strip() == "idle"


def test_a_grid_in_a_kernel_compares_four_runs_and_adopts_the_best(executed):
    table = _text(executed["grid"])
    assert table.count("succeeded") == 3 and "RuntimeError: exploded" in table
    assert "0.16*" in table  # 0.01 * 32 / 2, the lowest final loss, marked best
    assert "[0.01, 32]" in _text(executed["adopt"])
    from cellfleet.store.database import open_store

    variants = [r for r in open_store().list_runs(kind="variant", limit=100) if r["cell_name"].startswith("In[")]
    latest_group = variants[0]["group_id"]
    group = [r for r in variants if r["group_id"] == latest_group]
    assert len(group) == 4 and {r["params"]["batch"] for r in group} == {32, 64}
    assert all(len(open_store().metric_series(r["id"]).get("loss", [])) == 2 for r in group)
