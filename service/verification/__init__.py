"""Verification of the register village by village, over HTTP (docs/verification.md).

`install` adds the routers (sign-in, the API, files, pages, OpenID Connect) and the error
handlers to an app; `open_verification` (called in the app's lifespan) opens the database.
Library code lives in `layers.verification`; this package only parses, authorises and answers.
"""

from __future__ import annotations

from fastapi import FastAPI

from service.verification import api, errors, files, oidc, pages, session
from service.verification.state import close_verification, open_verification

__all__ = ["close_verification", "install", "open_verification"]


def install(app: FastAPI) -> None:
    """Add verification's routers and error handlers to ``app``."""
    for module in (session, oidc, api, files, pages):
        app.include_router(module.router)
    errors.add_handlers(app)
