"""Vectorised row selection on a loaded layer: bbox, property equality, CQL2, sort, paging.

A `Table` is a layer prepared once for querying: numpy columns, a null mask per column that can
hold nulls, per-row bounds (``shapely.bounds``, computed once) and the feature ids. `select` turns a
request's conditions into row positions with whole-column numpy operations; it builds no geometry.
No HTTP here: bad input raises `InvalidQuery` with a message that names the parameter.

Examples
--------
>>> import geopandas as gpd, shapely
>>> frame = gpd.GeoDataFrame({"code": ["a", "b"], "n": [1, 5]}, geometry=shapely.points([0, 2], [0, 2]))
>>> table = Table.from_frame("demo", frame, id_column="code")
>>> select(table, bbox=(1, 1, 3, 3), equals={"n": "5"}).tolist()
[1]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shapely

from layers import numbers
from layers.errors import InvalidQuery, LayerNotFound, close_match, excerpt
from layers.query import cql2
from layers.query.cql2 import Kind
from layers.rounding import round_array
from layers.types import BBox

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}

#: Most properties one ``sortby`` may name (README, "Limits").
MAX_SORT_KEYS = 8


class FeatureNotFound(LayerNotFound):
    """A feature id that the layer does not hold."""


def _kind(series: pd.Series) -> Kind:
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    return "string"


def _column_arrays(series: pd.Series, kind: Kind) -> tuple[np.ndarray, np.ndarray | None]:
    """Values as a plain numpy array and a null mask (None when no value is null)."""
    null = series.isna().to_numpy()
    has_null = bool(null.any())
    if kind == "string":
        values = np.asarray(series.astype(object).where(~null, "").astype(str).to_numpy(), dtype=str)
    elif kind == "boolean":
        values = series.fillna(False).to_numpy(dtype=bool)
    elif kind == "date":
        values = series.to_numpy(dtype="datetime64[D]")
    elif kind == "integer" and not has_null:
        values = series.to_numpy(dtype=np.int64)
    else:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, (null if has_null else None)


@dataclass(frozen=True)
class Table:
    """A layer prepared for querying. Arrays are shared with year views, never modified."""

    name: str
    id_column: str | None
    ids: np.ndarray
    """Feature id of each row, as strings."""
    columns: dict[str, np.ndarray]
    """Scalar columns in layer order; strings are ``str`` arrays with '' where null."""
    nulls: dict[str, np.ndarray]
    """Null masks of the columns that hold nulls."""
    kinds: dict[str, Kind]
    geometry: np.ndarray | None = None
    bounds: np.ndarray | None = None
    """(n, 4) minx, miny, maxx, maxy of each row's geometry."""
    _positions: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _index: dict[str, shapely.STRtree] = field(default_factory=dict, repr=False, compare=False)
    """The STRtree, once built; the dict is shared with year views (same geometry)."""

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame, id_column: str | None = None) -> Table:
        """Prepare a (Geo)DataFrame: columns to numpy, bounds of every geometry, ids as strings."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"'frame' should be a DataFrame, got {type(frame)}")
        geometry = bounds = None
        geo_name = getattr(frame, "_geometry_column_name", None) if hasattr(frame, "geometry") else None
        if geo_name is not None:
            geometry = np.asarray(frame.geometry.array, dtype=object)
            bounds = shapely.bounds(geometry)
        columns, nulls, kinds = {}, {}, {}
        for col in frame.columns:
            if col == geo_name:
                continue
            kinds[col] = _kind(frame[col])
            columns[col], null = _column_arrays(frame[col], kinds[col])
            if null is not None:
                nulls[col] = null
        if id_column is not None and id_column in columns:
            ids = columns[id_column]
        else:
            id_column = None
            ids = np.arange(len(frame)).astype(str)
        positions = {fid: i for i, fid in enumerate(ids.tolist())}
        return cls(name, id_column, ids, columns, nulls, kinds, geometry, bounds, positions)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def total_bounds(self) -> BBox | None:
        """Bounds of the whole layer (None without geometry or rows)."""
        if self.bounds is None or not len(self.bounds) or np.isnan(self.bounds).all():
            return None
        b = self.bounds
        return (
            float(np.nanmin(b[:, 0])),
            float(np.nanmin(b[:, 1])),
            float(np.nanmax(b[:, 2])),
            float(np.nanmax(b[:, 3])),
        )

    def column(self, name: str) -> tuple[np.ndarray, np.ndarray | None, Kind]:
        """Values, null mask (None when nothing is null) and kind of a column."""
        if name not in self.columns:
            match = close_match(name, self.columns)
            # A likely typo gets its one correction; otherwise the full list helps more.
            hint = f"did you mean `{match}`?" if match else f"properties are: {', '.join(self.columns)}"
            raise InvalidQuery(f"'{excerpt(name)}' is not a property of '{self.name}'; {hint}")
        return self.columns[name], self.nulls.get(name), self.kinds[name]

    def spatial_index(self) -> shapely.STRtree:
        """An STRtree over the rows' geometry, built on first use (~0.15 s for 206k hexagons)."""
        if self.geometry is None:
            raise InvalidQuery(f"'{self.name}' has no geometry")
        if "tree" not in self._index:
            self._index["tree"] = shapely.STRtree(self.geometry)
        return self._index["tree"]

    def row_of(self, fid: str) -> int:
        """Row position of a feature id; `FeatureNotFound` when absent."""
        try:
            return self._positions[fid]
        except KeyError:
            what = f"{self.id_column} " if self.id_column else "feature "
            raise FeatureNotFound(f"no feature with {what}'{excerpt(fid)}' in '{self.name}'") from None

    def values_list(self, name: str, rows: np.ndarray, shown: bool = False) -> list[Any]:
        """Python values of a column at ``rows``; None where null (NaN, missing string).

        With ``shown``, numbers are rounded as a person sees them (`layers.rounding`, by the field's
        unit): whole people, 4-decimal indices, no float noise.
        """
        values = self.columns[name][rows]
        values = (round_array(name, values) if shown else values).tolist()
        null = self.nulls.get(name)
        if null is not None:
            for i in np.flatnonzero(null[rows]).tolist():
                values[i] = None
        return values

    def only(self, names: Sequence[str]) -> Table:
        """A view with only the columns ``names``, in that order (same rows, ids and geometry)."""
        for name in names:
            self.column(name)  # InvalidQuery naming a property the layer lacks
        return replace(
            self,
            columns={n: self.columns[n] for n in names},
            nulls={n: self.nulls[n] for n in names if n in self.nulls},
            kinds={n: self.kinds[n] for n in names},
        )

    def with_ids(self, ids: np.ndarray) -> Table:
        """A view whose features answer with other ids (same rows; looking up by id is not kept)."""
        return replace(self, ids=ids, _positions={})

    def with_columns(self, overrides: Mapping[str, np.ndarray]) -> Table:
        """A view with some column values replaced (same rows, ids, geometry and bounds)."""
        columns, nulls, kinds = dict(self.columns), dict(self.nulls), dict(self.kinds)
        for name, given in overrides.items():
            series = pd.Series(given)  # keeps a nullable (masked) array's nulls
            if len(series) != len(self):
                raise ValueError(f"column '{name}' has {len(series)} values for {len(self)} rows")
            kinds[name] = _kind(series)
            columns[name], null = _column_arrays(series, kinds[name])
            nulls.pop(name, None)
            if null is not None:
                nulls[name] = null
        return replace(self, columns=columns, nulls=nulls, kinds=kinds)


