"""``cellfleet promote``, ``cellfleet run``, ``cellfleet scheduler`` and ``cellfleet jobs``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from cellfleet.cli.runs import CommandError, table
from cellfleet.production.schedules import describe_schedule, job_state, local_time, next_run_text

__all__ = ["EXIT_FAILED", "EXIT_OOM", "JOB_ACTIONS", "promote_command", "run_command", "scheduler_command"]

Action = Callable[[Any, argparse.Namespace], str]
"""A ``cellfleet jobs`` action: the store and the parsed arguments in, the text to print out."""


def promote_command(store: Any, args: argparse.Namespace) -> str:
    """``cellfleet promote NOTEBOOK ...``: the job made, its version and when it runs next."""
    from cellfleet.production.promote import promote, promotion_summary
    from cellfleet.production.spec import JobSpec

    job = promote(args.notebook, JobSpec.from_args(args), store)
    return promotion_summary(args.notebook, job)


EXIT_FAILED = 1
"""``cellfleet run``'s exit status for a run that failed (``2`` is a mistake in the command)."""
EXIT_OOM = 3
"""``cellfleet run``'s exit status for a run that failed out of memory (host or GPU)."""


def run_command(url: str | None, args: argparse.Namespace) -> str:
    """A one-off production run now, in this process (with ``--resume RUN``, the next attempt of
    that failed run); exit status 1 when it fails, 3 when it failed out of memory."""
    from cellfleet.production.execute import run_now, run_paths
    from cellfleet.production.expect import parse_expectations
    from cellfleet.production.spec import parse_params
    from cellfleet.protocol import FailureClass

    params = parse_params(args.param)
    expect = [str(bound) for bound in parse_expectations(args.expect or ())]  # a bad bound stops it before it runs
    run_id, ending = run_now(args.notebook, params, args.kernel, url, args.cluster, resume=args.resume, expect=expect)
    output, _ = run_paths(run_id)
    message = f"run {run_id} {ending.status}; output notebook {output}"
    if ending.status != "succeeded":
        oom = ending.failure_class is FailureClass.OOM
        kind = f" ({ending.failure_class})" if ending.failure_class else ""
        raise CommandError(f"{message}: {ending.error}{kind}", exit_code=EXIT_OOM if oom else EXIT_FAILED)
    return message


def scheduler_command(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.production.scheduler import Scheduler

    if args.concurrency < 1 or args.poll <= 0:
        raise CommandError("--concurrency must be 1 or more and --poll more than 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    Scheduler(store, concurrency=args.concurrency, poll=args.poll).serve(once=args.once)
    return ""


def _jobs_ls(store: Any, args: argparse.Namespace) -> str:
    """Every job, with its state; a broken job gets a line saying why and what to do."""
    from cellfleet.store.jobs import JobStore

    jobs = JobStore(store)
    rows, broken = [], []
    for job in jobs.list_jobs():
        state, problem = job_state(job)
        last = jobs.job_runs(job["id"], limit=1)
        rows.append({
            "job": job["id"], "name": job["name"], "state": state.value,
            "schedule": f"after {job['after']}" if job.get("after") else describe_schedule(job["schedule"]),
            "next": next_run_text(job),
            "last": _ending(last[0]) if last else "", "version": job["version"][:12], "notebook": job["notebook"],
        })  # fmt: skip
        if problem is not None:
            broken.append(_broken_line(job, problem))
    if not rows:
        return "no jobs: promote a notebook with `cellfleet promote NOTEBOOK --every 1h`"
    return "\n".join([table(rows), *([""] if broken else []), *broken])


def _ending(run: dict[str, Any]) -> str:
    """A run's status, with its failure class when it has one: ``failed (oom)``."""
    return f"{run['status']} ({run['failure_class']})" if run.get("failure_class") else str(run["status"])


def _broken_line(job: dict[str, Any], problem: str) -> str:
    return (
        f"job {job['name']} is broken: {problem}; it runs only when asked (`cellfleet jobs run-now`) until you "
        f"`cellfleet jobs delete {job['name']}` and promote its notebook again with a schedule that fires"
    )


def _jobs_show(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.store.jobs import JobStore

    jobs = JobStore(store)
    job = jobs.get_job(args.job)
    state, problem = job_state(job)
    keys = ("id", "name", "notebook", "version", "params", "cluster", "retries", "retry_on", "timeout", "overlap",
            "catchup")  # fmt: skip
    lines = [f"{key:12} {job[key]}" for key in keys]
    if job.get("expect"):
        lines.append(f"{'expect':12} {', '.join(job['expect'])}")
    if job.get("after"):
        lines.append(f"{'after':12} job {job['after']} (each of its successful runs starts this one)")
    lines += [f"{'schedule':12} {describe_schedule(job['schedule'])}", f"{'next run':12} {next_run_text(job)}"]
    lines.append(f"{'state':12} {state.value}" + (f" ({_broken_line(job, problem)})" if problem else ""))
    history = [
        {"run": r["id"], "status": r["status"], "failure": r.get("failure_class"), "attempt": r["attempt"],
         "started": local_time(r["started"]), "upstream": r.get("upstream_run_id"),
         "error": (r["error"] or r.get("environment_warning") or "")[:80]}
        for r in jobs.job_runs(job["id"], limit=args.limit)
    ]  # fmt: skip
    return "\n".join(lines) + "\n\n" + (table(history) if history else "no runs yet")


def _jobs_set(paused: bool) -> Action:
    def action(store: Any, args: argparse.Namespace) -> str:
        from cellfleet.store.jobs import JobStore

        jobs = JobStore(store)
        job = jobs.get_job(args.job)
        jobs.update_job(job["id"], paused=paused, checked_until=time.time())
        return f"job {job['name']} {'paused' if paused else 'resumed'}"

    return action


def _jobs_delete(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.store.jobs import JobStore

    jobs = JobStore(store)
    job = jobs.get_job(args.job)
    jobs.delete_job(job["id"])
    return f"job {job['name']} deleted (its runs stay in the store)"


def _jobs_run_now(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.store.jobs import JobStore

    jobs = JobStore(store)
    job = jobs.get_job(args.job)
    jobs.add_occurrence(job["id"], time.time())
    live = [s for s in jobs.schedulers().values() if time.time() - s["heartbeat"] < 10]
    waiting = (
        "a scheduler will start it now" if live else "no scheduler is running: start one with `cellfleet scheduler`"
    )
    return f"job {job['name']} queued to run now; {waiting}"


JOB_ACTIONS: dict[str, Action] = {
    "ls": _jobs_ls,
    "show": _jobs_show,
    "pause": _jobs_set(True),
    "resume": _jobs_set(False),
    "delete": _jobs_delete,
    "run-now": _jobs_run_now,
}
