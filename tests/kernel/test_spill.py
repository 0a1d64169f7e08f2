"""Data larger than the workers' memory limit spills to disk and stays right, on real processes:
the warm shared cluster started through the real command with ``--memory-limit``, and the
embedded cluster of a real Python process with ``CELLFLEET_MEMORY_LIMIT``.

The limits sit well above a worker's base memory (about 150 MiB with pandas and pyarrow
loaded), the data is 2.5 times the limit in chunks of 4 MiB, and nothing is timed."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

from distributed import Client, wait

from shared_helpers import environment, project_fixture  # noqa: F401  (the project fixture)

MiB = 2**20
LIMIT = 512 * MiB
CHUNK = 4 * MiB // 8
"""int64 elements in a 4 MiB chunk."""
COUNT = int(2.5 * LIMIT) // 8
"""Elements of an array 2.5 times the worker's memory limit."""


def _files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and path.stat().st_size > 0]


def test_a_persisted_array_larger_than_the_limit_spills_to_the_project_and_stays_right(project):
    import dask.array as da

    record = project.start("--gpus", "0", "--workers", "1", "--memory-limit", f"{LIMIT // MiB}MiB")
    with warnings.catch_warnings(), Client(record.address, timeout="30s", set_as_default=False) as client:
        workers = set(client.scheduler_info(n_workers=-1)["workers"])
        x = client.persist(da.arange(COUNT, chunks=CHUNK, dtype="int64"))
        with client.as_current():
            wait(x)
        (state,) = client.run(  # a lambda travels by value: the worker cannot import this module
            lambda dask_worker: {"keys": len(dask_worker.data.slow), "limit": dask_worker.memory_manager.memory_limit}
        ).values()
        assert state["limit"] == LIMIT
        assert state["keys"] > 0, state  # more than the limit: some chunks live on disk
        assert _files(project.root / ".cellfleet" / "spill"), "no spill files under the project's .cellfleet/spill"

        total = client.compute(x.sum()).result()  # every chunk read back, from memory or disk
        assert total == COUNT * (COUNT - 1) // 2
        assert client.compute(x[[0, CHUNK + 1, COUNT - 1]]).result().tolist() == [0, CHUNK + 1, COUNT - 1]
        assert set(client.scheduler_info(n_workers=-1)["workers"]) == workers  # no worker died for memory
        del x


EMBEDDED = """
import json, cellfleet
client = cellfleet.client()
info = client.run(lambda dask_worker: [int(dask_worker.memory_manager.memory_limit), dask_worker.local_directory])
print(json.dumps(list(info.values())))
"""


def test_the_embedded_cluster_takes_its_memory_limit_from_the_environment(tmp_path):
    env = environment(tmp_path, CELLFLEET_MEMORY_LIMIT="300MiB", CELLFLEET_WORKERS="2")
    done = subprocess.run(
        [sys.executable, "-c", EMBEDDED], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180
    )
    assert done.returncode == 0, done.stderr
    workers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [limit for limit, _ in workers] == [300 * MiB, 300 * MiB]
    spill = (tmp_path / ".cellfleet" / "spill").resolve()
    assert all(Path(folder).resolve().is_relative_to(spill) for _, folder in workers), workers
