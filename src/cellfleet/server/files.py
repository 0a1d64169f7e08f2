"""The file handlers under ``/cellfleet/api/``: a run's artifacts and a production run's
executed notebook, streamed in chunks (each read in the thread pool, written and flushed
on the loop), so a large file neither blocks the server nor sits whole in its memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from tornado import web
from tornado.iostream import StreamClosedError

from cellfleet.server.base import Handler, quoted

__all__ = ["CHUNK", "ArtifactHandler", "OutputHandler"]

CHUNK = 256 * 1024
"""Bytes read and sent at a time."""


def _inline(filename: str) -> str:
    """A Content-Disposition header for any file name (RFC 6266: an ASCII fallback and UTF-8)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _readable(path: Path, gone: str) -> BinaryIO:
    """``path`` opened for reading; 404 with ``gone`` when it is not a file (any more)."""
    if not path.is_file():
        raise web.HTTPError(404, gone)
    try:
        return path.open("rb")
    except OSError:
        raise web.HTTPError(404, gone) from None


class _FileHandler(Handler):
    """Streams a file found in the pool."""

    async def stream(self, handle: BinaryIO, media_type: str) -> None:
        """Send ``handle`` chunk by chunk, then close it; a client that leaves stops the stream."""
        self.set_header("Content-Type", media_type)
        self.set_header("X-Content-Type-Options", "nosniff")
        try:
            while chunk := await self.offload(handle.read, CHUNK):
                self.write(chunk)
                await self.flush()
        except StreamClosedError:
            return  # the browser went away
        finally:
            await self.offload(handle.close)
        self.finish(set_content_type=media_type)


class ArtifactHandler(_FileHandler):
    """``GET runs/<id>/artifacts/<artifact id>``: the file, with its content type. An HTML or
    SVG artifact opened in a browser runs nothing: no sources allowed, and sandboxed."""

    @property
    def content_security_policy(self) -> str:
        return super().content_security_policy + "; sandbox"

    @web.authenticated
    async def get(self, run_id: str, artifact_id: str) -> None:
        handle, artifact = await self.offload(self._open, run_id, artifact_id)
        self.set_header("Content-Disposition", _inline(Path(artifact["path"]).name))
        await self.stream(handle, artifact["media_type"])

    def _open(self, run_id: str, artifact_id: str) -> tuple[BinaryIO, dict[str, Any]]:
        self.run_or_404(run_id)
        found = [a for a in self.store.list_artifacts(run_id) if str(a["id"]) == artifact_id]
        if not found:
            raise web.HTTPError(404, f"run {run_id} has no artifact {quoted(artifact_id)}")
        path = Path(found[0]["path"]).resolve()
        if self.store.root.resolve() not in path.parents:
            raise web.HTTPError(404, f"the file of artifact {artifact_id} is gone")
        return _readable(path, f"the file of artifact {artifact_id} is gone"), {**found[0], "path": str(path)}


class OutputHandler(_FileHandler):
    """``GET runs/<id>/output``: a production run's executed notebook (nbformat JSON)."""

    @web.authenticated
    async def get(self, run_id: str) -> None:
        handle = await self.offload(self._open, run_id)
        await self.stream(handle, "application/x-ipynb+json")

    def _open(self, run_id: str) -> BinaryIO:
        from cellfleet.config import project_root

        run = self.run_or_404(run_id)
        if not run.get("output_path"):
            raise web.HTTPError(404, f"run {run_id} has no output notebook: only production runs keep one")
        path = Path(run["output_path"]).resolve()
        folders = {(project_root() / ".cellfleet").resolve(), self.store.root.resolve().parent}
        if path.suffix != ".ipynb" or not any(folder in path.parents for folder in folders):
            raise web.HTTPError(404, f"the output notebook of run {run_id} is not in the store's folder")
        return _readable(path, f"the output notebook of run {run_id} is gone (it is written as the run starts)")
