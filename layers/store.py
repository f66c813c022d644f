"""The layer store: one GeoParquet file per layer plus ``manifest.json`` (docs/schema.md).

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
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np
import pandas as pd

from layers.atomic import sibling_directory, swap_directory
from layers.errors import LayerNotFound, StoreError, StoreLocked
from layers.schema import SPATIAL_LAYERS, TABLES, FacilityKind, kinds_from_json
from layers.types import SpecDict

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: A partitioned store (a national build, `layers.pipeline.national`) keeps each layer as a directory of
#: parts in hive style: ``<layer>/province=62/part.parquet``.
PARTITION_KEY = "province"
PART_FILE = "part.parquet"

__all__ = [
    "SPATIAL_LAYERS",
    "TABLES",
    "BuildEntries",
    "HouseholdsEntry",
    "LayerStore",
    "Manifest",
    "PartitionEntry",
    "Provenance",
    "SourceEntry",
    "StoreWriter",
    "writing_store",
]

#: A year's headline figures of a whole store or partition: ``H``, ``A``, ``M0``,
#: ``mpi_poor_population``, ``vulnerable_share``, ``severe_share``, ``scored_population``,
#: ``population`` (`layers.scoring.rescore.AF_COLUMNS` plus everybody).
Figures = dict[str, float]


class SourceEntry(TypedDict):
    """One source file of a build: config name, file name, SHA-256 and rows (None: a raster)."""

    name: str
    file: str
    sha256: str
    rows: int | None
    accepted: NotRequired[dict[str, str]]
    """A facility source's place checks declared not to apply, with the reasons (docs/sources.md)."""


class HouseholdsEntry(TypedDict):
    """The register of families a build stored (docs/schema.md, "The register of families")."""

    families: dict[str, int]
    """Year (as text) → families registered."""
    years: list[int]
    dated: bool
    """Whether the register file dates its records (else they are of the latest year)."""
    placed_by_cell: int
    min_families: int
    indicators: StoredSpec
    """The household indicator spec of the stored figures, and what was ``dropped``."""
    province: dict[str, dict[str, float | None]]
    """Year (as text) → the whole store's household figures (suppressed below ``min_families``)."""
    key_id: NotRequired[str]
    cipher: NotRequired[str]
    totals: NotRequired[dict[str, Figures]]
    """A partition's unsuppressed sums, which the nation's figures are combined from."""
    verification: NotRequired[dict[str, object]]
    """The verification snapshot the register came from (``sasaran build --verified``)."""


class PartitionEntry(TypedDict):
    """One province of a national store (docs/schema.md, "National (partitioned) stores")."""

    key: str
    path: str
    rows: dict[str, int]
    bounds: list[float]
    province: dict[str, Figures]
    rasters: dict[str, str]
    border_uncertain_cells: dict[str, int]
    build_seconds: dict[str, float]
    households: NotRequired[HouseholdsEntry]


class Partitioning(TypedDict):
    """How a national store is split: ``by`` (``province``) and the border buffer in km."""

    by: str
    buffer_km: float


class StoredSpec(SpecDict):
    """The manifest's ``indicators``: the spec of the stored scores (`layers.scoring.spec.spec_to_dict`)
    and the indicators ``dropped`` for lack of a source column."""

    dropped: list[str]


class BuildEntries(TypedDict):
    """What every build writes into its manifest (`layers.pipeline.compute.manifest_entries`)."""

    name: str
    synthetic: bool
    h3_resolution: int
    inhabited_min_people: float
    years: list[int]
    default_year: int
    sources: list[SourceEntry]
    indicators: StoredSpec
    """The indicator spec of the stored scores, and the indicators ``dropped`` for lack of a column."""
    facility_kinds: list[dict[str, object]]
    access: dict[str, Any]
    """The build's ``[access]`` config as JSON."""
    province: dict[str, Figures]
    """Year (as text) → the whole store's figures."""
    rasters: dict[str, str]
    build_seconds: dict[str, float]
    households: NotRequired[HouseholdsEntry]
    """The register of families, when the build had one."""


class Manifest(BuildEntries):
    """``manifest.json``: every key a store's manifest has (docs/schema.md lists each)."""

    format_version: int
    build_id: NotRequired[str]
    """Absent in stores written before it existed: `manifest_build_id` falls back to ``created``."""
    created: str
    layers: dict[str, int]
    files: dict[str, str]
    packages: dict[str, str]
    partitioning: NotRequired[Partitioning]
    partitions: NotRequired[list[PartitionEntry]]


def manifest_build_id(manifest: Manifest) -> str:
    """A build's identity: its ``build_id``, else (older stores) its creation time."""
    return str(manifest.get("build_id") or manifest.get("created", "unknown"))


@dataclass(frozen=True)
class Provenance:
    """Where a file's figures come from, as a download states it: the store, its build and sources."""

    name: str
    build_id: str
    created: str
    synthetic: bool
    sources: tuple[SourceEntry, ...] = ()


