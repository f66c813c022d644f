"""What the store holds, declared once: layers, scoring levels, facility kinds and fields.

Every part of Sasaran that needs a fact about a layer reads it here: the store (which layers a
complete store holds), queries and tiles (feature id columns), the build (which village values a
hexagon carries), rescoring and changes (each level's layer, id and name), exports, QGIS styles
and OGC collections (descriptions, geometry, style), and the docs' field dictionary.

Adding a layer property is one entry here plus its computation; a new facility kind needs no
code at all (it is declared in the build config, `layers.config.FacilitySource`).

Examples
--------
>>> LAYERS["villages"].id_column
'village_code'
>>> level("kabupaten").layer
'kabupaten'
>>> [k.name for k in BUILTIN_FACILITY_KINDS][:2]
['school_sd', 'school_smp']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from layers.errors import LayerNotFound

Geometry = Literal["MultiPolygon", "Polygon", "Point", "LineString"]
#: How QGIS and tile styles draw a layer (`layers.maps.qml.style_for`).
Style = Literal["score", "m0", "facility", "roads", "rivers"]


@dataclass(frozen=True)
class Text:
    """A text in English and Bahasa Indonesia."""

    en: str
    id: str

    def both(self) -> str:
        """``"Bahasa / English"``, as legends and layer descriptions show it."""
        return self.en if self.en == self.id else f"{self.id} / {self.en}"


@dataclass(frozen=True)
class Level:
    """A scoring level: the unit a score or a change is reported for."""

    name: str
    """Singular, as in ``/scores/village`` and ``--level village``."""
    layer: str | None
    """The layer holding its units (the province has none)."""
    id_column: str | None
    name_column: str | None


LEVELS: tuple[Level, ...] = (
    Level("hexagon", "hexagons", "h3", None),
    Level("village", "villages", "village_code", "village_name"),
    Level("kecamatan", "kecamatan", "kecamatan_code", "kecamatan_name"),
    Level("kabupaten", "kabupaten", "kabupaten_code", "kabupaten_name"),
    Level("province", None, None, None),
)
#: Levels that are administrative areas (aggregates of cells), finest first.
AREA_LEVELS: tuple[str, ...] = ("village", "kecamatan", "kabupaten")


def level(name: str) -> Level:
    """A scoring level by name; the plural layer name is accepted too (``villages``)."""
    for candidate in LEVELS:
        if name in (candidate.name, candidate.layer):
            return candidate
    raise LayerNotFound(f"no level '{name}'; levels are: {', '.join(lv.name for lv in LEVELS)}")


@dataclass(frozen=True)
class LayerSchema:
    """One layer or table of the store."""

    name: str
    description: Text
    geometry: Geometry | None
    """None for a table without geometry."""
    id_column: str | None = None
    """Feature id column; other layers use the row position."""
    level: str | None = None
    """The scoring level whose units the layer holds."""
    yearly: bool = False
    """Its values vary by year (the layer holds the default year; `village_years` all years)."""
    required: bool = True
    """Every complete store holds it (possibly empty)."""
    tile_properties: tuple[str, ...] = ()
    """Properties a vector tile feature carries (tiled layers only)."""
    style: Style | None = None
    outline_mm: float = 0.0
    """Outline width of an area layer's style."""
    village_values: tuple[str, ...] = ()
    """Village-year values each feature carries from its village (hexagons)."""

    @property
    def spatial(self) -> bool:
        """Whether the layer has geometry."""
        return self.geometry is not None

    @property
    def tiled(self) -> bool:
        """Whether the layer is served as vector tiles."""
        return bool(self.tile_properties)


_AREA_TILE = ("population", "M0", "H", "A", "mpi_poor_population")

