"""``--check``: a new job's snapshot runs once, now, on the job's cluster, before the job is active.

The job is made paused, so no scheduler starts it; the check is a production run of it in a
child process, as the scheduler's are (the job's kernel, cluster, params, ``--timeout`` and
``--expect`` apply). When it succeeds the job becomes active from now on; when it fails the
job is deleted (the run stays, with its log) and the promotion says why.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from cellfleet.config import with_store
from cellfleet.errors import PromotionError
from cellfleet.production.paths import run_paths
from cellfleet.production.pipelines import run_inputs
from cellfleet.production.processes import stop_tree
from cellfleet.protocol import FailureClass, RunKind, RunStatus
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore

__all__ = ["check_job"]


def check_job(store: Store, job: dict[str, Any]) -> str:
    """Run the paused new ``job`` once; active on success (returns the run's id), deleted with a
    :class:`~cellfleet.errors.PromotionError` naming the run and why on failure."""
    jobs = JobStore(store)
    params, upstream = run_inputs(store, job, None)
    run_id = store.create_run(
        kind=RunKind.PRODUCTION, job_id=job["id"], notebook=job["notebook"], cell_name=job["name"],
        code_hash=job["version"], params=params, status=RunStatus.RUNNING, started=time.time(), attempt=0,
        upstream_run_id=upstream, environment={"kernel": job["kernel"], "check": "true"},
    )  # fmt: skip
    try:
        _execute(store, jobs, job, run_id)
    except BaseException:  # interrupted (KeyboardInterrupt in the kernel): no job is left behind
        jobs.finish_run(run_id, None, status=RunStatus.INTERRUPTED, error="the check was interrupted",
                        failure_class=FailureClass.CANCELLED.value, ended=time.time())  # fmt: skip
        jobs.delete_job(job["id"])
        raise
    run = store.get_run(run_id) or {}
    if run.get("status") != RunStatus.SUCCEEDED:
        jobs.delete_job(job["id"])
        kind = f" ({run['failure_class']})" if run.get("failure_class") else ""
        raise PromotionError(
            f"--check: run {run_id} {run.get('status')}{kind}: {run.get('error')}; no job was made: fix the "
            f"notebook and promote again (its log: `cellfleet runs logs {run_id}`)"
        )
    jobs.update_job(job["id"], paused=False, checked_until=time.time())
    return run_id


def _execute(store: Store, jobs: JobStore, job: dict[str, Any], run_id: str) -> None:
    """The run in its own process, stopped after the job's ``--timeout``."""
    _, log_path = run_paths(run_id)
    with open(log_path, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cellfleet.production.execute", run_id],
            env=with_store(store.url), stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True,
        )  # fmt: skip
    try:
        code = process.wait(job["timeout"])
    except subprocess.TimeoutExpired:
        error, timed_out = f"stopped after its {job['timeout']:g} s timeout (--timeout)", FailureClass.TIMEOUT.value
        jobs.finish_run(run_id, None, status=RunStatus.TIMED_OUT, error=error, failure_class=timed_out,
                        ended=time.time())  # fmt: skip
        stop_tree(process.pid)
        process.wait()
        return
    finally:
        if process.poll() is None:
            stop_tree(process.pid)
    error = f"the run's process exited with status {code} before recording an ending"
    jobs.finish_run(run_id, None, status=RunStatus.FAILED, error=error, failure_class=FailureClass.KERNEL_DIED.value,
                    ended=time.time())  # fmt: skip
