"""One production run: papermill executes a notebook snapshot in its own kernel.

Run as ``python -m cellfleet.production RUN_ID`` by the scheduler (so a timeout or a crash
takes down the run and its kernel, never the scheduler), or in process by
``cellfleet run``. The outcome lands in the store: the status, the failing cell and its
exception, the output notebook, and a log of the run's progress cell by cell.
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .jobs import JobStore
from .promote import materialize
from .store import Store, open_store, project_root

__all__ = ["execute_run", "main", "run_paths"]


def run_paths(run_id: str) -> tuple[Path, Path]:
    """The output notebook and the progress log of a run."""
    folder = project_root() / ".cellfleet" / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{run_id}.ipynb", folder / f"{run_id}.log"


def _environment(run: dict[str, Any], job: dict[str, Any] | None, store: Store) -> dict[str, str]:
    """What the run's kernel inherits: its run (for cellfleet.log), job, store and cluster."""
    variables = {"CELLFLEET_RUN_ID": run["id"], "CELLFLEET_NOTEBOOK": run["notebook"], "CELLFLEET_DB": store.url}
    if job is not None:
        variables["CELLFLEET_JOB_ID"] = job["id"]
        if job.get("cluster"):
            variables["CELLFLEET_SCHEDULER"] = job["cluster"]
    return variables


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


def execute_run(store: Store, run_id: str, owner: str | None = None) -> str:
    """Execute the run's notebook version with its params; returns the final status."""
    import papermill

    run = store.get_run(run_id)
    assert run is not None, f"no run {run_id}"
    jobs = JobStore(store)
    job = jobs.get_job(run["job_id"]) if run.get("job_id") else None
    text = jobs.version_content(run["code_hash"])
    assert text is not None, f"no notebook version {run['code_hash']}"
    source, (output, log) = materialize(run["code_hash"], text), run_paths(run_id)
    store.update_run(run_id, output_path=str(output), host=platform.node(), started=time.time())
    os.environ.update(_environment(run, job, store))
    kernel = (job or {}).get("kernel") or run["environment"].get("kernel")
    handler = _logger(log)
    status, error = "succeeded", None
    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters=run["params"],
            kernel_name=kernel,
            log_output=True,
            progress_bar=False,
            cwd=str(Path(run["notebook"]).parent) if run["notebook"] else None,
        )
    except BaseException as failure:  # every ending is recorded, then the process ends
        status, error = ("failed", _describe_failure(failure))
        if isinstance(failure, SystemExit):
            status = "interrupted"
    finally:
        logging.getLogger("papermill").removeHandler(handler)
        handler.close()
    jobs.finish_run(run_id, owner, status=status, error=error, ended=time.time())
    return status


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
    """``python -m cellfleet.production RUN_ID [OWNER]``: the scheduler's child process."""
    args = list(sys.argv[1:] if argv is None else argv)
    run_id, owner = args[0], (args[1] if len(args) > 1 else None)
    signal.signal(signal.SIGTERM, _on_sigterm)
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    status = execute_run(open_store(os.environ.get("CELLFLEET_DB")), run_id, owner)
    return 0 if status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
