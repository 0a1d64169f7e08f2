"""``GET cluster`` on a real Jupyter server: no shared cluster, a stale record, and a real one
started with the `cellfleet cluster` command in the server's project."""

from __future__ import annotations

import json
import subprocess
import sys

from cellfleet.cluster.record import ClusterRecord, paths, write_record
from shared_helpers import project_in


async def cluster(jp_fetch) -> dict:
    response = await jp_fetch("cellfleet", "api", "cluster")
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def test_no_shared_cluster_says_how_to_start_one(jp_fetch, jp_root_dir):
    assert await cluster(jp_fetch) == {"running": False, "problem": None, "start": "cellfleet cluster start"}


async def test_a_stale_record_is_reported_and_left_alone(jp_fetch, jp_root_dir):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)
    where = paths(jp_root_dir)
    write_record(where.record, ClusterRecord("tcp://127.0.0.1:9", dead, 1.0, 0.0, "LocalCluster", 1, 0, 2**30))
    answer = await cluster(jp_fetch)
    assert answer["running"] is False and answer["problem"] == (
        f"the shared cluster in .cellfleet/cluster.json is gone (pid {dead})"
    )
    assert where.record.exists()  # the server only reads; a kernel or the command removes it


async def test_a_running_shared_cluster_is_described_with_its_live_workers(jp_fetch, jp_root_dir):
    with project_in(jp_root_dir) as project:
        record = project.start("--gpus", "0", "--workers", "2", "--memory-limit", "1GiB", "--preload", "colorsys")
        answer = await cluster(jp_fetch)
    assert answer["running"] is True and answer["problem"] is None
    expected = {"address": record.address, "dashboard": record.dashboard, "kind": "LocalCluster", "pid": record.pid}
    assert {key: answer[key] for key in expected} == expected
    assert (answer["workers"], answer["gpus"], answer["preload"]) == (2, 0, ["colorsys"])
    assert (answer["memory_per_worker"], answer["memory"]) == (2**30, 2**31) and answer["uptime"] >= 0
    assert answer["live"] == {"workers": 2, "processing": 0}  # asked of the scheduler's own HTTP JSON
