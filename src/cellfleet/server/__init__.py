"""The Jupyter server extension: enabled on install by ``jupyter-config/``; serves the
experiment panel's JSON API under ``/cellfleet/api/`` (handlers in :mod:`cellfleet.server.routes`).

The extension owns one :class:`~cellfleet.server.state.ServerState`, in the web app's settings
under ``"cellfleet"``: the server's own store handle (a short busy timeout, so a write facing a
held lock answers 503 instead of hanging) and the thread pool the handlers run store calls and
file reads in, so none of them runs on the event loop.
"""

from __future__ import annotations

import weakref
from concurrent.futures import Future
from typing import Any

from jupyter_server.utils import url_path_join

__all__ = ["_load_jupyter_server_extension", "_unload_jupyter_server_extension"]

SETTING = "cellfleet"


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Open the server's store (in the background), then register the handlers."""
    from cellfleet.config import default_url
    from cellfleet.server.routes import ROUTES
    from cellfleet.server.state import ServerState
    from cellfleet.store.database import safe_url

    web_app = serverapp.web_app
    state = ServerState(web_app.settings.get("cellfleet_db") or default_url())
    web_app.settings[SETTING] = state
    # this Jupyter server calls stop hooks of ExtensionApps only: close at collection or exit too
    weakref.finalize(serverapp, state.close)
    state.open().add_done_callback(lambda opened: _report(serverapp, opened))
    state.executor.submit(_prepare_study_views, state)
    base = url_path_join(web_app.settings["base_url"], "cellfleet", "api")
    web_app.add_handlers(".*$", [(url_path_join(base, pattern), handler) for pattern, handler in ROUTES])
    serverapp.log.info("cellfleet: API at %s, store %s", base, safe_url(state.url))


def _report(serverapp: Any, opened: Future[Any]) -> None:
    """Log a store that failed to open at load (each request tries again, and answers 503)."""
    if not opened.cancelled() and opened.exception() is not None:
        serverapp.log.warning("cellfleet: %s", opened.exception())


def _prepare_study_views(state: Any) -> None:
    """When the store holds a search, import Optuna now (in the pool): its first study view
    then answers without the ~1.5 s import. Best effort: a failure here shows on that request."""
    from cellfleet.server.importance import prepare
    from cellfleet.store.studies import holds_searches

    try:
        if holds_searches(state.store()):
            prepare()
    except Exception:  # the request that needs it reports the error
        return


def _unload_jupyter_server_extension(serverapp: Any) -> None:
    """Stop the extension's thread pool and close its store."""
    state = serverapp.web_app.settings.pop(SETTING, None)
    if state is not None:
        state.close()
