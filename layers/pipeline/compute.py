"""The stages of a build on one province's inputs: read, grid, population, distance, access, scores, layers.

`layers.pipeline.province.build` runs them for a province and commits the store;
`layers.pipeline.national` runs them for each province of a national build on a Dask worker. The
stages write into the store being built (its travel-time rasters, a partition's parts), never into
a published one: committing is the caller's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from layers import sources
from layers.config import POVERTY_COLUMNS, AccessConfig, BuildConfig
from layers.geo import access, distance, grid, population
from layers.geo.units import Hierarchy, dissolve, union_of
from layers.pipeline.households import HouseholdResult, place_and_score, with_verified
from layers.schema import AREA_LEVELS, LAYERS, FacilityKind, kinds_to_json
from layers.scoring.af import UnitScores
from layers.scoring.households import HOUSEHOLD_COLUMNS
from layers.scoring.indicators import add_yearly_indicators, available_columns, weighted_mean
from layers.scoring.rescore import AF_COLUMNS, INHABITED_MIN_PEOPLE, ScoringFrame, score_flags
from layers.scoring.spec import IndicatorSpec, default_spec, load_spec, restrict_to_columns, spec_to_dict
from layers.store import BuildEntries, Figures, SourceEntry, StoredSpec
from layers.types import FloatArray

if TYPE_CHECKING:
    from layers.verification.snapshots import VerifiedRegister

log = logging.getLogger(__name__)

#: Poverty-table counts summed from villages to kecamatan and kabupaten (a rate is not summed).
_COUNTS = tuple(column for column in POVERTY_COLUMNS if column != "poverty_rate")


@dataclass
class BuildResult:
    """What a build did: where the store is, counts and seconds per stage."""

    store: Path
    seconds: dict[str, float]
    counts: dict[str, int]
    synthetic: bool
    province: dict[int, Figures] = field(default_factory=dict)
    comparison: str | None = None
    """Headline figures beside those of the store replaced (None: there was none)."""
    households: dict[int, dict[str, float]] = field(default_factory=dict)
    """The register's figures for the whole store, per year (none without a register)."""

    def summary(self) -> str:
        """A short human summary for the end of ``sasaran build``."""
        lines = [f"Store written to {self.store}" + (" (SYNTHETIC demo data)" if self.synthetic else "")]
        lines.append("  " + ", ".join(f"{name}: {n:,}" for name, n in self.counts.items()))
        lines.append("  seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in self.seconds.items()))
        for year, stats in sorted(self.province.items()):
            lines.append(
                f"  {year}: H {stats['H']:.3f}, A {stats['A']:.3f}, M0 {stats['M0']:.3f} "
                f"({stats['mpi_poor_population']:,.0f} MPI-poor people of {stats['population']:,.0f})"
            )
        for year, stats in sorted(self.households.items()):
            lines.append(
                f"  {year} families: hh_H {stats['hh_H']:.3f}, hh_A {stats['hh_A']:.3f}, "
                f"hh_M0 {stats['hh_M0']:.3f} ({stats['families_mpi_poor']:,.0f} MPI-poor families of "
                f"{stats['families']:,.0f}, {stats['people_mpi_poor']:,.0f} people)"
            )
        if self.comparison:
            lines.append(self.comparison)
        return "\n".join(lines)


class Stages:
    """Times each stage and shows one progress bar per stage."""

    def __init__(self, show: bool):
        self.seconds: dict[str, float] = {}
        self.progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            disable=not show,
        )

    @contextmanager
    def stage(self, name: str) -> Iterator[Callable[[float], None]]:
        """Time the block as stage ``name``; it may report its progress as a fraction."""
        task = self.progress.add_task(name, total=1.0)
        start = time.perf_counter()
        yield lambda fraction: self.progress.update(task, completed=fraction)
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self.progress.update(task, completed=1.0)
        log.debug("stage %s: %.2f s", name, self.seconds[name])


