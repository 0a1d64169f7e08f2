"""One production run: papermill executes a notebook snapshot in its own kernel.

Run as ``python -m cellfleet.production.execute RUN_ID`` by the scheduler (so a timeout or a crash
takes down the run and its kernel, never the scheduler), or in process by
``cellfleet run``. The outcome lands in the store: the status, the failing cell and its
exception, the failure's class (:mod:`cellfleet.failures`; ``expectation`` when the final
metrics break the job's ``--expect``), the output notebook, and a log of the run's progress.
A run that resumes an earlier attempt (a retry, ``cellfleet run --resume``) restores the
``%%remote`` cells that attempt finished (:mod:`cellfleet.production.resume`).
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cellfleet.config import (
    default_url,
    export_run_environment,
    run_environment,
    store_url_from_environment,
)
from cellfleet.failures import classify
from cellfleet.ids import new_id
from cellfleet.production.drift import record_environment, record_worker_drift
from cellfleet.production.paths import run_paths
from cellfleet.production.promote import materialize
from cellfleet.production.resume import RESUME_KEY, check_resumable, mark_restored, resumed_run
from cellfleet.protocol import FailureClass, RunKind, RunStatus

if TYPE_CHECKING:
    from cellfleet.store.database import Store

__all__ = ["Ending", "execute_run", "main", "run_now", "run_paths"]


def _environment(
    run_id: str,
    notebook: str,
    url: str,
    job: dict[str, Any] | None,
    cluster: str | None = None,
    resume_from: str | None = None,
) -> dict[str, str]:
    """What the run's kernel inherits: its run (for cellfleet.log, and the link of its %%remote
    cells), job, store, cluster (the job's, or ``cellfleet run --cluster``) and the run it resumes."""
    if job is None:
        return run_environment(run_id, notebook, url, scheduler=cluster, resume_from=resume_from)
    cluster = job.get("cluster") or cluster
    return run_environment(run_id, notebook, url, job_id=job["id"], scheduler=cluster, resume_from=resume_from)


def _logger(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logging.getLogger("papermill").addHandler(handler)
    logging.getLogger("papermill").setLevel(logging.INFO)
    return handler


def _describe_failure(error: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        return f"cell {error.cell_index} failed: {error.ename}: {error.evalue}"
    name = type(error).__name__
    if name == "DeadKernelError":
        return "the kernel died (out of memory, or killed) while running the notebook"
    if isinstance(error, SystemExit):
        return "the run was stopped"
    return f"{name}: {error}"


@dataclass(frozen=True)
class Ending:
    """How a production run ended: its status, and when it failed, why (one line) and its class."""

    status: RunStatus
    error: str | None = None
    failure_class: FailureClass | None = None

    def fields(self) -> dict[str, Any]:
        """The run's columns this ending sets."""
        kind = self.failure_class.value if self.failure_class else None
        return {"status": self.status, "error": self.error, "failure_class": kind, "ended": time.time()}


def _papermill(source: Path, run_id: str, notebook: str, params: dict[str, Any], kernel: str | None) -> Ending:
    """Execute with papermill, logging progress cell by cell; returns how it ended."""
    import papermill

    output, log = run_paths(run_id)
    handler = _logger(log)
    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters=params,
            kernel_name=kernel,
            log_output=True,
            progress_bar=False,
            cwd=str(Path(notebook).parent) if notebook else None,
        )
    except BaseException as failure:  # every ending is recorded, then the process ends
        if isinstance(failure, SystemExit):
            return Ending(RunStatus.INTERRUPTED, _describe_failure(failure), FailureClass.CANCELLED)
        return Ending(RunStatus.FAILED, _describe_failure(failure), classify(failure))
    finally:
        logging.getLogger("papermill").removeHandler(handler)
        handler.close()
    return Ending(RunStatus.SUCCEEDED)


def _checked(store: Store, run_id: str, job: dict[str, Any] | None, ending: Ending) -> Ending:
    """A succeeded run whose final metrics break its job's ``--expect`` fails, class ``expectation``."""
    if ending.status is not RunStatus.SUCCEEDED or not (job or {}).get("expect"):
        return ending
    from cellfleet.production.expect import unmet
    from cellfleet.store.queries import production_finals

    problem = unmet(job["expect"], production_finals(store, run_id))  # type: ignore[index]
    return ending if problem is None else Ending(RunStatus.FAILED, problem, FailureClass.EXPECTATION)


def execute_run(store: Store, run_id: str, owner: str | None = None) -> RunStatus:
    """Execute a run the scheduler recorded; returns the final status."""
    from cellfleet.store.jobs import JobStore

    run = store.get_run(run_id)
    assert run is not None, f"no run {run_id}"
    jobs = JobStore(store)
    job = jobs.get_job(run["job_id"]) if run.get("job_id") else None
    text = jobs.version_content(run["code_hash"])
    assert text is not None, f"no notebook version {run['code_hash']}"
    output, _ = run_paths(run_id)
    store.update_run(run_id, output_path=str(output), host=platform.node(), started=time.time())
    record_environment(store, run, job)  # and how it differs from the promoted experiment's
    resume_from = resumed_run(run)
    export_run_environment(_environment(run_id, run["notebook"], store.url, job, resume_from=resume_from))
    kernel = (job or {}).get("kernel") or run["environment"].get("kernel")
    ending = _papermill(materialize(run["code_hash"], text), run_id, run["notebook"], run["params"], kernel)
    record_worker_drift(store, run_id, job)  # a job promoted from a %%remote cell: its workers' drift
    if resume_from:
        mark_restored(output)
    ending = _checked(store, run_id, job, ending)
    jobs.finish_run(run_id, owner, **ending.fields())
    return ending.status


def run_now(
    notebook: str,
    params: dict[str, Any],
    kernel: str | None,
    url: str | None,
    cluster: str | None = None,
    resume: str | None = None,
    expect: Sequence[str] = (),
) -> tuple[str, Ending]:
    """A one-off production run (``cellfleet run``): returns its id and how it ended.

    ``cluster`` is the Dask scheduler its ``%%remote`` cells use (``CELLFLEET_SCHEDULER`` for
    its kernel), else the one configured, or the embedded cluster. ``resume`` names a failed run
    of the notebook (``--resume RUN``): the new run is its next attempt, and restores its cells.
    ``expect``: bounds on its final metrics (``--expect``).
    The store's bookkeeping (SQLAlchemy's import included) happens in a thread while
    papermill starts the kernel, so recording the run adds little to its wall time.
    """
    from cellfleet.production.promote import check_params, read_snapshot

    snap, text = read_snapshot(notebook)
    if snap.parameters is not None:
        check_params(snap, params)  # without a parameters cell papermill injects at the top, as it does
    from cellfleet.store.database import open_store

    if url is not None:
        open_store(url)  # a store named by the user is checked before anything runs
    run_id, url = new_id(), url or default_url()
    resumed, attempt = _resumed(url, resume, str(snap.source))
    environment = {"kernel": kernel, **({"cluster": cluster} if cluster else {}), **resumed}
    fields = {"params": params, "started": time.time(), "environment": environment, "attempt": attempt}
    problems: list[BaseException] = []
    record = threading.Thread(target=_record_start, args=(url, run_id, snap, text, fields, problems))
    record.start()
    export_run_environment(_environment(run_id, str(snap.source), url, None, cluster, resumed.get(RESUME_KEY)))
    ending = _papermill(snap.path, run_id, str(snap.source), params, kernel)
    record.join()
    if problems:
        raise problems[0]
    return run_id, _finish(open_store(url), run_id, ending, bool(resumed), expect)


def _finish(store: Store, run_id: str, ending: Ending, resumed: bool, expect: Sequence[str] = ()) -> Ending:
    """Record a ``cellfleet run``'s ending (failed when it breaks ``expect``); a resuming run marks
    the cells it restored."""
    from cellfleet.store.jobs import JobStore

    ending = _checked(store, run_id, {"expect": list(expect)}, ending)
    JobStore(store).finish_run(run_id, None, **ending.fields())
    if resumed:
        mark_restored(run_paths(run_id)[0])
    return ending


def _resumed(url: str, resume: str | None, notebook: str) -> tuple[dict[str, str], int]:
    """The environment entry and attempt number of a run that resumes ``resume`` (checked first)."""
    if resume is None:
        return {}, 0
    from cellfleet.store.database import open_store

    previous = check_resumable(open_store(url), resume, notebook)
    return {RESUME_KEY: previous["id"]}, int(previous.get("attempt") or 0) + 1


def _record_start(
    url: str, run_id: str, snap: Any, text: str, fields: dict[str, Any], problems: list[BaseException]
) -> None:
    try:
        _record(url, run_id, snap, text, fields)
    except Exception as error:  # raised again by the main thread, as one line
        problems.append(error)


def _record(url: str, run_id: str, snap: Any, text: str, fields: dict[str, Any]) -> None:
    from cellfleet.store.database import open_store
    from cellfleet.store.jobs import JobStore

    store = open_store(url)
    JobStore(store).save_version(snap.digest, str(snap.source), text)
    output, _ = run_paths(run_id)
    store.create_run(
        id=run_id, kind=RunKind.PRODUCTION, notebook=str(snap.source), cell_name=snap.source.stem,
        code_hash=snap.digest, status=RunStatus.RUNNING, output_path=str(output), host=platform.node(),
        **fields,
    )  # fmt: skip
    record_environment(store, store.get_run(run_id) or {}, None)


def _stop_when_orphaned(parent: int) -> None:
    """A run whose scheduler died stops itself, so a recovered occurrence never runs twice."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """``python -m cellfleet.production.execute RUN_ID [OWNER]``: the scheduler's child process."""
    args = list(sys.argv[1:] if argv is None else argv)
    run_id, owner = args[0], (args[1] if len(args) > 1 else None)
    signal.signal(signal.SIGTERM, _on_sigterm)
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    from cellfleet.store.database import open_store

    status = execute_run(open_store(store_url_from_environment()), run_id, owner)
    return 0 if status == RunStatus.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
