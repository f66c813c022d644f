"""National builds: one partition per province, run on ``dask.distributed``.

A build whose villages span more than one province (the first two digits of a BPS village code)
splits into one partition per province. Each partition is one task: it reads its own villages by
feature id and every other source through the file's spatial index, only within its villages'
extent widened by ``[partitions] buffer_km`` (never a whole national road network or raster),
computes cells, people, distances, travel times and scores exactly as a province build does
(`layers.pipeline.compute.compute`), and writes its part of every layer. The client only plans, checks
the whole files once, combines the partitions' province figures into national ones and commits.

People use the nearest facility even across a province border: each partition's facilities,
roads, rivers and land extend over the buffer, so a border village's hospital across the border
counts. A cell whose nearest facility could lie beyond the buffer is counted per kind in the
manifest (``border_uncertain_cells``): its travel time to the facility found is longer than its
time to the edge of the partition's grid, so a path through the world beyond could be shorter.

The tasks run on a ``LocalCluster`` (``--workers``, default one per CPU) or on a cluster started
elsewhere (``--scheduler tcp://HOST:PORT``): the same code and the same result. Workers write
into the store's temporary directory, so they must see the store's file system (the local
cluster always does). A task that dies with its worker is retried on another; a task that fails
fails the build, and the previous store stays as it was (`layers.store.writing_store`).

Store layout (``docs/schema.md``): every layer is a directory of GeoParquet parts in hive style,
``<layer>/province=<code>/part.parquet``; the manifest lists the partitions with their own
figures. ``sasaran build --only 62`` rebuilds one province into an existing national store: the
other partitions' files are hard-linked into the new store unchanged.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from layers import sources
from layers.atomic import atomic_path
from layers.config import HEALTH_TYPE_KINDS, SCHOOL_LEVEL_KINDS, BuildConfig, PointSource
from layers.errors import ConfigError, SasaranError, SourceError, StoreError
from layers.geo.units import hierarchy
from layers.pipeline import change_gate, households
from layers.pipeline.compute import (
    AccessSurfaces,
    BuildResult,
    Inputs,
    Stages,
    compute,
    indicators_entry,
    manifest_entries,
    write_rasters,
)
from layers.pipeline.households import register_key
from layers.register import CIPHER, RegisterKey
from layers.scoring.households import from_totals
from layers.store import (
    PART_FILE,
    PARTITION_KEY,
    BuildEntries,
    Figures,
    HouseholdsEntry,
    PartitionEntry,
    Partitioning,
    SourceEntry,
    StoredSpec,
    build_lock,
    read_manifest,
    write_parquet,
    writing_store,
)
from layers.types import BBox

log = logging.getLogger(__name__)

#: Digits of a BPS village code that name its province (62 = Kalimantan Tengah).
PROVINCE_DIGITS = 2
#: Layers whose rows belong to one province by their place, not by a village code: each is kept by
#: the partition whose village is nearest (a partition reads those of its neighbours too).
_PLACED_LAYERS = ("schools", "health_facilities", "roads", "rivers", "facilities")
_KM_PER_DEG = 111.32


@dataclass(frozen=True)
class Partition:
    """One province of a national build."""

    key: str
    """The province code, e.g. ``"62"``."""
    fids: np.ndarray
    """Feature ids of its villages in the villages file."""
    bounds: BBox
    """Its villages' extent, lon/lat."""

    @property
    def villages(self) -> int:
        """How many villages it has."""
        return len(self.fids)


@dataclass
class PartResult:
    """What one partition computed and wrote (small: it travels back to the client)."""

    key: str
    rows: dict[str, int]
    years: list[int]
    province: dict[int, Figures]
    indicators: StoredSpec
    rasters: dict[str, str]
    seconds: dict[str, float]
    bounds: BBox
    border_uncertain_cells: dict[str, int] = field(default_factory=dict)
    households: HouseholdsEntry | None = None
    """The partition's register entry (`layers.pipeline.households.HouseholdResult.manifest`) with its
    unsuppressed ``totals`` per year (to combine the nation's figures, also after ``--only``)."""

    def to_manifest(self) -> PartitionEntry:
        """The partition's entry in the manifest's ``partitions`` list."""
        entry: PartitionEntry = {
            "key": self.key,
            "path": f"{PARTITION_KEY}={self.key}",
            "rows": self.rows,
            "bounds": list(self.bounds),
            "province": {str(y): stats for y, stats in self.province.items()},
            "rasters": self.rasters,
            "border_uncertain_cells": self.border_uncertain_cells,
            "build_seconds": self.seconds,
        }
        if self.households is not None:
            entry["households"] = self.households
        return entry


