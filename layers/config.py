"""Build configuration: which source files, which of their columns, and the access speeds.

A build is described by one TOML file (``sasaran.toml``). Paths in it are relative to that file.
Column names are mapped here, so users supply their files as they are (Indonesian headers, BPS or
Kemendagri codes) and the rest of Sasaran sees one canonical schema.
"""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from layers.errors import ConfigError
from layers.register import CODES, REGISTER_COLUMNS
from layers.schema import BUILTIN_FACILITY_KINDS, KIND_NAME, FacilityKind, custom_kind

#: Canonical poverty-table columns (README, "Bring your own data"). Only ``population`` is required; a missing
#: optional column drops the indicators that need it (weights renormalised, reported in the manifest).
POVERTY_COLUMNS: tuple[str, ...] = (
    "population",
    "households",
    "poor_population",
    "poverty_rate",
    "hh_decile_1",
    "hh_decile_2",
    "hh_decile_3",
    "hh_decile_4",
    "elderly",
    "disabled",
    "female_headed_hh",
    "hh_no_electricity",
    "hh_no_safe_water",
    "hh_no_sanitation",
)

#: The built-in facility kinds with their own distance and travel-time columns (docs/contracts.md); a
#: config adds more under ``[facilities.<kind>]``.
FACILITY_KINDS: tuple[str, ...] = tuple(kind.name for kind in BUILTIN_FACILITY_KINDS)
#: Names a declared kind may not take: they would clash with other columns or layers.
RESERVED_KIND_NAMES = frozenset({*FACILITY_KINDS, "road", "roads", "rivers", "schools", "health_facilities"})


#: Where Indonesia lies, with a margin (west, south, east, north, degrees): the default
#: ``region_bounds``. A source that lands outside it after reprojection has a wrong CRS label.
INDONESIA_BOUNDS: tuple[float, float, float, float] = (92.0, -13.0, 143.0, 8.0)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_encoding(value: str | None) -> str | None:
    if value is not None:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding '{value}' (e.g. 'UTF-8', 'cp1252', 'latin-1')") from None
    return value


class VectorSource(_Model):
    """A vector file read through pyogrio.

    ``encoding`` names the text encoding of the attributes for formats that do not record it (a
    shapefile without a ``.cpg`` file); GeoPackage, FlatGeobuf and GeoJSON are always UTF-8.
    """

    file: Path
    layer: str | None = None
    encoding: str | None = None

    _check_encoding = field_validator("encoding")(_known_encoding)


class VillageSource(VectorSource):
    """Village (desa/kelurahan) polygons with their codes and names."""

    code: str = "kode_desa"
    name: str = "nama_desa"
    kecamatan_code: str = "kode_kec"
    kecamatan_name: str = "nama_kec"
    kabupaten_code: str = "kode_kab"
    kabupaten_name: str = "nama_kab"


def _known_columns(value: dict[str, str], known: tuple[str, ...], what: str) -> dict[str, str]:
    """A ``columns`` mapping whose canonical names are all ``known`` (ValueError naming the others)."""
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} column(s) {unknown}; known: {list(known)}")
    return value


class TableSource(_Model):
    """A table file (CSV, XLSX or Parquet) read as written: the poverty table and the register.

    How numbers are written is declared, never guessed: ``decimal`` is the decimal mark (``"."`` or
    ``","``) and ``thousands`` the digit-group separator (``"."``, ``","``, ``" "`` or ``""`` for
    none). Indonesian spreadsheets write ``1.053`` for one thousand and fifty-three and ``5,17``
    for five point one seven: declare ``thousands = "."`` (the decimal mark is then ``","``).
    Undeclared, numbers are read as ``1053`` and ``5.17`` and a count such as ``1.053`` is refused
    as ambiguous. ``delimiter`` and ``encoding`` apply to CSV: undeclared, the delimiter is detected
    from the header line (``,`` ``;`` tab ``|``) and the text must be UTF-8.
    """

    #: The config section messages point to (``[sources.poverty]``).
    section: ClassVar[str] = "sources"

    file: Path
    sheet: str | None = None
    decimal: Literal[".", ","] | None = None
    thousands: Literal[".", ",", " ", ""] | None = None
    delimiter: str | None = Field(None, min_length=1, max_length=1)
    encoding: str | None = None

    _check_encoding = field_validator("encoding")(_known_encoding)

    @model_validator(mode="after")
    def _distinct_marks(self) -> Self:
        if self.decimal is not None and self.decimal == self.thousands:
            raise ValueError(f"decimal and thousands are both '{self.decimal}'; they must differ")
        return self

    @property
    def number_format(self) -> tuple[str, str] | None:
        """(decimal mark, thousands separator) when either is declared, else ``None``."""
        if self.decimal is None and self.thousands is None:
            return None
        decimal = self.decimal or ("," if self.thousands == "." else ".")
        thousands = self.thousands if self.thousands is not None else ("." if decimal == "," else "")
        return decimal, thousands


