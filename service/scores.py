"""Scores at every level under the caller's indicator spec, weights, cutoffs, k and year.

Each request rescores every cell (`layers.scoring.af.score_units` on a cells × indicators matrix
gathered from arrays prepared at startup) and aggregates by the level's group positions
(`summarize`). Answers state the spec actually used. Formats: JSON (default), GeoJSON, CSV.

Query parameters: ``year``, ``k``, ``w_<dimension>`` or ``w_<indicator>`` (weights),
``cutoff_<indicator>``, ``f=json|geojson|csv``, ``limit``, ``offset``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Body, Request
from starlette.responses import Response

from layers.cancel import checkpoint
from layers.errors import InvalidQuery
from layers.rounding import round_list, round_record
from layers.schema import level as level_schema
from layers.scoring.af import dimension_share, summary_to_json
from layers.scoring.households import HOUSEHOLD_COLUMNS, suppressed
from layers.scoring.rescore import WHOLE
from layers.scoring.spec import IndicatorSpec, spec_from_dict, spec_to_dict, with_named_overrides
from layers.types import SpecDict
from service.catalog import Catalog
from service.deps import CatalogDep, ScoreQuery, ScoreQueryDep
from service.heavy import run_heavy
from service.links import request_href
from service.models import ScoreResponse
from service.openapi import answers
from service.responses import (
    CSV,
    GEOJSON,
    JSON,
    CSVResponse,
    GeoJSONResponse,
    ORJSONResponse,
    csv_bytes,
    dumps,
    feature_collection_bytes,
)

router = APIRouter(tags=["scores"])


def request_spec(base: IndicatorSpec, q: ScoreQuery) -> IndicatorSpec:
    """``base`` with the request's k, weights and cutoffs applied (`ConfigError` → 400)."""
    return with_named_overrides(base, k=q.k, weights=q.weights, cutoffs=q.cutoffs, origin="query")


@dataclass(frozen=True)
class LevelScores:
    """The units of one level under one spec, as JSON-ready rows plus the overall summary."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    positions: np.ndarray
    """Row of each unit in the level's layer (for geometry); empty for the province."""


def _flags(values: np.ndarray, scored: np.ndarray, rows: np.ndarray) -> list[bool | None]:
    """Flags of the rows; None where a cell has no score (nobody lives there, or a value is missing)."""
    return [
        flag if ok else None for flag, ok in zip(values[rows].tolist(), scored[rows].tolist(), strict=True)
    ]


def _named(matrix: np.ndarray, names: list[str], field: str) -> list[dict[str, float | None]]:
    columns = []
    for j in range(len(names)):
        checkpoint()  # up to 64 columns of 10,000 rows as Python values: stop if the client left
        columns.append(round_list(field, matrix[:, j]))
    return [dict(zip(names, vals, strict=True)) for vals in zip(*columns, strict=True)] if names else []


def _hexagon_rows(
    catalog: Catalog, spec: IndicatorSpec, units: Any, pop: np.ndarray, rows: np.ndarray
) -> list[dict]:
    hexes = catalog.collections["hexagons"].table
    villages = catalog.collections["villages"].table
    names = villages.columns["village_name"][catalog.require_scoring().village_pos[rows]]
    deprived = np.where(units.complete[rows, None], units.deprived[rows].astype(float), np.nan)
    shares = dimension_share(units, spec)[rows]
    base = {
        "id": hexes.ids[rows].tolist(),
        "name": list(names),
        "population": round_list("population", pop[rows]),
        "c": round_list("c", units.c[rows]),
        "poor": _flags(units.poor, units.complete, rows),
        "vulnerable": _flags(units.vulnerable, units.complete, rows),
        "severe": _flags(units.severe, units.complete, rows),
        "deprivations": _named(deprived, spec.names, "deprivations"),
        "dimension_share": _named(shares, spec.dimensions, "dimension_share"),
    }
    return [dict(zip(base, vals, strict=True)) for vals in zip(*base.values(), strict=True)]


def _unit_names(catalog: Catalog, level: str, rows: np.ndarray) -> tuple[list[Any], list[Any]]:
    """Ids and names of a level's units at ``rows``."""
    if level == "province" and catalog.require_scoring().provinces > 1:
        keys = [entry["key"] for entry in catalog.store.partitions]
        ids = [keys[i] for i in rows.tolist()]
        return ids, [f"Provinsi {key}" for key in ids]
    if level == "province":
        return ["province"], [catalog.store.name]
    unit = level_schema(level)
    table = catalog.collection(unit.layer or "").table
    return table.ids[rows].tolist(), table.columns[unit.name_column or ""][rows].tolist()