@dataclass
class Inputs:
    """Every source of a build, read and validated, in canonical columns and EPSG:4326."""

    villages: gpd.GeoDataFrame
    poverty: pd.DataFrame
    schools: gpd.GeoDataFrame | None
    health: gpd.GeoDataFrame | None
    roads: gpd.GeoDataFrame | None
    rivers: gpd.GeoDataFrame | None
    barriers: gpd.GeoDataFrame | None
    #: Points of the kinds declared under ``[facilities.<kind>]``.
    declared: dict[str, gpd.GeoDataFrame]
    provenance: list[SourceEntry]
    #: A partition of a national build: every village polygon around its own (the land its
    #: travel-time surface spans; None: the villages themselves) and the surface's extent.
    land: np.ndarray | None = None
    extent: tuple[float, float, float, float] | None = None
    #: The register of families in canonical columns (`layers.sources.households`), if configured.
    households: pd.DataFrame | None = None

    def facility_points(self, kinds: tuple[FacilityKind, ...]) -> dict[str, np.ndarray]:
        """Lon/lat of each kind's points; a kind whose source was not given is absent."""
        layers = {"schools": self.schools, "health_facilities": self.health}
        points: dict[str, np.ndarray] = {}
        for kind in kinds:
            frame = self.declared.get(kind.name, layers.get(kind.layer))
            if frame is not None:
                at = (frame["kind"] == kind.name).to_numpy()
                points[kind.name] = shapely.get_coordinates(frame.geometry.values[at])
        return points


def read_inputs(config: BuildConfig, verified: VerifiedRegister | None = None) -> Inputs:
    """Read and validate every source a config names (`SourceError` at the first problem).

    ``verified``: the register's latest year from the verification database (``--verified``).
    """
    src = config.sources
    villages = sources.read_villages(src.villages, config)
    poverty = sources.read_poverty(src.poverty, config, villages["village_code"])
    years = sorted(poverty["year"].unique().tolist())
    # The register right after the tables it is checked against: a refused family stops the build
    # before any facility file is read.
    households = sources.read_households(src.households, config, villages, years) if src.households else None
    if verified is not None:
        households = with_verified(households, verified, config, villages, years)
    area = sources.surroundings(villages)  # other sources outside it have a wrong CRS label
    schools = sources.read_schools(src.schools, config, area) if src.schools else None
    health = sources.read_health(src.health_facilities, config, area) if src.health_facilities else None
    roads = sources.read_lines(src.roads, config, "roads", area) if src.roads else None
    rivers = sources.read_lines(src.rivers, config, "rivers", area) if src.rivers else None
    barriers = sources.read_barriers(src.barriers, config, area) if src.barriers else None
    declared = {
        kind: sources.read_declared_facility(kind, source, config, area)
        for kind, source in config.facilities.items()
    }
    frames: dict[str, pd.DataFrame | None] = {
        "villages": villages,
        "poverty": poverty,
        "schools": schools,
        "health_facilities": health,
        "roads": roads,
        "rivers": rivers,
        "barriers": barriers,
        "households": households,
    }
    provenance: list[SourceEntry] = []
    for name, source in src:
        if source is None:
            continue
        path = config.resolve(source.file)
        if not path.exists():  # the population raster is read later: its absence is a source error here
            raise sources.not_found(path)
        frame = frames.get(name)  # the population raster has pixels, not rows
        rows = None if frame is None else len(frame)
        record = SourceEntry(name=name, file=path.name, sha256=sources.sha256(path), rows=rows)
        provenance.append(_with_accepted(record, source))
    for kind, source in config.facilities.items():
        path = config.resolve(source.file)
        record = SourceEntry(
            name=f"facilities.{kind}", file=path.name, sha256=sources.sha256(path), rows=len(declared[kind])
        )
        provenance.append(_with_accepted(record, source))
    return Inputs(
        villages,
        poverty,
        schools,
        health,
        roads,
        rivers,
        barriers,
        declared,
        provenance,
        households=households,
    )


def _with_accepted(record: SourceEntry, source: object) -> SourceEntry:
    """``record`` with the place checks a facility source declares do not apply, and why."""
    accept = getattr(source, "accept", None)
    if accept:
        record["accepted"] = dict(accept)
    return record


@dataclass(frozen=True)
class YearScores:
    """One year of a build scored: cells as units weighted by people, areas as their aggregates."""

    rows: pd.DataFrame
    """The year's village rows (poverty values and shares), in village position order."""
    cells: UnitScores
    """Every cell's score and flags."""
    areas: dict[str, dict[str, FloatArray]]
    """Level (``village``, ``kecamatan``, ``kabupaten``) → `AF_COLUMNS` and ``population`` per unit."""
    whole: Figures
    """The whole province's figures (the manifest's ``province`` of the year)."""
    households: Figures | None = None
    """The register's figures of the whole province that year (None: no register, or not that year)."""


