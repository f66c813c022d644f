"""Answers of ``/verification``: JSON and files that no browser or proxy keeps."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from service.responses import ORJSONResponse
from service.verification.errors import NO_STORE


def private_json(body: Any, status: int = 200) -> Response:
    """A JSON answer with ``Cache-Control: no-store`` (it may name people)."""
    return ORJSONResponse(body, status_code=status, headers=dict(NO_STORE))


def private_file(content: bytes, media_type: str, filename: str) -> Response:
    """A download (``attachment``) that no cache keeps."""
    headers = dict(NO_STORE) | {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=media_type, headers=headers)
