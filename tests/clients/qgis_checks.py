"""Checks run by QGIS itself: ``/usr/bin/python3 qgis_checks.py CHECK ARGS...`` (QT_QPA_PLATFORM=offscreen).

Run by tests/clients/test_qgis.py under the system Python, where Debian's python3-qgis lives.
Prints one JSON object on stdout; exits 0 when every check passed, 1 otherwise.

Checks:
- ``gpkg PATH EXPECTED_JSON``: each layer opens valid with the expected feature count, and its
  default style from ``layer_styles`` gives the expected renderer (type and attribute).
- ``oapif LANDING_URL COLLECTION COUNT``: the collection opens through QGIS's OGC API - Features
  provider with the expected number of features.
- ``tiles TILE_URL_TEMPLATE MINX MINY MAXX MAXY``: a vector tile layer of that URL renders the
  lon/lat box to an image with enough non-background pixels.
- ``oapif_render LANDING_URL COLLECTION PNG URI_EXTRA [MINX MINY MAXX MAXY]``: the collection through
  the OAPIF provider with only ``URI_EXTRA`` added to its data source (e.g.
  ``restrictToRequestBBOX='1'``), rendered over the lon/lat box (default: the layer's extent) to
  ``PNG``; reports the share of pixels drawn.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFillSymbol,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileBasicRenderer,
    QgsVectorTileBasicRendererStyle,
    QgsVectorTileLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def check_gpkg(path: str, expected: dict[str, Any]) -> dict[str, Any]:
    """Open every expected layer of the GeoPackage; report validity, counts and renderer."""
    out: dict[str, Any] = {}
    for name, want in expected.items():
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        renderer = layer.renderer() if layer.isValid() else None
        attr, classes = "", 0
        if renderer is not None and hasattr(renderer, "classAttribute"):
            attr = renderer.classAttribute()
            classes = len(renderer.ranges() if hasattr(renderer, "ranges") else renderer.categories())
        got = {
            "valid": layer.isValid(),
            "features": layer.featureCount(),
            "geometry": QgsWkbTypes.displayString(layer.wkbType()),
            "renderer": renderer.type() if renderer is not None else None,
            "attr": attr,
            "classes": classes,
        }
        got["ok"] = (
            got["valid"]
            and got["features"] == want["features"]
            and (want.get("renderer") is None or got["renderer"] == want["renderer"])
            and (want.get("attr") is None or got["attr"] == want["attr"])
            and (want.get("geometry") is None or got["geometry"] == want["geometry"])
            and (want.get("classes") is None or got["classes"] == want["classes"])
        )
        out[name] = got
    return out


def check_oapif(landing: str, collection: str, count: int) -> dict[str, Any]:
    """Open a collection through the OAPIF provider and count its features."""
    uri = f"url='{landing}' typename='{collection}' pagingEnabled='true'"
    layer = QgsVectorLayer(uri, collection, "OAPIF")
    n = sum(1 for _ in layer.getFeatures()) if layer.isValid() else -1
    return {collection: {"valid": layer.isValid(), "features": n, "ok": layer.isValid() and n == count}}


def check_tiles(template: str, bbox: list[float]) -> dict[str, Any]:
    """Render vector tiles of the bbox (lon/lat) into a 512x512 image; count drawn pixels."""
    layer = QgsVectorTileLayer(f"type=xyz&url={template}&zmin=0&zmax=14", "tiles")
    symbol = QgsFillSymbol.createSimple({"color": "200,30,30,255", "outline_style": "no"})
    style = QgsVectorTileBasicRendererStyle("all polygons", "", QgsWkbTypes.PolygonGeometry)
    style.setSymbol(symbol)
    renderer = QgsVectorTileBasicRenderer()
    renderer.setStyles([style])
    layer.setRenderer(renderer)
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    to_mercator = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), mercator, QgsProject.instance()
    )
    extent = to_mercator.transformBoundingBox(QgsRectangle(*bbox))
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(mercator)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(512, 512))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    white = QColor(255, 255, 255).rgb()
    drawn = sum(1 for x in range(0, 512, 2) for y in range(0, 512, 2) if image.pixel(x, y) != white)
    share = drawn / (256 * 256)
    return {"tiles": {"valid": layer.isValid(), "drawn_share": share, "ok": layer.isValid() and share > 0.05,
                      "errors": [e.message for e in job.errors()]}}  # fmt: skip


def check_oapif_render(
    landing: str, collection: str, png: str, extra: str, bbox: list[float] | None = None
) -> dict[str, Any]:
    """Render an OAPIF layer as QGIS opens it by default (plus ``extra`` URI settings) to a PNG."""
    uri = f"url='{landing}' typename='{collection}' {extra}".strip()
    layer = QgsVectorLayer(uri, collection, "OAPIF")
    if not layer.isValid():
        return {collection: {"valid": False, "ok": False}}
    symbol = QgsFillSymbol.createSimple(
        {"color": "217,72,15,110", "outline_color": "124,45,18,255", "outline_width": "0.2"}
    )
    layer.renderer().setSymbol(symbol)
    extent = QgsRectangle(*bbox) if bbox else layer.extent()
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(extent if bbox else extent.buffered(extent.width() * 0.03))
    settings.setOutputSize(QSize(640, 480))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(png, "PNG")
    white = QColor(255, 255, 255).rgb()
    drawn = sum(1 for x in range(0, 640, 4) for y in range(0, 480, 4) if image.pixel(x, y) != white)
    share = drawn / (160 * 120)
    return {collection: {"valid": True, "drawn_share": share,
                         "ok": share > 0.05, "errors": [e.message for e in job.errors()]}}  # fmt: skip


def main(argv: list[str]) -> int:
    """Run one check named by argv[1] and print its JSON result."""
    app = QgsApplication([], False)
    app.initQgis()
    try:
        check = argv[1]
        if check == "gpkg":
            result = check_gpkg(argv[2], json.loads(argv[3]))
        elif check == "oapif":
            result = check_oapif(argv[2], argv[3], int(argv[4]))
        elif check == "oapif_render":
            bbox = [float(v) for v in argv[6:10]] if len(argv) > 9 else None
            result = check_oapif_render(argv[2], argv[3], argv[4], argv[5] if len(argv) > 5 else "", bbox)
        elif check == "tiles":
            result = check_tiles(argv[2], [float(v) for v in argv[3:7]])
        else:
            raise SystemExit(f"unknown check {check!r}")
    finally:
        app.exitQgis()
    print(json.dumps({"qgis": Qgis.QGIS_VERSION, "results": result}))  # noqa: T201 (the result channel)
    return 0 if all(r["ok"] for r in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
