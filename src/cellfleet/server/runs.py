"""The runs handlers under ``/cellfleet/api/``: ``runs``, ``runs/<id>`` and ``compare``.

Each parses its query on the event loop, then does the store work (and path resolution) in
the extension's thread pool through :meth:`~cellfleet.server.base.Handler.offload`.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from cellfleet.compare import directions_for
from cellfleet.server.base import Handler
from cellfleet.server.paths import notebook_spellings
from cellfleet.store.order import COLUMNS, valid_sort

__all__ = ["CompareHandler", "RunHandler", "RunsHandler"]

_MAX_PAGE = 1000


class RunsHandler(Handler):
    """``GET runs``: filtered, sorted, paginated runs with params and final metrics."""

    @web.authenticated
    async def get(self) -> None:
        sort = self.get_query_argument("sort", "-created")
        if not valid_sort(sort):
            raise web.HTTPError(
                400, f"sort must be one of {', '.join(COLUMNS)}, param.NAME or metric.NAME (prefix - for descending)"
            )
        filters: dict[str, Any] = {
            key: self.get_query_argument(key, None) for key in ("notebook", "cell", "kind", "status")
        }
        limit = self.integer("limit", 100, 1, _MAX_PAGE)
        offset = self.integer("offset", 0, 0, 10**9)
        self.reply(await self.offload(self._page, filters, sort, limit, offset))

    def _page(self, filters: dict[str, Any], sort: str, limit: int, offset: int) -> dict[str, Any]:
        from cellfleet.store.queries import run_page

        filters["notebook"] = notebook_spellings(self.root, filters["notebook"])
        page = run_page(self.store, sort=sort, limit=limit, offset=offset, **filters)
        page["runs"] = self.shown(page["runs"])
        return page


class RunHandler(Handler):
    """``GET runs/<id>``: one run (with its ``upstream_run_id`` and ``environment_warning``), its
    metric series, artifacts, output excerpt and declared outputs (``cellfleet.output``)."""

    @web.authenticated
    async def get(self, run_id: str) -> None:
        self.reply(await self.offload(self._detail, run_id))

    def _detail(self, run_id: str) -> dict[str, Any]:
        run = self.run_or_404(run_id)
        artifacts = [{k: a[k] for k in ("id", "name", "media_type", "size")} for a in self.store.list_artifacts(run_id)]
        from cellfleet.store.outputs import outputs_of

        run = self.shown([run])[0]
        metrics, outputs = self.store.metric_series(run_id), outputs_of(self.store, run_id)
        return {"run": run, "metrics": metrics, "artifacts": artifacts, "outputs": outputs}


class CompareHandler(Handler):
    """``GET compare?ids=a,b``: runs side by side, with every metric's series, and which way is
    better for each metric (decided by :func:`cellfleet.compare.directions_for`, as in the notebook)."""

    @web.authenticated
    async def get(self) -> None:
        ids = [part for part in self.get_query_argument("ids", "").split(",") if part]
        if not 2 <= len(ids) <= 50:
            raise web.HTTPError(400, "give 2 to 50 run ids, like compare?ids=abc123,def456")
        self.reply(await self.offload(self._compared, ids))

    def _compared(self, ids: list[str]) -> dict[str, Any]:
        runs = self.shown([self.run_or_404(run_id) for run_id in ids])
        finals = self.store.final_metrics(ids)
        series = {run_id: self.store.metric_series(run_id) for run_id in ids}
        metrics = {metric for values in finals.values() for metric in values}
        directions = directions_for(metrics, (run.get("directions") for run in runs))
        return {"runs": runs, "final_metrics": finals, "series": series, "directions": directions}
