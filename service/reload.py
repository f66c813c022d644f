"""Picking up a rebuilt store without downtime.

`sasaran build` swaps a finished store into place with two renames (`layers.store`). Each service
worker notices the new manifest (its ``build_id`` changes), prepares the new store's catalog in a
thread while the old one keeps answering, then swaps both in one assignment. Requests that started
before the swap finish on the old build: everything they need is already in memory. A store that
cannot be opened (half-swapped, broken) is logged and retried; the old build stays served.
SIGHUP asks for a check at once.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import signal
import time
from contextlib import suppress
from pathlib import Path

from fastapi import FastAPI

from layers.errors import SasaranError
from layers.store import manifest_build_id, read_manifest
from service.catalog import Served, open_served, start_preparing

log = logging.getLogger(__name__)


#: Seconds after a swap before the old build's memory is handed back to the system.
RELEASE_AFTER_S = 10.0


def release_memory() -> None:
    """Collect the old build and return freed heap pages to the system.

    glibc keeps freed heap memory for reuse, so without ``malloc_trim`` a worker that has swapped
    builds keeps both builds' worth of resident memory (measured: +36 % after one swap).
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _manifest_build_id(store_dir: Path) -> str | None:
    try:
        return manifest_build_id(read_manifest(store_dir))
    except (OSError, ValueError):
        return None  # mid-swap or gone: look again next time


async def reload_if_changed(app: FastAPI) -> bool:
    """Swap in the store at the configured path if its build differs from the served one.

    Returns whether a new build was swapped in.
    """
    store_dir = Path(app.state.settings.store_dir)
    served: Served = app.state.served
    found = _manifest_build_id(store_dir)
    if found is None or found == served.build_id:
        return False
    started = time.perf_counter()
    try:
        fresh = await asyncio.to_thread(open_served, store_dir)
    except (SasaranError, OSError, ValueError) as exc:
        log.warning("store %s changed but could not be opened (%s); still serving build %s",
                    store_dir, exc, served.build_id)  # fmt: skip
        return False
    app.state.served = fresh
    start_preparing(fresh)
    app.openapi_schema = None  # collections may differ: describe them again on the next request
    old_build = served.build_id
    del served  # the old catalog must have no reference left here when memory is released
    # Requests that started on the old build finish within seconds; then its arrays are garbage.
    loop = asyncio.get_running_loop()
    # In a thread: collecting and trimming gigabytes must not stall the event loop's other requests.
    loop.call_later(RELEASE_AFTER_S, lambda: loop.run_in_executor(None, release_memory))
    log.info("serving rebuilt store %s: build %s (was %s), prepared in %.2f s",
             store_dir, fresh.build_id, old_build, time.perf_counter() - started)  # fmt: skip
    return True


async def watch_store(app: FastAPI, interval_s: float) -> None:
    """Check the store's manifest every ``interval_s`` seconds, and at once on SIGHUP."""
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    with suppress(NotImplementedError, RuntimeError, ValueError):  # no signals off the main thread
        loop.add_signal_handler(signal.SIGHUP, wake.set)
    try:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval_s)
            wake.clear()
            try:
                await reload_if_changed(app)
            except Exception:  # never let the watcher die: the service must keep answering
                log.exception("store reload failed; still serving the previous build")
    finally:
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)
