"""Kernels on the project's warm shared cluster: real kernels (jupyter_client), the real
`cellfleet cluster` command, a real `cellfleet run`, in a project folder of this module's own
(``CELLFLEET_ROOT``), so no other test's kernel ever sees the cluster started here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from distributed import Client
from jupyter_client.manager import start_new_kernel

from cellfleet.cluster.record import ClusterRecord, Liveness, answers, liveness
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from conftest import eventually
from dask_processes import DaskCluster
from jobs_helpers import stop, write_notebook
from kernel_helpers import Reply, execute
from shared_helpers import Project, environment, project_fixture, project_in  # noqa: F401  (the project fixture)

PROBE = "cellfleet_probe_preload"
"""A module in the project folder that the shared cluster's workers preload."""
WHERE = (
    "%%remote\nimport os, sys\nfrom distributed import get_worker\n"
    f"where = get_worker().address\npreloaded = getattr(sys.modules.get({PROBE!r}), 'PID', None) == os.getpid()"
)
SHOW = "print(where, preloaded)"
NOTICE = "the shared cluster recorded in .cellfleet/cluster.json is gone (pid {pid}); starting a private one"


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[tuple[Project, ClusterRecord]]:
    """A shared cluster of two workers, each preloading :data:`PROBE`, for this module's kernels."""
    root = tmp_path_factory.mktemp("shared-project")
    (root / f"{PROBE}.py").write_text("import os\nPID = os.getpid()  # the worker process that imported it\n")
    with project_in(root) as made:
        yield made, made.start("--gpus", "0", "--workers", "2", "--preload", PROBE)


class Kernel:
    """A real kernel of the cellfleet kernelspec, started in ``root``."""

    def __init__(self, root: Path, **env: str) -> None:
        self.manager, self.client = start_new_kernel(
            kernel_name="cellfleet", env=environment(root, **env), cwd=str(root)
        )

    def run(self, code: str, **kwargs) -> Reply:
        return execute(self.client, code, **kwargs)

    def where(self) -> tuple[str, bool, Reply]:
        """The worker a trivial remote cell ran on, whether it had the probe preloaded, and the reply."""
        reply = self.run(WHERE)
        assert reply.errors == [], reply.text
        address, preloaded = self.run(SHOW).streams["stdout"].split()
        return address, preloaded == "True", reply

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernels() -> Iterator[list[Kernel]]:
    """The kernels a test starts, all shut down at its end."""
    started: list[Kernel] = []
    yield started
    for kernel in started:
        kernel.close()


def _workers(address: str) -> set[str]:
    with warnings.catch_warnings(), Client(address, timeout="10s", set_as_default=False) as client:
        return set(client.scheduler_info(n_workers=-1)["workers"])


def test_a_restarted_kernel_is_served_by_the_same_preloaded_workers(shared, kernels):
    project, record = shared
    workers = _workers(record.address)
    kernel = Kernel(project.root)
    kernels.append(kernel)
    before, preloaded, reply = kernel.where()
    assert before in workers and preloaded and "private" not in reply.text
    status = kernel.run("%cellfleet status").text
    assert f"{record.address} (shared LocalCluster, pid {record.pid}" in status
    every = kernel.run(
        f"import cellfleet, sys\nprint(sorted(cellfleet.client().run(lambda: {PROBE!r} in sys.modules).values()))"
    )
    assert every.streams["stdout"].strip() == "[True, True]"  # every worker preloaded it

    kernel.manager.restart_kernel(now=True)
    kernel.client.wait_for_ready(timeout=120)
    after, preloaded, reply = kernel.where()
    assert after in workers and preloaded and "private" not in reply.text
    assert _workers(record.address) == workers  # the same worker processes served both kernels


def _waiting_cell(started: Path, release: Path | None) -> str:
    """A remote cell that says it started, then waits for ``release`` (or for ever)."""
    code = f"%%remote\nimport os, time\nopen({str(started)!r}, 'w').close()\n"
    if release is None:
        return code + "while True:\n    time.sleep(0.02)"
    return code + f"while not os.path.exists({str(release)!r}):\n    time.sleep(0.02)\ny = 42\nprint('b finished')"


