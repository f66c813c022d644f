"""Static files served from the package (no CDN: every page works offline): one handler for all.

The planner (``/planner``) and the API docs (``/docs``) each have a page and a directory of assets
beside it. Media types are fixed here because `mimetypes` varies between systems (``.js``
especially). Our own files are sent with ``no-cache`` (revalidated by ETag, so a redeploy shows at
once); pinned vendored libraries may be cached for a day.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
OWN_CACHE_CONTROL = "no-cache"
VENDOR_CACHE_CONTROL = "public, max-age=86400"


class StaticAssets:
    """A page and its assets in one directory; files under ``vendored`` are pinned copies."""

    def __init__(self, directory: Path, vendored: str):
        self.directory = directory
        self.vendored = vendored.rstrip("/") + "/"
        self._files = StaticFiles(directory=directory)

    def page(self, name: str) -> FileResponse:
        """The HTML page ``name`` of the directory."""
        return FileResponse(
            self.directory / name,
            media_type=MEDIA_TYPES[".html"],
            headers={"Cache-Control": OWN_CACHE_CONTROL},
        )

    async def asset(self, path: str, request: Request) -> Response:
        """One asset (404 outside the directory, and for a page: it has its own URL)."""
        if path.endswith(".html"):
            raise HTTPException(404)
        # StaticFiles resolves the path safely inside the directory and answers If-None-Match with 304.
        response = await self._files.get_response(path, request.scope)
        media_type = MEDIA_TYPES.get(Path(path).suffix.lower() or ".txt")  # LICENSE: plain text
        if media_type and response.status_code == 200:
            response.headers["Content-Type"] = media_type
        vendored = path.startswith(self.vendored)
        response.headers["Cache-Control"] = VENDOR_CACHE_CONTROL if vendored else OWN_CACHE_CONTROL
        return response
