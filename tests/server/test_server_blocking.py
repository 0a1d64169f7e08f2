"""The Jupyter server never blocks on the store: with another process holding SQLite's write
lock, Jupyter and the panel's reads answer at once and a write answers 503 within its bounded
wait (the issue asks for these time bounds; they are generous on purpose)."""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from cellfleet.errors import StoreError
from cellfleet.server import _unload_jupyter_server_extension
from cellfleet.server.files import CHUNK
from cellfleet.server.routes import ROUTES
from cellfleet.server.state import BUSY_TIMEOUT
from cellfleet.store.database import Store
from jobs_helpers import write_notebook

_HOLD = 10.0
"""Seconds the other process holds the write lock."""
_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""


@pytest.fixture
def db_path(jp_root_dir) -> Path:
    return jp_root_dir / ".cellfleet" / "cellfleet.db"


@pytest.fixture
def store(db_path):
    store = Store(f"sqlite:///{db_path}")
    store.create_run(notebook="train.ipynb", kind="variant", params={"lr": 0.1}, status="succeeded")
    yield store
    store.close()


@pytest.fixture
def hold_lock(db_path) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    """Starts another process holding the store's write lock; returns once it holds it."""
    holders: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(db_path), str(_HOLD)], stdout=subprocess.PIPE, text=True
        )
        holders.append(holder)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        return holder

    try:
        yield start
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()


async def timed(request) -> tuple[float, object]:
    """The seconds a request took and its response (or the HTTP error it raised)."""
    started = time.monotonic()
    try:
        response: object = await request
    except HTTPClientError as error:
        response = error
    return time.monotonic() - started, response


async def warm(jp_fetch) -> None:
    """One request before the lock is taken: the server's store is open (it opens at load)."""
    assert (await jp_fetch("cellfleet", "api", "runs")).code == 200


def assert_busy(elapsed: float, response: object) -> None:
    assert isinstance(response, HTTPClientError) and response.code == 503, response
    message = json.loads(response.response.body)["message"]
    assert "busy" in message and "retry" in message and "\n" not in message
    assert response.response.headers["Retry-After"] == "1"
    assert elapsed < _HOLD - 2, elapsed  # answered within its own bounded wait, not when the lock went


async def test_reads_answer_and_a_new_job_gets_503_while_another_process_holds_the_lock(
    jp_fetch, store, jp_root_dir, hold_lock
):
    write_notebook(jp_root_dir / "train.ipynb", ["print(lr)"])
    await warm(jp_fetch)
    hold_lock()
    body = json.dumps({"notebook": "train.ipynb", "name": "nightly", "cron": "0 2 * * *"})
    post = asyncio.ensure_future(timed(jp_fetch("cellfleet", "api", "jobs", method="POST", body=body)))
    await asyncio.sleep(0.2)  # the POST now waits for the lock in the pool
    status, runs = await asyncio.gather(timed(jp_fetch("api", "status")), timed(jp_fetch("cellfleet", "api", "runs")))
    assert not post.done()
    assert status[0] < 1.0 and getattr(status[1], "code", None) == 200, status
    assert runs[0] < 1.0 and getattr(runs[1], "code", None) == 200, runs
    assert json.loads(runs[1].body)["total"] == 1  # type: ignore[attr-defined]
    assert_busy(*await post)


async def test_job_writes_get_503_while_locked_and_work_once_the_lock_goes(jp_fetch, store, jp_root_dir, hold_lock):
    write_notebook(jp_root_dir / "train.ipynb", ["print(lr)"])
    body = json.dumps({"notebook": "train.ipynb", "name": "hourly", "every": "1h"})
    assert (await jp_fetch("cellfleet", "api", "jobs", method="POST", body=body)).code == 201
    holder = hold_lock()
    writes = [
        jp_fetch("cellfleet", "api", "jobs", "hourly", "pause", method="POST", body="{}"),
        jp_fetch("cellfleet", "api", "jobs", "hourly", "run-now", method="POST", body="{}"),
        jp_fetch("cellfleet", "api", "jobs", "hourly", method="DELETE"),
    ]
    pending = asyncio.gather(*(timed(write) for write in writes))
    await asyncio.sleep(0.2)
    status = await timed(jp_fetch("api", "status"))
    assert status[0] < 1.0 and getattr(status[1], "code", None) == 200, status
    for elapsed, response in await pending:
        assert_busy(elapsed, response)
    holder.kill()
    holder.wait()
    paused = await jp_fetch("cellfleet", "api", "jobs", "hourly", "pause", method="POST", body="{}")
    assert json.loads(paused.body)["paused"] is True


async def test_a_large_artifact_streams_whole_in_chunks(jp_fetch, store):
    run_id = store.list_runs()[0]["id"]
    data = bytes(range(256)) * (3 * CHUNK // 256) + b"tail"
    store.add_artifact(run_id, "weights.bin", data, "application/octet-stream")
    (artifact,) = json.loads((await jp_fetch("cellfleet", "api", "runs", run_id)).body)["artifacts"]
    response = await jp_fetch("cellfleet", "api", "runs", run_id, "artifacts", str(artifact["id"]))
    assert response.body == data and response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers.get("Transfer-Encoding") == "chunked"  # sent while read, not read whole first


def test_every_handler_method_is_a_coroutine():
    for _, handler in ROUTES:
        methods = [vars(handler)[name] for name in ("get", "post", "put", "patch", "delete") if name in vars(handler)]
        assert methods, handler
        for method in methods:
            assert inspect.iscoroutinefunction(inspect.unwrap(method)), (handler, method)


async def test_the_server_owns_one_store_with_a_short_wait_and_closes_it_on_unload(jp_fetch, jp_serverapp, store):
    state = jp_serverapp.web_app.settings["cellfleet"]
    await warm(jp_fetch)
    opened = state.store()
    assert state.store() is opened and opened.url == store.url
    with opened.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT * 1000
    _unload_jupyter_server_extension(jp_serverapp)
    with pytest.raises(StoreError):
        state.store()
    with pytest.raises(RuntimeError):
        state.executor.submit(print)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("cellfleet", "api", "runs")
    assert info.value.code == 503 and "restart" in json.loads(info.value.response.body)["message"]