def test_two_kernels_share_it_and_an_interrupt_stops_only_its_own_cell(shared, kernels, tmp_path):
    project, record = shared
    workers = _workers(record.address)
    a, b = Kernel(project.root), Kernel(project.root)
    kernels += [a, b]
    b_started, b_release, a_started = tmp_path / "b-started", tmp_path / "b-release", tmp_path / "a-started"
    replies: list[Reply] = []
    cell_b = threading.Thread(target=lambda: replies.append(b.run(_waiting_cell(b_started, b_release), timeout=180)))
    cell_b.start()
    try:
        assert eventually(b_started.exists, 120)
        stopped = a.run(_waiting_cell(a_started, None), tick=_interrupt_once(a, a_started))
        assert [name for name, _ in stopped.errors] == ["CellCancelled"] and "KeyboardInterrupt" not in stopped.text
        assert cell_b.is_alive()  # B's cell runs on, untouched by A's stop
    finally:
        b_release.touch()
        cell_b.join(180)
    (reply,) = replies
    assert reply.errors == [] and "b finished" in reply.text
    assert b.run("print(y)").streams["stdout"].strip() == "42"
    assert _workers(record.address) == workers  # no worker was restarted to stop A's cell
    assert a.where()[0] in workers  # and A goes on using the shared cluster


def test_cellfleet_run_uses_the_shared_cluster(shared, tmp_path):
    project, record = shared
    notebook = write_notebook(
        project.root / "where.ipynb",
        ["%load_ext cellfleet", WHERE, SHOW],
        parameters=None,
    )
    done = project.cellfleet("run", str(notebook))
    assert done.returncode == 0, done.stderr
    output = Path(done.stdout.strip().rpartition("output notebook ")[2])
    cells = nbformat.read(output, as_version=4).cells
    address, preloaded = "".join(o.get("text", "") for o in cells[-1].outputs).split()
    assert address in _workers(record.address) and preloaded == "True"


def test_a_job_the_scheduler_runs_uses_the_shared_cluster(shared, tmp_path):
    project, record = shared
    notebook = write_notebook(project.root / "scheduled.ipynb", ["%load_ext cellfleet", WHERE, SHOW])
    promoted = project.cellfleet("promote", str(notebook), "--name", "scheduled", "--every", "1d")
    assert promoted.returncode == 0, promoted.stderr
    assert project.cellfleet("jobs", "run-now", "scheduled").returncode == 0
    url = f"sqlite:///{project.root / '.cellfleet' / 'cellfleet.db'}"
    with open(tmp_path / "scheduler.log", "ab") as log:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "cellfleet.cli", "scheduler", "--poll", "0.2"],
            cwd=project.root, env=environment(project.root), stdout=log, stderr=log,
        )  # fmt: skip
    try:
        jobs = JobStore(Store(url))
        job = jobs.get_job("scheduled")["id"]

        def done() -> list[dict]:
            return [r for r in jobs.job_runs(job, limit=10) if r["status"] not in ("queued", "running")]

        assert eventually(lambda: bool(done()), 180), (tmp_path / "scheduler.log").read_text()
    finally:
        stop(scheduler)
    (run,) = done()
    assert run["status"] == "succeeded", run["error"]
    cells = nbformat.read(run["output_path"], as_version=4).cells
    address, preloaded = "".join(o.get("text", "") for o in cells[-1].outputs).split()
    assert address in _workers(record.address) and preloaded == "True"


def test_an_explicit_scheduler_wins_over_the_shared_cluster(shared, kernels, tmp_path):
    project, _ = shared
    other = DaskCluster(tmp_path / "dask").start()
    try:
        worker = other.worker("only")
        kernel = Kernel(project.root, CELLFLEET_SCHEDULER=other.address)
        kernels.append(kernel)
        address, preloaded, _ = kernel.where()
        assert address == worker and not preloaded
    finally:
        other.close()


def test_a_killed_shared_cluster_is_replaced_by_a_private_one_with_a_notice(project, kernels, tmp_path):
    kernel = Kernel(project.root)
    kernels.append(kernel)
    started = kernel.run("%cellfleet start --gpus 0 --workers 1")
    record = project.note()
    assert record is not None and started.errors == [], started.text
    assert f"shared cluster started at {record.address}" in started.text
    assert os.getsid(record.pid) == record.pid  # not in the kernel's session or process group

    marker = tmp_path / "local-started"
    tick = _interrupt_once(kernel, marker)
    local = kernel.run(f"import time\nopen({str(marker)!r}, 'w').close()\ntime.sleep(120)", tick=tick)
    assert [name for name, _ in local.errors] == ["KeyboardInterrupt"]
    assert liveness(record) is Liveness.LIVE and answers(record.address)  # the interrupt never reached it

    first, _, reply = kernel.where()
    assert first in _workers(record.address) and "private" not in reply.text
    os.killpg(record.pid, signal.SIGKILL)
    assert eventually(lambda: liveness(record) is not Liveness.LIVE)
    second, _, reply = kernel.where()
    assert NOTICE.format(pid=record.pid) in reply.streams.get("stderr", "")
    assert "cellfleet cluster start to bring it back" in reply.text
    assert second != first and project.record() is None  # a private cluster; the stale record is gone