def _area_rows(
    catalog: Catalog, level: str, summary: Any, people: np.ndarray, spec: IndicatorSpec, rows: np.ndarray
) -> list[dict]:
    ids, names = _unit_names(catalog, level, rows)
    base = {
        "id": ids,
        "name": names,
        "population": round_list("population", people[rows]),
        "scored_population": round_list("scored_population", summary.population[rows]),
        "H": round_list("H", summary.H[rows]),
        "A": round_list("A", summary.A[rows]),
        "M0": round_list("M0", summary.M0[rows]),
        "mpi_poor_population": round_list("mpi_poor_population", summary.H[rows] * summary.population[rows]),
        "vulnerable_share": round_list("vulnerable_share", summary.vulnerable[rows]),
        "severe_share": round_list("severe_share", summary.severe[rows]),
        "deprivations": _named(summary.censored_headcount[rows], spec.names, "deprivations"),
        "dimension_share": _named(summary.contribution_dimension[rows], spec.dimensions, "dimension_share"),
    }
    return [dict(zip(base, vals, strict=True)) for vals in zip(*base.values(), strict=True)]


def _household_level(catalog: Catalog, spec: IndicatorSpec, q: ScoreQuery) -> tuple[LevelScores, int]:
    """Rescore the register's families for ``q.year`` and page the level's units (household basis)."""
    if q.level == "hexagon":
        raise InvalidQuery("basis=household has no hexagon level (families are not published by cell)")
    households = catalog.require_households()
    scores = households.score(spec, q.year)
    whole = WHOLE if WHOLE in households.area.group_pos else "province"
    columns, _ = households.level_values(scores, spec, whole)
    overall_summary = households.summarize(scores, spec, whole)
    overall = (
        round_record(summary_to_json(overall_summary, spec)) if not suppressed(columns["families"])[0] else {}
    )
    overall["families"] = int(columns["families"][0])
    values, summary = households.level_values(scores, spec, q.level)
    n = len(values["families"])
    rows = np.arange(n)[q.offset : q.offset + q.limit]
    hidden = suppressed(values["families"])
    deprivations = np.where(hidden[:, None], np.nan, summary.censored_headcount)
    shares = np.where(hidden[:, None], np.nan, summary.contribution_dimension)
    ids, names = _unit_names(catalog, q.level, rows)
    base: dict[str, list[Any]] = {"id": ids, "name": names}
    base |= {column: round_list(column, values[column][rows]) for column in HOUSEHOLD_COLUMNS}
    base["deprivations"] = _named(deprivations[rows], spec.names, "deprivations")
    base["dimension_share"] = _named(shares[rows], spec.dimensions, "dimension_share")
    units = [dict(zip(base, vals, strict=True)) for vals in zip(*base.values(), strict=True)]
    positions = rows if q.level != "province" or n > 1 else np.array([], dtype=np.int64)
    return LevelScores(units, overall, positions), n


def score_level(catalog: Catalog, spec: IndicatorSpec, q: ScoreQuery) -> tuple[LevelScores, int]:
    """Rescore every cell for ``q.year`` and return the page ``q.offset``/``q.limit`` of the level's units."""
    if q.basis == "household":
        return _household_level(catalog, spec, q)
    scoring = catalog.require_scoring()
    cells = scoring.score_cells(spec, q.year)
    checkpoint()
    units, pop = cells.scores, cells.weights
    # The whole store (a province's, or a nation's): its table is prepared once, like every level's.
    overall = round_record(summary_to_json(scoring.summarize_whole(cells, spec), spec))
    if q.level == "hexagon":
        total = scoring.n_cells
        rows = np.arange(total)[q.offset : q.offset + q.limit]
        return LevelScores(_hexagon_rows(catalog, spec, units, pop, rows), overall, rows), total
    n = scoring.n_groups[q.level]
    summary = scoring.summarize(cells, spec, q.level)
    rows = np.arange(n)[q.offset : q.offset + q.limit]
    positions = rows if q.level != "province" or n > 1 else np.array([], dtype=np.int64)
    people = scoring.people(cells, q.level)
    return LevelScores(_area_rows(catalog, q.level, summary, people, spec, rows), overall, positions), n


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("deprivations", "dimension_share")}
    out |= {f"dep_{k}": v for k, v in row["deprivations"].items()}
    out |= {f"share_{k}": v for k, v in row["dimension_share"].items()}
    return out


