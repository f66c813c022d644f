"""The numbers the README's GIS sections give for the default demo (``sasaran demo``), computed from the
demo's own geography: its hexagon count (the build's grid stage on the demo villages) and the
requests GDAL 3.6 and QGIS 3.22 make to read every hexagon (their paging, docs in the README)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from layers.demo._province_geo import generate_geography
from layers.geo.grid import cells_for_villages
from service.ogc import NEXT_MIN_LIMIT

README = Path(__file__).resolve().parents[1] / "README.md"
#: What ``sasaran demo`` writes by default (layers.demo.province.write_demo) and builds at.
DEMO_VILLAGES, DEMO_SEED, RESOLUTION = 1500, 62, 8
#: GDAL 3.6 reads 10 features to learn the fields, then pages from 10 (its PAGE_SIZE) on.
GDAL_PAGE = 10


def _marked(name: str) -> list[str]:
    return re.findall(rf"<!-- readme:{name} -->(.*?)<!-- /readme -->", README.read_text())


def test_readme_gis_numbers_are_the_demos() -> None:
    geo = generate_geography(np.random.default_rng(DEMO_SEED), DEMO_VILLAGES)
    cells, _ = cells_for_villages(np.asarray(geo.villages_lonlat, dtype=object), RESOLUTION)
    hexagons = len(cells)
    assert set(_marked("hexagons")) == {f"{hexagons:,}"}
    # QGIS: a 10-feature probe, then pages of max(1000, default limit) from the start.
    assert _marked("qgis-requests") == [str(1 + math.ceil(hexagons / NEXT_MIN_LIMIT))]
    # GDAL 3.6: the probe, its first page of 10, then the next links' pages of 1,000.
    gdal = 2 + math.ceil((hexagons - GDAL_PAGE) / NEXT_MIN_LIMIT)
    assert _marked("gdal-requests") == [str(gdal)]
    assert "8,249" not in README.read_text()  # the old demo's count
