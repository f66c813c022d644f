"""Schemathesis hooks for `test_fuzz_verification`: how to send an uploaded sheet.

``POST /verification/villages/{code}/sheet`` takes the XLSX file itself as its body (a binary
string in the OpenAPI document); the fuzzer sends the bytes it generates as they are.
"""

from __future__ import annotations

from typing import Any

import schemathesis

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@schemathesis.serializer(XLSX)
def xlsx_body(_ctx: Any, value: Any) -> bytes:
    """The generated body as bytes (a binary string is bytes already)."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")