def _links(request: Request, q: ScoreQuery, total: int) -> list[dict[str, str]]:
    links = [{"href": request_href(request), "rel": "self", "type": "application/json"}]
    if q.offset + q.limit < total:
        href = request_href(request, offset=q.offset + q.limit, limit=q.limit)
        links.append({"href": href, "rel": "next", "type": "application/json"})
    return links


def spec_digest(spec_dict: SpecDict) -> str:
    """A short fingerprint of a spec: ``sha256:`` and 16 hex digits of its canonical JSON.

    CSV answers have no body field for the spec; a header echoing it whole grew with the request
    (100 KB seen) and put caller input into headers, so they carry this instead. Two answers under the
    same spec carry the same digest; the spec itself is in the JSON and GeoJSON answers.
    """
    canonical = orjson.dumps(spec_dict, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    return f"sha256:{hashlib.sha256(canonical).hexdigest()[:16]}"


def render_scores(request: Request, catalog: Catalog, spec: IndicatorSpec, q: ScoreQuery) -> Response:
    """Score, then answer in the requested format."""
    scores, total = score_level(catalog, spec, q)
    spec_dict = spec_to_dict(spec)
    if q.fmt == "csv":
        flat = [_flat(r) for r in scores.rows]
        header = list(flat[0]) if flat else ["id"]
        suffix = "_household" if q.basis == "household" else ""
        headers = {"Content-Disposition": f'attachment; filename="scores_{q.level}_{q.year}{suffix}.csv"'}
        headers["Sasaran-Spec-Digest"] = spec_digest(spec_dict)
        return CSVResponse(csv_bytes(header, ([r.get(h) for h in header] for r in flat)), headers=headers)
    body = {
        "level": q.level,
        "basis": q.basis,
        "year": q.year,
        "spec": spec_dict,
        "summary": scores.summary,
        "numberMatched": total,
        "numberReturned": len(scores.rows),
        "links": _links(request, q, total),
    }
    if q.fmt == "json":
        return ORJSONResponse(body | {"units": scores.rows})
    if q.level == "province":
        geoms = (
            catalog.province_geometry[scores.positions]
            if len(scores.positions)
            else catalog.province_geometry
        )
    else:
        geoms = catalog.collection(level_schema(q.level).layer or "").geometry[scores.positions]
    features = b",".join(
        b'{"type":"Feature","id":%b,"geometry":%b,"properties":%b}' % (dumps(r["id"]), g, dumps(_flat(r)))
        for r, g in zip(scores.rows, geoms, strict=True)
    )
    return GeoJSONResponse(feature_collection_bytes(features, body))


_RESPONSES = answers(
    {JSON: "ScoreResponse", GEOJSON: "FeatureCollection", CSV: None},
    found=True,
    description="Scores (JSON, GeoJSON or CSV by f).",
)


def base_spec(catalog: Catalog, q: ScoreQuery) -> IndicatorSpec:
    """The spec a request starts from: the store's area spec, or its household spec (``basis``)."""
    if q.basis == "household":
        spec = catalog.require_households().spec
        assert spec is not None  # require_households refuses a register without one
        return spec
    return catalog.spec


@router.get("/scores/{level}", response_model=ScoreResponse, responses=_RESPONSES)
async def scores(request: Request, q: ScoreQueryDep, catalog: CatalogDep) -> Response:
    """Scores of every unit of a level under the store's spec with the caller's k, weights, cutoffs.

    ``basis=household`` scores the register's families (weighted by members) with the store's
    household spec instead of the cells: units carry ``hh_H``, ``hh_A``, ``hh_M0``, ``families`` ...,
    null in units of fewer than 3 families.
    """
    spec = request_spec(base_spec(catalog, q), q)
    return await run_heavy(request, render_scores, request, catalog, spec, q)


@router.post("/scores/{level}", response_model=ScoreResponse, responses=_RESPONSES)
async def scores_with_spec(
    request: Request,
    q: ScoreQueryDep,
    catalog: CatalogDep,
    spec: dict[str, Any] = Body(..., examples=[{"k": "1/3", "indicator": []}]),  # noqa: B008
) -> Response:
    """Scores under a full indicator spec given in the body (the TOML spec structure, as JSON)."""
    base = spec_from_dict(spec, source="request body")
    return await run_heavy(request, render_scores, request, catalog, request_spec(base, q), q)