LAYERS: dict[str, LayerSchema] = {
    layer.name: layer
    for layer in (
        LayerSchema(
            "hexagons",
            Text(
                "H3 cells: people, travel time and distance to facilities, indicator values and the "
                "Alkire-Foster score under the default indicator set",
                "Sel H3: penduduk, waktu tempuh dan jarak ke fasilitas, nilai indikator dan skor "
                "Alkire-Foster dengan set indikator bawaan",
            ),
            "Polygon",
            id_column="h3",
            level="hexagon",
            yearly=True,
            tile_properties=(
                "h3", "resolution", "village_code", "population", "score", "poor", "vulnerable", "severe",
            ),
            style="score",
            village_values=(
                "poverty_rate", "extreme_poor_share", "no_electricity_share", "no_safe_water_share",
                "no_sanitation_share", "elderly_share",
            ),
        ),
        LayerSchema(
            "villages",
            Text(
                "Villages (desa/kelurahan): poverty counts, indicator values and H, A, M0 of their cells",
                "Desa/kelurahan: jumlah penduduk miskin, nilai indikator dan H, A, M0 dari sel-selnya",
            ),
            "MultiPolygon",
            id_column="village_code",
            level="village",
            yearly=True,
            tile_properties=(
                "village_code", "village_name", "kecamatan_name", "kabupaten_name", *_AREA_TILE,
            ),
            style="m0",
            outline_mm=0.1,
        ),
        LayerSchema(
            "kecamatan",
            Text(
                "Kecamatan (districts): sums and Alkire-Foster aggregates of their villages' cells",
                "Kecamatan: jumlah dan agregat Alkire-Foster dari sel desa-desanya",
            ),
            "MultiPolygon",
            id_column="kecamatan_code",
            level="kecamatan",
            yearly=True,
            tile_properties=("kecamatan_code", "kecamatan_name", "kabupaten_name", *_AREA_TILE),
            style="m0",
            outline_mm=0.3,
        ),
        LayerSchema(
            "kabupaten",
            Text(
                "Kabupaten/kota (regencies): sums and Alkire-Foster aggregates of their cells",
                "Kabupaten/kota: jumlah dan agregat Alkire-Foster dari sel-selnya",
            ),
            "MultiPolygon",
            id_column="kabupaten_code",
            level="kabupaten",
            yearly=True,
            tile_properties=("kabupaten_code", "kabupaten_name", *_AREA_TILE),
            style="m0",
            outline_mm=0.6,
        ),
        LayerSchema(
            "schools",
            Text("Schools (points): kind and level", "Sekolah (titik): jenis dan jenjang"),
            "Point",
            tile_properties=("kind", "level", "name"),
            style="facility",
        ),
        LayerSchema(
            "health_facilities",
            Text("Health facilities (points): kind and type", "Fasilitas kesehatan (titik): jenis dan tipe"),
            "Point",
            tile_properties=("kind", "type", "name"),
            style="facility",
        ),
        LayerSchema(
            "facilities",
            Text(
                "Other facilities declared in the build config (points): kind and name",
                "Fasilitas lain yang dideklarasikan di konfigurasi (titik): jenis dan nama",
            ),
            "Point",
            required=False,
            tile_properties=("kind", "name"),
            style="facility",
        ),
        LayerSchema(
            "roads",
            Text(
                "Roads (lines): class, speed used for travel time, all-weather flag",
                "Jalan (garis): kelas, kecepatan untuk waktu tempuh, jalan segala cuaca",
            ),
            "LineString",
            tile_properties=("class", "all_weather"),
            style="roads",
        ),
        LayerSchema(
            "rivers",
            Text(
                "Navigable rivers (lines): class and boat speed",
                "Sungai yang dapat dilayari (garis): kelas dan kecepatan perahu",
            ),
            "LineString",
            tile_properties=("class",),
            style="rivers",
        ),
        LayerSchema(
            "village_years",
            Text(
                "Poverty values and scores per village and year",
                "Nilai kemiskinan dan skor per desa dan tahun",
            ),
            None,
            id_column=None,
            level="village",
        ),
    )
}  # fmt: skip

