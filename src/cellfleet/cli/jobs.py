"""``cellfleet promote``, ``cellfleet run``, ``cellfleet scheduler`` and ``cellfleet jobs``."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from typing import Any

from cellfleet.cli.runs import CommandError, table

__all__ = ["JOB_ACTIONS", "promote_command", "run_command", "scheduler_command"]


def _when(timestamp: float | None) -> str:
    return dt.datetime.fromtimestamp(timestamp).isoformat(sep=" ", timespec="seconds") if timestamp else ""


def _schedule_text(job: dict[str, Any]) -> str:
    schedule = job["schedule"] or "on demand"
    return schedule.replace("every:", "every ").replace("cron:", "cron ") + (
        "s" if schedule.startswith("every") else ""
    )


def _next_due(job: dict[str, Any]) -> str:
    from cellfleet.production.schedules import Schedule

    if job["paused"] or not job["schedule"]:
        return "paused" if job["paused"] else ""
    return _when(Schedule(job["schedule"]).next_due(time.time(), job["created"]))


def promote_command(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.production.promote import promote

    job = promote(args.notebook, args, store)
    return (
        f"promoted {args.notebook} as job {job['name']} ({job['id']}), version {job['version'][:12]}, "
        f"{_schedule_text(job)}; next run {_next_due(job) or 'when asked (cellfleet jobs run-now)'}"
    )


def run_command(url: str | None, args: argparse.Namespace) -> str:
    """A one-off production run now, in this process; exit status 1 when it fails."""
    from cellfleet.production.execute import run_now, run_paths
    from cellfleet.production.promote import parse_params

    run_id, status, error = run_now(args.notebook, parse_params(args.param), args.kernel, url)
    output, _ = run_paths(run_id)
    message = f"run {run_id} {status}; output notebook {output}"
    if status != "succeeded":
        raise CommandError(f"{message}: {error}", exit_code=1)
    return message


def scheduler_command(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.production.scheduler import Scheduler

    if args.concurrency < 1 or args.poll <= 0:
        raise CommandError("--concurrency must be 1 or more and --poll more than 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    Scheduler(store, concurrency=args.concurrency, poll=args.poll).serve(once=args.once)
    return ""


def _jobs_ls(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.store.jobs import JobStore

    jobs = JobStore(store)
    rows = []
    for job in jobs.list_jobs():
        last = jobs.job_runs(job["id"], limit=1)
        rows.append({
            "job": job["id"], "name": job["name"], "schedule": _schedule_text(job), "next": _next_due(job),
            "last": last[0]["status"] if last else "", "version": job["version"][:12], "notebook": job["notebook"],
        })  # fmt: skip
    return table(rows) if rows else "no jobs: promote a notebook with `cellfleet promote NOTEBOOK --every 1h`"


def _jobs_show(store: Any, args: argparse.Namespace) -> str:
    from cellfleet.store.jobs import JobStore

    jobs = JobStore(store)
    job = jobs.get_job(args.job)
    keys = ("id", "name", "notebook", "version", "params", "cluster", "retries", "timeout", "overlap", "catchup")
    lines = [f"{key:12} {job[key]}" for key in keys]
    lines += [f"{'schedule':12} {_schedule_text(job)}", f"{'next run':12} {_next_due(job)}"]
    history = [
        {"run": r["id"], "status": r["status"], "attempt": r["attempt"], "started": _when(r["started"]),
         "error": (r["error"] or "")[:80]}
        for r in jobs.job_runs(job["id"], limit=args.limit)
    ]  # fmt: skip
    return "\n".join(lines) + "\n\n" + (table(history) if history else "no runs yet")


def _jobs_set(paused: bool) -> Any:
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


JOB_ACTIONS = {
    "ls": _jobs_ls,
    "show": _jobs_show,
    "pause": _jobs_set(True),
    "resume": _jobs_set(False),
    "delete": _jobs_delete,
    "run-now": _jobs_run_now,
}
