"""``GET /docs``: Swagger UI on the service's OpenAPI document, from vendored files (no CDN).

FastAPI's own page loads Swagger UI from a CDN, unpinned and without integrity checks, and does not
work offline; it also starts Swagger UI with an inline script, which a strict Content-Security-Policy
forbids. This page loads the pinned copy in ``static/swagger/`` (``scripts/vendor-swagger.sh``) and
our ``static/docs.js``, with relative URLs so that it also works behind a path prefix.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from service.planner.router import MEDIA_TYPES, OWN_CACHE_CONTROL, VENDOR_CACHE_CONTROL

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter(include_in_schema=False)
_static = StaticFiles(directory=STATIC_DIR)


@router.get("/docs")
def docs_page() -> FileResponse:
    """The interactive API documentation (HTML)."""
    return FileResponse(
        STATIC_DIR / "docs.html",
        media_type=MEDIA_TYPES[".html"],
        headers={"Cache-Control": OWN_CACHE_CONTROL},
    )


@router.get("/docs/static/{path:path}")
async def docs_static(path: str, request: Request) -> Response:
    """One asset of the docs page (404 outside the static directory)."""
    if path.endswith(".html"):  # the page itself is /docs; no second copy under another URL
        raise HTTPException(404)
    # StaticFiles resolves the path safely inside STATIC_DIR and answers If-None-Match with 304.
    response = await _static.get_response(path, request.scope)
    media_type = MEDIA_TYPES.get(Path(path).suffix.lower() or ".txt")  # LICENSE: plain text
    if media_type and response.status_code == 200:
        response.headers["Content-Type"] = media_type
    vendored = path.startswith("swagger/")
    response.headers["Cache-Control"] = VENDOR_CACHE_CONTROL if vendored else OWN_CACHE_CONTROL
    return response
