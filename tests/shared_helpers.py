"""The warm shared cluster in tests: a project folder of the test's own, the real `cellfleet
cluster` command run in it, and a finalizer that leaves no cluster process behind.

Every command, kernel and cluster here gets ``CELLFLEET_ROOT`` set to the test's own folder,
so the suite's other kernels (whose root is the session's project folder) never see a shared
cluster started here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cellfleet.cluster.record import ClusterRecord, Liveness, liveness, paths, read_record


def environment(root: Path, **extra: str) -> dict[str, str]:
    """This process's environment, in the project at ``root``, with no cluster address set."""
    env = {key: value for key, value in os.environ.items() if key != "CELLFLEET_SCHEDULER"}
    return {**env, "CELLFLEET_ROOT": str(root), "CELLFLEET_STATUS": "off", **extra}


class Project:
    """A project folder and the shared clusters started in it (each killed at the end)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: list[ClusterRecord] = []

    def cellfleet(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run ``cellfleet ARGS`` in this project; remembers any cluster it started."""
        done = subprocess.run(
            [sys.executable, "-m", "cellfleet.cli", *args],
            capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root, env=environment(self.root),
        )  # fmt: skip
        self.note()
        return done

    def note(self) -> ClusterRecord | None:
        """The current record (remembered, for the finalizer)."""
        record = self.record()
        if record is not None and record not in self.seen:
            self.seen.append(record)
        return record

    def record(self) -> ClusterRecord | None:
        """The record in this project, if there is one that reads."""
        try:
            return read_record(paths(self.root).record)
        except ValueError:
            return None

    def start(self, *args: str) -> ClusterRecord:
        done = self.cellfleet("cluster", "start", *args)
        assert done.returncode == 0, done.stderr
        record = self.note()
        assert record is not None
        return record

    def close(self) -> None:
        """Stop the cluster through the command, then kill what is left of every one seen."""
        if self.record() is not None:
            self.cellfleet("cluster", "stop")
        for record in self.seen:
            if liveness(record) is Liveness.LIVE:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(record.pid, signal.SIGKILL)


@contextlib.contextmanager
def project_in(root: Path) -> Iterator[Project]:
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root)
    try:
        yield project
    finally:
        project.close()


@pytest.fixture(name="project")
def project_fixture(tmp_path: Path) -> Iterator[Project]:
    """A project folder of this test's own, and its shared clusters cleaned up."""
    with project_in(tmp_path / "project") as made:
        yield made


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The one line ``done`` printed on stderr, checked to be a one-line error with ``code``."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]
