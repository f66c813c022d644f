"""One way to write a file: under a temporary name beside it, renamed into place when complete.

A reader (QGIS, a browser download, the next build) never sees half a file, and a failed write
leaves the previous file as it was.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (not yet created), renamed onto ``path`` if the block succeeds.

    Examples
    --------
    >>> with atomic_path(tmp_path / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (tmp_path / "a.txt").read_text(), tmp.exists()
    ('done', False)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers such as GDAL create the file themselves and refuse an existing one
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        # SQLite (GeoPackage) may leave a journal or WAL file beside an aborted write.
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal"), tmp.with_name(tmp.name + "-wal")):
            leftover.unlink(missing_ok=True)


def write_text(text: str, out: Path | None) -> None:
    """Write ``text`` to ``out`` atomically, or to standard output when ``out`` is None.

    Parameters
    ----------
    text
        What to write.
    out
        Destination file, or None for standard output.
    """
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
