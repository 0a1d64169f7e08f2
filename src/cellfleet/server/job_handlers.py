"""The jobs handlers under ``/cellfleet/api/``: list, create (the panel's promote dialog),
show, delete, and pause / resume / run-now. Every store call and the notebook snapshot run
in the extension's thread pool; a write that cannot get the store's lock in time gets 503."""

from __future__ import annotations

import time
from typing import Any

from tornado import web

from cellfleet.errors import CellfleetError, PromotionError
from cellfleet.server.base import Handler

__all__ = ["JobActionHandler", "JobHandler", "JobsHandler"]


class JobsHandler(Handler):
    """``GET jobs`` lists jobs; ``POST jobs`` promotes a notebook (the body: promote's options)."""

    @web.authenticated
    async def get(self) -> None:
        self.reply({"jobs": await self.offload(self._jobs)})

    @web.authenticated
    async def post(self) -> None:
        body = self.body()
        self.reply(await self.offload(self._create, body), status=201)

    def _jobs(self) -> list[dict[str, Any]]:
        from cellfleet.server.jobs import job_summary
        from cellfleet.store.jobs import JobStore

        jobs = JobStore(self.store)
        return [job_summary(jobs, job) for job in jobs.list_jobs()]

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        from cellfleet.server.jobs import create_job

        store = self.store  # a store that cannot open is 503, not 400
        try:
            return create_job(store, body, self.root)
        except PromotionError as error:
            status = {"missing": 404, "conflict": 409}.get(error.problem, 400)
            raise web.HTTPError(status, str(error)) from None
        except CellfleetError as error:
            raise web.HTTPError(400, str(error)) from None


class JobHandler(Handler):
    """``GET jobs/<id>`` (with its runs), ``DELETE jobs/<id>``."""

    @web.authenticated
    async def get(self, key: str) -> None:
        self.reply(await self.offload(self._detail, key))

    @web.authenticated
    async def delete(self, key: str) -> None:
        await self.offload(self._delete, key)
        self.set_status(204)
        self.finish()

    def _detail(self, key: str) -> dict[str, Any]:
        from cellfleet.server.jobs import job_summary
        from cellfleet.store.jobs import JobStore

        job, jobs = self.job_or_404(key), JobStore(self.store)
        runs = jobs.job_runs(job["id"], limit=200)
        source = self.store.get_run(job["from_run"]) if job.get("from_run") else None
        shown = self.shown([*runs, *([source] if source else [])])
        finals = self.store.final_metrics([run["id"] for run in shown])
        for run in shown:
            run["final_metrics"] = finals.get(run["id"], {})
        # the experiment run the job was promoted from (its metrics are the drift chart's baseline)
        return {
            "job": job_summary(jobs, job),
            "runs": shown[: len(runs)],
            "source": shown[len(runs)] if source else None,
        }

    def _delete(self, key: str) -> None:
        from cellfleet.store.jobs import JobStore

        JobStore(self.store).delete_job(self.job_or_404(key)["id"])


class JobActionHandler(Handler):
    """``POST jobs/<id>/pause|resume|run-now``."""

    @web.authenticated
    async def post(self, key: str, action: str) -> None:
        self.reply(await self.offload(self._act, key, action))

    def _act(self, key: str, action: str) -> dict[str, Any]:
        from cellfleet.server.jobs import job_summary
        from cellfleet.store.jobs import JobStore

        job, jobs = self.job_or_404(key), JobStore(self.store)
        if action == "run-now":
            jobs.add_occurrence(job["id"], time.time())
        else:
            jobs.update_job(job["id"], paused=action == "pause", checked_until=time.time())
        return job_summary(jobs, jobs.get_job(job["id"]))
