"""The URL patterns under ``/cellfleet/api/`` and their handlers."""

from __future__ import annotations

from tornado.web import RequestHandler

from cellfleet.server.feed import ChangesHandler, EventsHandler
from cellfleet.server.files import ArtifactHandler, OutputHandler
from cellfleet.server.job_handlers import JobActionHandler, JobHandler, JobsHandler
from cellfleet.server.runs import CompareHandler, RunHandler, RunsHandler

__all__ = ["ROUTES"]

_ID = r"([0-9a-zA-Z_.-]+)"
ROUTES: list[tuple[str, type[RequestHandler]]] = [
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
