"""The administrative hierarchy: villages → kecamatan → kabupaten, as positions and dissolved shapes.

Every unit is addressed by its position in a sorted code table, so aggregation is one
``np.bincount`` per level and never a join.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import SourceError
from layers.types import IntArray


@dataclass(frozen=True)
class Hierarchy:
    """Positions linking the levels; ``villages`` keeps the source order of `read_villages`."""

    villages: gpd.GeoDataFrame
    kecamatan: pd.DataFrame  # kecamatan_code, kecamatan_name, kabupaten_code, kabupaten_name
    kabupaten: pd.DataFrame  # kabupaten_code, kabupaten_name
    village_kec: IntArray  # village position -> kecamatan position
    kec_kab: IntArray  # kecamatan position -> kabupaten position

    @property
    def village_kab(self) -> IntArray:
        """Village position → kabupaten position."""
        return self.kec_kab[self.village_kec]


def hierarchy(villages: gpd.GeoDataFrame, file: str = "villages") -> Hierarchy:
    """Derive kecamatan and kabupaten tables from the village table, checking they nest.

    A kecamatan code that appears under two kabupaten codes is a source error (the file's codes
    are inconsistent), reported with the first offending feature.
    """
    kec = villages[["kecamatan_code", "kecamatan_name", "kabupaten_code", "kabupaten_name"]]
    pairs = kec.drop_duplicates(["kecamatan_code", "kabupaten_code"])
    split = pairs["kecamatan_code"].duplicated(keep=False).to_numpy()
    if split.any():
        code = pairs["kecamatan_code"].to_numpy()[split][0]
        at = int(np.flatnonzero((villages["kecamatan_code"] == code).to_numpy())[-1])
        raise SourceError(
            file, f"feature {at}", "kecamatan_code", f"kecamatan '{code}' lies in more than one kabupaten"
        )
    kecamatan = (
        kec.drop_duplicates("kecamatan_code")
        .sort_values("kecamatan_code", kind="stable")
        .reset_index(drop=True)
    )
    kabupaten = (
        kecamatan[["kabupaten_code", "kabupaten_name"]]
        .drop_duplicates("kabupaten_code")
        .sort_values("kabupaten_code", kind="stable")
        .reset_index(drop=True)
    )
    village_kec = np.searchsorted(
        kecamatan["kecamatan_code"].to_numpy(), villages["kecamatan_code"].to_numpy()
    )
    kec_kab = np.searchsorted(kabupaten["kabupaten_code"].to_numpy(), kecamatan["kabupaten_code"].to_numpy())
    return Hierarchy(villages, kecamatan, kabupaten, village_kec.astype(np.int64), kec_kab.astype(np.int64))


def dissolve(geoms: np.ndarray, groups: IntArray, n_groups: int) -> np.ndarray:
    """Union of polygons per group, as MultiPolygons.

    Villages tile the province without overlaps, so the fast coverage union applies; where a source
    has overlaps or gaps that it cannot handle, a full union is used for that group.
    """
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(n_groups + 1))
    out = np.empty(n_groups, dtype=object)
    # One union per area (a loop over ~150 areas, not over cells or villages).
    for g in range(n_groups):
        out[g] = union_of(geoms[order[bounds[g] : bounds[g + 1]]])
    single = shapely.get_type_id(out) == 3
    out[single] = shapely.multipolygons(out[single, None]) if single.any() else out[single]
    return out


def union_of(polygons: np.ndarray) -> shapely.Geometry:
    """Union of polygons that should tile an area: the fast coverage union, or a full union where the
    source's edges do not match exactly (real boundary files often have slivers and overlaps)."""
    try:
        merged = shapely.coverage_union_all(polygons)
        if shapely.is_valid(merged):
            return merged
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(shapely.make_valid(polygons))
