"""The app factory. Nothing happens at import time: ``uvicorn --factory service.app:create_app``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from threadpoolctl import threadpool_limits

from service import docs, exports, heavy, ogc, openapi, planner, scores, targets, tiles
from service.bodies import check_body
from service.catalog import open_served
from service.errors import add_exception_handlers
from service.middleware import BodySizeLimitMiddleware, HostGuardMiddleware, SecurityHeadersMiddleware
from service.models import Health
from service.reload import watch_store
from service.responses import ORJSONResponse
from service.settings import Settings

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the store once, prepare every collection and the scoring arrays, and watch for rebuilds."""
    settings: Settings = app.state.settings
    started = time.perf_counter()
    # Requests run in parallel threads and workers already; BLAS threads on top of them spin against
    # each other (measured: /scores at 64 connections fell from 50 to 5 req/s on 2 cores).
    threadpool_limits(limits=settings.blas_threads, user_api="blas")
    served = open_served(settings.store_dir)
    app.state.served = served
    # Made here, in the worker's own event loop: the bound on heavy work is per worker.
    app.state.heavy = heavy.limiters(settings.heavy_requests, settings.renders, settings.heavy_wait_s)
    log.info(
        "serving %s build %s (%d collections, synthetic=%s), prepared in %.2f s",
        settings.store_dir,
        served.build_id,
        len(served.catalog.collections),
        served.store.synthetic,
        time.perf_counter() - started,
    )
    watcher = None
    if settings.reload_interval_s > 0:
        watcher = asyncio.create_task(watch_store(app, settings.reload_interval_s))
    try:
        yield
    finally:
        if watcher is not None:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher


def _include_routers(app: FastAPI) -> None:
    for module in (ogc, scores, tiles, exports, targets, planner, docs):
        app.include_router(module.router)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def document() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        served = getattr(app.state, "served", None)
        if served is None:  # before the lifespan has run: no collections to describe yet
            return openapi.document(app, None, lambda doc: doc)
        settings: Settings = app.state.settings
        app.openapi_schema = openapi.document(
            app,
            served.catalog,
            lambda doc: ogc.add_collection_paths(
                doc, served.catalog, settings.default_limit, settings.max_limit
            ),
        )
        return app.openapi_schema

    return document


def openapi_answer(request: Request) -> Response:
    """The OpenAPI 3.0.3 document (``/openapi`` and ``/openapi.json``)."""
    return ORJSONResponse(request.app.openapi(), media_type=openapi.MEDIA_TYPE)


class CacheControlMiddleware:
    """Add ``Cache-Control`` to answers that set none: public for successful GETs, no-store otherwise.

    Pure ASGI (it only edits the start message), so responses stay unbuffered and GZip still sees
    their true size.
    """

    def __init__(self, app: ASGIApp, max_age: int):
        self.app = app
        self.public = f"public, max-age={max_age}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; set the header on the way out."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    ok = scope["method"] == "GET" and message["status"] < 400
                    headers["Cache-Control"] = self.public.decode() if ok else "no-store"
            await send(message)

        await self.app(scope, receive, send_with_cache_control)


def _log_to_stderr() -> None:
    """Make the service's own INFO logs visible under uvicorn, which configures only its loggers."""
    ours = logging.getLogger("service")
    if not ours.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        ours.addHandler(handler)
        ours.setLevel(logging.INFO)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: routers, middleware, error handlers. The store opens in the lifespan."""
    settings = settings or Settings()
    _log_to_stderr()
    app = FastAPI(
        title=settings.title,
        version="0.1.0",
        description="OGC API - Features, Alkire-Foster scores, vector tiles and exports of a Sasaran store.",
        lifespan=lifespan,
        openapi_url=None,  # served below, as OpenAPI 3.0 with its own media type
        docs_url=None,  # service.docs serves /docs from vendored assets (no CDN)
        redoc_url=None,
        # Every JSON body: sent as JSON (else 415) and valid Unicode (else 400 naming the field).
        dependencies=[Depends(check_body)],
    )
    app.state.settings = settings
    _include_routers(app)
    app.add_api_route("/healthz", healthz, methods=["GET"], response_model=Health, tags=["service"])
    for path in ("/openapi", "/openapi.json"):
        app.add_api_route(path, openapi_answer, methods=["GET"], include_in_schema=False)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    # add_middleware wraps: the last added runs first. Host and body checks run inside the header
    # middleware so that their 400/413 answers carry no-store and nosniff like every other answer.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HostGuardMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(CacheControlMiddleware, max_age=settings.cache_max_age)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_min_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"])
    add_exception_handlers(app)
    return app


async def healthz(request: Request) -> dict[str, Any]:
    """Liveness, and which build of which store is served (synthetic or not).

    Async and without dependencies, so it runs on the event loop alone: no worker thread is needed
    to answer it, whatever heavy work the threads are doing (`service.heavy`).
    """
    served = request.app.state.served
    store = served.store
    return {
        "status": "ok",
        "store": str(store.manifest.get("name", store.path)),
        "synthetic": store.synthetic,
        "layers": len(store.names),
        "build_id": served.build_id,
        "built": store.manifest.get("created"),
        "heavy": heavy.status(request.app),
    }