@dataclass(frozen=True)
class AccessSurfaces:
    """What a build's travel times were solved on: its travel-time rasters are written from it."""

    surface: access.FrictionSurface
    facilities: dict[str, np.ndarray]
    """Kind → lon/lat of its facilities (the sources)."""
    edge_minutes: FloatArray | None = None
    """A partition's minutes from each cell to its grid's edge (the border-buffer certificate)."""


@dataclass
class Computed:
    """Everything a build computes from its inputs, before anything is written."""

    layers: dict[str, pd.DataFrame]
    scored: dict[int, YearScores]
    years: list[int]
    spec: IndicatorSpec
    dropped: list[str]
    surfaces: AccessSurfaces | None
    """None when no facility of any kind was given (no travel time to solve)."""
    households: HouseholdResult | None = None


def compute(config: BuildConfig, inputs: Inputs, units: Hierarchy, stages: Stages) -> Computed:
    """Cells, people, distances, travel times, scores and the layers of one build or partition."""
    with stages.stage("grid"):
        cells, village_pos = grid.cells_for_villages(inputs.villages.geometry.values, config.h3_resolution)
        lon, lat = grid.cell_centres(cells)
    years = sorted(inputs.poverty["year"].unique().tolist())
    village_years = add_yearly_indicators(inputs.poverty)
    latest = _year_rows(village_years, years[-1], inputs.villages)
    with stages.stage("population") as tick:
        cell_people = _cell_population(config, cells, village_pos, latest["population"].to_numpy(), tick)
    facilities = inputs.facility_points(config.facility_kinds())
    with stages.stage("distance"):
        cell_columns = _distances(config, inputs, facilities, lon, lat)
    with stages.stage("access") as tick:
        travel, surfaces = _travel_times(config, inputs, facilities, lon, lat, tick)
        cell_columns.update(travel)
    with stages.stage("scores"):
        spec, dropped = _spec_for(config, cell_columns, village_years)
        frame = ScoringFrame.from_arrays(
            cell_columns,
            village_pos,
            {"kecamatan": (units.village_kec[village_pos], len(units.kecamatan)),
             "kabupaten": (units.village_kab[village_pos], len(units.kabupaten))},
            cell_people,
            units.villages["village_code"].to_numpy(),
            village_years,
        )  # fmt: skip
        scored = _score_years(frame, spec, years)
    households = None
    if inputs.households is not None:
        with stages.stage("households"):
            households = place_and_score(config, inputs.households, frame, cells, cell_people, village_pos)
            _add_households(scored, households, years)
    with stages.stage("layers"):
        layers = _assemble_layers(
            inputs, units, cells, village_pos, cell_people, cell_columns, scored, years, config.access
        )
    return Computed(layers, scored, years, spec, dropped, surfaces, households)


def _add_households(scored: dict[int, YearScores], households: HouseholdResult, years: list[int]) -> None:
    """Each year's household aggregates beside the area ones (NaN in a year the register lacks)."""
    for year in years:
        found = households.aggregates.get(year)
        for level in AREA_LEVELS:
            n = len(scored[year].areas[level]["H"])
            values = found[level] if found else {c: np.full(n, np.nan) for c in HOUSEHOLD_COLUMNS}
            scored[year].areas[level] |= values
        if found:
            whole = {c: float(v[0]) for c, v in found["province"].items()}
            scored[year] = replace(scored[year], households=whole)


def indicators_entry(computed: Computed) -> StoredSpec:
    """The manifest's ``indicators``: the spec the stored scores used, and what was ``dropped``."""
    return {**spec_to_dict(computed.spec), "dropped": computed.dropped}


def manifest_of(
    config: BuildConfig,
    computed: Computed,
    provenance: list[SourceEntry],
    rasters: dict[str, str],
    build_seconds: dict[str, float],
) -> BuildEntries:
    """The manifest entries of a province build (the store adds ids, layers, files and packages)."""
    province = {str(y): computed.scored[y].whole for y in computed.years}
    entries = manifest_entries(
        config, computed.years, provenance, indicators_entry(computed), province, rasters, build_seconds
    )
    if computed.households is not None:
        entries["households"] = computed.households.manifest()
    return entries


