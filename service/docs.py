"""``GET /docs``: Swagger UI on the service's OpenAPI document, from vendored files (no CDN).

FastAPI's own page loads Swagger UI from a CDN, unpinned and without integrity checks, and does not
work offline; it also starts Swagger UI with an inline script, which a strict Content-Security-Policy
forbids. This page loads the pinned copy in ``static/swagger/`` (``scripts/vendor-swagger.sh``) and
our ``static/docs.js``, with relative URLs so that it also works behind a path prefix. The HTML
pages of `service.html` take their stylesheet and script from here too.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.responses import Response

from service.assets import StaticAssets

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter(include_in_schema=False)
_assets = StaticAssets(STATIC_DIR, vendored="swagger/")


@router.get("/docs")
def docs_page() -> FileResponse:
    """The interactive API documentation (HTML)."""
    return _assets.page("docs.html")


@router.get("/docs/static/{path:path}")
async def docs_static(path: str, request: Request) -> Response:
    """One asset of the docs page (404 outside the static directory)."""
    return await _assets.asset(path, request)
