"""Numbers as people type them into a URL, a filter or a spec: ASCII digits, finite values.

Python's ``int()`` and ``float()`` read far more than a person means: digits of any script
(``int("١٠") == 10``, ``"１０"``), underscores (``"1_000"``), surrounding spaces, ``"nan"``,
``"inf"`` and ``"1e400"`` (infinity). Every number of a request goes through here instead, so a
parameter is either the plain decimal it looks like or refused naming itself.
"""

from __future__ import annotations

import math
import re

#: A whole number in ASCII digits, optionally signed.
WHOLE = re.compile(r"[+-]?[0-9]+")
#: A decimal in ASCII digits: ``12``, ``-0.5``, ``.5``, ``3.``, ``1e-3`` (exponent of at most 3 digits).
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
#: Longest number text read (a longer one is no plausible parameter; ``int()`` of 10,000 digits is slow).
MAX_CHARS = 64


def whole(text: str) -> int:
    """``text`` as an integer written in ASCII digits; `ValueError` otherwise.

    Examples
    --------
    >>> whole("-12")
    -12
    >>> whole("１０")
    Traceback (most recent call last):
    ...
    ValueError: not a whole number in ASCII digits: '１０'
    """
    if len(text) > MAX_CHARS or not WHOLE.fullmatch(text):
        raise ValueError(f"not a whole number in ASCII digits: {text[:MAX_CHARS]!r}")
    return int(text)


def decimal(text: str) -> float:
    """``text`` as a finite float written in ASCII digits; `ValueError` otherwise.

    Examples
    --------
    >>> decimal("0.25"), decimal("-1e3")
    (0.25, -1000.0)
    >>> decimal("nan")
    Traceback (most recent call last):
    ...
    ValueError: not a finite decimal number in ASCII digits: 'nan'
    """
    if len(text) > MAX_CHARS or not DECIMAL.fullmatch(text) or not math.isfinite(value := float(text)):
        raise ValueError(f"not a finite decimal number in ASCII digits: {text[:MAX_CHARS]!r}")
    return value
