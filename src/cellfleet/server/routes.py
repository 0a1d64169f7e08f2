"""The URL patterns under ``/cellfleet/api/`` and their handlers.

An id in a path is any one path segment (``[^/]+``): the handler looks it up and answers a
JSON 404 naming the id it does not know, whatever characters it holds. Every other path
under the API prefix, the prefix itself included, reaches :class:`NotFoundHandler` last,
which answers a JSON 404 listing the endpoints. Jupyter's HTML 404 page never answers
here, and every handler requires Jupyter's authentication.
"""

from __future__ import annotations

from tornado import web
from tornado.web import RequestHandler

from cellfleet.server.base import Handler, quoted
from cellfleet.server.cluster import ClusterHandler
from cellfleet.server.feed import ChangesHandler, EventsHandler
from cellfleet.server.files import ArtifactHandler, OutputHandler
from cellfleet.server.job_handlers import JobActionHandler, JobHandler, JobsHandler
from cellfleet.server.runs import CompareHandler, RunHandler, RunsHandler
from cellfleet.server.studies import StudyCurvesHandler, StudyHandler

__all__ = ["ENDPOINTS", "ROUTES", "NotFoundHandler"]

_ID = r"([^/]+)"
_ENDPOINTS: list[tuple[str, type[RequestHandler]]] = [
    (r"runs", RunsHandler),
    (rf"runs/{_ID}", RunHandler),
    (rf"runs/{_ID}/artifacts/{_ID}", ArtifactHandler),
    (rf"runs/{_ID}/output", OutputHandler),
    (r"compare", CompareHandler),
    (rf"studies/{_ID}", StudyHandler),
    (rf"studies/{_ID}/curves", StudyCurvesHandler),
    (r"changes", ChangesHandler),
    (r"events", EventsHandler),
    (r"jobs", JobsHandler),
    (rf"jobs/{_ID}", JobHandler),
    (rf"jobs/{_ID}/(pause|resume|run-now)", JobActionHandler),
    (r"cluster", ClusterHandler),
]

ENDPOINTS = ", ".join(pattern.replace(_ID, "ID").replace("(", "").replace(")", "") for pattern, _ in _ENDPOINTS)
"""The endpoints as a person reads them: ``runs, runs/ID, ...``."""


class NotFoundHandler(Handler):
    """Any other path under the API prefix, with any method: 404 naming the path and the endpoints."""

    def _missing(self, path: str) -> None:
        where = f"at {quoted(path)} " if path else ""
        raise web.HTTPError(
            404, f"no Cellfleet API endpoint {where}under /cellfleet/api/: the endpoints are {ENDPOINTS}"
        )

    @web.authenticated
    async def get(self, path: str = "") -> None:
        self._missing(path)

    @web.authenticated
    async def post(self, path: str = "") -> None:
        self._missing(path)

    @web.authenticated
    async def put(self, path: str = "") -> None:
        self._missing(path)

    @web.authenticated
    async def patch(self, path: str = "") -> None:
        self._missing(path)

    @web.authenticated
    async def delete(self, path: str = "") -> None:
        self._missing(path)


ROUTES: list[tuple[str, type[RequestHandler]]] = [*_ENDPOINTS, (r"", NotFoundHandler), (r"(.*)", NotFoundHandler)]
"""Each pattern (joined to ``<base_url>/cellfleet/api``) and its handler; the catch-alls come last."""