# --- planning -------------------------------------------------------------------------------------


def _village_codes(config: BuildConfig) -> pd.Series:
    """Every village code of the villages file by feature id, without reading geometries."""
    src = config.sources.villages
    path = config.resolve(src.file)
    try:
        frame = pyogrio.read_dataframe(
            path,
            layer=src.layer,
            columns=[src.code],
            read_geometry=False,
            fid_as_index=True,
            encoding=src.encoding,
        )
    except Exception as exc:
        raise SourceError(path.name, None, None, f"cannot read ({exc})") from None
    return sources.as_code(frame[src.code])


def _province_keys(codes: pd.Series) -> pd.Series | None:
    """Each village's province code, or None when the codes are not 10-digit BPS codes."""
    if codes.isna().any() or not codes.str.fullmatch(r"\d{10}").all():
        return None
    return codes.str[:PROVINCE_DIGITS]


def is_national(config: BuildConfig) -> bool:
    """Whether the config's villages span more than one province (BPS codes, by their first digits).

    A file that cannot be read this way is left to the ordinary build, which reports why.
    """
    try:
        keys = _province_keys(_village_codes(config))
    except Exception:
        return False
    return keys is not None and keys.nunique() > 1


def plan(config: BuildConfig, codes: pd.Series | None = None) -> list[Partition]:
    """The partitions of a build: one per province, largest first (they finish together).

    ``codes``: the village codes by feature id, when the caller has read them already.
    """
    src = config.sources.villages
    path = config.resolve(src.file)
    if codes is None:
        codes = _village_codes(config)
    try:
        fids, bounds = pyogrio.read_bounds(path, layer=src.layer)
        crs = pyogrio.read_info(path, layer=src.layer).get("crs")
    except Exception as exc:
        raise SourceError(path.name, None, None, f"cannot read ({exc})") from None
    keys = _province_keys(codes)
    if keys is None:
        raise SourceError(
            path.name,
            None,
            src.code,
            "a partitioned build needs 10-digit BPS village codes (the first two digits name the "
            "province); build a single province without --workers, --scheduler or --only",
        )
    box = pd.DataFrame(_to_lonlat(bounds, crs).T, index=fids, columns=["w", "s", "e", "n"]).loc[codes.index]
    parts = []
    for key, rows in box.groupby(keys.to_numpy(), sort=True):
        extent = (
            float(rows["w"].min()),
            float(rows["s"].min()),
            float(rows["e"].max()),
            float(rows["n"].max()),
        )
        parts.append(Partition(str(key), rows.index.to_numpy(np.int64), extent))
    return sorted(parts, key=lambda p: -p.villages)


def _to_lonlat(bounds: np.ndarray, crs: str | None) -> np.ndarray:
    """(4, n) bounds in a file's CRS as lon/lat boxes (corners transformed; a box around them)."""
    if crs is None or CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
        return bounds
    to_lonlat = Transformer.from_crs(crs, 4326, always_xy=True)
    xs, ys = to_lonlat.transform(bounds[[0, 0, 2, 2]], bounds[[1, 3, 1, 3]])
    return np.array([xs.min(axis=0), ys.min(axis=0), xs.max(axis=0), ys.max(axis=0)])


def widen(bounds: BBox, km: float) -> BBox:
    """A lon/lat box widened by ``km`` on every side (longitude degrees shrink with latitude)."""
    west, south, east, north = bounds
    lat = max(abs(south), abs(north))
    dlat = km / _KM_PER_DEG
    dlon = km / (_KM_PER_DEG * max(math.cos(math.radians(lat)), 0.1))
    return (west - dlon, max(south - dlat, -90.0), east + dlon, min(north + dlat, 90.0))


# --- whole-file checks ----------------------------------------------------------------------------


