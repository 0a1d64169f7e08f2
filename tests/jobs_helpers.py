"""Helpers for the production tests: notebooks, the `cellfleet` command, scheduler processes, and
the jobs API of a real Jupyter server (pytest-jupyter's ``jp_fetch``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from tornado.httpclient import HTTPClientError


def write_notebook(path: Path, cells: list[str], parameters: str | None = "lr = 0.1") -> Path:
    """A notebook with a tagged parameters cell (unless ``parameters`` is None) and ``cells``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        notebook.cells.append(cell)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, path)
    return path


def cellfleet(url: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cellfleet.cli", "--db", url, *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def start_scheduler(url: str, log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "cellfleet.cli", "--db", url, "scheduler", "--poll", "0.2"],
        stdout=handle,
        stderr=handle,
        env={**os.environ},
    )


def stop(process: subprocess.Popen[bytes], kill: bool = False) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    process.wait(60)


def wait_for(check: Callable[[], object], seconds: float = 90.0) -> object:
    """Poll until ``check()`` is truthy; fail the test when it never is."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"gave up after {seconds} s waiting for {getattr(check, '__name__', 'a condition')}")


async def post_job(jp_fetch, body: object) -> dict:
    """``POST jobs`` with ``body``; the job it made (asserting 201)."""
    response = await jp_fetch("cellfleet", "api", "jobs", method="POST", body=json.dumps(body))
    assert response.code == 201
    return json.loads(response.body)


async def refused(jp_fetch, body: object) -> tuple[int, str]:
    """``POST jobs`` with a ``body`` the server refuses: its status and one-line message."""
    with pytest.raises(HTTPClientError) as info:
        await post_job(jp_fetch, body)
    return info.value.code, json.loads(info.value.response.body)["message"]
