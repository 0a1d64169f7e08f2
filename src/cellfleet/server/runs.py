"""The REST handlers of the Jupyter server extension, under ``/cellfleet/api/``.

Every handler requires Jupyter's authentication (``@web.authenticated``; an API request
without it gets 403). Bad input gets 400, a missing thing 404, a conflict 409, each with a
JSON ``message`` saying the fix; nothing a client sends produces a 500.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.iostream import StreamClosedError

from cellfleet.errors import CellfleetError, PromotionError
from cellfleet.server.paths import notebook_spellings, shown_runs
from cellfleet.store.database import Store, open_store
from cellfleet.store.order import COLUMNS, valid_sort

__all__ = ["ROUTES"]

_MAX_PAGE = 1000
_CHANGE_MARGIN = 30.0
"""Seconds the change feed looks back beyond ``since``."""
_KEEP_ALIVE = 15.0


def _inline(filename: str) -> str:
    """A Content-Disposition header for any file name (RFC 6266: an ASCII fallback and UTF-8)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class _Handler(APIHandler):
    """Shared parsing and replies."""

    @property
    def store(self) -> Store:
        return open_store(self.settings.get("cellfleet_db"))

    @property
    def root(self) -> str:
        """The server's root folder: notebooks are named relative to it."""
        manager = self.settings.get("contents_manager")
        root = getattr(manager, "root_dir", None) or self.settings.get("server_root_dir") or "."
        return os.path.expanduser(root)  # server_root_dir is for display: "~/project"

    def shown(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return shown_runs(runs, self.root)

    def changed_runs(self, since: float) -> list[dict[str, Any]]:
        """Runs changed since ``since`` (less a margin for workers' clocks and late commits; the
        panel merges repeats) and every running run, each with its latest metrics."""
        changed = self.shown(self.store.changed_runs(since - _CHANGE_MARGIN))
        finals = self.store.final_metrics(run["id"] for run in changed)
        for run in changed:
            run["final_metrics"] = finals.get(run["id"], {})
            run.pop("code", None)
        return changed

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload, default=str))

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        text = self.get_query_argument(name, str(default))
        try:
            value = int(text)
        except ValueError:
            raise web.HTTPError(400, f"{name} must be a whole number, like {name}={default}") from None
        if not low <= value <= high:
            raise web.HTTPError(400, f"{name} must be between {low} and {high}")
        return value

    def body(self) -> dict[str, Any]:
        try:
            payload = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as error:
            raise web.HTTPError(400, f"the request body is not JSON ({error.msg})") from None
        except ValueError:
            raise web.HTTPError(400, "the request body is not UTF-8 JSON") from None
        if not isinstance(payload, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        return payload

    def run_or_404(self, run_id: str) -> dict[str, Any]:
        run = self.store.get_run(run_id)
        if run is None:
            raise web.HTTPError(404, f"no run {run_id}")
        return run

    def job_or_404(self, key: str) -> dict[str, Any]:
        from cellfleet.store.jobs import JobStore

        try:
            return JobStore(self.store).get_job(key)
        except PromotionError as error:
            raise web.HTTPError(404, str(error)) from None


class RunsHandler(_Handler):
    """``GET runs``: filtered, sorted, paginated runs with params and final metrics."""

    @web.authenticated
    def get(self) -> None:
        from cellfleet.store.queries import run_page

        sort = self.get_query_argument("sort", "-created")
        if not valid_sort(sort):
            raise web.HTTPError(
                400, f"sort must be one of {', '.join(COLUMNS)}, param.NAME or metric.NAME (prefix - for descending)"
            )
        filters: dict[str, Any] = {
            key: self.get_query_argument(key, None) for key in ("notebook", "cell", "kind", "status")
        }
        filters["notebook"] = notebook_spellings(self.root, filters["notebook"])
        limit = self.integer("limit", 100, 1, _MAX_PAGE)
        offset = self.integer("offset", 0, 0, 10**9)
        page = run_page(self.store, sort=sort, limit=limit, offset=offset, **filters)
        page["runs"] = self.shown(page["runs"])
        self.reply(page)


class RunHandler(_Handler):
    """``GET runs/<id>``: one run, its metric series, artifacts and output excerpt."""

    @web.authenticated
    def get(self, run_id: str) -> None:
        run = self.run_or_404(run_id)
        artifacts = [{k: a[k] for k in ("id", "name", "media_type", "size")} for a in self.store.list_artifacts(run_id)]
        run = self.shown([run])[0]
        self.reply({"run": run, "metrics": self.store.metric_series(run_id), "artifacts": artifacts})


class ArtifactHandler(_Handler):
    """``GET runs/<id>/artifacts/<artifact id>``: the file, with its content type. An HTML or
    SVG artifact opened in a browser runs nothing: no sources allowed, and sandboxed."""

    @property
    def content_security_policy(self) -> str:
        return super().content_security_policy + "; sandbox"

    @web.authenticated
    def get(self, run_id: str, artifact_id: str) -> None:
        self.run_or_404(run_id)
        found = [a for a in self.store.list_artifacts(run_id) if str(a["id"]) == artifact_id]
        if not found:
            raise web.HTTPError(404, f"run {run_id} has no artifact {artifact_id}")
        path = Path(found[0]["path"]).resolve()
        if self.store.root.resolve() not in path.parents or not path.is_file():
            raise web.HTTPError(404, f"the file of artifact {artifact_id} is gone")
        self.set_header("Content-Disposition", _inline(path.name))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(path.read_bytes(), set_content_type=found[0]["media_type"])


class OutputHandler(_Handler):
    """``GET runs/<id>/output``: a production run's executed notebook (nbformat JSON)."""

    @web.authenticated
    def get(self, run_id: str) -> None:
        from cellfleet.paths import project_root

        run = self.run_or_404(run_id)
        if not run.get("output_path"):
            raise web.HTTPError(404, f"run {run_id} has no output notebook: only production runs keep one")
        path = Path(run["output_path"]).resolve()
        folders = {(project_root() / ".cellfleet").resolve(), self.store.root.resolve().parent}
        if path.suffix != ".ipynb" or not any(folder in path.parents for folder in folders):
            raise web.HTTPError(404, f"the output notebook of run {run_id} is not in the store's folder")
        if not path.is_file():
            raise web.HTTPError(404, f"the output notebook of run {run_id} is gone (it is written as the run starts)")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(path.read_bytes(), set_content_type="application/x-ipynb+json")


class CompareHandler(_Handler):
    """``GET compare?ids=a,b``: runs side by side, with every metric's series."""

    @web.authenticated
    def get(self) -> None:
        ids = [part for part in self.get_query_argument("ids", "").split(",") if part]
        if not 2 <= len(ids) <= 50:
            raise web.HTTPError(400, "give 2 to 50 run ids, like compare?ids=abc123,def456")
        runs = self.shown([self.run_or_404(run_id) for run_id in ids])
        finals = self.store.final_metrics(ids)
        series = {run_id: self.store.metric_series(run_id) for run_id in ids}
        self.reply({"runs": runs, "final_metrics": finals, "series": series})


class ChangesHandler(_Handler):
    """``GET changes?since=TS``: runs created, started or ended since ``since``, and every running run."""

    @web.authenticated
    def get(self) -> None:
        try:
            since = float(self.get_query_argument("since", "0"))
        except ValueError:
            raise web.HTTPError(400, "since must be a time in seconds, as returned in `now`") from None
        now = time.time()
        self.reply({"now": now, "runs": self.changed_runs(since)})


class EventsHandler(_Handler):
    """``GET events``: a server-sent event stream of run changes, one message per second at most."""

    @web.authenticated
    async def get(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        since = quiet_since = time.time()
        try:
            await self.flush()
            while not self.request.connection.stream.closed():
                now = time.time()
                changed = await asyncio.to_thread(self.changed_runs, since)
                if changed:
                    self.write(f"data: {json.dumps({'now': now, 'runs': changed}, default=str)}\n\n")
                elif now - quiet_since > _KEEP_ALIVE:
                    self.write(": keep-alive\n\n")  # a comment: proxies keep the stream open
                else:
                    await asyncio.sleep(1.0)
                    continue
                quiet_since = now
                await self.flush()
                since = now
                await asyncio.sleep(1.0)
        except StreamClosedError:
            pass  # the browser tab went away


class JobsHandler(_Handler):
    """``GET jobs`` lists jobs; ``POST jobs`` promotes a notebook (the body: promote's options)."""

    @web.authenticated
    def get(self) -> None:
        from cellfleet.server.jobs import job_summary
        from cellfleet.store.jobs import JobStore

        jobs = JobStore(self.store)
        self.reply({"jobs": [job_summary(jobs, job) for job in jobs.list_jobs()]})

    @web.authenticated
    def post(self) -> None:
        from cellfleet.server.jobs import create_job

        body = self.body()
        try:
            job = create_job(self.store, body, self.root)
        except PromotionError as error:
            status = {"missing": 404, "conflict": 409}.get(error.problem, 400)
            raise web.HTTPError(status, str(error)) from None
        except CellfleetError as error:
            raise web.HTTPError(400, str(error)) from None
        self.reply(job, status=201)


class JobHandler(_Handler):
    """``GET jobs/<id>`` (with its runs), ``DELETE jobs/<id>``."""

    @web.authenticated
    def get(self, key: str) -> None:
        from cellfleet.server.jobs import job_summary
        from cellfleet.store.jobs import JobStore

        job, jobs = self.job_or_404(key), JobStore(self.store)
        self.reply({"job": job_summary(jobs, job), "runs": self.shown(jobs.job_runs(job["id"], limit=200))})

    @web.authenticated
    def delete(self, key: str) -> None:
        from cellfleet.store.jobs import JobStore

        job = self.job_or_404(key)
        JobStore(self.store).delete_job(job["id"])
        self.set_status(204)
        self.finish()


class JobActionHandler(_Handler):
    """``POST jobs/<id>/pause|resume|run-now``."""

    @web.authenticated
    def post(self, key: str, action: str) -> None:
        from cellfleet.server.jobs import job_summary
        from cellfleet.store.jobs import JobStore

        job, jobs = self.job_or_404(key), JobStore(self.store)
        if action == "run-now":
            jobs.add_occurrence(job["id"], time.time())
        else:
            jobs.update_job(job["id"], paused=action == "pause", checked_until=time.time())
        self.reply(job_summary(jobs, jobs.get_job(job["id"])))


_ID = r"([0-9a-zA-Z_.-]+)"
ROUTES = [
    (r"runs", RunsHandler),
    (rf"runs/{_ID}", RunHandler),
    (rf"runs/{_ID}/artifacts/([0-9]+)", ArtifactHandler),
    (rf"runs/{_ID}/output", OutputHandler),
    (r"compare", CompareHandler),
    (r"changes", ChangesHandler),
    (r"events", EventsHandler),
    (r"jobs", JobsHandler),
    (rf"jobs/{_ID}", JobHandler),
    (rf"jobs/{_ID}/(pause|resume|run-now)", JobActionHandler),
]