def manifest_entries(
    config: BuildConfig,
    years: list[int],
    provenance: list[SourceEntry],
    indicators: StoredSpec,
    province: dict[str, Figures],
    rasters: dict[str, str],
    build_seconds: dict[str, float],
) -> BuildEntries:
    """The manifest entries every build writes, province or national (docs/schema.md)."""
    return {
        "name": config.name,
        "synthetic": config.synthetic,
        "h3_resolution": config.h3_resolution,
        "inhabited_min_people": INHABITED_MIN_PEOPLE,
        "years": years,
        "default_year": years[-1],
        "sources": provenance,
        "indicators": indicators,
        "facility_kinds": kinds_to_json(config.facility_kinds()),
        "access": config.access.model_dump(mode="json"),
        "province": province,
        "rasters": rasters,
        "build_seconds": build_seconds,
    }


def _year_rows(village_years: pd.DataFrame, year: int, villages: gpd.GeoDataFrame) -> pd.DataFrame:
    """One year's rows in village position order (every village has one: checked on read)."""
    rows = village_years[village_years["year"] == year].set_index("village_code")
    return rows.loc[villages["village_code"].to_numpy()].reset_index()


def _cell_population(
    config: BuildConfig,
    cells: np.ndarray,
    village_pos: np.ndarray,
    village_population: np.ndarray,
    tick: Callable[[float], None],
) -> np.ndarray:
    raster = config.sources.population
    if raster is None:
        raw = np.zeros(len(cells))  # no raster: spread each village evenly over its cells
    else:
        raw = population.raster_people_per_cell(
            config.resolve(raster.file), cells, config.h3_resolution, tick
        )
    return population.scale_to_villages(raw, village_pos, village_population.astype(np.float64))


def _all_weather_roads(config: BuildConfig, roads: gpd.GeoDataFrame | None) -> np.ndarray:
    if roads is None:
        return np.empty(0, dtype=object)
    return roads.geometry.values[roads["class"].isin(config.access.all_weather_roads).to_numpy()]


def _distances(
    config: BuildConfig,
    inputs: Inputs,
    facilities: dict[str, np.ndarray],
    lon: np.ndarray,
    lat: np.ndarray,
) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {}
    unit = distance.unit_vectors(lon, lat)  # the cells on the sphere, once for every kind
    for kind, sites in facilities.items():
        columns[f"dist_km_{kind}"] = distance.nearest_km(lon, lat, sites[:, 0], sites[:, 1], points=unit)
    if inputs.roads is not None:
        lines = _all_weather_roads(config, inputs.roads)
        columns["dist_km_road"] = distance.nearest_line_km(lon, lat, lines, points=unit)
    return columns


def _travel_times(
    config: BuildConfig,
    inputs: Inputs,
    facilities: dict[str, np.ndarray],
    lon: np.ndarray,
    lat: np.ndarray,
    tick: Callable[[float], None],
) -> tuple[dict[str, np.ndarray], AccessSurfaces | None]:
    if not facilities:
        return {}, None
    # Villages tile the province, so their coverage union is its outline (fast, no overlay).
    # A partition's surface spans its border buffer: the land there is every village around it.
    outline = union_of(inputs.villages.geometry.values if inputs.land is None else inputs.land)
    bounds = inputs.extent or tuple(inputs.villages.total_bounds.tolist())
    surface = access.friction_surface(
        bounds,
        inputs.roads,
        inputs.rivers,
        config.access,
        road_kind_column="class",
        river_kind_column="class",
        mask=outline,
        barriers=inputs.barriers,
        outside_mask_kmh=config.access.outside_mask_kmh,
        default_road_kmh=config.access.default_road_kmh,
    )
    tick(0.2)
    targets = np.column_stack((lon, lat))
    # A partition also solves the time to its grid's edge: the certificate of its border buffer.
    times = access.travel_times(
        surface,
        facilities,
        targets,
        connectivity=config.access.connectivity,
        to_edge=inputs.extent is not None,
    )
    tick(1.0)
    columns = {f"time_min_{kind}": t for kind, t in times.by_kind.items()}
    return columns, AccessSurfaces(surface, facilities, times.to_edge)


