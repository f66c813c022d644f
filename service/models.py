"""Response models: they document the answers in OpenAPI and validate them in the tests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Link(_Open):
    """A web link (OGC API - Common)."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class Landing(_Open):
    """The landing page: where everything else is linked from."""

    title: str
    description: str | None = None
    links: list[Link]


class Conformance(_Open):
    """The conformance classes the service implements."""

    conformsTo: list[str]  # noqa: N815 - OGC member name


class Spatial(_Open):
    """Spatial extent: bounding boxes in CRS84."""

    bbox: list[list[float]]
    crs: str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class Temporal(_Open):
    """Temporal extent: intervals of ISO 8601 instants."""

    interval: list[list[str | None]]
    trs: str = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


class Extent(_Open):
    """A collection's extent."""

    spatial: Spatial | None = None
    temporal: Temporal | None = None


class Collection(_Open):
    """One collection (a layer of the store)."""

    id: str
    title: str | None = None
    description: str | None = None
    links: list[Link]
    extent: Extent | None = None
    itemType: Literal["feature"] = "feature"  # noqa: N815
    crs: list[str]
    storageCrs: str | None = None  # noqa: N815


class Collections(_Open):
    """All collections."""

    links: list[Link]
    collections: list[Collection]


class Feature(_Open):
    """A GeoJSON Feature."""

    type: Literal["Feature"]
    id: str | int | None = None
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None
    links: list[Link] | None = None


class FeatureCollection(_Open):
    """A page of GeoJSON Features, with paging members and links."""

    type: Literal["FeatureCollection"]
    features: list[Feature]
    numberMatched: int | None = None  # noqa: N815
    numberReturned: int | None = None  # noqa: N815
    timeStamp: str | None = None  # noqa: N815
    links: list[Link] | None = None


class Queryables(_Open):
    """JSON Schema of the properties a filter may use."""

    schema_: str = Field(alias="$schema")
    id_: str = Field(alias="$id")
    type: Literal["object"]
    title: str | None = None
    properties: dict[str, dict[str, Any]]


class Problem(_Open):
    """An error (RFC 9457 problem document)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


class RegisterHealth(_Open):
    """Whether the register's names and addresses can be read here (never what they are)."""

    families: int = Field(description="Families in the register's latest year.")
    years: list[int]
    personal_data: Literal["available", "locked"] = Field(
        description="available: the service holds the register key (by-name lists for authorised users); "
        "locked: no key or another key, so the service serves aggregates only."
    )
    note: str


class Health(_Open):
    """Liveness and what the service is serving."""

    status: Literal["ok"]
    ready: bool = Field(
        description="Whether the build's catalog is prepared; until then (seconds after a start) other "
        "requests wait for it."
    )
    store: str
    synthetic: bool
    layers: int
    build_id: str = Field(description="Id of the build served; it changes when a rebuilt store is picked up.")
    built: str | None = Field(None, description="When that build was written (ISO 8601, UTC).")
    households: RegisterHealth | None = Field(
        None,
        description="The register of families, when the store has one (aggregates only without the key).",
    )
    heavy: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="This worker's heavy work by kind (work, render): slots, running now, and refused "
        "with 503 since the worker started.",
    )


class ScoreUnit(_Open):
    """One unit's scores. Hexagons carry ``c`` and the flags ``poor``/``vulnerable``/``severe`` (null
    where nobody lives); areas carry ``H``/``A``/``M0`` and the shares. ``population`` is everybody,
    ``scored_population`` the people in cells with a score."""

    id: str
    name: str | None = None
    population: float | None = None
    c: float | None = None
    poor: bool | None = None
    vulnerable: bool | None = None
    severe: bool | None = None
    scored_population: float | None = None
    H: float | None = None
    A: float | None = None
    M0: float | None = None
    mpi_poor_population: float | None = None
    vulnerable_share: float | None = None
    severe_share: float | None = None
    families: float | None = Field(None, description="basis=household: families in the register.")
    hh_people: float | None = Field(None, description="basis=household: members of the scored families.")
    families_mpi_poor: float | None = Field(None, description="basis=household: families with c >= k.")
    people_mpi_poor: float | None = Field(None, description="basis=household: members of those families.")
    hh_H: float | None = Field(None, description="basis=household: H over families (not the area H).")
    hh_A: float | None = Field(None, description="basis=household: A over families (not the area A).")
    hh_M0: float | None = Field(None, description="basis=household: M0 over families (not the area M0).")
    deprivations: dict[str, float | None]
    """Hexagons: indicator → 1 deprived / 0 not; areas: censored headcount ratio per indicator."""
    dimension_share: dict[str, float | None]
    """Share of the score (hexagons) or of M0 (areas) coming from each dimension."""


class ScoreResponse(_Open):
    """Scores at one level under the spec actually used."""

    level: str
    basis: Literal["area", "household"] = Field(
        "area", description="area: cells weighted by people; household: the register's families by members."
    )
    year: int
    spec: dict[str, Any]
    summary: dict[str, Any]
    numberMatched: int  # noqa: N815
    numberReturned: int  # noqa: N815
    links: list[Link]
    units: list[ScoreUnit]


class ChangesResponse(_Open):
    """``GET /changes`` (JSON): change per unit between two years, in rank order (1: largest fall)."""

    from_: int = Field(alias="from")
    to: int
    level: str
    rank_by: str
    spec: dict[str, Any]
    units: list[dict[str, Any]]


class Exports(_Open):
    """``GET /exports``: a link to every download of the store."""

    synthetic: bool
    links: list[Link]
