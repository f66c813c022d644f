"""One way to write a file or a directory: under a temporary name beside it, renamed into place
when complete.

A reader (QGIS, a browser download, the service, the next build) never sees half a file or half a
directory, and a failed write leaves the previous one as it was. Files: `atomic_path`. Directories
(the layer store, the demo's source folder): `writing_directory`, or `sibling_directory` and
`swap_directory` for a writer that commits later (`layers.store.StoreWriter`).
"""

from __future__ import annotations

import os
import shutil
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


def sibling_directory(target: str | Path, label: str) -> Path:
    """A new empty directory beside ``target``, named ``.<target name>.<label>-<random>``.

    Its permissions follow the umask, as a directory made with ``mkdir`` (not ``mkdtemp``'s 0700):
    a store or demo folder written by one user is read by another (the service's).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{target.name}.{label}-", dir=target.parent))
    new.chmod(0o777 & ~_umask())
    return new


def _umask() -> int:
    """The process umask (reading it means setting it, so it is put straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def swap_directory(new: str | Path, target: str | Path) -> None:
    """Put the directory ``new`` at ``target`` by renames on one file system.

    An existing ``target`` is moved aside first (to ``<new>.old``) and removed only once ``new`` is
    in place. Should the second rename fail, the previous directory is put back before the error
    is raised: ``target`` is always the old directory or the new one, never missing or mixed.

    Examples
    --------
    >>> (tmp_path / "new").mkdir(); _ = (tmp_path / "new" / "a.txt").write_text("new")
    >>> (tmp_path / "site").mkdir(); _ = (tmp_path / "site" / "a.txt").write_text("old")
    >>> swap_directory(tmp_path / "new", tmp_path / "site")
    >>> (tmp_path / "site" / "a.txt").read_text(), sorted(p.name for p in tmp_path.iterdir())
    ('new', ['site'])
    """
    new, target = Path(new), Path(target)
    if not target.exists():
        os.rename(new, target)
        return
    old = new.with_name(new.name + ".old")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)  # put the previous directory back before reporting the failure
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def writing_directory(target: str | Path, label: str = "writing") -> Iterator[Path]:
    """A temporary sibling of ``target`` to write into; it replaces ``target`` when the block ends.

    A failure inside the block (or in the swap) removes it and leaves ``target`` as it was.

    Examples
    --------
    >>> with writing_directory(tmp_path / "out") as tmp:
    ...     _ = (tmp / "done.txt").write_text("yes")
    >>> (tmp_path / "out" / "done.txt").read_text(), tmp.exists()
    ('yes', False)
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a directory")
    new = sibling_directory(target, label)
    try:
        yield new
        swap_directory(new, target)
    finally:
        shutil.rmtree(new, ignore_errors=True)  # after a swap it no longer exists: a no-op
