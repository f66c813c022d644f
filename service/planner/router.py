"""``GET /planner`` and its static assets, all served from this package (no CDN, works offline).

The page is a client of the service's own API (OGC API - Features, vector tiles, ``POST /targets``)
and addresses it with relative URLs, so it also works behind a path prefix. The pinned vendored
library (``static/vendor/``) may be cached for a day (`service.assets`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response

from service.assets import StaticAssets
from service.openapi import answers

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter(tags=["planner"])
_assets = StaticAssets(STATIC_DIR, vendored="vendor/")


@router.get(
    "/planner",
    response_class=FileResponse,
    summary="The targeting planner (HTML page)",
    responses=answers({"text/html": None}),
)
def planner() -> FileResponse:
    """The targeting planner: a map, the selection controls and the ranked list."""
    return _assets.page("index.html")


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
    return await _assets.asset(path, request)
