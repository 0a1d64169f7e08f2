"""The base of the REST handlers under ``/cellfleet/api/``: parsing, replies, and
:meth:`Handler.offload`, which runs a blocking call (the store, a file) in the extension's
thread pool so the event loop keeps serving.

Every handler requires Jupyter's authentication (``@web.authenticated``; an API request
without it gets 403). Bad input gets 400, a missing thing 404, a conflict 409, a store that
is busy or cannot be opened 503, each with a JSON ``message`` saying the fix; nothing a
client sends produces a 500.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import reprlib
from collections.abc import Callable
from http.client import responses
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from jupyter_server.base.handlers import APIHandler
from tornado import web

from cellfleet.errors import PromotionError, StoreError
from cellfleet.server.paths import shown_runs
from cellfleet.server.state import ServerState
from cellfleet.store.database import Store

__all__ = ["BUSY", "Handler", "is_busy", "quoted"]

T = TypeVar("T")

BUSY = "the experiment store is busy (another process holds its write lock): retry in a moment"
_STOPPED = "the Cellfleet server extension is stopped: restart the Jupyter server"
_BUSY_WORDS = ("database is locked", "database table is locked", "lock timeout", "could not obtain lock")


_QUOTED = reprlib.Repr()
_QUOTED.maxstring = 80


def quoted(text: str) -> str:
    """``text`` as a message shows a value a client sent: quoted, escaped onto one line, and
    shortened past 80 characters (an id from a URL may hold anything)."""
    return _QUOTED.repr(text)


def _has_busy_words(text: str) -> bool:
    return any(word in text for word in _BUSY_WORDS)


def is_busy(error: sa.exc.OperationalError) -> bool:
    """Whether ``error`` is a lock that did not come within the bounded wait."""
    return _has_busy_words(str(error.orig or error))


class Handler(APIHandler):
    """Shared parsing and replies; store work goes through :meth:`offload`."""

    @property
    def state(self) -> ServerState:
        """The extension's store and pool (503 once the extension has been unloaded)."""
        state = self.settings.get("cellfleet")
        if state is None:
            raise web.HTTPError(503, _STOPPED)
        return cast(ServerState, state)

    @property
    def store(self) -> Store:
        """The server's store (blocking on first use: only inside :meth:`offload`)."""
        return self.state.store()

    @property
    def root(self) -> str:
        """The server's root folder: notebooks are named relative to it."""
        manager = self.settings.get("contents_manager")
        root = getattr(manager, "root_dir", None) or self.settings.get("server_root_dir") or "."
        return os.path.expanduser(root)  # server_root_dir is for display: "~/project"

    async def offload(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the pool; a busy or unopenable store becomes HTTP 503."""
        loop = asyncio.get_running_loop()
        try:
            call = loop.run_in_executor(self.state.executor, functools.partial(function, *args))
        except RuntimeError:  # the pool has shut down
            raise web.HTTPError(503, _STOPPED) from None
        try:
            return await call
        except sa.exc.OperationalError as error:
            if not is_busy(error):
                raise
            raise web.HTTPError(503, BUSY) from None
        except StoreError as error:
            text = str(error)
            raise web.HTTPError(503, BUSY if _has_busy_words(text) else text.splitlines()[0]) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """``{"message", "reason"}`` as JSON. The message is the error's own text: Jupyter's
        replies use tornado's ``log_message``, a log format in which every ``%`` is doubled."""
        if status_code == 503:
            self.set_header("Retry-After", "1")
        error = (kwargs.get("exc_info") or (None, None, None))[1]
        if not isinstance(error, web.HTTPError):
            super().write_error(status_code, **kwargs)  # "Unhandled error", with no details
            return
        message = error.get_message() or responses.get(status_code, "Unknown HTTP Error")
        self.set_header("Content-Type", "application/json")
        self.log.warning("wrote error: %r", message)
        self.finish(json.dumps({"message": message, "reason": error.reason}))

    def shown(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Runs with notebooks named relative to the root (resolves paths: in the pool)."""
        return shown_runs(runs, self.root)

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
        """The run (blocking: in the pool)."""
        run = self.store.get_run(run_id)
        if run is None:
            raise web.HTTPError(404, f"no run {quoted(run_id)}: list runs with `cellfleet runs ls`")
        return run

    def job_or_404(self, key: str) -> dict[str, Any]:
        """The job by id, name or prefix (blocking: in the pool)."""
        from cellfleet.store.jobs import JobStore

        try:
            return JobStore(self.store).get_job(key)
        except PromotionError as error:
            raise web.HTTPError(404, str(error)) from None
