"""``GET /planner`` and its static assets, all served from this package (no CDN, works offline).

The page is a client of the service's own API (OGC API - Features, vector tiles, ``POST /targets``)
and addresses it with relative URLs, so it also works behind a path prefix. Our own files are sent
with ``no-cache`` (revalidated by ETag, so a redeploy shows at once); the pinned vendored library
(``static/vendor/``) may be cached for a day.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Media types by suffix, fixed here because `mimetypes` varies between systems (``.js`` especially).
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

router = APIRouter(tags=["planner"])
_static = StaticFiles(directory=STATIC_DIR)


@router.get("/planner", response_class=FileResponse, summary="The targeting planner (HTML page)")
def planner() -> FileResponse:
    """The targeting planner: a map, the selection controls and the ranked list."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type=MEDIA_TYPES[".html"],
        headers={"Cache-Control": OWN_CACHE_CONTROL},
    )


@router.get("/planner/", include_in_schema=False)
def planner_slash(request: Request) -> RedirectResponse:
    """Redirect to ``/planner``: the page's relative asset URLs assume no trailing slash.

    The ``Location`` is relative (``../planner`` from ``…/planner/``), so it holds behind any path
    prefix and can carry no host at all: an absolute one was built from the request's ``Host``.
    """
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"../planner{query}", status_code=308)


@router.get("/planner/static/{path:path}", include_in_schema=False)
async def planner_static(path: str, request: Request) -> Response:
    """One static asset of the planner (404 outside the static directory)."""
    # StaticFiles resolves the path safely inside STATIC_DIR and answers If-None-Match with 304.
    response = await _static.get_response(path, request.scope)
    media_type = MEDIA_TYPES.get(Path(path).suffix.lower())
    if media_type and response.status_code == 200:
        response.headers["Content-Type"] = media_type
    vendored = path.startswith("vendor/")
    response.headers["Cache-Control"] = VENDOR_CACHE_CONTROL if vendored else OWN_CACHE_CONTROL
    return response
