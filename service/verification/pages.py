"""The verification pages: ``/verification`` (a desa operator's phone page) and
``/verification/dashboard`` (progress on a map and in a table), served offline like the planner.

The pages hold no data: they sign in and then read the API with the session cookie. Their assets
are this package's ``static/`` files; the map library is the planner's vendored MapLibre (one
pinned copy, `service.planner`), addressed by URL.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from service.links import href
from service.openapi import answers

STATIC_DIR = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
#: Revalidated on every load (by ETag): a redeploy shows at once, a slow connection sends 304s.
CACHE_CONTROL = "no-cache"

router = APIRouter(prefix="/verification", tags=["verification: pages"])
_static = StaticFiles(directory=STATIC_DIR)


def _page(name: str) -> FileResponse:
    return FileResponse(
        STATIC_DIR / name, media_type=MEDIA_TYPES[".html"], headers={"Cache-Control": CACHE_CONTROL}
    )


@router.get(
    "",
    response_class=FileResponse,
    summary="The verification page (HTML, phone first)",
    responses=answers({"text/html": None}),
)
def verification_page() -> FileResponse:
    """Sign in, pick a village, check its families one tap at a time, submit, review, approve."""
    return _page("index.html")


@router.get("/", include_in_schema=False)
def verification_slash(request: Request) -> RedirectResponse:
    """Redirect to ``/verification`` (the page's relative asset URLs assume no trailing slash)."""
    return RedirectResponse(href(request, "/verification"), status_code=308)


@router.get(
    "/dashboard",
    response_class=FileResponse,
    summary="The progress page (HTML: map and table)",
    responses=answers({"text/html": None}),
)
def dashboard_page() -> FileResponse:
    """Share of families checked per village, kecamatan and kabupaten, and the villages still waiting."""
    return _page("dashboard.html")


@router.get("/static/{path:path}", include_in_schema=False)
async def verification_static(path: str, request: Request) -> Response:
    """One asset of the pages (404 outside the static directory)."""
    response = await _static.get_response(path, request.scope)
    media_type = MEDIA_TYPES.get(Path(path).suffix.lower())
    if media_type and response.status_code == 200:
        response.headers["Content-Type"] = media_type
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
