"""A ``--nowait`` cell still running when its kernel restarts: its run is marked
``interrupted`` when the kernel starts again, not left ``running`` for ever."""

from __future__ import annotations

import os

from jupyter_client.manager import start_new_kernel

from cellfleet.protocol import RunStatus
from cellfleet.store.database import Store
from conftest import eventually
from kernel_helpers import execute


def _execute(client, code: str) -> str:
    return execute(client, code).streams.get("stdout", "")


def test_a_nowait_run_cut_off_by_a_kernel_restart_is_interrupted(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    manager, client = start_new_kernel(kernel_name="cellfleet", env={**os.environ, "CELLFLEET_DB": url})
    try:
        _execute(client, "%%remote --nowait --name long\nimport time\ntime.sleep(600)")
        store = Store(url)
        assert eventually(lambda: [r["status"] for r in store.list_runs()] == [RunStatus.RUNNING.value])
        manager.restart_kernel(now=True)
        client.wait_for_ready(timeout=60)
        assert eventually(lambda: store.list_runs()[0]["status"] == RunStatus.INTERRUPTED.value)
        assert "went away" in store.list_runs()[0]["error"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