class PovertySource(TableSource):
    """The poverty table (CSV, XLSX or Parquet), one row per village and year."""

    section: ClassVar[str] = "sources.poverty"

    code: str = "kode_desa"
    year: str = "tahun"
    columns: dict[str, str] = Field(default_factory=dict, description="canonical name -> column in the file")

    @field_validator("columns")
    @classmethod
    def _known_canonical_names(cls, value: dict[str, str]) -> dict[str, str]:
        return _known_columns(value, POVERTY_COLUMNS, "poverty")


class HouseholdSource(TableSource):
    """The register of families (P3KE, DTSEN): one row per family (and year), by name and address.

    ``columns`` maps each canonical register column (`layers.register.REGISTER_COLUMNS`) to the
    file's header; a canonical column not listed is looked for under its own name. ``values`` maps,
    per categorical column, the file's values (BPS/BKKBN codes or words, compared trimmed and
    case-insensitively) to the canonical code names (`layers.register.CODES`); the canonical names
    themselves are always understood. ``key_file`` names the file holding the register key (base64,
    outside the store) when neither ``SASARAN_REGISTER_KEY`` nor ``SASARAN_REGISTER_KEY_FILE`` is
    set. ``indicators`` is the household indicator spec (default
    ``layers/data/household_indicators.toml``). A NIK must carry the province of its family's
    village in its first two digits unless ``nik_any_province`` (families who moved in keep theirs;
    any Indonesian province code is then accepted).
    """

    section: ClassVar[str] = "sources.households"

    columns: dict[str, str] = Field(default_factory=dict, description="canonical name -> column in the file")
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="categorical column -> {value in the file: canonical code name}"
    )
    key_file: Path | None = None
    indicators: Path | None = None
    nik_any_province: bool = False

    @field_validator("columns")
    @classmethod
    def _known_register_columns(cls, value: dict[str, str]) -> dict[str, str]:
        return _known_columns(value, tuple(REGISTER_COLUMNS), "register")

    @field_validator("values")
    @classmethod
    def _known_codes(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for column, mapping in value.items():
            if column == "female_head":
                known: tuple[str, ...] = ("ya", "tidak")
            elif column in CODES:
                known = CODES[column].names
            else:
                raise ValueError(
                    f"values.{column}: not a categorical register column; those are {[*CODES, 'female_head']}"
                )
            wrong = sorted({code for code in mapping.values() if code not in known})
            if wrong:
                raise ValueError(
                    f"values.{column}: unknown code name(s) {wrong}; the codes are {list(known)}"
                )
        return value


#: The checks of facility points as places (`layers.sources.facilities.check_places`): points at
#: (0, 0), a large share at one point, duplicated points, most points far from the villages.
PlaceCheck = Literal["at_zero", "one_point", "duplicated", "far"]


class PointSource(VectorSource):
    """Facility points. ``accept`` declares a check of the points as places that a real file fails,
    with the reason (docs/sources.md): ``accept = { far = "national file: every school of Indonesia" }``.
    """

    accept: dict[PlaceCheck, str] = Field(default_factory=dict)

    @field_validator("accept")
    @classmethod
    def _reasons_given(cls, value: dict[str, str]) -> dict[str, str]:
        for check, reason in value.items():
            if not reason.strip():
                raise ValueError(
                    f"accept.{check} needs the reason the check does not apply, not an empty text"
                )
        return value


class SchoolSource(PointSource):
    """School points; ``level`` holds SD/SMP/SMA/SMK/... (Kemendikbud's ``bentuk``)."""

    level: str = "bentuk"
    name: str | None = None


class HealthSource(PointSource):
    """Health facility points; ``type`` holds hospital/puskesmas/clinic/... (or OSM amenity values)."""

    type: str = "type"
    name: str | None = None


class FacilitySource(PointSource):
    """Points of one facility kind declared in the build config (``[facilities.<kind>]``).

    The kind's name becomes the columns ``dist_km_<kind>`` and ``time_min_<kind>``.
    """

    where: str | None = Field(None, description="OGR SQL attribute filter, e.g. \"jenis = 'pasar'\"")
    label: str | None = Field(None, description="Label for styles and docs, e.g. 'Pasar / market'")
    name: str | None = Field(None, description="Column holding each facility's name")


class LineSource(VectorSource):
    """Roads or rivers; ``kind`` is the class column (OSM ``highway`` / ``waterway``)."""

    kind: str


class RasterSource(_Model):
    """The population raster (people per pixel)."""

    file: Path


class Sources(_Model):
    """Every source file of a build; only villages and poverty are required.

    ``households`` is the register of families by name and address (P3KE/DTSEN): its names, NIK
    and addresses are stored encrypted and never published (docs/households.md).

    ``barriers`` are polygons or lines that block walking (lakes, wide swamps, a fenced estate);
    roads and rivers still cross them.
    """

    villages: VillageSource
    poverty: PovertySource
    schools: SchoolSource | None = None
    health_facilities: HealthSource | None = None
    roads: LineSource | None = None
    rivers: LineSource | None = None
    population: RasterSource | None = None
    barriers: VectorSource | None = None
    households: HouseholdSource | None = None


DEFAULT_ROAD_SPEEDS_KMH: dict[str, float] = {
    "motorway": 80.0,
    "trunk": 60.0,
    "primary": 50.0,
    "secondary": 40.0,
    "tertiary": 30.0,
    "unclassified": 20.0,
    "residential": 20.0,
    "track": 10.0,
    "path": 5.0,
}
DEFAULT_RIVER_SPEEDS_KMH: dict[str, float] = {"river": 15.0, "canal": 10.0, "stream": 6.0}


class AccessConfig(_Model):
    """Travel speeds and the friction-surface resolution (the method: `layers.geo.access`)."""

    resolution_m: float = Field(250.0, gt=0)
    walking_kmh: float = Field(4.0, gt=0)
    #: OSM ``highway`` class -> km/h; a config's entries are merged over these defaults.
    road_speeds_kmh: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_ROAD_SPEEDS_KMH))
    #: ``waterway`` class -> boat km/h; merged over the defaults likewise.
    river_speeds_kmh: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_RIVER_SPEEDS_KMH))
    #: Road classes that count as "all-weather" for ``dist_km_road``.
    all_weather_roads: tuple[str, ...] = ("motorway", "trunk", "primary", "secondary", "tertiary")
    #: Speed for road classes not listed in ``road_speeds_kmh``; ``None`` ignores them (with a warning).
    default_road_kmh: float | None = Field(None, gt=0)
    #: Walking speed outside the province outline; ``None``: impassable on foot (it is mostly sea).
    outside_mask_kmh: float | None = Field(None, gt=0)
    #: 16 neighbours: worst case 2.75 % over the straight line; 8: 8.24 %, ~20 % faster.
    connectivity: Literal[8, 16] = 16

    @field_validator("road_speeds_kmh", "river_speeds_kmh")
    @classmethod
    def _merge_over_defaults(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        # Setting the speed of one class must not silently drop every other class.
        defaults = (
            DEFAULT_ROAD_SPEEDS_KMH if info.field_name == "road_speeds_kmh" else DEFAULT_RIVER_SPEEDS_KMH
        )
        slow = [name for name, kmh in value.items() if not kmh > 0]
        if slow:
            raise ValueError(
                f"speeds must be positive km/h; got {', '.join(f'{n} = {value[n]}' for n in slow)}"
            )
        return {**defaults, **value}


class ChangeGate(_Model):
    """How far a rebuild's headline figures may move before it refuses to replace the store.

    ``sasaran build --accept-changes`` replaces it anyway. Relative tolerances are fractions.
    """

    population_rel: float = Field(0.10, ge=0, description="Province population, relative change")
    villages_rel: float = Field(0.02, ge=0, description="Villages with cells, relative change")
    province_h_abs: float = Field(0.05, ge=0, description="Province H, absolute change")
    province_m0_abs: float = Field(0.03, ge=0, description="Province M0, absolute change")
    kabupaten_h_abs: float = Field(0.10, ge=0, description="Each kabupaten's H, absolute change")
    kabupaten_m0_abs: float = Field(0.06, ge=0, description="Each kabupaten's M0, absolute change")
    village_rel: float = Field(
        0.05,
        ge=0,
        description="A village's population or poor count in a year both builds hold, relative change",
    )
    villages_moved: float = Field(
        0.10,
        ge=0,
        description="Share of villages whose figures for a year both builds hold may move that much",
    )


class PartitionConfig(_Model):
    """How a national build splits into province partitions (`layers.pipeline.national`)."""

    #: How far (km) each partition reads sources and draws its travel-time surface beyond its own
    #: villages' extent, so people reach facilities across a province border. 50 km is more than
    #: an hour on foot-and-boat terrain and about an hour by road; a cell whose result could lie
    #: beyond the buffer is counted and reported by the build (``border_uncertain_cells``).
    buffer_km: float = Field(50.0, ge=0)


class BuildConfig(_Model):
    """A whole build, as read from ``sasaran.toml``."""

    name: str = "Sasaran build"
    synthetic: bool = False
    h3_resolution: int = Field(8, ge=5, le=10)
    #: Indicator spec file; ``None`` uses the built-in default set (``layers/data/indicators.toml``).
    indicators: Path | None = None
    sources: Sources
    #: Facility kinds beyond the built-in five: kind name -> points source.
    facilities: dict[str, FacilitySource] = Field(default_factory=dict)
    #: West, south, east, north (degrees) inside which every source must lie once reprojected:
    #: a file whose CRS label is wrong lands elsewhere (metres read as degrees, or the reverse).
    region_bounds: tuple[float, float, float, float] = INDONESIA_BOUNDS
    access: AccessConfig = AccessConfig()  # frozen, so one shared default is safe
    change_gate: ChangeGate = ChangeGate()
    partitions: PartitionConfig = PartitionConfig()
    #: Directory the relative paths were resolved against (set by `load_config`).
    base_dir: Path = Path(".")

    @field_validator("facilities")
    @classmethod
    def _safe_kind_names(cls, value: dict[str, FacilitySource]) -> dict[str, FacilitySource]:
        for name in value:
            if not KIND_NAME.match(name):
                raise ValueError(
                    f"facility kind '{name}' is not a safe name: use lower-case letters, digits and "
                    "underscores, starting with a letter (it becomes column names such as time_min_<kind>)"
                )
            if name in RESERVED_KIND_NAMES:
                raise ValueError(f"facility kind '{name}' clashes with a built-in kind or layer name")
        return value

    def facility_kinds(self) -> tuple[FacilityKind, ...]:
        """Every facility kind of this build: the built-in five, then those the config declares."""
        declared = (
            custom_kind(name, source.label, i) for i, (name, source) in enumerate(self.facilities.items())
        )
        return (*BUILTIN_FACILITY_KINDS, *declared)

    @field_validator("region_bounds")
    @classmethod
    def _ordered_bounds(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        west, south, east, north = value
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError(
                "region_bounds is [west, south, east, north] in degrees, west < east, south < north"
            )
        return value

    def resolve(self, path: Path) -> Path:
        """Return ``path`` resolved against the config file's directory."""
        return path if path.is_absolute() else (self.base_dir / path)


def load_config(path: str | Path) -> BuildConfig:
    """Read and validate a build config TOML file.

    Raises
    ------
    ConfigError
        When the file is missing, not TOML, or an entry is invalid; the message names the file
        and the entry.
    """
    path = Path(path)
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return config_from_dict(raw, base_dir=path.parent, source=str(path))


def config_from_dict(raw: dict[str, Any], base_dir: Path, source: str = "<config>") -> BuildConfig:
    """Validate a config mapping (as parsed from TOML); relative paths resolve against ``base_dir``."""
    try:
        return BuildConfig.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{source}: entry '{where}': {first['msg']}") from None


HealthKind = Literal["health_primary", "health_hospital"]

#: How health facility types map to kinds; keys are lower-cased values of the type column.
HEALTH_TYPE_KINDS: dict[str, str] = {
    "hospital": "health_hospital",
    "rumah sakit": "health_hospital",
    "rs": "health_hospital",
    "rsud": "health_hospital",
    "puskesmas": "health_primary",
    "clinic": "health_primary",
    "klinik": "health_primary",
    "doctors": "health_primary",
    "pustu": "health_primary",
}

#: How school levels (Kemendikbud ``bentuk``) map to kinds; SMK counts as upper secondary.
SCHOOL_LEVEL_KINDS: dict[str, str] = {
    "SD": "school_sd",
    "SDLB": "school_sd",
    "MI": "school_sd",
    "SMP": "school_smp",
    "SMPLB": "school_smp",
    "MTS": "school_smp",
    "SMA": "school_sma",
    "SMK": "school_sma",
    "SMLB": "school_sma",
    "MA": "school_sma",
}
