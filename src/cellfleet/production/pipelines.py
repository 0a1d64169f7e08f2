"""Notebook pipelines: a job promoted ``--after prep`` runs after each successful run of ``prep``.

The downstream run receives the upstream run's id (``upstream_run_id``) and the outputs it
declared with ``cellfleet.output(name=value)`` as papermill parameters; the downstream job's
own ``-p`` values win over outputs of the same name. A job names its upstream by name, so
promoting a new version of ``prep`` (delete, promote again) keeps the chain; a chain that
would loop is refused with the loop named. An ``--after`` job has no schedule of its own;
``cellfleet jobs run-now`` runs it with the upstream's newest successful run.
"""

from __future__ import annotations

import logging
from typing import Any

from cellfleet.errors import PromotionError
from cellfleet.protocol import UPSTREAM_PARAMETER
from cellfleet.store.database import Store
from cellfleet.store.jobs import JobStore
from cellfleet.store.outputs import outputs_of

__all__ = ["check_after", "run_inputs", "start_downstream"]

log = logging.getLogger("cellfleet.scheduler")


def check_after(jobs: JobStore, name: str, after: str | None) -> None:
    """Refuse ``--after`` naming no job, or making a cycle (named: ``prep -> b -> prep``)."""
    if after is None:
        return
    upstream = {job["name"]: job.get("after") for job in jobs.list_jobs()}
    if after not in upstream and after != name:
        raise PromotionError(
            f"--after {after}: no job named {after!r}; promote it first (list jobs with `cellfleet jobs ls`)",
            problem="missing",
        )
    path: list[str] = [name]
    current: str | None = after
    while current is not None and current not in path[1:]:
        path.append(current)
        if current == name:
            loop = " -> ".join(reversed(path))
            raise PromotionError(f"--after {after} would make a cycle, {loop}: a pipeline runs one way; drop --after")
        current = upstream.get(current)


def run_inputs(store: Store, job: dict[str, Any], upstream_run_id: str | None) -> tuple[dict[str, Any], str | None]:
    """The params a run of ``job`` gets, and the upstream run it follows (``None`` for a job
    without ``--after``). Without ``upstream_run_id`` (run now, or ``--check``) it follows the
    upstream job's newest successful run, if there is one."""
    params = dict(job["params"])
    if not job.get("after"):
        return params, None
    jobs = JobStore(store)
    if upstream_run_id is None:
        upstream = next((j for j in jobs.list_jobs() if j["name"] == job["after"]), None)
        upstream_run_id = jobs.last_success(upstream["id"]) if upstream else None
    if upstream_run_id is None:
        return params, None
    return {**outputs_of(store, upstream_run_id), **params, UPSTREAM_PARAMETER: upstream_run_id}, upstream_run_id


def start_downstream(jobs: JobStore, job: dict[str, Any], run_id: str, now: float) -> None:
    """Make each job promoted ``--after`` ``job`` due now, following its successful run ``run_id``."""
    for downstream in jobs.downstream_jobs(job["name"]):
        if downstream["paused"]:
            log.info("job %s follows %s but is paused: not started", downstream["name"], job["name"])
        elif jobs.add_occurrence(downstream["id"], now, upstream_run_id=run_id):
            log.info("job %s is due after run %s of %s", downstream["name"], run_id, job["name"])