def check_whole_files(config: BuildConfig) -> None:
    """What a partition cannot check alone, on the whole files' attributes (no geometry read).

    A partition may hold no road or no hospital; the national file may not: it must have
    features, one of every facility kind, a road class with a speed and an all-weather road.
    """
    src = config.sources
    for source, column, kinds, theme in (
        (src.schools, "level", SCHOOL_LEVEL_KINDS, "schools"),
        (src.health_facilities, "type", HEALTH_TYPE_KINDS, "health_facilities"),
    ):
        if source is None or sources.is_osm_extract(config.resolve(source.file)):
            continue
        name = getattr(source, column)
        labels = _attributes(config, source, name, theme).astype("string").str.strip().str.lower()
        kind = labels.map({k.lower(): v for k, v in kinds.items()}).fillna("")
        frame = pd.DataFrame({"kind": kind})
        for wanted in dict.fromkeys(kinds.values()):
            labelled = [k for k, v in kinds.items() if v == wanted]
            sources.check_facility_kind(frame, source.file.name, wanted, name, labelled, f"sources.{theme}")
    for kind, declared in config.facilities.items():
        path = config.resolve(declared.file)
        if sources.is_osm_extract(path):
            continue
        try:
            found = pyogrio.read_dataframe(
                path, layer=declared.layer, columns=[], read_geometry=False, where=declared.where
            )
        except Exception as exc:
            raise SourceError(
                path.name, None, None, f"cannot read ({exc}) (declared by [facilities.{kind}])"
            ) from None
        if found.empty:
            what = f"after the filter where = {declared.where!r}" if declared.where else "in the file"
            raise SourceError(path.name, None, None, f"no facility {what} ([facilities.{kind}])")
    _check_whole_places(config)
    for line_source, theme in ((src.roads, "roads"), (src.rivers, "rivers")):
        if line_source is None or sources.is_osm_extract(config.resolve(line_source.file)):
            continue
        classes = _attributes(config, line_source, line_source.kind, theme).astype("string").str.strip()
        sources.check_line_classes(classes.fillna(""), line_source.file.name, line_source, config, theme)


def _check_whole_places(config: BuildConfig) -> None:
    """The facility files' points as places (`layers.sources.check_places`), each file whole.

    A partition reads only its part of a file, where a file's share of points at (0, 0), on one
    point or duplicated says nothing; so the whole files are read (points only) and checked once.
    The villages of a national build span the nation: no point is "far" from them here.
    """
    src = config.sources
    facilities: list[tuple[PointSource, str | None, dict[str, str] | None, str]] = [
        (source, getattr(source, column), kinds, f"sources.{theme}")
        for source, column, kinds, theme in (
            (src.schools, "level", SCHOOL_LEVEL_KINDS, "schools"),
            (src.health_facilities, "type", HEALTH_TYPE_KINDS, "health_facilities"),
        )
        if source is not None
    ]
    facilities += [
        (declared, None, None, f"facilities.{kind}") for kind, declared in config.facilities.items()
    ]
    for source, column, kinds, section in facilities:
        path = config.resolve(source.file)
        if sources.is_osm_extract(path):
            continue
        try:
            frame = pyogrio.read_dataframe(
                path,
                layer=source.layer,
                columns=[column] if column else [],
                encoding=source.encoding,
                where=getattr(source, "where", None),
            )
        except Exception as exc:
            raise sources.unreadable(path, "", exc) from None
        if frame.crs is None or frame.empty:
            continue  # refused where the file is read as a whole (no CRS, no feature)
        points = shapely.point_on_surface(frame.to_crs(4326).geometry.values)
        labels = None
        if column and kinds:
            lookup = {key.lower(): kind for key, kind in kinds.items()}
            labels = frame[column].astype("string").str.strip().str.lower().map(lookup).fillna("").to_numpy()
        sources.check_places(shapely.get_coordinates(points), labels, path.name, section, source.accept)


def _attributes(config: BuildConfig, source: Any, column: str, theme: str) -> pd.Series:
    path = config.resolve(source.file)
    try:
        frame = pyogrio.read_dataframe(
            path, layer=source.layer, columns=[column], read_geometry=False, encoding=source.encoding
        )
    except Exception as exc:
        raise SourceError(path.name, None, None, f"cannot read ({exc})") from None
    if column not in frame.columns:
        raise SourceError(path.name, None, column, f"column not found; the file has {list(frame.columns)}")
    if frame.empty:
        raise SourceError(path.name, None, None, f"no {theme.replace('_', ' ')} features")
    return frame[column]


# --- one partition (runs on a worker) -------------------------------------------------------------


