"""Runs whose kernel went away are marked ``interrupted`` (real SQLite, real processes)."""

from __future__ import annotations

import platform
import subprocess
import sys

import psutil

from cellfleet.protocol import RunStatus
from cellfleet.store.database import Store
from cellfleet.store.recorder import mark_orphaned_runs, process_owner


def _dead_owner() -> str:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    started = int(psutil.Process(child.pid).create_time())
    child.kill()
    child.wait()
    return f"kernel:{child.pid}:{started}@{platform.node()}"[:64]


def test_only_runs_of_kernels_gone_from_this_host_are_interrupted(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    dead = _dead_owner()
    cases = {
        "gone": (dead, RunStatus.RUNNING),
        "gone-queued": (dead, RunStatus.QUEUED),
        "gone-but-ended": (dead, RunStatus.SUCCEEDED),
        "alive": (process_owner(), RunStatus.RUNNING),
        "elsewhere": ("kernel:1:1@another-host-entirely", RunStatus.RUNNING),
        "production": ("scheduler-1", RunStatus.RUNNING),
    }
    for run_id, (owner, status) in cases.items():
        store.create_run(id=run_id, owner=owner, status=status)
    assert sorted(mark_orphaned_runs(store)) == ["gone", "gone-queued"]
    statuses = {run_id: store.get_run(run_id)["status"] for run_id in cases}
    assert statuses == {
        "gone": "interrupted",
        "gone-queued": "interrupted",
        "gone-but-ended": "succeeded",
        "alive": "running",
        "elsewhere": "running",
        "production": "running",
    }
    assert "kernel that ran this cell went away" in store.get_run("gone")["error"]
    assert store.get_run("gone")["ended"] is not None
    assert store.get_run("gone")["failure_class"] == "kernel_died" and store.get_run("alive")["failure_class"] is None


def test_a_reused_pid_is_not_the_same_kernel(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    head, _, host = process_owner().removeprefix("kernel:").partition("@")
    pid, _, started = head.partition(":")
    store.create_run(id="old", owner=f"kernel:{pid}:{int(started) - 100}@{host}", status=RunStatus.RUNNING)
    assert mark_orphaned_runs(store) == ["old"]
