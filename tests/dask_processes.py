"""Real Dask processes for the tests: a ``dask scheduler`` on a port of its own (so it can be
killed and started again at the same address) and ``dask worker`` processes, all started with
the venv's ``dask`` command, their logs in a folder of the test's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

from distributed import Client
from distributed.versions import VersionMismatchWarning

DASK = str(Path(sys.executable).with_name("dask"))
START_TIMEOUT = 120.0
"""Seconds a process may take to come up on a busy two-core machine."""

WITHOUT_CELLFLEET = '''"""Worker preload: this worker's environment cannot import cellfleet."""
import sys


class _NoCellfleet:
    def find_spec(self, name, path=None, target=None):
        if name == "cellfleet" or name.startswith("cellfleet."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


for _name in [n for n in sys.modules if n == "cellfleet" or n.startswith("cellfleet.")]:
    del sys.modules[_name]
sys.meta_path.insert(0, _NoCellfleet())
'''
"""A ``--preload`` file: the worker's environment lacks cellfleet (its imports fail)."""

OLD_DASK = '''"""Worker preload: this worker reports another dask release, as distributed reads it."""
import distributed.versions as _versions

_real = getattr(_versions, "_real_version_cached", _versions._version_cached)  # the preload may run twice
_versions._real_version_cached = _real


def _other(package):
    return "2024.1.0" if package == "dask" else _real(package)


_versions._version_cached = _other
'''
"""A ``--preload`` file: the worker says (through distributed's own versions) it has dask 2024.1.0."""


COUNT_RECEIVED = '''"""Preload: count the bytes this process receives over its TCP comms (every frame of every
message), answered by the handler ``cellfleet_received``."""
import distributed.comm.tcp as _tcp

if not hasattr(_tcp, "cellfleet_received"):  # the preload may run twice
    _tcp.cellfleet_received = [0]
    _real = _tcp.from_frames

    async def _counting(frames, *args, **kwargs):
        _tcp.cellfleet_received[0] += sum(memoryview(frame).nbytes for frame in frames)
        return await _real(frames, *args, **kwargs)

    _tcp.from_frames = _counting


def dask_setup(server):
    server.handlers["cellfleet_received"] = lambda: _tcp.cellfleet_received[0]
'''
"""A ``--preload`` file for a scheduler or a worker: it counts the bytes it receives."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes], kill: bool = False) -> None:
    """End ``process`` (and its children, which share its process group), then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


class DaskCluster:
    """A ``dask scheduler`` at a fixed address and the ``dask worker`` processes started on it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "ab")
        with log:
            return subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)

    def start(self, preload: str | None = None) -> DaskCluster:
        """Start (or start again) the scheduler; returns when it accepts connections.
        ``preload``: the text of a ``--preload`` file for it."""
        command = [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard", "--no-show"]
        if preload is not None:
            path = self.folder / "preload_scheduler.py"
            path.write_text(preload)
            command += ["--preload", str(path)]
        self.scheduler = self._spawn("scheduler", command)
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(self.port):
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start; see {self.folder / 'scheduler.log'}")
            time.sleep(0.1)
        return self

    def kill_scheduler(self) -> None:
        assert self.scheduler is not None
        stop(self.scheduler, kill=True)

    def worker(self, name: str, *flags: str, preload: str | None = None, wait: bool = True) -> str:
        """Start a worker called ``name`` (one thread); returns its address once it has joined
        (``""`` with ``wait=False``). ``preload``: the text of a ``--preload`` file for it."""
        command = [DASK, "worker", self.address, "--name", name, "--nthreads", "1", "--no-dashboard"]
        if preload is not None:
            path = self.folder / f"preload_{name}.py"
            path.write_text(preload)
            command += ["--preload", str(path)]
        self.workers[name] = self._spawn(name, [*command, *flags])
        return self.wait_for(name) if wait else ""

    def named(self) -> dict[str, str]:
        """Worker name → address, of the workers the scheduler has now."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VersionMismatchWarning)  # a test's worker may pretend other versions
            with Client(self.address, timeout="10s", set_as_default=False) as client:
                workers = client.scheduler_info(n_workers=-1)["workers"]
        return {str(info.get("name")): address for address, info in workers.items()}

    def wait_for(self, name: str) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            process = self.workers[name]
            if process.poll() is not None:
                raise RuntimeError(f"dask worker {name} exited; see {self.folder / f'{name}.log'}")
            address = self.named().get(name)
            if address:
                return address
            time.sleep(0.2)
        raise RuntimeError(f"dask worker {name} did not join {self.address}; see {self.folder / f'{name}.log'}")

    def stop_worker(self, name: str) -> None:
        stop(self.workers.pop(name))

    def close(self) -> None:
        for name in list(self.workers):
            self.stop_worker(name)
        if self.scheduler is not None:
            stop(self.scheduler)