def parse_value(table: Table, name: str, text: str) -> Any:
    """Parse a query-string value into the type of column ``name`` (`InvalidQuery` when it cannot)."""
    kind = table.column(name)[2]
    try:
        if kind == "date":
            return np.datetime64(date.fromisoformat(text.strip()[:10]), "D")
        if kind == "integer":
            return numbers.whole(text)
        if kind == "number":
            return numbers.decimal(text)
    except ValueError:
        expected = {
            "integer": "an integer in ASCII digits",
            "date": "a date such as 2023-01-01",
        }.get(kind, "a finite number in ASCII digits")
        raise InvalidQuery(f"'{name}' expects {expected}, got '{excerpt(text)}'") from None
    if kind == "boolean":
        low = text.strip().lower()
        if low not in _TRUE | _FALSE:
            raise InvalidQuery(f"'{name}' expects true or false, got '{excerpt(text)}'")
        return low in _TRUE
    return text


def bbox_mask(table: Table, bbox: BBox) -> np.ndarray:
    """Rows whose geometry intersects ``bbox`` (bounds test first, exact test on the candidates)."""
    if table.bounds is None or table.geometry is None:
        raise InvalidQuery(f"'{table.name}' has no geometry, so bbox does not apply")
    minx, miny, maxx, maxy = bbox
    if miny > maxy:  # an empty box (OGC: only longitudes may wrap)
        return np.zeros(len(table), dtype=bool)
    if minx > maxx:  # the box crosses the antimeridian: its west part or its east part
        return _box_mask(table, (minx, miny, max(minx, 180.0), maxy)) | _box_mask(
            table, (min(maxx, -180.0), miny, maxx, maxy)
        )
    return _box_mask(table, bbox)