#: Spatial layers every complete store holds (docs/contracts.md).
SPATIAL_LAYERS: tuple[str, ...] = tuple(n for n, s in LAYERS.items() if s.spatial and s.required)
#: Non-spatial tables.
TABLES: tuple[str, ...] = tuple(n for n, s in LAYERS.items() if not s.spatial)
#: Layers whose values vary by year.
YEAR_LAYERS: tuple[str, ...] = tuple(n for n, s in LAYERS.items() if s.yearly and s.spatial)
#: Areas: always written as MultiPolygon (QGIS treats a mixed Polygon/MultiPolygon layer as generic).
AREA_LAYERS: tuple[str, ...] = tuple(n for n, s in LAYERS.items() if s.geometry == "MultiPolygon")


def layer_schema(name: str) -> LayerSchema:
    """The schema of a layer; `LayerNotFound` naming the known ones."""
    try:
        return LAYERS[name]
    except KeyError:
        raise LayerNotFound(f"no layer '{name}'; layers are: {', '.join(LAYERS)}") from None


# ------------------------------------------------------------------------------------------------
# Facility kinds
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FacilityKind:
    """A kind of facility with its own ``dist_km_<name>`` and ``time_min_<name>`` columns."""

    name: str
    label: Text
    layer: str
    """The layer its points are written to."""
    marker: str = "circle"
    """QGIS SimpleMarker shape."""
    color: str = "#999999"
    size_mm: float = 2.6


#: The five built-in kinds (docs/contracts.md), read from the schools and health-facility sources.
#: Kinds declared under ``[facilities.<name>]`` in a build config join them through the same mechanism.
BUILTIN_FACILITY_KINDS: tuple[FacilityKind, ...] = (
    FacilityKind("school_sd", Text("primary school", "SD"), "schools", "circle", "#1f78b4"),
    FacilityKind("school_smp", Text("junior secondary school", "SMP"), "schools", "square", "#33a02c"),
    FacilityKind(
        "school_sma", Text("senior secondary school", "SMA-SMK"), "schools", "diamond", "#6a3d9a", 3.0
    ),
    FacilityKind(
        "health_primary",
        Text("primary care", "Puskesmas, klinik"),
        "health_facilities",
        "cross_fill",
        "#e31a1c",
        3.0,
    ),
    FacilityKind(
        "health_hospital", Text("hospital", "Rumah sakit"), "health_facilities", "star", "#b10026", 4.0
    ),
)
#: Markers cycled through by kinds declared in a config (ColorBrewer Dark2).
CUSTOM_MARKERS: tuple[tuple[str, str], ...] = (
    ("triangle", "#1b9e77"),
    ("pentagon", "#d95f02"),
    ("hexagon", "#7570b3"),
    ("circle", "#e7298a"),
    ("square", "#66a61e"),
    ("diamond", "#e6ab02"),
)
#: A kind name becomes part of column names and URLs: lower-case letters, digits, underscores.
KIND_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def custom_kind(name: str, label: str | None, index: int) -> FacilityKind:
    """The `FacilityKind` of a kind declared in a build config (the ``index``-th declared)."""
    marker, color = CUSTOM_MARKERS[index % len(CUSTOM_MARKERS)]
    text = label or name.replace("_", " ")
    return FacilityKind(name, Text(text, text), "facilities", marker, color)


def kinds_to_json(kinds: tuple[FacilityKind, ...]) -> list[dict[str, object]]:
    """Facility kinds as the manifest records them."""
    return [
        {"name": k.name, "label": {"en": k.label.en, "id": k.label.id}, "layer": k.layer,
         "marker": k.marker, "color": k.color, "size_mm": k.size_mm}
        for k in kinds
    ]  # fmt: skip