def read_manifest(store_dir: str | Path) -> Manifest:
    """The manifest of the store at ``store_dir``, unchecked (`LayerStore.open` checks it).

    Raises
    ------
    OSError
        No readable manifest there.
    ValueError
        The manifest is not JSON.
    """
    manifest: Manifest = json.loads((Path(store_dir) / MANIFEST).read_text())
    return manifest


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
        self.tmp = sibling_directory(self.target, "building")
        self.rows: dict[str, int] = {}
        self.files: dict[str, str] = {}

    def path_for(self, filename: str) -> Path:
        """Path inside the store being written (for rasters and other side files)."""
        return self.tmp / filename

    def write_layer(self, name: str, frame: pd.DataFrame) -> None:
        """Write one layer (GeoDataFrame → GeoParquet, DataFrame → Parquet)."""
        path = self.tmp / f"{name}.parquet"
        write_parquet(frame, path)
        self.rows[name] = len(frame)
        self.files[name] = path.name

    def commit(
        self,
        entries: BuildEntries,
        partitioning: Partitioning | None = None,
        partitions: list[PartitionEntry] | None = None,
    ) -> Path:
        """Write the manifest (a national store's with its partitions) and swap the directory into place."""
        body: Manifest = {
            "format_version": FORMAT_VERSION,
            # Two builds in one second must still differ: services reload when the id changes.
            "build_id": uuid.uuid4().hex,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            **entries,
            "layers": dict(self.rows),
            "files": dict(self.files),
            "packages": package_versions(),
        }
        if partitioning is not None and partitions is not None:
            body["partitioning"] = partitioning
            body["partitions"] = partitions
        (self.tmp / MANIFEST).write_text(json.dumps(body, indent=2, default=_json_default))
        if self.target.exists() and not (self.target / MANIFEST).exists() and any(self.target.iterdir()):
            raise StoreError(f"{self.target}: exists and is not a Sasaran store; refusing to replace it")
        swap_directory(self.tmp, self.target)
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
    # Only called with the build lock held: any such directory belongs to a build that is gone
    # (``.<name>.building-*.old`` is a replaced store a killed build had not yet removed; ``.old-*``
    # the same from earlier versions).
    stale = [*target.parent.glob(f".{target.name}.building-*"), *target.parent.glob(f".{target.name}.old-*")]
    for directory in stale:
        if directory.is_dir() and not directory.is_symlink():
            shutil.rmtree(directory, ignore_errors=True)
            log.info("removed %s, left by an interrupted build", directory)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a layer as a store holds it: GeoParquet (with bbox covering) or plain Parquet, zstd."""
    import geopandas as gpd

    if isinstance(frame, gpd.GeoDataFrame):
        frame.to_parquet(path, index=False, compression="zstd", write_covering_bbox=True)
    else:
        frame.to_parquet(path, index=False, compression="zstd")


def _read_table(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    # A plain table (no GeoParquet metadata) is read without loading geopandas, shapely and pyproj:
    # ``sasaran target --format json`` reads only such tables and attributes (issue 20).
    if b"geo" not in (pq.read_schema(path).metadata or {}):
        return pd.read_parquet(path)
    import geopandas as gpd

    try:
        return gpd.read_parquet(path)
    except ValueError:  # unusable geometry metadata: a plain table
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
    >>> store = LayerStore.open(store_dir)
    >>> store.layer("villages").crs.to_epsg()
    4326
    """

    def __init__(self, path: Path, manifest: Manifest):
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
            manifest = read_manifest(path)
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

    @property
    def name(self) -> str:
        """The build config's ``name`` (the province or country), else the directory's name."""
        return str(self.manifest.get("name") or self.path.name)

    @property
    def build_id(self) -> str:
        """The build's identity: it changes with every build (`manifest_build_id`)."""
        return manifest_build_id(self.manifest)

    @property
    def created(self) -> str | None:
        """When the store was written (ISO 8601, UTC)."""
        return self.manifest.get("created")

    @property
    def provenance(self) -> Provenance:
        """The store's name, build and sources, for the files made from it."""
        sources = tuple(self.manifest.get("sources", []))
        return Provenance(self.name, self.build_id, self.created or "", self.synthetic, sources)

    @property
    def h3_resolution(self) -> int:
        """The H3 resolution of the hexagons layer."""
        return int(self.manifest.get("h3_resolution", 8))

    @property
    def default_year(self) -> int | None:
        """The year the year-bearing layers hold (the latest of the poverty table); None: no years."""
        year = self.manifest.get("default_year")
        if year is None and self.years:
            year = self.years[-1]
        return None if year is None else int(year)

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
                import geopandas as gpd

                if isinstance(frames[0], gpd.GeoDataFrame):
                    frame = gpd.GeoDataFrame(frame, geometry=frames[0].geometry.name, crs=frames[0].crs)
                self._cache[name] = frame
        return self._cache[name]

    def column_names(self, name: str) -> list[str]:
        """A layer's column names (its file's schema when it is not loaded: nothing is read)."""
        self._check(name)
        if name in self._cache:
            return [str(c) for c in self._cache[name].columns]
        import pyarrow.parquet as pq

        return list(pq.read_schema(self.parts(name)[0]).names)

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
    def partitions(self) -> list[PartitionEntry]:
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