#: Layers above this many rows find a box's candidates through their STRtree (built once) rather
#: than comparing every row's bounds: ~0.05 ms instead of ~0.5 ms on a province's 206k hexagons.
INDEXED_ROWS = 50_000


def _box_mask(table: Table, bbox: BBox) -> np.ndarray:
    assert table.bounds is not None and table.geometry is not None
    minx, miny, maxx, maxy = bbox
    b = table.bounds
    if len(table) > INDEXED_ROWS:
        # Rows whose envelope meets the box's (inclusive, as the comparisons below): the same rows.
        candidates = np.sort(table.spatial_index().query(shapely.box(*bbox)))
        mask = np.zeros(len(table), dtype=bool)
        mask[candidates] = True
    else:
        mask = (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
        candidates = np.flatnonzero(mask)
    # A polygon's envelope can meet the box while the polygon does not: refine the candidates whose
    # envelope is not inside the box (a geometry inside the box intersects it).
    cb = b[candidates]
    inside = (cb[:, 0] >= minx) & (cb[:, 2] <= maxx) & (cb[:, 1] >= miny) & (cb[:, 3] <= maxy)
    edge = candidates[~inside]
    mask[edge] = shapely.intersects(table.geometry[edge], shapely.box(*bbox))
    return mask


def equals_mask(table: Table, equals: Mapping[str, str]) -> np.ndarray:
    """Rows whose columns equal the given query-string values (parsed to each column's type)."""
    mask = np.ones(len(table), dtype=bool)
    for name, text in equals.items():
        values, null, _ = table.column(name)
        mask &= values == parse_value(table, name, text)
        if null is not None:
            mask &= ~null
    return mask


def parse_sortby(table: Table, text: str | None) -> tuple[str, ...]:
    """The ``sortby`` parameter: comma-separated properties, ``-name`` descending, ``+name`` ascending.

    Parameters
    ----------
    table
        The layer the keys must be properties of.
    text
        The parameter as given (None or '' for no sorting).

    Returns
    -------
    tuple[str, ...]
        The keys, as given (with their sign); a property named again is dropped.

    Raises
    ------
    InvalidQuery
        On more than `MAX_SORT_KEYS` keys or an unknown property.
    """
    keys = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    if len(keys) > MAX_SORT_KEYS:
        raise InvalidQuery(f"sortby takes at most {MAX_SORT_KEYS} properties, got {len(keys):,}")
    # A later key on a property already sorted on could never change the order: keep the first.
    first: dict[str, str] = {}
    for key in keys:
        first.setdefault(key[1:] if key[:1] in "+-" else key, key)
    keys = tuple(first.values())
    check_sortby(table, keys)
    return keys


def check_sortby(table: Table, sortby: Sequence[str]) -> None:
    """`InvalidQuery` unless ``sortby`` holds at most `MAX_SORT_KEYS` distinct properties of ``table``."""
    # Each key is one stable argsort of the selected rows (~25 ms on 206k hexagons): bound them
    # before any sorting, and a second key on the same property could never change the order.
    if len(sortby) > MAX_SORT_KEYS:
        raise InvalidQuery(f"sortby takes at most {MAX_SORT_KEYS} properties, got {len(sortby):,}")
    seen: set[str] = set()
    for key in sortby:
        name = key[1:] if key[:1] in "+-" else key
        _check_sort_key(table, key, name)
        if name in seen:
            raise InvalidQuery(f"sortby names '{excerpt(name)}' twice; give each property once")
        seen.add(name)


_SQL_ORDER = re.compile(r"([+-]?)(\S+)\s+(ASC|DESC)", re.IGNORECASE)


def _check_sort_key(table: Table, key: str, name: str) -> None:
    """`InvalidQuery` for a key that names no property, with the OGC spelling of SQL's ``M0 DESC``."""
    if name in table.columns:
        return
    sql = _SQL_ORDER.fullmatch(key.strip())
    if sql is not None:
        prop = sql.group(2) if sql.group(2) in table.columns else close_match(sql.group(2), table.columns)
        if prop is not None:
            sign = "-" if sql.group(3).upper() == "DESC" else ""
            raise InvalidQuery(
                f"sortby '{excerpt(key)}' is SQL's spelling; did you mean `{sign}{prop}`? "
                "(OGC sortby: `-name` descending, `name` or `+name` ascending, comma-separated)"
            )
    try:
        table.column(name)
    except InvalidQuery as exc:
        raise InvalidQuery(f"sortby: {exc} (OGC sortby: `-name` descending, `name` ascending)") from None


def sort_rows(table: Table, rows: np.ndarray, sortby: Sequence[str]) -> np.ndarray:
    """``rows`` ordered by columns (``-name`` descending); stable, nulls last."""
    check_sortby(table, sortby)
    order = rows
    for spec in reversed(list(sortby)):
        name = spec[1:] if spec[:1] in "+-" else spec
        values, null, _ = table.column(name)
        keys = values[order]
        # Descending: sort on negated ranks, so ties keep their previous order (stability).
        idx = np.argsort(-_rank(keys) if spec.startswith("-") else keys, kind="stable")
        order = order[idx]
        if null is not None:
            order = np.concatenate([order[~null[order]], order[null[order]]])
    return order


def _rank(keys: np.ndarray) -> np.ndarray:
    return np.unique(keys, return_inverse=True)[1]


def area_mask(table: Table, area: shapely.Geometry) -> np.ndarray:
    """Rows whose geometry intersects ``area`` (a CRS84 polygon: a box given in another CRS)."""
    if table.bounds is None or table.geometry is None:
        raise InvalidQuery(f"'{table.name}' has no geometry, so bbox does not apply")
    mask = np.zeros(len(table), dtype=bool)
    if shapely.is_empty(area):
        return mask
    minx, miny, maxx, maxy = shapely.bounds(area)
    b = table.bounds
    candidates = np.flatnonzero((b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny))
    shapely.prepare(area)
    mask[candidates] = shapely.intersects(area, table.geometry[candidates])
    return mask


def select(
    table: Table,
    *,
    bbox: BBox | None = None,
    equals: Mapping[str, str] | None = None,
    where: cql2.Node | str | None = None,
    sortby: Sequence[str] = (),
    area: shapely.Geometry | None = None,
) -> np.ndarray:
    """Positions of the rows matching every condition, in layer order or sorted.

    Parameters
    ----------
    table
        The prepared layer.
    bbox
        minlon, minlat, maxlon, maxlat (CRS84): rows whose geometry intersects it.
    equals
        Column name → query-string value; the value is parsed to the column's type.
    where
        A CQL2-text filter, as text or parsed by `layers.query.cql2.parse`.
    sortby
        Column names, ``-name`` for descending.
    area
        A CRS84 polygon (a box given in a projected CRS): rows whose geometry intersects it.

    Returns
    -------
    ndarray
        int64 row positions.
    """
    mask = np.ones(len(table), dtype=bool)
    if bbox is not None:
        mask &= bbox_mask(table, bbox)
    if area is not None:
        mask &= area_mask(table, area)
    if equals:
        mask &= equals_mask(table, equals)
    if where is not None:
        node = cql2.parse(where) if isinstance(where, str) else where
        mask &= cql2.evaluate(node, table, len(table))
    rows = np.flatnonzero(mask)
    return sort_rows(table, rows, sortby) if sortby else rows


@dataclass(frozen=True)
class Selection:
    """Rows selected across parts (a layer's table once per year shown), in answer order."""

    parts: tuple[Table, ...]
    part: np.ndarray
    """The part of each selected row."""
    rows: np.ndarray
    """Each selected row's position in its part."""

    def __len__(self) -> int:
        return len(self.rows)

    def page(self, offset: int, limit: int) -> Selection:
        """The rows of one page."""
        if offset < 0 or limit < 0:
            raise InvalidQuery(f"offset and limit must be >= 0, got offset={offset}, limit={limit}")
        return replace(self, part=self.part[offset : offset + limit], rows=self.rows[offset : offset + limit])

    def runs(self) -> list[tuple[int, np.ndarray]]:
        """Consecutive rows of one part, in order: (the part's index, its rows)."""
        if not len(self.rows):
            return []
        cuts = np.flatnonzero(np.diff(self.part)) + 1
        return [
            (int(part[0]), rows)
            for part, rows in zip(np.split(self.part, cuts), np.split(self.rows, cuts), strict=True)
        ]


def select_parts(
    parts: Sequence[Table],
    *,
    bbox: BBox | None = None,
    equals: Mapping[str, str] | None = None,
    where: cql2.Node | str | None = None,
    sortby: Sequence[str] = (),
    area: shapely.Geometry | None = None,
) -> Selection:
    """`select` over several parts (one table per year): the rows of each part in turn, or sorted
    across all of them by ``sortby``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> frames = [gpd.GeoDataFrame({"n": [3, 1], "year": [y, y]}, geometry=shapely.points([0, 1], [0, 1]))
    ...           for y in (2023, 2024)]
    >>> sel = select_parts([Table.from_frame("t", f) for f in frames], sortby=["-n"])
    >>> sel.part.tolist(), sel.rows.tolist()
    ([0, 1, 0, 1], [0, 0, 1, 1])
    """
    parts = tuple(parts)
    if not parts:
        return Selection(parts, np.empty(0, np.int64), np.empty(0, np.int64))
    found = [select(p, bbox=bbox, equals=equals, where=where, area=area) for p in parts]
    which = np.concatenate([np.full(len(rows), i, dtype=np.int64) for i, rows in enumerate(found)])
    rows = np.concatenate(found) if found else np.empty(0, np.int64)
    if not sortby:
        return Selection(parts, which, rows)
    if len(parts) == 1:
        return Selection(parts, which, sort_rows(parts[0], rows, sortby))
    keys = {spec[1:] if spec[:1] in "+-" else spec for spec in sortby}
    check_sortby(parts[0], sortby)
    columns = {k: np.concatenate([p.columns[k][r] for p, r in zip(parts, found, strict=True)]) for k in keys}
    nulls = {
        k: np.concatenate(
            [
                p.nulls[k][r] if k in p.nulls else np.zeros(len(r), bool)
                for p, r in zip(parts, found, strict=True)
            ]
        )
        for k in keys
        if any(k in p.nulls for p in parts)
    }
    stacked = Table("stacked", None, np.arange(len(rows)).astype(str), columns, nulls,
                    {k: parts[0].kinds[k] for k in keys})  # fmt: skip
    order = sort_rows(stacked, np.arange(len(rows)), sortby)
    return Selection(parts, which[order], rows[order])


def page(rows: np.ndarray, offset: int, limit: int) -> np.ndarray:
    """The slice of ``rows`` for one page."""
    if offset < 0 or limit < 0:
        raise InvalidQuery(f"offset and limit must be >= 0, got offset={offset}, limit={limit}")
    return rows[offset : offset + limit]
