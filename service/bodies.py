"""What a request body must be before any route reads it: JSON by its content type, valid text.

FastAPI parses a JSON body only when the request says it is JSON; any other body reached the
route's model as bytes and came back as "Input should be a valid dictionary". And JSON may spell a
lone surrogate (``"\\ud800"``), which Python's parser accepts as a ``str`` that no UTF-8 encoder
will write: it travelled into messages and answers until something failed with a 500. So every
route with a JSON body (`check_body`, an app-wide dependency) first gets:

- ``415 Unsupported Media Type`` (with ``Accept-Post: application/json``) for a body sent as
  anything but JSON, as PostgREST and GeoServer's REST API answer;
- ``400`` naming the field for a string, or an object key, that is not valid Unicode.
"""

from __future__ import annotations

import email.message
from typing import Any

from fastapi import params
from starlette.exceptions import HTTPException
from starlette.requests import Request

from layers.errors import InvalidQuery, excerpt

JSON = "application/json"


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is JSON (``application/json`` or ``application/*+json``)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def invalid_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first place in parsed JSON holding text that is not valid Unicode (a lone surrogate).

    Parameters
    ----------
    value
        A parsed JSON document (dicts, lists, strings, numbers).
    path
        Where ``value`` sits, for the answer (``indicator[0].name``).

    Returns
    -------
    tuple[str, str] | None
        ``(field, the text with the bad code point escaped)``, or None when all text is valid.

    Examples
    --------
    >>> invalid_text({"budget": 1e9, "include": ["6201", "\\ud800"]})
    ('include[1]', '\\\\ud800')
    >>> invalid_text({"name": "Desa 😀"}) is None
    True
    """
    if isinstance(value, str):
        return None if _valid(value) else (path or "body", _escaped(value))
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{_escaped(str(key))}" if path else _escaped(str(key))
            if isinstance(key, str) and not _valid(key):
                return (f"{where} (a key)", _escaped(key))
            found = invalid_text(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = invalid_text(item, f"{path}[{i}]")
            if found:
                return found
    return None


def _escaped(text: str) -> str:
    return excerpt(text).encode("utf-8", "backslashreplace").decode("utf-8")


async def check_body(request: Request) -> None:
    """Refuse a route's JSON body sent as another media type (415) or holding invalid text (400).

    Runs for every route as an app dependency, after FastAPI has read (and parsed) the body and
    before the route's own parameters: routes without a JSON body are left alone.
    """
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    if field is None or request.method not in ("POST", "PUT", "PATCH"):
        return
    info = field.field_info
    if isinstance(info, params.Form) or not is_json(getattr(info, "media_type", JSON)):
        return  # a form or a declared non-JSON body: its route says what it takes
    body = await request.body()
    if not body:
        return  # no body: the route's own validation says what is missing
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        sent = f"'{excerpt(content_type, 60)}'" if content_type else "no Content-Type"
        raise HTTPException(
            415,
            f"{request.url.path} takes a JSON body; the request sent {sent}. "
            "Send it with Content-Type: application/json",
            headers={"Accept-Post": JSON},
        )
    check_text(await request.json())


def check_text(parsed: Any) -> None:
    """`InvalidQuery` naming the first field of parsed JSON whose text is not valid Unicode."""
    found = invalid_text(parsed)
    if found:
        where, text = found
        raise InvalidQuery(
            f"{where}: '{text}' is not valid Unicode text (a lone UTF-16 surrogate such as \\ud800 "
            "encodes no character); send text as UTF-8"
        )
