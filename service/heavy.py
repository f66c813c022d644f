"""Heavy work: a bound on how much of it one worker runs at once, off the event loop, stopped when
its client goes away.

A rescoring, a selection under a budget, a filter over every row, a download being written or a PDF
being rendered can take seconds of CPU. Run on the event loop (or unbounded in threads that hold
the GIL) a few of them stalled a worker: ``/healthz`` went unanswered for 38 s and a container's
health check would have killed it. So such work:

- takes a **slot** of its kind (`Limiter`) first. A worker runs at most ``SASARAN_HEAVY_REQUESTS``
  at once (``SASARAN_RENDERS`` for PDF briefings); a request that finds every slot taken waits up to
  ``SASARAN_HEAVY_WAIT_S`` for one, then gets ``503`` problem+json with ``Retry-After`` (GeoServer's
  control-flow module queues and rejects the same way; PostgREST leaves it to its connection pool);
- runs in a **thread** (`run_heavy`), so the event loop keeps answering ``/healthz`` and light
  requests;
- is **cancelled** when the client disconnects: a watcher sets the token of `layers.cancel`, and the
  work stops at its next checkpoint instead of finishing for nobody. The slot is released only
  when the thread has returned, so the bound holds for the CPU, not just for the answers.

Use it as ``await run_heavy(request, work, *args)`` in an ``async def`` route, or hold a slot around
several steps with ``async with heavy_slot(request) as token`` (then run each step with `in_thread`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp

from layers.cancel import Cancelled, cancellable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The kinds of heavy work with their own slots: everything computed per request, and PDF renders.
WORK = "work"
RENDER = "render"


class Limiter:
    """At most ``slots`` pieces of one kind of heavy work at once in this worker.

    Parameters
    ----------
    kind
        What the slots are for, named in the 503 message (``work``, ``render``).
    slots
        How many may run at once.
    wait_s
        How long a request waits for a slot before it is refused (0: refused at once).
    """

    def __init__(self, kind: str, slots: int, wait_s: float):
        self.kind, self.slots, self.wait_s = kind, slots, wait_s
        self.running = 0
        self.refused = 0
        # Seconds a piece of work took, smoothed: the Retry-After a refused client is given.
        self._typical_s = 1.0
        self._semaphore: anyio.Semaphore | None = None

    def _get_semaphore(self) -> anyio.Semaphore:
        # Made on first use, inside the event loop that will run the work (one per worker process).
        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(self.slots)
        return self._semaphore

    def retry_after(self) -> int:
        """Whole seconds after which a slot is likely to be free (at least 1)."""
        return max(1, math.ceil(self._typical_s))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the block; `HTTPException` 503 with ``Retry-After`` when none frees in time."""
        semaphore = self._get_semaphore()
        acquired = False
        try:
            semaphore.acquire_nowait()
            acquired = True
        except anyio.WouldBlock:
            with anyio.move_on_after(self.wait_s):
                await semaphore.acquire()
                acquired = True
        if not acquired:
            self.refused += 1
            raise HTTPException(
                503,
                f"this worker is already running {self.slots} heavy request(s) of this kind ({self.kind}); "
                f"try again in {self.retry_after()} s (heavy_requests, heavy_wait_s)",
                headers={"Retry-After": str(self.retry_after())},
            )
        self.running += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.running -= 1
            self._typical_s = 0.8 * self._typical_s + 0.2 * (time.perf_counter() - started)
            semaphore.release()


def limiters(heavy_requests: int, renders: int, wait_s: float) -> dict[str, Limiter]:
    """The limiters of one app (one worker): heavy work and PDF renders."""
    return {WORK: Limiter(WORK, heavy_requests, wait_s), RENDER: Limiter(RENDER, renders, wait_s)}


def limiter(app: ASGIApp, kind: str = WORK) -> Limiter:
    """The app's limiter of ``kind`` (made from its settings on first use when the app has none yet)."""
    state = app.state  # type: ignore[attr-defined]
    found: dict[str, Limiter] | None = getattr(state, "heavy", None)
    if found is None:
        settings = getattr(state, "settings", None)
        found = limiters(
            getattr(settings, "heavy_requests", 2),
            getattr(settings, "renders", 1),
            getattr(settings, "heavy_wait_s", 1.0),
        )
        state.heavy = found
    return found[kind]


def status(app: ASGIApp) -> dict[str, dict[str, int]]:
    """This worker's heavy work by kind: slots, running now, refused with 503 since it started."""
    found: dict[str, Limiter] = getattr(app.state, "heavy", None) or {}  # type: ignore[attr-defined]
    return {
        kind: {"slots": one.slots, "running": one.running, "refused": one.refused}
        for kind, one in found.items()
    }


async def _watch_disconnect(request: Request, token: threading.Event) -> None:
    """Set ``token`` when the client disconnects (the ASGI server says so through ``receive``)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            token.set()
            return


@asynccontextmanager
async def heavy_slot(request: Request, kind: str = WORK) -> AsyncIterator[threading.Event]:
    """Hold a slot of ``kind`` and watch the client: the token is set if it disconnects.

    Raises `HTTPException` 503 (with ``Retry-After``) when no slot frees within the wait.
    """
    token = threading.Event()
    async with limiter(request.app, kind).slot():
        # A plain task, not a task group: an error of the block must reach the caller as itself.
        watcher = asyncio.ensure_future(_watch_disconnect(request, token))
        try:
            yield token
        finally:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher


async def in_thread(token: threading.Event, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``work`` in a worker thread, cancellable through ``token`` (`layers.cancel`).

    The thread is awaited to its end even when the token is set: work stops at its next checkpoint,
    and until then it still holds its slot.
    """

    def run() -> T:
        with cancellable(token):
            return work(*args, **kwargs)

    # Not abandoned on cancellation: the thread is awaited to its end, and holds its slot until then.
    return await anyio.to_thread.run_sync(run, abandon_on_cancel=False)


async def run_heavy(
    request: Request, work: Callable[..., T], /, *args: Any, kind: str = WORK, **kwargs: Any
) -> T:
    """Run ``work(*args, **kwargs)`` as heavy work of ``kind`` for ``request``.

    Parameters
    ----------
    request
        The request the work answers (its app's limiter; its client is watched).
    work
        A synchronous function; it may call `layers.cancel.checkpoint` between its steps.
    kind
        `WORK` (default) or `RENDER` (PDF briefings).

    Returns
    -------
    The work's result.

    Raises
    ------
    HTTPException
        503 with ``Retry-After`` when every slot stays taken for ``heavy_wait_s``.
    Cancelled
        When the client disconnected and the work stopped at a checkpoint.
    """
    started = time.perf_counter()
    async with heavy_slot(request, kind) as token:
        try:
            return await in_thread(token, work, *args, **kwargs)
        except Cancelled:
            log.info(
                "%s %s: client went away; work stopped after %.2f s",
                request.method,
                request.url.path,
                time.perf_counter() - started,
            )
            raise
