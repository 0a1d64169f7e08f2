"""The change feed under ``/cellfleet/api/``: ``changes?since=TS`` (polling) and ``events``
(server-sent events), both reading the store in the extension's thread pool."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tornado import web
from tornado.iostream import StreamClosedError

from cellfleet.server.base import Handler

__all__ = ["ChangesHandler", "EventsHandler"]

_CHANGE_MARGIN = 30.0
"""Seconds the change feed looks back beyond ``since``."""
_KEEP_ALIVE = 15.0


class _FeedHandler(Handler):
    def changed_runs(self, since: float) -> list[dict[str, Any]]:
        """Runs changed since ``since`` (less a margin for workers' clocks and late commits; the
        panel merges repeats) and every running run, each with its latest metrics (blocking)."""
        changed = self.shown(self.store.changed_runs(since - _CHANGE_MARGIN))
        finals = self.store.final_metrics(run["id"] for run in changed)
        for run in changed:
            run["final_metrics"] = finals.get(run["id"], {})
            run.pop("code", None)
        return changed


class ChangesHandler(_FeedHandler):
    """``GET changes?since=TS``: runs created, started or ended since ``since``, and every running run."""

    @web.authenticated
    async def get(self) -> None:
        try:
            since = float(self.get_query_argument("since", "0"))
        except ValueError:
            raise web.HTTPError(400, "since must be a time in seconds, as returned in `now`") from None
        now = time.time()
        self.reply({"now": now, "runs": await self.offload(self.changed_runs, since)})


class EventsHandler(_FeedHandler):
    """``GET events``: a server-sent event stream of run changes, one message per second at most."""

    @web.authenticated
    async def get(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        try:
            await self.flush()
            await self._pump()
        except StreamClosedError:
            pass  # the browser tab went away

    def _connected(self) -> bool:
        connection = self.request.connection
        stream = getattr(connection, "stream", None)
        return stream is not None and not stream.closed()

    async def _pump(self) -> None:
        """Send changes each second, and a keep-alive comment after a quiet spell."""
        since = quiet_since = time.time()
        while self._connected():
            now = time.time()
            try:
                changed = await self.offload(self.changed_runs, since)
            except web.HTTPError:
                changed = []  # the store is busy or closed for now: try again next second
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