def _interrupt_once(kernel: Kernel, marker: Path):
    pressed: list[bool] = []

    def tick() -> None:
        if not pressed and marker.exists():
            pressed.append(True)
            kernel.manager.interrupt_kernel()

    return tick


def test_a_stopped_shared_cluster_is_said_and_one_started_later_is_used_after_shutdown(project, kernels):
    record = project.start("--gpus", "0", "--workers", "1")
    kernel = Kernel(project.root)
    kernels.append(kernel)
    status = kernel.run("%cellfleet status").text  # before any cell: described from its record
    assert f"shared cluster  {record.address}" in status and "next %%remote cell runs there" in status
    assert kernel.where()[0] in _workers(record.address)
    assert project.cellfleet("cluster", "stop").returncode == 0
    _, _, reply = kernel.where()
    said = f"the shared cluster at {record.address} stopped; starting a private one — cellfleet cluster start"
    assert said in reply.streams.get("stderr", "")

    started = kernel.run("%cellfleet start --gpus 0 --workers 1")
    again = project.note()
    assert again is not None and again != record and started.errors == [], started.text
    assert "this kernel still uses its private cluster: %cellfleet shutdown" in started.text
    assert kernel.where()[0] not in _workers(again.address)  # still the private cluster
    assert "embedded cluster closed" in kernel.run("%cellfleet shutdown").text
    assert kernel.where()[0] in _workers(again.address)
    left = kernel.run("%cellfleet shutdown").text
    assert f"left the shared cluster at {again.address}, which runs on" in left and liveness(again) is Liveness.LIVE


def test_percent_cellfleet_start_mistakes_are_usage_errors(project, kernels):
    kernel = Kernel(project.root)
    kernels.append(kernel)
    reply = kernel.run("%cellfleet start --memory-limit lots")  # IPython prints a UsageError on stderr
    line = "UsageError: %cellfleet start: argument --memory-limit: 'lots' is not a size"
    assert line in reply.streams.get("stderr", "") and "Traceback" not in reply.text
    assert project.record() is None


def test_a_shared_cluster_that_does_not_answer_is_said_and_left_recorded(project, kernels):
    record = project.start("--gpus", "0", "--workers", "1")
    os.kill(record.pid, signal.SIGSTOP)  # alive, but its scheduler answers nothing
    try:
        kernel = Kernel(project.root)
        kernels.append(kernel)
        where, _, reply = kernel.where()
        said = f"is gone (pid {record.pid} does not answer at {record.address}); starting a private one"
        assert said in reply.streams.get("stderr", "") and "cellfleet cluster stop, then" in reply.text
        assert project.record() == record  # its process lives: the record stays for `cellfleet cluster stop`
    finally:
        os.kill(record.pid, signal.SIGCONT)
    assert where not in _workers(record.address)


def test_a_cell_that_ignores_its_stop_never_costs_another_kernel_its_worker(project, kernels, tmp_path):
    record = project.start("--gpus", "0", "--workers", "1")
    workers = _workers(record.address)
    a, b = Kernel(project.root, CELLFLEET_KILL_GRACE="1"), Kernel(project.root)
    kernels += [a, b]
    assert b.run("%%remote --keep kept\nkept = list(range(5))").errors == []
    started = tmp_path / "a-started"
    stuck = f"%%remote\nimport time\nopen({str(started)!r}, 'w').close()\ntime.sleep(600)  # deaf to the interrupt"
    stopped = a.run(stuck, tick=_interrupt_once(a, started))
    assert stopped.errors and "also holds other kernels' work, so it was not restarted" in stopped.text
    assert b.run("%%remote\ntotal = sum(kept)\nprint(total)").streams["stdout"].strip() == "10"
    assert _workers(record.address) == workers  # not restarted: B's kept result lives on