def read_partition(config: BuildConfig, part: Partition, poverty: pd.DataFrame) -> tuple[Inputs, np.ndarray]:
    """A partition's inputs, and for each village around it (its land) its province code."""
    src = config.sources
    area = widen(part.bounds, config.partitions.buffer_km)
    villages = sources.read_villages(src.villages, config, fids=part.fids)
    land = _land(config, area)

    def points(read: Any, source: Any) -> gpd.GeoDataFrame | None:
        return read(source, config, area, partial=True) if source else None

    declared = {
        kind: sources.read_declared_facility(kind, source, config, area, partial=True)
        for kind, source in config.facilities.items()
    }
    inputs = Inputs(
        villages=villages,
        poverty=poverty,
        schools=points(sources.read_schools, src.schools),
        health=points(sources.read_health, src.health_facilities),
        roads=sources.read_lines(src.roads, config, "roads", area, partial=True) if src.roads else None,
        rivers=sources.read_lines(src.rivers, config, "rivers", area, partial=True) if src.rivers else None,
        barriers=points(sources.read_barriers, src.barriers),
        declared=declared,
        provenance=[],
        land=land.geometry.values,
        extent=area,
    )
    return inputs, land["province"].to_numpy()


def _land(config: BuildConfig, area: BBox) -> gpd.GeoDataFrame:
    src = config.sources.villages
    path = config.resolve(src.file)
    frame = pyogrio.read_dataframe(
        path,
        layer=src.layer,
        columns=[src.code],
        bbox=sources.bbox_in_file_crs(path, src.layer, area),
        encoding=src.encoding,
    ).to_crs(4326)
    province = sources.as_code(frame[src.code]).str[:PROVINCE_DIGITS].to_numpy()
    return gpd.GeoDataFrame({"province": province}, geometry=frame.geometry.values, crs=4326)


def build_partition(config: BuildConfig, part: Partition, poverty: pd.DataFrame, root: str) -> PartResult:
    """Build one partition into ``root`` (the store being written): the task a worker runs.

    Bad input raises the same `SasaranError` a province build raises, and it reaches the client
    as itself (exit 2 in the CLI).
    """
    try:
        return _build_partition(config, part, poverty, root)
    except SasaranError as exc:
        error = exc
    # Dask pickles a task's error with its chain; a GDAL error in that chain cannot be unpickled,
    # and the client would get a bare Exception. The message already says what went wrong.
    error.__context__ = error.__cause__ = None
    raise error


def _build_partition(config: BuildConfig, part: Partition, poverty: pd.DataFrame, root: str) -> PartResult:
    start = time.perf_counter()
    inputs, land_province = read_partition(config, part, poverty)
    key = register_key(config)  # the worker's own environment or key file: the key never travels
    if config.sources.households is not None:
        # This province's families only, read batch by batch: never the country's register whole.
        years = sorted(poverty["year"].unique().tolist())
        inputs.households = sources.read_households(
            config.sources.households, config, inputs.villages, years, province=part.key
        )
    read_seconds = time.perf_counter() - start
    units = hierarchy(inputs.villages, config.sources.villages.file.name)
    stages = Stages(show=False)
    computed = compute(config, inputs, units, stages)
    layers = dict(computed.layers)
    for name in _PLACED_LAYERS:
        if name in layers and len(layers[name]):
            layers[name] = _own_features(layers[name], inputs.land, land_province, part.key)
    base = Path(root)
    directory = f"{PARTITION_KEY}={part.key}"
    with stages.stage("write"):
        for name, table in layers.items():
            write_part(base / name / directory / PART_FILE, table)

        def path_for(name: str) -> Path:
            path = base / name
            path.parent.mkdir(parents=True, exist_ok=True)
            return path

        rasters = write_rasters(path_for, computed.surfaces, config, prefix=f"rasters/{directory}/")
        register = None
        if computed.households is not None and key is not None:
            households.write(base, computed.households, key, part.key)
            register = computed.households.manifest()
            register["totals"] = {str(y): t for y, t in computed.households.totals.items()}
    uncertain = _border_uncertain(layers["hexagons"], computed.surfaces)
    return PartResult(
        key=part.key,
        rows={name: len(table) for name, table in layers.items()},
        years=computed.years,
        province={y: computed.scored[y].whole for y in computed.years},
        indicators=indicators_entry(computed),
        rasters=rasters,
        seconds={"read": round(read_seconds, 3), **stages.seconds},
        bounds=part.bounds,
        border_uncertain_cells=uncertain,
        households=register,
    )