def kinds_from_json(raw: object) -> tuple[FacilityKind, ...]:
    """Facility kinds from a manifest's ``facility_kinds`` (the built-in five when absent)."""
    if not isinstance(raw, list) or not raw:
        return BUILTIN_FACILITY_KINDS
    return tuple(
        FacilityKind(
            str(k["name"]), Text(str(k["label"]["en"]), str(k["label"]["id"])), str(k["layer"]),
            str(k["marker"]), str(k["color"]), float(k["size_mm"]),
        )
        for k in raw
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Fields
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One column's meaning: title, unit and description, the same wherever the name appears."""

    title: Text
    unit: str
    """``people``, ``households``, ``km``, ``minutes``, ``km²``, ``percent``, ``fraction`` (0-1),
    ``index`` (0-1), ``count``, ``year``, ``code``, ``text``, ``km/h``, ``ratio`` or ``boolean``."""
    description: str = ""
    layers: tuple[str, ...] = field(default_factory=tuple)
    """Where the field appears; empty: in every layer that has the column."""


def _f(en: str, id_: str, unit: str, description: str = "") -> Field:
    return Field(Text(en, id_), unit, description)


#: The field dictionary (docs/schema.md is written from it and checked against it by a test).
FIELDS: dict[str, Field] = {
    "h3": _f("H3 cell", "Sel H3", "code", "H3 cell index (hex string), resolution in the manifest"),
    "resolution": _f("H3 resolution", "Resolusi H3", "count", "Tiles only: coarser parents at low zoom"),
    "village_code": _f("Village code", "Kode desa", "code", "Kemendagri or BPS code without dots"),
    "village_name": _f("Village", "Desa/kelurahan", "text"),
    "kecamatan_code": _f("Kecamatan code", "Kode kecamatan", "code"),
    "kecamatan_name": _f("Kecamatan", "Kecamatan", "text"),
    "kabupaten_code": _f("Kabupaten code", "Kode kabupaten/kota", "code"),
    "kabupaten_name": _f("Kabupaten/kota", "Kabupaten/kota", "text"),
    "year": _f("Year", "Tahun", "year", "Year of the poverty data the values come from"),
    "population": _f("Population", "Jumlah penduduk", "people"),
    "households": _f("Households", "Jumlah rumah tangga", "households"),
    "poor_population": _f(
        "Income-poor people", "Penduduk miskin", "people", "Below the BPS poverty line (source table)"
    ),
    "poverty_rate": _f(
        "Poverty rate", "Persentase penduduk miskin", "percent", "poor_population / population"
    ),
    "hh_decile_1": _f("Households in welfare decile 1", "Rumah tangga desil 1", "households"),
    "hh_decile_2": _f("Households in welfare decile 2", "Rumah tangga desil 2", "households"),
    "hh_decile_3": _f("Households in welfare decile 3", "Rumah tangga desil 3", "households"),
    "hh_decile_4": _f("Households in welfare decile 4", "Rumah tangga desil 4", "households"),
    "elderly": _f("Elderly people", "Penduduk lanjut usia", "people"),
    "disabled": _f("People with disabilities", "Penyandang disabilitas", "people"),
    "female_headed_hh": _f("Female-headed households", "Rumah tangga dikepalai perempuan", "households"),
    "hh_no_electricity": _f("Households without electricity", "Rumah tangga tanpa listrik", "households"),
    "hh_no_safe_water": _f(
        "Households without layak water", "Rumah tangga tanpa air minum layak", "households"
    ),
    "hh_no_sanitation": _f(
        "Households without layak sanitation", "Rumah tangga tanpa sanitasi layak", "households"
    ),
    "extreme_poor_share": _f(
        "Extreme-poor household share", "Persentase rumah tangga desil 1", "fraction",
        "hh_decile_1 / households",
    ),
    "no_electricity_share": _f(
        "Share without electricity", "Persentase tanpa listrik", "fraction", "hh_no_electricity / households"
    ),
    "no_safe_water_share": _f(
        "Share without layak water", "Persentase tanpa air minum layak", "fraction",
        "hh_no_safe_water / households",
    ),
    "no_sanitation_share": _f(
        "Share without layak sanitation", "Persentase tanpa sanitasi layak", "fraction",
        "hh_no_sanitation / households",
    ),
    "elderly_share": _f(
        "Elderly share", "Proporsi penduduk lansia", "fraction", "elderly / population (a priority group)"
    ),
    "dist_km_road": _f(
        "Distance to an all-weather road", "Jarak ke jalan segala cuaca", "km", "Straight line, geodesic"
    ),
    "area_km2": _f("Area", "Luas", "km²", "Equal-area (EPSG:6933)"),
    "n_cells": _f("H3 cells", "Jumlah sel H3", "count"),
    "n_villages": _f("Villages", "Jumlah desa", "count"),
    "score": _f(
        "Deprivation score c", "Skor deprivasi c", "index",
        "Weighted share of indicators in which the cell's people are deprived (0-1)",
    ),
    "poor": _f("MPI-poor", "Miskin multidimensi", "boolean", "score >= k"),
    "vulnerable": _f("Vulnerable", "Rentan", "boolean", "Vulnerability band of the score"),
    "severe": _f("Severely poor", "Miskin parah", "boolean", "score >= 0.5"),
    "H": _f("Headcount ratio H", "Rasio jumlah H", "fraction", "Share of people who are MPI-poor"),
    "A": _f("Intensity A", "Intensitas A", "index", "Mean score of the MPI-poor"),
    "M0": _f("Adjusted headcount M0", "Indeks M0", "index", "H x A"),
    "mpi_poor_population": _f(
        "MPI-poor people", "Penduduk miskin multidimensi", "people", "H x scored_population"
    ),
    "scored_population": _f(
        "People with a score", "Penduduk dengan skor", "people",
        "People in cells with a score (cells of fewer than 0.5 people have none)",
    ),
    "vulnerable_share": _f("Vulnerable share", "Proporsi rentan", "fraction"),
    "severe_share": _f("Severely poor share", "Proporsi miskin parah", "fraction"),
    "c": _f("Deprivation score c", "Skor deprivasi c", "index", "As score, in /scores hexagon rows"),
    "deprivations": _f(
        "Deprivations", "Deprivasi", "fraction",
        "Per indicator: hexagons 1 deprived / 0 not; areas the censored headcount ratio",
    ),
    "dimension_share": _f("Share of the score or M0 per dimension", "Kontribusi per dimensi", "fraction"),
    "people_reached": _f("People reached", "Penduduk terjangkau", "people", "The objective's people"),
    "cost": _f("Cost", "Biaya", "rupiah", "Fixed cost per village plus cost per person"),
    "total_cost": _f("Total cost", "Total biaya", "rupiah"),
    "budget": _f("Budget", "Anggaran", "rupiah"),
    "cost_fixed": _f("Cost per village", "Biaya per desa", "rupiah"),
    "cost_per_person": _f("Cost per person", "Biaya per orang", "rupiah"),
    "cheapest_cost": _f("Cheapest village's cost", "Biaya desa termurah", "rupiah"),
    "coverage": _f("Coverage", "Cakupan", "fraction", "Share of the province's objective people reached"),
    "confidence": _f(
        "Selection confidence", "Keyakinan seleksi", "fraction", "Share of perturbed scenarios selecting it"
    ),
    "gap": _f("Optimality gap", "Selisih optimalitas", "fraction", "Proven distance from the best selection"),
    # A selection of villages (POST /targets, sasaran target): the download columns and the about sheet.
    "rank": _f("Rank", "Peringkat", "count", "Order of the selected villages by value"),
    "n_selected": _f("Villages selected", "Desa terpilih", "count"),
    "objective": _f("Objective", "Tujuan", "text", "Whose people the programme reaches"),
    "objective_total": _f("People under the objective", "Penduduk sasaran provinsi", "people"),
    "budget_used_share": _f("Budget used", "Anggaran terpakai", "fraction"),
    "budget_left": _f("Budget left", "Sisa anggaran", "rupiah"),
    "status": _f("Solver status", "Status pemecah", "text", "optimal, work_limit or budget_too_small"),
    "value_per_million": _f(
        "Value per Rp 1 million", "Nilai per Rp 1 juta", "ratio",
        "People reached (priority-weighted) per Rp 1,000,000 of the village's cost",
    ),
    "value_per_rupiah_rank": _f(
        "Rank by value per rupiah", "Peringkat nilai per rupiah", "count",
        "1 = most people per rupiah among the villages that could be chosen",
    ),
    "priority_gained": _f(
        "Chosen because of the priority", "Terpilih karena prioritas", "boolean",
        "Not chosen by the same request without priority",
    ),
    "drivers": _f("Main drivers", "Penyebab utama", "text", "Share of the village's M0 per dimension"),
    "top_indicators": _f("Top indicators", "Indikator utama", "text", "Indicators contributing most to M0"),
    "disabled_share": _f("Disabled share", "Proporsi disabilitas", "fraction", "disabled / population"),
    "female_headed_hh_share": _f(
        "Female-headed share", "Proporsi KRT perempuan", "fraction", "female_headed_hh / households"
    ),
    "reason": _f("Reason not chosen", "Alasan tidak terpilih", "text"),
    "people_needed": _f("People needed to replace", "Penduduk yang diperlukan", "people"),
    "cost_allowed": _f("Cost allowed to replace", "Biaya maksimum pengganti", "rupiah"),
    "kind": _f("Facility kind", "Jenis fasilitas", "text"),
    "level": _f("School level", "Jenjang sekolah", "text"),
    "type": _f("Facility type", "Tipe fasilitas", "text"),
    "name": _f("Name", "Nama", "text"),
    "class": _f("Class", "Kelas", "text", "OSM highway/waterway class"),
    "speed_kmh": _f("Travel speed", "Kecepatan", "km/h"),
    "all_weather": _f("All-weather road", "Jalan segala cuaca", "boolean"),
}  # fmt: skip


def field_for(name: str, kinds: tuple[FacilityKind, ...] = BUILTIN_FACILITY_KINDS) -> Field | None:
    """A column's `Field`, including ``dist_km_<kind>`` and ``time_min_<kind>`` of any kind."""
    if name in FIELDS:
        return FIELDS[name]
    by_name = {k.name: k for k in kinds}
    for prefix, unit, what, apa in (
        ("dist_km_", "km", "Distance to the nearest", "Jarak ke"),
        ("time_min_", "minutes", "Travel time to the nearest", "Waktu tempuh ke"),
    ):
        kind_name = name.removeprefix(prefix)
        if name.startswith(prefix):
            kind = by_name.get(kind_name)
            label = kind.label if kind else Text(kind_name.replace("_", " "), kind_name.replace("_", " "))
            how = "straight line, geodesic" if unit == "km" else "roads, rivers and walking; inf: unreachable"
            return Field(Text(f"{what} {label.en}", f"{apa} {label.id} terdekat"), unit, how)
    return None


def fields_markdown() -> str:
    """The field dictionary as a Markdown table (docs/schema.md holds it; a test keeps them equal)."""
    lines = [
        "| field | unit | English | Bahasa Indonesia | meaning |",
        "|---|---|---|---|---|",
    ]
    for name, entry in FIELDS.items():
        lines.append(
            f"| `{name}` | {entry.unit} | {entry.title.en} | {entry.title.id} | {entry.description} |"
        )
    for prefix, unit, what in (
        ("dist_km_<kind>", "km", "Straight-line (geodesic) distance to the nearest facility of the kind"),
        (
            "time_min_<kind>",
            "minutes",
            "Travel time on roads, rivers and foot; inf (null in JSON): unreachable",
        ),
    ):
        lines.append(f"| `{prefix}` | {unit} | | | {what} |")
    return "\n".join(lines) + "\n"