def write_rasters(
    path_for: Callable[[str], Path], surfaces: AccessSurfaces | None, config: BuildConfig, prefix: str = ""
) -> dict[str, str]:
    """Write the travel-time rasters of a build; their store-relative file names by layer name."""
    if surfaces is None:
        return {}
    # Same connectivity as the per-cell times: the rasters then come from the solver's cache.
    rasters = access.travel_time_rasters(
        surfaces.surface, surfaces.facilities, connectivity=config.access.connectivity
    )
    written = {}
    for kind, array in rasters.items():
        name = f"{prefix}time_min_{kind}.tif"
        access.write_cog(
            path_for(name),
            array,
            surfaces.surface,
            tags={"SYNTHETIC": str(config.synthetic).lower(), "UNITS": "minutes", "KIND": kind},
        )
        written[f"time_min_{kind}"] = name
    return written


def _spec_for(
    config: BuildConfig, cell_columns: dict[str, np.ndarray], village_years: pd.DataFrame
) -> tuple[IndicatorSpec, list[str]]:
    spec = load_spec(config.resolve(config.indicators)) if config.indicators else default_spec()
    spec, dropped = restrict_to_columns(spec, available_columns(cell_columns, village_years))
    if dropped:
        log.warning("indicators dropped for lack of a source column (weights renormalised): %s", dropped)
    return spec, dropped


def _score_years(frame: ScoringFrame, spec: IndicatorSpec, years: list[int]) -> dict[int, YearScores]:
    """Score every year: cells are units weighted by people; areas are their aggregates."""
    out: dict[int, YearScores] = {}
    for year in years:
        cells = frame.score_cells(spec, year)
        areas = frame.area_aggregates(cells, spec)
        whole = {column: float(values[0]) for column, values in areas.pop("province").items()}
        out[year] = YearScores(frame.year_rows(year)[1], cells.scores, areas, whole)
    return out


def _assemble_layers(
    inputs: Inputs,
    units: Hierarchy,
    cells: np.ndarray,
    village_pos: np.ndarray,
    cell_people: np.ndarray,
    cell_columns: dict[str, np.ndarray],
    scored: dict[int, YearScores],
    years: list[int],
    access_config: AccessConfig,
) -> dict[str, pd.DataFrame]:
    latest = scored[years[-1]]
    villages = units.villages
    hexagons = pd.DataFrame(
        {
            "h3": grid.cells_to_strings(cells),
            "village_code": villages["village_code"].to_numpy()[village_pos],
            "kecamatan_code": villages["kecamatan_code"].to_numpy()[village_pos],
            "kabupaten_code": villages["kabupaten_code"].to_numpy()[village_pos],
            "population": cell_people,
        }
    )
    for name in sorted(cell_columns):
        hexagons[name] = cell_columns[name]
    hexagons["year"] = np.int64(years[-1])
    for name in LAYERS["hexagons"].village_values:
        if name in latest.rows:
            hexagons[name] = latest.rows[name].to_numpy(np.float64)[village_pos]
    cell_scores = latest.cells
    hexagons["score"] = cell_scores.c
    for name, flags in score_flags(cell_scores).items():
        hexagons[name] = flags
    hex_layer = gpd.GeoDataFrame(hexagons, geometry=grid.cells_to_polygons(cells), crs=4326)

    village_layer, kec_layer, kab_layer = _area_layers(
        units, village_pos, cell_people, cell_columns, latest, years
    )
    layers: dict[str, pd.DataFrame] = {
        "hexagons": hex_layer,
        "villages": village_layer,
        "kecamatan": kec_layer,
        "kabupaten": kab_layer,
        "schools": _facility_layer(inputs.schools, "level"),
        "health_facilities": _facility_layer(inputs.health, "type"),
        "roads": _line_layer(inputs.roads, access_config.road_speeds_kmh, access_config.all_weather_roads),
        "rivers": _line_layer(inputs.rivers, access_config.river_speeds_kmh, None),
        "village_years": _village_years(scored, years),
    }
    if inputs.declared:
        layers["facilities"] = pd.concat(inputs.declared.values(), ignore_index=True)
    return layers