def write_part(path: Path, frame: pd.DataFrame) -> None:
    """Write one layer part (GeoParquet or Parquet) under a temporary name, then rename it.

    A retried task (its first worker died) rewrites the same path; the rename makes each part
    whole or absent.
    """
    with atomic_path(path) as tmp:
        write_parquet(frame, tmp)


def _own_features(
    frame: gpd.GeoDataFrame, land: np.ndarray | None, land_province: np.ndarray, key: str
) -> gpd.GeoDataFrame:
    """The features of a placed layer that belong to this province: its village is the nearest.

    Neighbouring partitions read the same features within their buffers; each keeps those whose
    nearest village (of every village either reads) is its own, so each feature lands in one part.
    """
    geoms = frame.geometry.values
    lines = shapely.get_type_id(geoms) != 0
    at = np.asarray(geoms, dtype=object)
    at[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
    tree = shapely.STRtree(land)
    feature, village = tree.query_nearest(at, all_matches=False)
    owner = np.full(len(frame), "", dtype=object)
    owner[feature] = land_province[village]
    return frame.loc[owner == key].reset_index(drop=True)


def _border_uncertain(hexagons: pd.DataFrame, surfaces: AccessSurfaces | None) -> dict[str, int]:
    """Cells per kind whose travel time could be shorter through a facility beyond the buffer.

    Any path leaving the partition's grid takes at least as long as reaching its edge
    (`layers.geo.access.edge_pixels`); a time no longer than that is exact. Zero everywhere means the
    buffer held every cell's best path (a larger time is never shorter than the truth).
    """
    if surfaces is None or surfaces.edge_minutes is None:
        return {}
    edge = surfaces.edge_minutes  # in cell order, as the hexagons
    out = {}
    for kind in surfaces.facilities:
        minutes = hexagons[f"time_min_{kind}"].to_numpy(np.float64)
        out[kind] = int(np.count_nonzero(np.isfinite(minutes) & (minutes > edge)))
    return out


# --- the client: plan, run, combine, commit -------------------------------------------------------


@contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A ``distributed.Client``: on the cluster at ``scheduler``, or on a new local cluster."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    # One thread per worker: a partition is numpy work that holds the GIL in parts, and workers
    # are processes, so n partitions run at once on n cores.
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def build_partitioned(
    config: BuildConfig,
    store_dir: Path,
    *,
    progress: bool = True,
    accept_changes: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    only: str | None = None,
) -> BuildResult:
    """Build a store partitioned by province on Dask (`layers.pipeline.province.build` calls this)."""
    start = time.perf_counter()
    if workers is not None and scheduler is not None:
        raise ConfigError("--workers starts a local cluster and --scheduler names another: give one")
    key = register_key(config)  # a register without a key is refused before any work
    codes = _village_codes(config)
    parts = plan(config, codes)
    keep: list[PartitionEntry] = []
    with build_lock(store_dir):
        if only is not None:
            parts, keep = _only(parts, only, store_dir, key)
        check_whole_files(config)
        if config.sources.households is not None:
            every = sorted({p.key for p in parts} | {e["key"] for e in keep})
            sources.check_register_file(config.sources.households, config, every)
        poverty = sources.read_poverty(config.sources.poverty, config, codes.reset_index(drop=True))
        by_province = poverty.groupby(poverty["village_code"].str[:PROVINCE_DIGITS])
        seconds = {"plan": round(time.perf_counter() - start, 3)}
        with writing_store(store_dir) as writer:
            if keep:
                _link_partitions(store_dir, writer.tmp, keep)
            tick = time.perf_counter()
            results = _run(config, parts, by_province, writer.tmp, workers, scheduler, progress)
            seconds["partitions"] = round(time.perf_counter() - tick, 3)
            _check_kept(results, keep, store_dir)
            _warn_uncertain(results, config.partitions.buffer_km)
            partitions = sorted([r.to_manifest() for r in results] + keep, key=lambda e: e["key"])
            entries = _national_entries(config, results, partitions, codes)
            register = _national_households(partitions)
            if key is not None and register is not None:
                entries["households"] = register | {"key_id": key.key_id, "cipher": CIPHER}
            headlines = _headlines(writer.tmp)
            comparison = change_gate.check(store_dir, headlines, config.change_gate, accept_changes)
            for name in dict.fromkeys(name for e in partitions for name in e["rows"]):
                writer.rows[name] = sum(int(e["rows"].get(name, 0)) for e in partitions)
                writer.files[name] = name
            seconds["total"] = round(time.perf_counter() - start, 3)
            entries["build_seconds"] = seconds
            partitioning = Partitioning(by=PARTITION_KEY, buffer_km=config.partitions.buffer_km)
            writer.commit(entries, partitioning, partitions)
    province = {int(y): stats for y, stats in entries["province"].items()}
    register = entries.get("households")
    families = {int(y): _figures(stats) for y, stats in (register["province"] if register else {}).items()}
    counts = dict(writer.rows)
    log.info("built %s: %d partition(s) in %.1f s", store_dir, len(results), seconds["total"])
    return BuildResult(store_dir, seconds, counts, config.synthetic, province, comparison, families)


def _only(
    parts: list[Partition], only: str, store_dir: Path, key: RegisterKey | None = None
) -> tuple[list[Partition], list[PartitionEntry]]:
    """The partition to rebuild, and the manifest entries of those kept from the existing store."""
    chosen = [p for p in parts if p.key == only]
    if not chosen:
        raise ConfigError(
            f"--only {only}: no village of province {only}; provinces: {[p.key for p in parts]}"
        )
    try:
        old = read_manifest(store_dir)
    except (OSError, ValueError):
        raise StoreError(f"--only {only}: {store_dir} is not a store to rebuild a province into") from None
    entries = old.get("partitions")
    if not entries:
        raise StoreError(f"--only {only}: {store_dir} is not partitioned; build it whole first")
    held = old["households"].get("key_id") if "households" in old else None
    if (held or key is not None) and held != (key.key_id if key is not None else None):
        raise StoreError(
            f"--only {only}: the store's register is encrypted with key {held}, this build's is "
            f"{key.key_id if key is not None else 'none'}: the provinces would need two keys; rebuild the "
            "whole store (without --only)"
        )
    keys = {p.key for p in parts}
    gone = sorted({e["key"] for e in entries} - keys)
    if gone:
        raise StoreError(
            f"--only {only}: the store has province(s) {gone} that the villages file no longer has"
        )
    return chosen, [e for e in entries if e["key"] != only]


def _check_kept(results: list[PartResult], keep: list[PartitionEntry], store_dir: Path) -> None:
    """Refuse to mix a rebuilt province with kept ones of other years or another indicator set."""
    if not keep:
        return
    old = read_manifest(store_dir)
    new = results[0]
    if [int(y) for y in old.get("years", [])] != new.years or old.get("indicators") != new.indicators:
        raise StoreError(
            f"--only {new.key}: the sources now give years {new.years} and "
            f"{len(new.indicators.get('indicator', []))} indicators, the store holds years "
            f"{old.get('years')} and {len(old.get('indicators', {}).get('indicator', []))}: the other "
            "provinces would no longer match; rebuild the whole store (without --only)"
        )


def _warn_uncertain(results: list[PartResult], buffer_km: float) -> None:
    uncertain = {r.key: n for r in results if (n := sum(r.border_uncertain_cells.values()))}
    if uncertain:
        log.warning(
            "%d cell-kind travel time(s) could be shorter through a facility beyond the %g km border "
            "buffer (by province: %s); a larger [partitions] buffer_km makes them exact",
            sum(uncertain.values()),
            buffer_km,
            uncertain,
        )


def _link_partitions(store_dir: Path, tmp: Path, entries: list[PartitionEntry]) -> None:
    """Hard-link the kept partitions' files into the new store (a copy across file systems)."""
    for entry in entries:
        for old in store_dir.glob(f"**/{entry['path']}/*"):
            new = tmp / old.relative_to(store_dir)
            new.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(old, new)
            except OSError:
                shutil.copy2(old, new)


def _run(
    config: BuildConfig,
    parts: list[Partition],
    poverty: Any,
    root: Path,
    workers: int | None,
    scheduler: str | None,
    progress: bool,
) -> list[PartResult]:
    from distributed import as_completed
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with dask_client(workers, scheduler) as client:
        log.info("partitions: %d on the Dask cluster at %s", len(parts), client.scheduler.address)
        futures = [
            client.submit(
                build_partition,
                config,
                part,
                poverty.get_group(part.key).reset_index(drop=True),
                str(root),
                key=f"sasaran-partition-{part.key}-{root.name}",
                retries=2,
                pure=False,
            )
            for part in parts
        ]
        results = []
        bar = Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            disable=not progress,
        )  # fmt: skip
        with bar:
            task = bar.add_task("partitions", total=len(futures))
            try:
                for future in as_completed(futures):
                    result = future.result()  # a task's own error is raised here, as it was
                    results.append(result)
                    bar.update(task, advance=1, description=f"province {result.key}")
            finally:
                client.cancel(futures)
    return results


