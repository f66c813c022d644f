"""Domain errors. They carry no HTTP status; `service.errors` maps them.

Each also inherits from the builtin a caller would naturally catch (h3-py's manners), and the
message names the place: file, row or feature, field, problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SasaranError(Exception):
    """Base class of every error Sasaran raises on purpose."""


class SourceError(SasaranError, ValueError):
    """A source file is unreadable or its content is invalid.

    The message reads ``villages.gpkg, feature 17, field 'kode_desa': duplicate code '6201010001'``.
    """

    def __init__(self, file: str, row: int | str | None, field: str | None, problem: str):
        self.file, self.row, self.field, self.problem = str(file), row, field, problem
        parts = [self.file]
        if row is not None:
            parts.append(row if isinstance(row, str) else f"row {row}")
        if field is not None:
            parts.append(f"field '{field}'")
        super().__init__(f"{', '.join(parts)}: {problem}")

    def __reduce__(self) -> tuple[type[SourceError], tuple[str, int | str | None, str | None, str]]:
        # A partition of a national build fails on a Dask worker: its error is pickled back to the
        # client, and must arrive as itself (the CLI maps it to exit 2), not as a wrapper.
        return (type(self), (self.file, self.row, self.field, self.problem))


class ConfigError(SasaranError, ValueError):
    """A configuration or indicator spec is invalid (the message names the file and the entry)."""


class StoreError(SasaranError, OSError):
    """A layer store is missing, incomplete or from an incompatible version."""


class StoreLocked(StoreError):
    """Another build is writing the same store (its lock is held)."""


class LayerNotFound(SasaranError, KeyError):
    """A layer (collection) name that the store does not hold."""

    def __str__(self) -> str:  # KeyError quotes its argument; a person wants the sentence.
        return str(self.args[0]) if self.args else "layer not found"


class InvalidQuery(SasaranError, ValueError):
    """A request parameter that cannot be honoured (the message says which and why)."""


class InfeasibleTargeting(InvalidQuery):
    """Targeting constraints that no selection can satisfy (the message names the constraint)."""


#: Longest piece of a caller's input that an error message quotes (messages are for people,
#: and a 10 MB name must not come back as a 10 MB error body or log line).
EXCERPT_CHARS = 80
#: Most items of a caller-given list (unknown parameters, codes) that one message names.
EXCERPT_ITEMS = 5


def excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of ``text`` for an error message, with ``…`` when cut.

    Parameters
    ----------
    text
        The caller's input (anything; it is converted with `str`).
    limit
        Characters kept, the ellipsis included.

    Returns
    -------
    str
        ``text`` itself when short enough, else its start, ``…`` and the full length.

    Examples
    --------
    >>> excerpt("Desa Maju")
    'Desa Maju'
    >>> excerpt("x" * 1000, 10)
    'xxxxxxxxx… (1000 characters)'
    """
    if isinstance(text, int) and not isinstance(text, bool) and text.bit_length() > 64:
        return f"an integer of {text.bit_length():,} bits"  # str() refuses ints over 4,300 digits
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[: max(limit - 1, 0)]}… ({len(text)} characters)"


def excerpt_list(items: Iterable[object], limit: int = EXCERPT_ITEMS) -> str:
    """Quote the first ``limit`` items, each shortened by `excerpt`: ``'a', 'b' and 3 more``.

    Parameters
    ----------
    items
        The caller's values (an iterable; each converted with `str`).
    limit
        Items named before ``and N more``.

    Returns
    -------
    str
        The quoted list.

    Examples
    --------
    >>> excerpt_list(["a", "b", "c"], 2)
    "'a', 'b' and 1 more"
    """
    values = list(items)
    named = ", ".join(f"'{excerpt(v)}'" for v in values[:limit])
    more = len(values) - limit
    return named + (f" and {more} more" if more > 0 else "")


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was most likely meant to be (a typo, another case), or None.

    Parameters
    ----------
    word
        What the caller wrote (only its first 80 characters are compared).
    choices
        The names that exist.

    Returns
    -------
    str | None
        The closest choice by `difflib` similarity (case-insensitive, at least 0.6), else None.

    Examples
    --------
    >>> close_match("kabupaten", ["kabupaten_code", "kecamatan_code"])
    'kabupaten_code'
    >>> close_match("m0", ["M0", "H"])
    'M0'
    >>> close_match("zzz", ["M0", "H"]) is None
    True
    """
    word = str(word)[:EXCERPT_CHARS].lower()
    by_lower = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(word, list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` did you mean `X`?`` for `close_match`, or an empty string when nothing is close.

    Examples
    --------
    >>> did_you_mean("villages_code", ["village_code", "village_name"])
    '; did you mean `village_code`?'
    """
    match = close_match(word, choices)
    return f"; did you mean `{match}`?" if match else ""
