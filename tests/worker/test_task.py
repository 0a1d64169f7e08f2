"""The task body on a real Dask worker: what comes back, what stays, and why."""

from __future__ import annotations

import cloudpickle

from cellfleet.protocol import CellSpec, KeepReason
from cellfleet.worker.task import run_cell

CODE = """
class Opaque:
    def __sizeof__(self):
        raise RuntimeError("cannot tell")

small = [1, 2, 3]
big = bytearray(4096)
opaque = Opaque()
print("ran on the worker")
"""


def test_small_results_come_back_and_large_or_unmeasurable_ones_stay(client):
    spec = CellSpec("t1", CODE, "<cell t1>", ("small", "big", "opaque"), False, threshold=1024)
    outcome = client.submit(run_cell, spec, {}, (), pure=False).result()
    assert outcome.error is None and outcome.worker in client.scheduler_info()["workers"]
    assert cloudpickle.loads(outcome.values["small"]) == [1, 2, 3]
    assert set(outcome.kept) == {"big", "opaque"}
    assert outcome.kept["big"].reason is KeepReason.LARGE and outcome.kept["big"].nbytes >= 4096
    assert outcome.kept["opaque"].reason is KeepReason.UNMEASURED and outcome.kept["opaque"].nbytes is None
    assert any("ran on the worker" in getattr(item, "text", "") for item in outcome.outputs)


def test_the_cells_own_error_comes_back_with_its_traceback(client):
    spec = CellSpec("t2", "\nx = 1\nraise KeyError('gone')\n", "<cell t2>", ("x",), False, threshold=1024)
    outcome = client.submit(run_cell, spec, {}, (), pure=False).result()
    assert outcome.values == {} and outcome.kept == {}
    assert outcome.error is not None and outcome.error.type_name == "KeyError"
    assert outcome.error.traceback[-1] == "KeyError: 'gone'"
    assert isinstance(cloudpickle.loads(outcome.error.exception), KeyError)