def _combine(provinces: list[Figures]) -> Figures:
    """National figures from provinces' own (each ratio's numerator and denominator summed)."""
    scored = sum(p["scored_population"] for p in provinces)
    poor = sum(p["mpi_poor_population"] for p in provinces)
    intensity = sum(p["M0"] * p["scored_population"] for p in provinces if p["scored_population"])

    def share(name: str) -> float:
        total = sum(p[name] * p["scored_population"] for p in provinces if p["scored_population"])
        return total / scored if scored else math.nan

    return {
        "H": poor / scored if scored else math.nan,
        "A": intensity / poor if poor else math.nan,
        "M0": intensity / scored if scored else math.nan,
        "mpi_poor_population": poor,
        "vulnerable_share": share("vulnerable_share"),
        "severe_share": share("severe_share"),
        "scored_population": scored,
        "population": sum(p["population"] for p in provinces),
    }


def _national_entries(
    config: BuildConfig, results: list[PartResult], entries: list[PartitionEntry], codes: pd.Series
) -> BuildEntries:
    """The nation's manifest entries: partitions' figures combined; rasters are the partitions'."""
    years = sorted({y for r in results for y in r.years})
    indicators = results[0].indicators
    differing = [r.key for r in results if r.indicators != indicators]
    if differing:
        raise SourceError(
            config.sources.villages.file.name,
            None,
            None,
            f"province(s) {differing} scored other indicators than {results[0].key} "
            f"({[r.indicators.get('dropped') for r in results]} dropped): a source column is "
            "missing in part of the country",
        )
    province = {str(y): _combine([e["province"][str(y)] for e in entries]) for y in years}
    provenance = _provenance(config, len(codes))
    return manifest_entries(config, years, provenance, indicators, province, rasters={}, build_seconds={})