def _area_layers(
    units: Hierarchy,
    village_pos: np.ndarray,
    cell_people: np.ndarray,
    cell_columns: dict[str, np.ndarray],
    latest: YearScores,
    years: list[int],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    villages = units.villages
    n_v, n_k, n_b = len(villages), len(units.kecamatan), len(units.kabupaten)
    rows = latest.rows
    area_km2 = _area_km2(villages.geometry.values)
    counts = {c: rows[c].to_numpy(np.float64) for c in _COUNTS if c in rows}
    base = villages.drop(columns="geometry").copy()
    base["population"] = counts["population"]
    base["area_km2"] = area_km2
    base["n_cells"] = np.bincount(village_pos, minlength=n_v)
    base["year"] = np.int64(years[-1])
    tables = {"village": (base, np.arange(n_v), n_v)}
    kec = units.kecamatan.copy()
    kab = units.kabupaten.copy()
    for table, groups, n in ((kec, units.village_kec, n_k), (kab, units.village_kab, n_b)):
        table["population"] = np.bincount(groups, weights=counts["population"], minlength=n)
        table["area_km2"] = np.bincount(groups, weights=area_km2, minlength=n)
        table["n_villages"] = np.bincount(groups, minlength=n)
        table["n_cells"] = np.bincount(groups[village_pos], minlength=n)
        table["year"] = np.int64(years[-1])
    tables["kecamatan"] = (kec, units.village_kec, n_k)
    tables["kabupaten"] = (kab, units.village_kab, n_b)
    for level, (table, groups, n) in tables.items():
        for column, values in counts.items():
            if column != "population":
                table[column] = np.bincount(groups, weights=values, minlength=n)
        _add_shares(table)
        cell_groups = groups[village_pos]
        for column, values in sorted(cell_columns.items()):
            table[column] = weighted_mean(values, cell_people, cell_groups, n)
        for column in AF_COLUMNS:
            table[column] = latest.areas[level][column]
        for column in HOUSEHOLD_COLUMNS:
            if column in latest.areas[level]:
                table[column] = latest.areas[level][column]
    village_geoms = villages.geometry.values
    return (
        gpd.GeoDataFrame(base, geometry=village_geoms, crs=4326),
        gpd.GeoDataFrame(kec, geometry=dissolve(np.asarray(village_geoms), units.village_kec, n_k), crs=4326),
        gpd.GeoDataFrame(kab, geometry=dissolve(np.asarray(village_geoms), units.village_kab, n_b), crs=4326),
    )


def _add_shares(table: pd.DataFrame) -> None:
    table_with = add_yearly_indicators(table)
    for column in table_with.columns.difference(table.columns):
        table[column] = table_with[column]


def _area_km2(geoms: np.ndarray) -> np.ndarray:
    # Equal-area (EASE-Grid 2.0 global) areas: correct in km² across both UTM zones.
    return gpd.GeoSeries(geoms, crs=4326).to_crs(6933).area.to_numpy() / 1e6


def _village_years(scored: dict[int, YearScores], years: list[int]) -> pd.DataFrame:
    frames = []
    for year in years:
        rows = scored[year].rows.copy()
        for column in (*AF_COLUMNS, *HOUSEHOLD_COLUMNS):
            if column in scored[year].areas["village"]:
                rows[column] = scored[year].areas["village"][column]
        frames.append(rows)
    return pd.concat(frames, ignore_index=True)


def _facility_layer(frame: gpd.GeoDataFrame | None, class_name: str) -> gpd.GeoDataFrame:
    if frame is None:
        return gpd.GeoDataFrame({"kind": [], class_name: [], "name": []}, geometry=[], crs=4326)
    return frame.reset_index(drop=True)


def _line_layer(
    frame: gpd.GeoDataFrame | None, speeds: dict[str, float], all_weather: tuple[str, ...] | None
) -> gpd.GeoDataFrame:
    if frame is None:
        return gpd.GeoDataFrame({"class": [], "speed_kmh": []}, geometry=[], crs=4326)
    out = frame.reset_index(drop=True)
    out["speed_kmh"] = out["class"].map(speeds).astype(float)
    if all_weather is not None:
        out["all_weather"] = out["class"].isin(all_weather).to_numpy()
    return out
