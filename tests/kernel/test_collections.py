"""Dask collections in remote cells, on the real embedded cluster: persisted ones outlive the
cell that made them, later cells use them in place, ``%pull`` computes them here, and a cell
fans out with ``get_client()``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cellfleet.errors import HandleError
from cellfleet.kernel.persisted import RemoteCollection
from conftest import run

ARRAY = "import dask.array as da\nx = da.arange(4000 * 100, chunks=40000).reshape(4000, 100).persist()"


def test_a_persisted_array_is_used_in_place_by_the_next_cell(shell):
    assert run(shell, "", ARRAY).success
    handle = shell.user_ns["x"]
    assert isinstance(handle, RemoteCollection)
    assert "persisted Array (4000, 100) 10 chunks" in repr(handle)

    assert run(shell, "", "total = int(x.sum().compute())\ncolumns = x.shape[1]").success
    assert shell.user_ns["total"] == sum(range(4000 * 100))
    assert shell.user_ns["columns"] == 100

    assert run(shell, "", "y = (x * 2).persist()").success  # a collection derived from another
    assert run(shell, "", "top = int(y.max().compute())").success
    assert shell.user_ns["top"] == 2 * (4000 * 100 - 1)


def test_a_persisted_dataframe_is_used_by_the_next_cell_and_pulled_here(shell):
    body = (
        "import pandas as pd, dask.dataframe as dd\n"
        "frame = pd.DataFrame({'k': [i % 3 for i in range(300)], 'v': range(300)})\n"
        "df = dd.from_pandas(frame, npartitions=4).persist()"
    )
    assert run(shell, "", body).success
    assert isinstance(shell.user_ns["df"], RemoteCollection)
    assert run(shell, "", "sums = df.groupby('k').v.sum().compute().to_dict()").success
    assert shell.user_ns["sums"] == {k: sum(v for v in range(300) if v % 3 == k) for k in range(3)}

    shell.run_line_magic("pull", "df")
    pulled = shell.user_ns["df"]
    assert isinstance(pulled, pd.DataFrame) and len(pulled) == 300


def test_pull_refuses_a_collection_above_the_threshold_without_force(shell, monkeypatch):
    assert run(shell, "", ARRAY).success
    monkeypatch.setenv("CELLFLEET_REMOTE_THRESHOLD", "1KiB")
    with pytest.raises(HandleError, match=r"more than the remote threshold .*%pull --force x"):
        shell.run_line_magic("pull", "x")
    assert isinstance(shell.user_ns["x"], RemoteCollection)  # nothing changed
    shell.run_line_magic("pull", "--force x")
    assert isinstance(shell.user_ns["x"], np.ndarray) and shell.user_ns["x"].shape == (4000, 100)


def test_a_dropped_collection_says_how_to_get_it_back(shell, capsys):
    assert run(shell, "", ARRAY).success
    shell.run_line_magic("cellfleet", "drop x")
    assert "released x" in capsys.readouterr().out
    result = run(shell, "", "n = int(x.sum().compute())")
    assert not result.success
    assert "dropped from the cluster" in str(result.error_in_exec)
    assert "n" not in shell.user_ns


def test_a_cell_fans_out_over_the_cluster_with_get_client(shell):
    body = (
        "from distributed import get_client\n"
        "client = get_client()\n"
        "squares = client.gather(client.map(lambda i: i * i, range(20)))\n"
        "del client"
    )
    assert run(shell, "", body).success
    assert shell.user_ns["squares"] == [i * i for i in range(20)]