def _national_households(entries: list[PartitionEntry]) -> HouseholdsEntry | None:
    """The manifest's ``households`` entry of a nation: its provinces' families and figures combined."""
    parts = [e["households"] for e in entries if "households" in e]
    if not parts:
        return None
    years = sorted({int(y) for p in parts for y in p["years"]})
    families = {str(y): sum(int(p["families"].get(str(y), 0)) for p in parts) for y in years}
    sums = [p.get("totals", {}) for p in parts]
    province = {str(y): _json_figures(from_totals([t[str(y)] for t in sums if str(y) in t])) for y in years}
    first = parts[0]
    entry: HouseholdsEntry = {
        "families": families,
        "years": years,
        "dated": all(p.get("dated", True) for p in parts),
        "placed_by_cell": sum(int(p.get("placed_by_cell", 0)) for p in parts),
        "min_families": first["min_families"],
        "indicators": first["indicators"],
        "province": province,
    }
    return entry


def _json_figures(figures: Figures) -> dict[str, float | None]:
    """Figures as the manifest keeps them: a suppressed (NaN) one is null."""
    return {name: value if math.isfinite(value) else None for name, value in figures.items()}


def _figures(stats: dict[str, float | None]) -> Figures:
    """Household figures as numbers (a suppressed one, None in JSON, as NaN)."""
    return {name: math.nan if value is None else float(value) for name, value in stats.items()}


def _provenance(config: BuildConfig, villages: int) -> list[SourceEntry]:
    out: list[SourceEntry] = []
    for name, source in config.sources:
        if source is not None:
            path = config.resolve(source.file)
            rows = villages if name == "villages" else None
            out.append({"name": name, "file": path.name, "sha256": sources.sha256(path), "rows": rows})
    for kind, source in config.facilities.items():
        path = config.resolve(source.file)
        out.append(
            {"name": f"facilities.{kind}", "file": path.name, "sha256": sources.sha256(path), "rows": None}
        )
    return out


def _headlines(root: Path) -> dict[int, change_gate.Headline]:
    villages = pd.read_parquet(
        root / "villages", columns=["village_code", "kabupaten_code", "kabupaten_name", "n_cells"]
    )
    return change_gate.headlines_of(villages, pd.read_parquet(root / "village_years"))


__all__ = ["Partition", "build_partitioned", "is_national", "plan"]
