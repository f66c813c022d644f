"""The layer store: one GeoParquet file per layer plus ``manifest.json`` (DESIGN §9).

A store is written into a temporary sibling directory and moved into place only when complete, so
a failed or interrupted build leaves the previous store readable. Readers load a layer once and
keep it in memory.

One build at a time writes a store: `build_lock` holds an exclusive lock on ``.<store>.lock`` beside
it, and removes the temporary directories that killed builds left behind.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.errors import LayerNotFound, StoreError, StoreLocked
from layers.schema import SPATIAL_LAYERS, TABLES, FacilityKind, kinds_from_json

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: A partitioned store (a national build, `layers.pipeline.national`) keeps each layer as a directory of
#: parts in hive style: ``<layer>/province=62/part.parquet``.
PARTITION_KEY = "province"
PART_FILE = "part.parquet"

__all__ = ["SPATIAL_LAYERS", "TABLES", "LayerStore", "StoreWriter", "writing_store"]

_VERSIONED_PACKAGES = ("sasaran", "numpy", "pandas", "geopandas", "shapely", "h3", "h3ronpy", "pyarrow")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a build's output, for the manifest."""
    found = {}
    for name in _VERSIONED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


class StoreWriter:
    """Collects layers in a temporary directory; `commit` moves it into place."""

    def __init__(self, target: Path):
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.building-", dir=self.target.parent))
        self.rows: dict[str, int] = {}
        self.files: dict[str, str] = {}

    def path_for(self, filename: str) -> Path:
        """Path inside the store being written (for rasters and other side files)."""
        return self.tmp / filename

    def write_layer(self, name: str, frame: pd.DataFrame) -> None:
        """Write one layer (GeoDataFrame → GeoParquet, DataFrame → Parquet)."""
        path = self.tmp / f"{name}.parquet"
        if isinstance(frame, gpd.GeoDataFrame):
            frame.to_parquet(path, index=False, compression="zstd", write_covering_bbox=True)
        else:
            frame.to_parquet(path, index=False, compression="zstd")
        self.rows[name] = len(frame)
        self.files[name] = path.name

    def commit(self, manifest: Mapping[str, Any]) -> Path:
        """Write the manifest and swap the finished directory into place."""
        body = {
            "format_version": FORMAT_VERSION,
            # Two builds in one second must still differ: services reload when the id changes.
            "build_id": uuid.uuid4().hex,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            **manifest,
            "layers": dict(self.rows),
            "files": dict(self.files),
            "packages": package_versions(),
        }
        (self.tmp / MANIFEST).write_text(json.dumps(body, indent=2, default=_json_default))
        _swap_into_place(self.tmp, self.target)
        log.info("store written to %s (%d layers)", self.target, len(self.rows))
        return self.target

    def abort(self) -> None:
        """Remove the temporary directory; the previous store stays as it was."""
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def writing_store(target: str | Path) -> Iterator[StoreWriter]:
    """Context manager: a `StoreWriter` whose temporary directory is removed unless committed.

    Holds the store's `build_lock` (re-entrant: a build that already holds it keeps it).
    """
    with build_lock(target):
        writer = StoreWriter(Path(target))
        try:
            yield writer
        finally:
            writer.abort()  # after a commit the temp dir no longer exists: this is a no-op


#: Lock files this thread holds, with their depth: `build_lock` is re-entrant within a thread, and a
#: second ``flock`` on a new descriptor of the same file would conflict with the first.
_held = threading.local()


def lock_path(target: str | Path) -> Path:
    """The lock file of a store: ``.<name>.lock`` beside it, there while a build holds it."""
    target = Path(target).absolute()
    return target.with_name(f".{target.name}.lock")


@contextmanager
def build_lock(target: str | Path) -> Iterator[Path]:
    """Hold the exclusive build lock of the store at ``target`` for the duration of the block.

    A second build of the same store does not wait: it fails at once, before any work, with
    `StoreLocked` naming the process that holds the lock (the CLI exits 2). The lock is an ``flock``
    on `lock_path`, so the kernel releases it when its holder exits, however it exits; a lock can
    never be left stale (a killed build leaves the file, unlocked; the next build takes it). Once
    held, the temporary directories of earlier builds that were killed (``.<name>.building-*``,
    ``.<name>.old-*``) are removed: no other build can be using them.

    Parameters
    ----------
    target
        The store directory (it need not exist yet).

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    StoreLocked
        Another process (or thread) is building this store.
    """
    store = Path(target).absolute()
    path = lock_path(store)
    depth: dict[Path, int] = _held.__dict__.setdefault("depth", {})
    if depth.get(path):
        depth[path] += 1
        try:
            yield path
        finally:
            depth[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _lock_file(path, store)
    try:
        os.ftruncate(fd, 0)  # a killed build's file may still name it
        os.pwrite(
            fd, f"pid {os.getpid()}, since {datetime.now(UTC).isoformat(timespec='seconds')}".encode(), 0
        )
        _remove_stale_temporaries(store)
        depth[path] = 1
        try:
            yield path
        finally:
            del depth[path]
            # Unlinked while still locked, so a failed build leaves nothing beside the store.
            # `_lock_file` makes this safe against a build that opened the file just before.
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)  # releases the lock


