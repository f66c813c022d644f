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
from starlette.responses import Response
from threadpoolctl import threadpool_limits

from layers.errors import StoreError
from layers.store import LayerStore
from service import docs, exports, heavy, ogc, openapi, planner, scores, targets, tiles, verification
from service.bodies import check_body
from service.catalog import Served, prepare_served, register_status, start_preparing
from service.deps import ServedDep
from service.errors import add_exception_handlers, problem
from service.head import HeadMiddleware
from service.middleware import ServiceMiddleware
from service.models import Health
from service.reload import watch_store
from service.responses import ORJSONResponse
from service.settings import Settings

log = logging.getLogger(__name__)
#: gzip level of compressed answers (see create_app).
GZIP_LEVEL = 4


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the store, prepare its catalog in the background, and watch for rebuilds.

    The store's manifest and files are checked before the server accepts a connection (a missing
    or broken store stops the start). Preparing the collections and scoring arrays takes seconds
    (more for a nation): it runs in a thread while ``/healthz`` already answers, and every other
    request waits for it (`service.deps.get_served`).
    """
    settings: Settings = app.state.settings
    # Requests run in parallel threads and workers already; BLAS threads on top of them spin against
    # each other (measured: /scores at 64 connections fell from 50 to 5 req/s on 2 cores).
    threadpool_limits(limits=settings.blas_threads, user_api="blas")
    app.state.opened = LayerStore.open(settings.store_dir)
    # Made here, in the worker's own event loop: the bound on heavy work is per worker.
    app.state.heavy = heavy.limiters(settings.heavy_requests, settings.renders, settings.heavy_wait_s)
    app.state.served = None
    app.state.watcher = None
    # The verification database needs only the opened store (its register is seeded in a thread).
    app.state.verification = verification.open_verification(settings, app.state.opened)
    app.state.preparing = asyncio.create_task(_prepare(app, app.state.opened))
    try:
        yield
    finally:
        for task in (app.state.preparing, app.state.watcher):
            if task is not None and not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await task
        verification.close_verification(app.state.verification)


async def _prepare(app: FastAPI, store: LayerStore) -> Served:
    """Prepare the opened store's catalog off the event loop; then serve it and watch for rebuilds.

    When it cannot be prepared (a file gone, a rebuild swapped in meanwhile), every request answers
    503 naming the store, and the store is opened again every ``reload_interval_s`` until a build
    prepares: a fixed or rebuilt store is then served without a restart.
    """
    settings: Settings = app.state.settings
    try:
        return await _serve(app, store)
    except StoreError:
        if settings.reload_interval_s > 0:
            app.state.watcher = asyncio.create_task(_prepare_again(app, settings.reload_interval_s))
        raise


async def _serve(app: FastAPI, store: LayerStore) -> Served:
    """Prepare ``store``'s catalog in a thread, serve it, and start watching for rebuilds."""
    settings: Settings = app.state.settings
    started = time.perf_counter()
    try:
        served = await asyncio.to_thread(prepare_served, store)
    except Exception as exc:
        log.error("store %s could not be prepared", settings.store_dir, exc_info=exc)
        raise StoreError(
            f"the store at {settings.store_dir} could not be prepared ({type(exc).__name__}); "
            "see the service log, fix or rebuild the store"
        ) from None
    app.state.served = served
    start_preparing(served)
    log.info(
        "serving %s build %s (%d collections, synthetic=%s), prepared in %.2f s",
        settings.store_dir,
        served.build_id,
        len(served.catalog.collections),
        served.store.synthetic,
        time.perf_counter() - started,
    )
    if settings.reload_interval_s > 0:
        app.state.watcher = asyncio.create_task(watch_store(app, settings.reload_interval_s))
    return served


async def _prepare_again(app: FastAPI, interval_s: float) -> None:
    """Open and prepare the store every ``interval_s`` until a build prepares (`_prepare`)."""
    settings: Settings = app.state.settings
    failed_build = app.state.opened.build_id
    while True:
        await asyncio.sleep(interval_s)
        try:
            store = await asyncio.to_thread(LayerStore.open, settings.store_dir)
        except StoreError:
            continue
        if store.build_id == failed_build:
            continue
        try:
            await _serve(app, store)
            return
        except StoreError:
            failed_build = store.build_id


def _include_routers(app: FastAPI) -> None:
    for module in (ogc, scores, tiles, exports, targets, planner, docs):
        app.include_router(module.router)
    verification.install(app)


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


def openapi_answer(request: Request, _served: ServedDep) -> Response:
    """The OpenAPI 3.0.3 document (``/openapi`` and ``/openapi.json``), once the store is prepared."""
    return ORJSONResponse(request.app.openapi(), media_type=openapi.MEDIA_TYPE)


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
    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        response_model=Health,
        tags=["service"],
        responses=openapi.answers({"application/json": "Health"}),
    )
    for path in ("/openapi", "/openapi.json"):
        app.add_api_route(path, openapi_answer, methods=["GET"], include_in_schema=False)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    # One pure-ASGI layer: Host and body checks, then headers and compression on every answer,
    # their own 400/413 included (service.middleware). gzip level 4, not Starlette's 9: a
    # 10,000-hexagon page (9.5 MB) compresses in 0.7 s instead of 1.8 s, 21 % larger; whole layers
    # over OAPIF are bound by it (docs/benchmarks.md).
    app.add_middleware(
        ServiceMiddleware,
        max_body_bytes=settings.max_body_bytes,
        allowed_hosts=settings.allowed_hosts,
        cache_max_age=settings.cache_max_age,
        gzip_min_bytes=settings.gzip_min_bytes,
        gzip_level=GZIP_LEVEL,
    )
    # Outside it: a HEAD's Content-Length is that of the body a GET would get, compressed or not.
    app.add_middleware(HeadMiddleware)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"])
    add_exception_handlers(app)
    return app


async def healthz(request: Request) -> dict[str, Any] | Response:
    """Liveness, and which build of which store is served (synthetic or not), prepared or not, and
    this worker's heavy work (`service.heavy`).

    Async and without dependencies, so it runs on the event loop alone and answers even while every
    worker thread is busy, and from the start: it does not wait for the store's catalog.
    """
    state = request.app.state
    served: Served | None = state.served
    preparing: asyncio.Task[Served] = state.preparing
    if served is None and preparing.done() and not preparing.cancelled() and preparing.exception():
        return problem(503, str(preparing.exception()))
    store: LayerStore = served.store if served is not None else state.opened
    return {
        "status": "ok",
        "ready": served is not None,
        "store": store.name,
        "synthetic": store.synthetic,
        "layers": len(store.names),
        "build_id": store.build_id,
        "built": store.created,
        "households": register_status(store),
        "heavy": heavy.status(request.app),
    }
