"""The Jupyter server extension: enabled on install by ``jupyter-config/``; serves the
experiment panel's JSON API under ``/cellfleet/api/`` (see :mod:`cellfleet.handlers`)."""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import url_path_join

__all__ = ["_load_jupyter_server_extension"]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register the handlers on the running server."""
    from cellfleet.server.runs import ROUTES

    web_app = serverapp.web_app
    base = url_path_join(web_app.settings["base_url"], "cellfleet", "api")
    web_app.add_handlers(".*$", [(url_path_join(base, pattern), handler) for pattern, handler in ROUTES])
    serverapp.log.info("cellfleet: API at %s", base)
