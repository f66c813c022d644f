"""Cooperative cancellation: long work stops at its next checkpoint once its caller has gone away.

A thread cannot be stopped from outside, so work that may run for seconds (a rescoring, a filter
over every row, a selection's scenarios, a file being written) calls `checkpoint` between its
vectorised steps. Whoever runs the work (the service, when a client hangs up) sets the token given
to `cancellable`; the next checkpoint then raises `Cancelled`. Outside `cancellable` a checkpoint
costs one context-variable read and never raises, so the command line and the build are unaffected.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from layers.errors import SasaranError

_TOKEN: ContextVar[threading.Event | None] = ContextVar("sasaran_cancel_token", default=None)


class Cancelled(SasaranError):
    """The work was abandoned by whoever asked for it (a client that disconnected)."""


def checkpoint() -> None:
    """Raise `Cancelled` if the work running in this context has been cancelled."""
    token = _TOKEN.get()
    if token is not None and token.is_set():
        raise Cancelled("the work was stopped: whoever asked for it has gone away")


@contextmanager
def cancellable(token: threading.Event) -> Iterator[None]:
    """Run the block so that its checkpoints raise `Cancelled` once ``token`` is set.

    Parameters
    ----------
    token
        Set (from any thread) to cancel the work.

    Examples
    --------
    >>> import threading
    >>> token = threading.Event()
    >>> with cancellable(token):
    ...     checkpoint()  # not set: nothing happens
    ...     token.set()
    ...     try:
    ...         checkpoint()
    ...     except Cancelled:
    ...         print("stopped")
    stopped
    """
    reset = _TOKEN.set(token)
    try:
        yield
    finally:
        _TOKEN.reset(reset)
