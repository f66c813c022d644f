"""Response classes, media types and the byte-level GeoJSON writer.

Features of the layers the catalog prepares are serialised whole, once (`prepare_features`): a page
or a single feature is then assembled by joining bytes. Bigger layers have their geometry serialised
once, off the request path (`LazyGeometryJSON.prepare`), and only the page's properties per request.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import shapely
from starlette.responses import Response

from layers.query.table import Table

JSON = "application/json"
GEOJSON = "application/geo+json"
PROBLEM_JSON = "application/problem+json"
SCHEMA_JSON = "application/schema+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
CSV = "text/csv"

#: Decimal places kept in served coordinates: 1e-7 degrees is about 1 cm.
COORDINATE_DECIMALS = 7

_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(content: Any) -> bytes:
    """JSON bytes of ``content``; NaN and infinities become null (orjson's behaviour)."""
    return orjson.dumps(content, default=_default, option=_ORJSON_OPTIONS)


class ORJSONResponse(Response):
    """JSON answer serialised with orjson."""

    media_type = JSON

    def render(self, content: Any) -> bytes:
        """Serialise the content (bytes pass through unchanged)."""
        return content if isinstance(content, bytes) else dumps(content)


class GeoJSONResponse(ORJSONResponse):
    """A GeoJSON Feature or FeatureCollection (``application/geo+json``)."""

    media_type = GEOJSON


class SchemaJSONResponse(ORJSONResponse):
    """A JSON Schema document (``application/schema+json``)."""

    media_type = SCHEMA_JSON


class CSVResponse(Response):
    """A CSV table (``text/csv``, UTF-8)."""

    media_type = "text/csv; charset=utf-8"


def geometry_json(geometry: np.ndarray) -> np.ndarray:
    """GeoJSON bytes of each geometry (object array), coordinates rounded to `COORDINATE_DECIMALS`.

    Done once per layer at startup: ``shapely.to_geojson`` is vectorised, rounding is one
    ``shapely.transform`` over all coordinates.
    """
    rounded = shapely.transform(geometry, lambda xy: np.round(xy, COORDINATE_DECIMALS))
    text = shapely.to_geojson(rounded)
    out = np.empty(len(text), dtype=object)
    out[:] = [b"null" if t is None else t.encode() for t in text]
    return out


class LazyGeometryJSON:
    """GeoJSON bytes of a layer's geometries, serialised for the rows asked for, when asked.

    For big layers: held whole, a nation's 2.6 M hexagons would take ~1.7 GB of text per worker and
    ~17 s of startup; a page of 1,000 hexagons serialises in a few milliseconds. Indexed by rows
    like the object array `geometry_json` returns. `prepare` serialises every row once, off the
    request path (a province's 206k hexagons: ~1 s, ~50 MB), after which pages only index bytes.
    """

    def __init__(self, geometry: np.ndarray):
        self.geometry = geometry
        self.prepared: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.geometry)

    def __getitem__(self, rows: Any) -> np.ndarray:
        prepared = self.prepared  # one read: a request sees the array whole or not at all
        if prepared is not None:
            return np.atleast_1d(prepared[rows])
        return geometry_json(np.atleast_1d(self.geometry[rows]))

    def prepare(self, chunk: int = 20_000) -> None:
        """Serialise every row (in chunks, so requests interleave), then answer from the bytes."""
        if self.prepared is not None:
            return
        out = np.empty(len(self.geometry), dtype=object)
        for start in range(0, len(self.geometry), chunk):
            out[start : start + chunk] = geometry_json(self.geometry[start : start + chunk])
        self.prepared = out


def property_records(table: Table, rows: np.ndarray, names: Sequence[str] | None = None) -> list[dict]:
    """The properties of ``rows`` as dicts (NaN and missing strings become None)."""
    names = list(table.columns) if names is None else list(names)
    lists = [table.values_list(name, rows, shown=True) for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)]


def _feature_dicts(table: Table, geometry: np.ndarray | LazyGeometryJSON, rows: np.ndarray) -> list[dict]:
    """``rows`` as GeoJSON Feature dicts whose geometry is its prepared bytes (`orjson.Fragment`)."""
    ids = table.ids[rows].tolist()
    geoms = geometry[rows]
    fragment = orjson.Fragment
    return [
        {"type": "Feature", "id": fid, "geometry": fragment(geom), "properties": props}
        for fid, geom, props in zip(ids, geoms, property_records(table, rows), strict=True)
    ]


def features_bytes(table: Table, geometry: np.ndarray | LazyGeometryJSON, rows: np.ndarray) -> bytes:
    """Comma-joined GeoJSON Feature objects for ``rows`` (the inside of a ``features`` array).

    One orjson call for the whole page: the Features' text is the same as one call per Feature.
    """
    return dumps(_feature_dicts(table, geometry, rows))[1:-1]


def prepare_features(table: Table, geometry: np.ndarray | LazyGeometryJSON) -> np.ndarray:
    """Every row's GeoJSON Feature bytes (object array), for answers that only join them.

    Each column is rounded once, whole (`layers.rounding.round_array`), so a page, a single
    feature and a year view answer from bytes prepared here.
    """
    out = np.empty(len(table), dtype=object)
    out[:] = [dumps(feature) for feature in _feature_dicts(table, geometry, np.arange(len(table)))]
    return out


def feature_collection_bytes(features: bytes, members: Mapping[str, Any]) -> bytes:
    """A FeatureCollection from joined feature bytes plus other top-level members."""
    rest = dumps(dict(members))[1:-1]
    sep = b"," if rest else b""
    return b'{"type":"FeatureCollection","features":[%b]%b%b}' % (features, sep, rest)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV text (UTF-8 bytes) with a header row; None and NaN are written as empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row])
    return buffer.getvalue().encode()
