"""The ``cellfleet scheduler`` service: fires due jobs, runs them, retries, recovers.

A standalone process, not part of the Jupyter server: schedules keep running when
JupyterLab is closed. All state is in the store, so a scheduler can be killed and
restarted at any time, and several can share one store:

- each due time of a job is an *occurrence*, inserted under a unique key, so it exists once;
- a scheduler takes an occurrence by compare-and-set, so exactly one runs it;
- each run executes in a child process (``python -m cellfleet.production.execute``) with its own
  kernel, so a timeout or a dying kernel never takes the scheduler down;
- a failed run is retried as its job's ``--retry-on`` says of its failure class
  (:func:`cellfleet.failures.retried`): ``infra`` retries all but the cell's own exception;
  a retry resumes the attempt before it, restoring the ``%%remote`` cells that attempt finished
  (:mod:`cellfleet.production.resume`);
- a scheduler writes a heartbeat; runs left ``running`` by one that stopped beating (or
  whose process is gone) are marked ``interrupted`` and retried per the job's policy;
- a job promoted ``--after`` another has no schedule: each successful run of its upstream
  makes it due, with that run's id and outputs (:mod:`cellfleet.production.pipelines`);
- a job whose schedule cannot give its next time is *broken* (logged once): it is passed by
  and the other jobs run;
- an occurrence held back (by the concurrency cap, or by its job's overlap policy) meets the
  job's overlap and catch-up policies every tick, so the backlog stays bounded
  (:mod:`cellfleet.production.backlog`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cellfleet.config import with_store
from cellfleet.failures import retried
from cellfleet.production.backlog import superseded
from cellfleet.production.execute import run_paths
from cellfleet.production.notify import Notifier
from cellfleet.production.pipelines import run_inputs, start_downstream
from cellfleet.production.processes import STOP_GRACE, alive, stop_tree
from cellfleet.production.resume import resumes
from cellfleet.production.schedules import Schedule, schedule_problem
from cellfleet.protocol import Catchup, FailureClass, OccurrenceState, Overlap, RetryOn, RunKind, RunStatus
from cellfleet.store.database import Store, safe_url
from cellfleet.store.jobs import JobStore

__all__ = ["Scheduler"]

log = logging.getLogger("cellfleet.scheduler")

HEARTBEAT = 1.0
MAX_BACKOFF = 300.0


@dataclass
class Child:
    """A production run executing in a child process."""

    run_id: str
    job: dict[str, Any]
    occurrence: dict[str, Any]
    process: subprocess.Popen[bytes]
    started: float


def backoff(attempt: int) -> float:
    """Seconds before retry number ``attempt + 1``: 1, 2, 4, ... up to 5 minutes."""
    return min(MAX_BACKOFF, 2.0**attempt)


class Scheduler:
    """One scheduler process over one store."""

    def __init__(self, store: Store, concurrency: int = 4, poll: float = 0.25, stale_after: float = 30.0) -> None:
        self.store = store
        self.jobs = JobStore(store)
        self.concurrency = concurrency
        self.poll = poll
        self.stale_after = stale_after
        self.id = f"{platform.node()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.children: dict[str, Child] = {}
        self.notifier = Notifier()
        self._stopping = False
        self._last_recovery = 0.0
        self.broken: dict[str, str] = {}
        """Broken jobs' ids and why: each is logged when it breaks, not every tick."""

    # the loop ---------------------------------------------------------------------

    def serve(self, once: bool = False) -> None:
        """Run until stopped (SIGTERM, SIGINT); with ``once``, until what is due has run."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._request_stop)
        log.info("scheduler %s on %s", self.id, safe_url(self.store.url))
        self.jobs.heartbeat(self.id)
        threading.Thread(target=self._beat, name="cellfleet-heartbeat", daemon=True).start()
        try:
            while not self._stopping:
                self._safe_tick()
                if once and not self.children and not self.jobs.ready_occurrences(float("inf")):
                    break
                time.sleep(self.poll)
        finally:
            self._shutdown()

    def _beat(self) -> None:
        """Heartbeats from their own thread, so a slow tick never looks like a dead scheduler."""
        while not self._stopping:
            try:
                self.jobs.heartbeat(self.id)
            except Exception:
                log.exception("could not write the heartbeat; trying again")
            time.sleep(HEARTBEAT)

    def _safe_tick(self) -> None:
        """A tick whose failure (a locked store, a bad row) is logged; the service carries on."""
        try:
            self.tick(time.time())
        except Exception:
            log.exception("scheduler tick failed; trying again")

    def _request_stop(self, signum: int, frame: Any) -> None:
        self._stopping = True

    def tick(self, now: float) -> None:
        """One pass: heartbeat, recover, plan what is due, reap finished runs, launch ready ones."""
        if now - self._last_recovery >= HEARTBEAT:
            self._last_recovery = now
            self._recover(now)
        jobs = {job["id"]: job for job in self.jobs.list_jobs()}
        for gone in set(self.broken) - set(jobs):
            del self.broken[gone]
        self._plan(jobs.values(), now)
        self._reap(now)
        self._launch(jobs, now)

    # planning ---------------------------------------------------------------------

    def _plan(self, jobs: Any, now: float) -> None:
        """Record each job's due times up to ``now``; a broken job is passed by, the others go on."""
        for job in jobs:
            if not job["schedule"]:
                continue
            problem = schedule_problem(job["schedule"], max(now, job["checked_until"]), job["created"])
            if problem is None and not job["paused"]:
                problem = self._plan_job(job, now)
            self._note_broken(job, problem)

    def _plan_job(self, job: dict[str, Any], now: float) -> str | None:
        """Add the job's occurrences due by ``now``; why not, when its due times cannot be listed."""
        try:
            times = Schedule(job["schedule"]).due_times(job["checked_until"], now, job["created"])
        except Exception as error:  # the next time came, but not the due times: still a broken row
            return f"its due times cannot be listed ({type(error).__name__}: {error})"
        if times:
            for due in self._catchup(job, times, now):
                self.jobs.add_occurrence(job["id"], due)
            self.jobs.update_job(job["id"], checked_until=times[-1])
        return None

    def _note_broken(self, job: dict[str, Any], problem: str | None) -> None:
        """Keep :attr:`broken` up to date; a job is logged when it breaks, not at every tick."""
        if problem is None:
            self.broken.pop(job["id"], None)
        elif self.broken.get(job["id"]) != problem:
            self.broken[job["id"]] = problem
            log.error("job %s (%s) is broken: %s; it does not run on schedule, the other jobs do (delete it "
                      "and promote its notebook again)", job["name"], job["id"], problem)  # fmt: skip

    def _catchup(self, job: dict[str, Any], times: list[float], now: float) -> list[float]:
        grace = max(2.0, 4 * self.poll)
        missed = [t for t in times if t < now - grace]
        fresh = [t for t in times if t >= now - grace]
        if job["catchup"] == Catchup.ALL:
            return times
        if job["catchup"] == "latest":
            return missed[-1:] + fresh
        return fresh

    # launching --------------------------------------------------------------------

    def _launch(self, jobs: dict[str, dict[str, Any]], now: float) -> None:
        """Start ready occurrences, oldest first, up to the cap; then what waits meets catch-up."""
        running: dict[str, int] = {}
        for run in self.jobs.running_runs():
            running[run["job_id"]] = running.get(run["job_id"], 0) + 1
        waiting: dict[str, list[dict[str, Any]]] = {}
        for occurrence in self.jobs.ready_occurrences(now):
            if self._stopping:
                return
            job = jobs.get(occurrence["job_id"])
            if job is None or job["paused"]:
                if self.jobs.claim(occurrence, self.id):
                    self.jobs.close_occurrence(occurrence["id"], occurrence["attempt"], OccurrenceState.CANCELLED)
                continue
            count = running.get(job["id"], 0)
            if count and not self._may_overlap(job, occurrence, count):
                if job["overlap"] != Overlap.SKIP:
                    waiting.setdefault(job["id"], []).append(occurrence)
            elif len(self.children) >= self.concurrency:
                waiting.setdefault(job["id"], []).append(occurrence)
            elif self.jobs.claim(occurrence, self.id):
                self._start(job, occurrence, now)
                running[job["id"]] = count + 1
        for job_id, held in waiting.items():
            self._drop_superseded(jobs[job_id], held, now)

    def _may_overlap(self, job: dict[str, Any], occurrence: dict[str, Any], running: int) -> bool:
        """Whether an occurrence may start beside ``running`` runs of its job; ``skip`` closes it."""
        if job["overlap"] == Overlap.ALLOW:
            return running < int(job["concurrency"])
        if job["overlap"] == Overlap.SKIP and self.jobs.claim(occurrence, self.id):
            self.jobs.close_occurrence(occurrence["id"], occurrence["attempt"], OccurrenceState.SKIPPED)
            self._record_skip(job, occurrence, "the previous run was still running (--overlap skip)")
        return False

    def _drop_superseded(self, job: dict[str, Any], held: list[dict[str, Any]], now: float) -> None:
        """Skip the held occurrences a newer due time has overtaken, as the job's catch-up says."""
        if job["id"] in self.broken:
            return
        reason = f"a newer occurrence came due while this one waited for a free slot (--catchup {job['catchup']})"
        for occurrence in superseded(job, held, now):
            if self.jobs.claim(occurrence, self.id):
                self.jobs.close_occurrence(occurrence["id"], occurrence["attempt"], OccurrenceState.SKIPPED)
                self._record_skip(job, occurrence, reason)

    def _record_skip(self, job: dict[str, Any], occurrence: dict[str, Any], reason: str) -> None:
        self.store.create_run(
            kind=RunKind.PRODUCTION, job_id=job["id"], notebook=job["notebook"], cell_name=job["name"],
            code_hash=job["version"], params=job["params"], status=RunStatus.SKIPPED, occurrence_id=occurrence["id"],
            error=reason, ended=time.time(),
        )  # fmt: skip

    def _start(self, job: dict[str, Any], occurrence: dict[str, Any], now: float) -> None:
        params, upstream = run_inputs(self.store, job, occurrence.get("upstream_run_id"))  # --after: its inputs
        run_id = self.store.create_run(
            kind=RunKind.PRODUCTION, job_id=job["id"], notebook=job["notebook"], cell_name=job["name"],
            code_hash=job["version"], params=params, status=RunStatus.RUNNING, started=now, upstream_run_id=upstream,
            attempt=occurrence["attempt"], owner=self.id, occurrence_id=occurrence["id"],
            environment={"kernel": job["kernel"], "due": occurrence["due"], "launched": now, **resumes(occurrence)},
        )  # fmt: skip
        self.jobs.set_occurrence(occurrence["id"], run_id=run_id)  # linked before anything can crash
        try:
            process = self._spawn(run_id)
        except OSError as error:
            child = Child(run_id, job, occurrence, None, now)  # type: ignore[arg-type]
            self.jobs.finish_run(run_id, self.id, status=RunStatus.FAILED, error=f"could not start the run: {error}",
                                 failure_class=FailureClass.KERNEL_DIED.value, ended=now)  # fmt: skip
            self._settle(child, now)
            return
        self.jobs.set_occurrence(occurrence["id"], runner_pid=process.pid)
        self.children[run_id] = Child(run_id, job, occurrence, process, now)
        due, attempt = occurrence["due"], occurrence["attempt"]
        log.info("started run %s of %s (due %.3f, attempt %d)", run_id, job["name"], due, attempt)

    def _spawn(self, run_id: str) -> subprocess.Popen[bytes]:
        _, log_path = run_paths(run_id)
        with open(log_path, "ab") as output:
            return subprocess.Popen(
                [sys.executable, "-m", "cellfleet.production.execute", run_id, self.id],
                env=with_store(self.store.url),
                stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True,
            )  # fmt: skip

    # reaping ----------------------------------------------------------------------

    def _reap(self, now: float) -> None:
        for run_id, child in list(self.children.items()):
            code = child.process.poll()
            if code is None:
                timeout = child.job["timeout"]
                if timeout and now - child.started > timeout:
                    self._stop_for_timeout(child, now)
                continue
            del self.children[run_id]
            error = f"the run's process exited with status {code} before recording an ending"
            died = FailureClass.KERNEL_DIED.value
            self.jobs.finish_run(run_id, self.id, status=RunStatus.FAILED, error=error, failure_class=died, ended=now)
            self._settle(child, now)

    def _stop_for_timeout(self, child: Child, now: float) -> None:
        error = f"stopped after its {child.job['timeout']:g} s timeout (--timeout)"
        timeout = FailureClass.TIMEOUT.value
        self.jobs.finish_run(child.run_id, self.id, status=RunStatus.TIMED_OUT, error=error, failure_class=timeout,
                             ended=now)  # fmt: skip
        stop_tree(child.process.pid)
        child.process.wait()
        del self.children[child.run_id]
        self._settle(child, now)

    def _settle(self, child: Child, now: float) -> None:
        run = self.store.get_run(child.run_id) or {}
        occurrence, job = child.occurrence, child.job
        status = RunStatus(run.get("status", RunStatus.FAILED))
        failure = run.get("failure_class")
        if status == RunStatus.SUCCEEDED:
            self.jobs.close_occurrence(occurrence["id"], occurrence["attempt"], OccurrenceState.DONE)
            start_downstream(self.jobs, job, child.run_id, now)  # the jobs promoted --after this one
        elif occurrence["attempt"] < job["retries"] and retried(failure, job.get("retry_on")):
            delay = backoff(occurrence["attempt"])
            self.jobs.requeue(occurrence["id"], occurrence["attempt"], now + delay)
            log.info("run %s %s (%s); retrying in %g s", child.run_id, status, failure or "no class", delay)
        else:
            if occurrence["attempt"] < job["retries"]:
                log.info("run %s %s (%s): not retried under --retry-on %s", child.run_id, status, failure,
                         job.get("retry_on") or RetryOn.INFRA)  # fmt: skip
            self.jobs.close_occurrence(occurrence["id"], occurrence["attempt"], OccurrenceState.FAILED)
        self.notifier.notify(self.store, job, run)

    # recovery ---------------------------------------------------------------------

    def _recover(self, now: float) -> None:
        """Take back occurrences claimed by schedulers that stopped: their runs are interrupted."""
        live = self.jobs.schedulers()
        for occurrence in self.jobs.claimed_occurrences():
            owner = occurrence["claimed_by"]
            if owner == self.id or not self._is_gone(live.get(owner), now):
                continue
            if occurrence["run_id"]:
                reason = "the scheduler running it stopped (crashed or was killed)"
                self.jobs.finish_run(occurrence["run_id"], owner, status=RunStatus.INTERRUPTED, error=reason,
                                     failure_class=FailureClass.CANCELLED.value, ended=now)  # fmt: skip
                if occurrence["runner_pid"]:
                    stop_tree(occurrence["runner_pid"], expect=occurrence["run_id"])
            self._retry_or_close(occurrence, now)
        for run in self.jobs.running_runs():
            owner = run.get("owner")
            if owner and owner != self.id and self._is_gone(live.get(owner), now):
                reason = "the scheduler running it stopped before the run was tracked"
                self.jobs.finish_run(run["id"], owner, status=RunStatus.INTERRUPTED, error=reason,
                                     failure_class=FailureClass.CANCELLED.value, ended=now)  # fmt: skip
        for scheduler_id, row in live.items():
            if scheduler_id != self.id and self._is_gone(row, now):
                self.jobs.forget_scheduler(scheduler_id)

    def _is_gone(self, row: dict[str, Any] | None, now: float) -> bool:
        if row is None or now - row["heartbeat"] > self.stale_after:
            return True
        return row["host"] == platform.node() and not alive(row["pid"])

    def _retry_or_close(self, occurrence: dict[str, Any], now: float) -> None:
        job = next((j for j in self.jobs.list_jobs() if j["id"] == occurrence["job_id"]), None)
        if job is not None and occurrence["attempt"] < job["retries"]:
            if self.jobs.requeue(occurrence["id"], occurrence["attempt"], now):
                log.info("occurrence %s was interrupted; retrying", occurrence["id"])
        else:
            self.jobs.close_occurrence(occurrence["id"], occurrence["attempt"], OccurrenceState.FAILED)

    def _shutdown(self) -> None:
        """Stop the runs this scheduler started; they are retried per policy by whoever runs next."""
        now = time.time()
        for child in list(self.children.values()):
            self.jobs.finish_run(child.run_id, self.id, status=RunStatus.INTERRUPTED, error="the scheduler was stopped",
                                 failure_class=FailureClass.CANCELLED.value, ended=now)  # fmt: skip
            stop_tree(child.process.pid)
            with contextlib.suppress(Exception):
                child.process.wait(STOP_GRACE)
            self._settle(child, now)
        self.children.clear()
        self.notifier.close()
        self.jobs.forget_scheduler(self.id)