def _lock_file(path: Path, store: Path) -> int:
    """A descriptor of the lock file at ``path``, exclusively flock-ed; `StoreLocked` if held."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StoreLocked(
                f"{store}: another build is writing this store ({holder}); "
                "wait for it to finish, or build into another --store"
            ) from None
        # The holder we waited on may have unlinked the file between our open and our flock: then
        # we locked a file nobody else will ever look at. Only a lock on the file at `path` counts.
        opened = os.fstat(fd)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is not None and (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev):
            return fd
        os.close(fd)


def _remove_stale_temporaries(target: Path) -> None:
    # Only called with the build lock held: any such directory belongs to a build that is gone.
    stale = [*target.parent.glob(f".{target.name}.building-*"), *target.parent.glob(f".{target.name}.old-*")]
    for directory in stale:
        if directory.is_dir() and not directory.is_symlink():
            shutil.rmtree(directory, ignore_errors=True)
            log.info("removed %s, left by an interrupted build", directory)


def _swap_into_place(new: Path, target: Path) -> None:
    # Two renames on one filesystem: the old store is moved aside only once the new one is complete,
    # and deleted only after the new one is in place. A reader never sees a half-written store.
    old = None
    if target.exists():
        if not (target / MANIFEST).exists() and any(target.iterdir()):
            raise StoreError(f"{target}: exists and is not a Sasaran store; refusing to replace it")
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _read_table(path: Path) -> pd.DataFrame:
    try:
        return gpd.read_parquet(path)
    except ValueError:  # no geometry metadata: a plain table
        return pd.read_parquet(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class LayerStore:
    """A built store, opened for reading. Layers load on first use and stay in memory.

    Examples
    --------
    >>> store = LayerStore.open(demo_store)  # doctest: +SKIP
    >>> store.layer("villages").crs.to_epsg()  # doctest: +SKIP
    4326
    """

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = manifest
        self._cache: dict[str, pd.DataFrame] = {}

    @classmethod
    def open(cls, path: str | Path) -> LayerStore:
        """Open a store directory, checking its manifest and files."""
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.exists():
            raise StoreError(
                f"{path}: no layer store here (no {MANIFEST}); build one with 'sasaran build CONFIG'"
            )
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise StoreError(f"{manifest_path}: unreadable manifest ({exc})") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise StoreError(
                f"{manifest_path}: format_version {manifest.get('format_version')!r}, "
                f"this Sasaran reads {FORMAT_VERSION}; rebuild the store"
            )
        parts = [f"{f}/{p['path']}/{PART_FILE}" for f in manifest.get("files", {}).values()
                 for p in manifest.get("partitions", [])]  # fmt: skip
        files = parts if parts else list(manifest.get("files", {}).values())
        missing = [f for f in files if not (path / f).exists()]
        if missing:
            raise StoreError(f"{path}: missing layer file(s) {missing}; rebuild the store")
        return cls(path, manifest)

    @property
    def names(self) -> list[str]:
        """Layer and table names in the store, in manifest order."""
        return list(self.manifest.get("layers", {}))

    @property
    def synthetic(self) -> bool:
        """Whether the store was built from the synthetic demo province."""
        return bool(self.manifest.get("synthetic", False))

    @cached_property
    def facility_kinds(self) -> tuple[FacilityKind, ...]:
        """The facility kinds the store was built with (built-in and declared in its config)."""
        return kinds_from_json(self.manifest.get("facility_kinds"))

    @cached_property
    def years(self) -> list[int]:
        """Years of the poverty table, oldest first."""
        return [int(y) for y in self.manifest.get("years", [])]

    def rows(self, name: str) -> int:
        """Row count of a layer, from the manifest (no read)."""
        self._check(name)
        return int(self.manifest["layers"][name])

    def layer(self, name: str) -> pd.DataFrame:
        """A layer as a (Geo)DataFrame, read once and cached. Callers must not modify it."""
        self._check(name)
        if name not in self._cache:
            parts = self.parts(name)
            frames = [_read_table(part) for part in parts]
            if len(frames) == 1:
                self._cache[name] = frames[0]
            else:
                frame = pd.concat(frames, ignore_index=True)
                if isinstance(frames[0], gpd.GeoDataFrame):
                    frame = gpd.GeoDataFrame(frame, geometry=frames[0].geometry.name, crs=frames[0].crs)
                self._cache[name] = frame
        return self._cache[name]

    def attributes(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """A layer's attribute columns without its geometry (a plain DataFrame; ``columns``: those
        that exist, default all). Read straight from the file when the layer is not loaded: the
        geometry of 200,000 hexagons is not decoded to score them (`layers.scoring.rescore`)."""
        self._check(name)
        if name in self._cache:
            frame = self._cache[name]
            keep = [c for c in (columns or frame.columns) if c in frame.columns and c != "geometry"]
            return pd.DataFrame(frame[keep])
        import pyarrow.parquet as pq

        parts = self.parts(name)
        names = pq.read_schema(parts[0]).names
        keep = [c for c in (columns or names) if c in names and c not in ("geometry", "bbox")]
        return pd.concat([pq.read_table(part, columns=keep).to_pandas() for part in parts], ignore_index=True)

    @property
    def partitions(self) -> list[dict[str, Any]]:
        """The partitions of a national store, as its manifest lists them (none for a province)."""
        return list(self.manifest.get("partitions", []))

    def parts(self, name: str) -> list[Path]:
        """The files of a layer: one, or one per partition in manifest order (a national store)."""
        self._check(name)
        path = self.path / self.manifest["files"][name]
        if not path.is_dir():
            return [path]
        return [path / entry["path"] / PART_FILE for entry in self.partitions]

    def _check(self, name: str) -> None:
        if name not in self.manifest.get("layers", {}):
            raise LayerNotFound(f"no layer '{name}' in this store; layers are: {', '.join(self.names)}")
