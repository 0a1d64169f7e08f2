"""Large inputs travel out of band, once: measured on the bytes real ``dask scheduler`` and
``dask worker`` processes receive over their comms (counted by a preload), not on timing."""

from __future__ import annotations

import numpy as np
import pytest
from distributed import Client

from cellfleet.kernel import session as clusters
from conftest import run
from dask_processes import COUNT_RECEIVED, DaskCluster

MIB = 2**20
SIZE = 32 * MIB
"""The input's size: far above the out-of-band threshold, well above the processes' chatter."""


def _random() -> np.ndarray:
    """SIZE bytes that do not compress (Dask compresses frames on the wire)."""
    return np.random.default_rng(0).random(SIZE // 8)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and one worker that count the bytes they receive."""
    dask = DaskCluster(tmp_path_factory.mktemp("dask")).start(preload=COUNT_RECEIVED)
    try:
        dask.worker("only", preload=COUNT_RECEIVED)
        yield dask
    finally:
        clusters.sessions.disconnect(dask.address)
        dask.close()


class Reads:
    """What the scheduler and the worker received while a cell ran (asked through a client of
    the test's own, whose questions are a few hundred bytes)."""

    def __init__(self, cluster: DaskCluster) -> None:
        self.addresses = {"scheduler": cluster.address, "worker": cluster.named()["only"]}
        self.client = Client(cluster.address, set_as_default=False)

    def received(self) -> dict[str, int]:
        return {
            name: self.client.sync(self.client.rpc(address).cellfleet_received)
            for name, address in self.addresses.items()
        }

    def during(self, shell, line: str, body: str) -> dict[str, int]:
        before = self.received()
        assert run(shell, line, body).success
        after = self.received()
        return {name: after[name] - before[name] for name in after}


@pytest.fixture
def reads(cluster):
    counted = Reads(cluster)
    yield counted
    counted.client.close()


def test_an_unchanged_input_is_sent_once_and_never_through_the_scheduler(shell, cluster, reads):
    big = shell.user_ns["big"] = _random()
    line = f"--cluster {cluster.address}"

    first = reads.during(shell, line, "total = float(big.sum())")
    assert first["worker"] >= SIZE, first
    assert first["scheduler"] < 4 * MIB, first
    assert shell.user_ns["total"] == pytest.approx(float(big.sum()), rel=1e-12)  # summed at another alignment

    again = reads.during(shell, line, "first = float(big[0])")
    assert again["worker"] < 4 * MIB, again
    assert shell.user_ns["first"] == big[0]

    big[0] = 3.0  # changed in place: its fingerprint differs, so it travels again
    changed = reads.during(shell, line, "first = float(big[0])")
    assert changed["worker"] >= SIZE, changed
    assert shell.user_ns["first"] == 3.0


def test_status_lists_what_is_held_and_drop_releases_it(shell, cluster, capsys):
    shell.user_ns["big"] = _random()
    assert run(shell, f"--cluster {cluster.address}", "n = big.size").success
    capsys.readouterr()
    shell.run_line_magic("cellfleet", "status")
    status = capsys.readouterr().out
    assert "input big  32.00 MiB" in status

    shell.run_line_magic("cellfleet", "drop big")
    assert "released big" in capsys.readouterr().out
    shell.run_line_magic("cellfleet", "status")
    assert "input big" not in capsys.readouterr().out
    shell.run_line_magic("cellfleet", "drop nothing_here")
    assert "not held on the cluster: nothing_here" in capsys.readouterr().out


def test_an_input_whose_name_is_deleted_is_released_at_the_next_cell(shell, cluster, capsys):
    shell.user_ns["gone"] = _random()
    line = f"--cluster {cluster.address}"
    assert run(shell, line, "n = gone.size").success
    del shell.user_ns["gone"]
    assert run(shell, line, "m = 1").success
    capsys.readouterr()
    shell.run_line_magic("cellfleet", "status")
    assert "input gone" not in capsys.readouterr().out


def test_a_large_input_changed_in_place_by_the_cell_comes_back(shell, cluster):
    """A cell that changes a large input in place behaves as it would locally."""
    big = shell.user_ns["big"] = _random()
    second = float(big[1])
    assert run(shell, f"--cluster {cluster.address}", "big *= 2\nbig[0] = 7.0").success
    assert shell.user_ns["big"][0] == 7.0 and shell.user_ns["big"][1] == 2 * second


def test_a_nowait_cell_reads_its_large_input_as_it_was_when_the_cell_started(shell, cluster):
    big = shell.user_ns["big"] = _random()
    first = float(big[0])
    line = f"--cluster {cluster.address} --nowait --name later"
    assert run(shell, line, "import time\ntime.sleep(1)\nseen = float(big[0])").success
    big[0] = -1.0  # the notebook goes on while the cell runs
    shell.run_line_magic("wait", "later")
    assert shell.user_ns["seen"] == first
