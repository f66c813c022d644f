"""What every source check shares: the one way a refused value is reported, and clean codes.

Every problem stops the build with a `SourceError` naming the file, the feature or row, the field
and what is wrong, before anything is written. Feature numbers are the file's own FIDs where the
format has them (what QGIS shows), row numbers are 1-based data rows (what a spreadsheet shows
is that plus the header). Checks run on whole columns and quote up to `SHOWN` offending rows in
one message; docs/sources.md lists them all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS

from layers.errors import SourceError

SHOWN = 5


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, for the manifest's provenance record."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refuse(
    file: str,
    bad: np.ndarray,
    place: Callable[[int], str],
    field: str | None,
    describe: Callable[[int], str],
    problem: str,
    hint: str = "",
) -> None:
    """Raise one `SourceError` for every position where ``bad`` is true, if any.

    The message names the first offending row or feature and quotes up to `SHOWN` of them, so a
    user fixes a column in one go instead of one row per build.

    Parameters
    ----------
    file
        File name for the message.
    bad
        Boolean array over the rows or features.
    place
        Position -> ``"row 4"`` or ``"feature 17"``.
    field
        The file's column (or ``"geometry"``).
    describe
        Position -> the offending value as the user wrote it (``"'1.053'"``).
    problem
        What is wrong, completing "<value> ...", e.g. ``"is not a whole number"``.
    hint
        What to do about it, appended as its own sentence.
    """
    at = np.flatnonzero(bad)
    if len(at) == 0:
        return
    first = int(at[0])
    text = f"{describe(first)} {problem}"
    if len(at) > 1:
        others = ", ".join(f"{place(int(i))} {describe(int(i))}" for i in at[1:SHOWN])
        more = f"; {len(at)} in all" if len(at) > SHOWN else ""
        text += f" (also {others}{more})"
    if hint:
        text += f". {hint}"
    raise SourceError(file, place(first), field, text)


def not_found(path: Path) -> SourceError:
    """The error for a source file that does not exist, named as the config names it.

    Messages name files, never the directories above them: a message is pasted into tickets and
    chats, and a machine's directory layout (user names, mount points) is not the reader's business.
    """
    return SourceError(
        path.name, None, None, "file not found (paths in the build config are relative to its folder)"
    )


def unreadable(path: Path, what: str, exc: Exception) -> SourceError:
    """The error for a source file a library could not read, its message without the file's directories."""
    text = str(exc).replace(str(path), path.name).replace(str(path.parent), "…")
    return SourceError(path.name, None, None, f"cannot read{f' {what}' if what else ''} ({text})")


def row_place(position: int) -> str:
    """A table row as a spreadsheet user counts it, after the header (position 0 -> ``row 1``)."""
    return f"row {position + 1}"


def feature_place(frame: pd.DataFrame) -> Callable[[int], str]:
    """Position -> ``feature <fid>``, the file's own feature id (what QGIS shows)."""
    index = frame.index
    return lambda position: f"feature {index[position]}"


def crs_name(crs: object) -> str:
    """A CRS as a person reads it: ``EPSG:32750 (WGS 84 / UTM zone 50S)``."""
    crs = CRS.from_user_input(crs)
    code = crs.to_string()
    return code if code == crs.name else f"{code} ({crs.name})"


def as_code(series: pd.Series) -> pd.Series:
    """Codes as clean identifiers: text, trimmed, without separators.

    A float-looking code from a spreadsheet ("6201010001.0") loses its spurious decimal part, and
    Kemendagri's dotted codes lose their dots ("62.07.01.2001" → "6207012001"), so every code is
    safe as a feature id and URL segment (OGC API feature ids must not contain dots) and the two
    spellings of one code join.
    """
    # Arrow strings: their string functions run in C++ (a national register has millions of codes).
    text = series.astype(pd.StringDtype("pyarrow")).str.strip().str.replace(r"\.0$", "", regex=True)
    return text.str.replace(".", "", regex=False)


#: A code Excel wrote in scientific notation ("6.20101E+09", or "620101E+09" once dots are dropped).
_SCIENTIFIC = r"[0-9]+(?:[.,][0-9]+)?[eE]\+?[0-9]+"


def refuse_scientific_codes(codes: pd.Series, file: str, field: str, place: Callable[[int], str]) -> None:
    """Refuse codes that a spreadsheet turned into numbers in scientific notation.

    Excel shows a 10-digit village code as ``6.20101E+09`` and saves it so: the last digits are
    gone, and no join can bring them back. Such a code is refused with the hint, not reported as
    "matches no village".
    """
    text = codes.astype("string").str.strip()
    bad = text.str.fullmatch(_SCIENTIFIC, na=False).to_numpy(dtype=bool)
    refuse(
        file,
        bad,
        place,
        field,
        lambda at: repr(str(text.iloc[at])),
        "is a number in scientific notation, as Excel writes long codes: its last digits are lost",
        "Format the code column as Text in the spreadsheet (or import the CSV with that column as "
        "text) and save it again",
    )


def feature_at(frame: pd.DataFrame, position: int) -> str:
    """``feature <fid>`` of the row at ``position``."""
    return f"feature {frame.index[position]}"
