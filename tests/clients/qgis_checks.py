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
- ``styled_tiles TILE_URL_TEMPLATE STYLE_JSON_URL QML_URL MINX MINY MAXX MAXY OUT_DIR``: the tiles
  render with the served MapLibre style (the layer's ``styleUrl``, as QGIS's "Vector Tiles"
  connection sets it) and with the served QML; each image (written to OUT_DIR) shows at least 4
  distinct data colours.
- ``temporal PATH LAYER YEARS_JSON ROWS_PER_YEAR``: the layer opens with its default style's temporal
  properties active (start and end from ``date``/``date_end``), and the temporal filter of each
  year selects that year's rows only.
- ``oapif_years LANDING_URL COLLECTION YEAR ROWS``: the collection through the OAPIF provider with the
  subset ``"date" = 'YEAR-01-01'`` (QGIS 3.22 sends it as ``datetime=``) and with ``?year=YEAR`` in
  the connection URL: each gives ROWS features, all of that year.
- ``project QGZ PNG EXPECTED_JSON``: the project opens with every layer valid (EXPECTED_JSON: layer
  name → features), temporal settings on the layers of every year and the project's time range, and
  its print layout (title, map, legend, scale bar, north arrow) renders to PNG.
- ``linked_styles LANDING_URL COLLECTION OUT_DIR``: the collection over OAPIF, styled from the
  stylesheet links of its collection document: the QML (renderer, field aliases) and the SLD (rules),
  each rendered to a PNG with its colours counted.
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
    QgsDateTimeRange,
    QgsFeatureRequest,
    QgsFillSymbol,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorLayerTemporalContext,
    QgsVectorLayerTemporalProperties,
    QgsVectorTileBasicRenderer,
    QgsVectorTileBasicRendererStyle,
    QgsVectorTileLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QSize, Qt, QTime
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


def _render(layer: QgsVectorTileLayer, bbox: list[float], path: str) -> dict[str, Any]:
    """Render the lon/lat box to a 512x512 PNG; count the distinct colours drawn (not white)."""
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    to_mercator = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), mercator, QgsProject.instance()
    )
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(mercator)
    settings.setExtent(to_mercator.transformBoundingBox(QgsRectangle(*bbox)))
    settings.setOutputSize(QSize(512, 512))
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setFlag(QgsMapSettings.Antialiasing, False)  # edges would add blended colours
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(path, "PNG")
    counts: dict[int, int] = {}
    for x in range(0, 512, 2):
        for y in range(0, 512, 2):
            rgb = image.pixel(x, y)
            counts[rgb] = counts.get(rgb, 0) + 1
    white = QColor(255, 255, 255).rgb()
    # A data colour covers at least 0.1 % of the sampled pixels (not an outline or a seam).
    colours = sorted((QColor(rgb).name() for rgb, n in counts.items() if rgb != white and n >= 66), key=str)
    return {"colours": colours, "errors": [e.message for e in job.errors()], "image": path}


def check_styled_tiles(
    template: str, style_url: str, qml_url: str, bbox: list[float], out: str
) -> dict[str, Any]:
    """Render the tiles with the served MapLibre style and with the served QML."""
    results: dict[str, Any] = {}
    uri = f"type=xyz&url={template}&zmin=0&zmax=14&styleUrl={style_url}"
    layer = QgsVectorTileLayer(uri, "styled tiles")
    message, loaded = layer.loadDefaultStyle()
    styles = [s.styleName() for s in layer.renderer().styles()] if layer.renderer() else []
    got = _render(layer, bbox, f"{out}/tiles_style_json.png")
    results["style_json"] = got | {
        "valid": layer.isValid(),
        "loaded": loaded,
        "message": message,
        "styles": styles,
        "ok": layer.isValid() and loaded and len(got["colours"]) >= 4,
    }
    with_qml = QgsVectorTileLayer(f"type=xyz&url={template}&zmin=0&zmax=14", "qml tiles")
    import urllib.request

    qml_path = f"{out}/hexagons.qml"
    with urllib.request.urlopen(qml_url) as answer, open(qml_path, "wb") as f:  # noqa: S310 (loopback)
        f.write(answer.read())
    message, loaded = with_qml.loadNamedStyle(qml_path)
    got = _render(with_qml, bbox, f"{out}/tiles_style_qml.png")
    results["style_qml"] = got | {
        "valid": with_qml.isValid(),
        "loaded": loaded,
        "message": message,
        "ok": with_qml.isValid() and loaded and len(got["colours"]) >= 4,
    }
    return results  # fmt: skip


def check_temporal(path: str, name: str, years: list[int], rows_per_year: int) -> dict[str, Any]:
    """Open a layer of every year; its temporal properties and per-year filters."""
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    # QGIS 3.22 applies the default style's symbology and labels when it opens a layer, then replaces
    # its temporal settings with a guess from the field names; loading the default style again (what
    # Layer Properties > Style > Default does) applies them. The README says so.
    on_open = layer.temporalProperties().isActive()
    message, loaded = layer.loadDefaultStyle()
    props = layer.temporalProperties()
    mode = props.mode() == QgsVectorLayerTemporalProperties.ModeFeatureDateTimeStartAndEndFromFields
    context = QgsVectorLayerTemporalContext()
    context.setLayer(layer)
    per_year = {}
    for year in years:
        start = QDateTime(QDate(year, 1, 1), QTime(0, 0), Qt.UTC)
        end = QDateTime(QDate(year + 1, 1, 1), QTime(0, 0), Qt.UTC)
        expression = props.createFilterString(context, QgsDateTimeRange(start, end, True, False))
        request = QgsFeatureRequest().setFilterExpression(expression)
        found = [f["year"] for f in layer.getFeatures(request)]
        per_year[str(year)] = {"features": len(found), "years": sorted(set(found)), "filter": expression}
    ok = (
        layer.isValid() and props.isActive() and mode and props.startField() == "date"
        and props.endField() == "date_end" and layer.featureCount() == rows_per_year * len(years)
        and all(v["features"] == rows_per_year and v["years"] == [int(y)] for y, v in per_year.items())
    )  # fmt: skip
    return {
        name: {
            "valid": layer.isValid(), "active_on_open": on_open, "default_style": [message, loaded],
            "active": props.isActive(), "mode_start_end_fields": mode,
            "start": props.startField(), "end": props.endField(), "features": layer.featureCount(),
            "per_year": per_year, "labels": layer.labelsEnabled(), "renderer": layer.renderer().type(),
            "ok": ok,
        }
    }  # fmt: skip


def check_oapif_years(landing: str, collection: str, year: int, rows: int) -> dict[str, Any]:
    """A year through the OAPIF provider: a subset on the date field, and the year in the URL."""
    out: dict[str, Any] = {}
    subset = QgsVectorLayer(f"url='{landing}' typename='{collection}'", collection, "OAPIF")
    subset.setSubsetString(f"\"date\" = '{year}-01-01'")
    by_url = QgsVectorLayer(f"url='{landing}/?year={year}' typename='{collection}'", collection, "OAPIF")
    for name, layer in (("subset", subset), ("url", by_url)):
        years = [f["year"] for f in layer.getFeatures()] if layer.isValid() else []
        out[name] = {"valid": layer.isValid(), "features": len(years), "years": sorted(set(years)),
                     "ok": layer.isValid() and len(years) == rows and set(years) == {year}}  # fmt: skip
    return out


def check_project(path: str, png: str, expected: dict[str, int]) -> dict[str, Any]:
    """Open a .qgz, check its layers and temporal settings, render its layout to PNG."""
    from qgis.core import QgsLayoutExporter, QgsLayoutItemLegend, QgsLayoutItemMap, QgsLayoutItemScaleBar

    project = QgsProject.instance()
    read = project.read(path)
    layers = {
        layer.dataProvider().uri().uri().split("layername=")[-1].strip("' "): layer
        for layer in project.mapLayers().values()
    }
    counts = {name: layer.featureCount() for name, layer in layers.items() if layer.isValid()}
    temporal = {name: layer.temporalProperties().isActive() for name, layer in layers.items()}
    aliases = {name: layer.attributeAlias(layer.fields().indexOf("M0")) for name, layer in layers.items()
               if layer.fields().indexOf("M0") >= 0}  # fmt: skip
    time = project.timeSettings().temporalRange()
    layout = project.layoutManager().layouts()[0] if project.layoutManager().layouts() else None
    items = [type(i).__name__ for i in layout.items()] if layout else []
    labels = [i.text() for i in layout.items() if hasattr(i, "text") and callable(i.text)] if layout else []
    settings = QgsLayoutExporter.ImageExportSettings()
    result = QgsLayoutExporter(layout).exportToImage(png, settings) if layout else -1
    legend_rows = 0
    if layout:
        legend = next(i for i in layout.items() if isinstance(i, QgsLayoutItemLegend))
        legend_rows = legend.model().rowCount()
        scalebar = next(i for i in layout.items() if isinstance(i, QgsLayoutItemScaleBar))
        map_item = next(i for i in layout.items() if isinstance(i, QgsLayoutItemMap))
        scale = map_item.scale()
        units = scalebar.unitsPerSegment()
    else:
        scale = units = 0
    ok = (
        read and all(counts.get(n) == c for n, c in expected.items()) and layout is not None
        and result == QgsLayoutExporter.Success
        and all(v for n, v in temporal.items() if n.endswith("_by_year"))
        and time.begin().isValid() and legend_rows > 0
    )  # fmt: skip
    return {"project": {"read": read, "counts": counts, "temporal": temporal, "aliases": aliases,
                        "time": [time.begin().toString(Qt.ISODate), time.end().toString(Qt.ISODate)],
                        "items": items, "labels": labels, "export": result, "legend_rows": legend_rows,
                        "scale": scale, "units_per_segment": units, "crs": project.crs().authid(),
                        "ok": ok}}  # fmt: skip


def check_linked_styles(landing: str, collection: str, out: str) -> dict[str, Any]:
    """Style an OAPIF layer from its collection's stylesheet links (QML, then SLD); render both."""
    import urllib.request

    with urllib.request.urlopen(f"{landing}/collections/{collection}") as answer:  # noqa: S310 (loopback)
        links = json.loads(answer.read())["links"]
    # The features' styles (the tiles' styles are stylesheets too, for vector tile layers).
    sheets = {
        link["type"].split(";")[0]: link["href"]
        for link in links
        if link["rel"] == "stylesheet" and "/styles/" in link["href"]
    }
    results: dict[str, Any] = {}
    for kind, media in (("qml", "application/vnd.qgis.qml"), ("sld", "application/vnd.ogc.sld+xml")):
        layer = QgsVectorLayer(f"url='{landing}' typename='{collection}'", collection, "OAPIF")
        path = f"{out}/{collection}.{kind}"
        with urllib.request.urlopen(sheets[media]) as answer, open(path, "wb") as f:  # noqa: S310
            f.write(answer.read())
        message, loaded = layer.loadNamedStyle(path) if kind == "qml" else layer.loadSldStyle(path)
        renderer = layer.renderer()
        rules = len(renderer.rootRule().children()) if hasattr(renderer, "rootRule") else 0
        alias = (
            layer.attributeAlias(layer.fields().indexOf("M0")) if layer.fields().indexOf("M0") >= 0 else ""
        )
        extent = layer.extent()
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(layer.crs())
        settings.setExtent(extent)
        settings.setOutputSize(QSize(400, 400))
        settings.setBackgroundColor(QColor(255, 255, 255))
        settings.setFlag(QgsMapSettings.Antialiasing, False)
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage()
        image.save(f"{out}/{collection}-{kind}.png", "PNG")
        counts: dict[int, int] = {}
        for x in range(0, 400, 2):
            for y in range(0, 400, 2):
                counts[image.pixel(x, y)] = counts.get(image.pixel(x, y), 0) + 1
        colours = [rgb for rgb, n in counts.items() if n >= 40 and rgb != QColor(255, 255, 255).rgb()]
        ok = loaded and len(colours) >= 3
        results[kind] = {"loaded": loaded, "message": message, "renderer": renderer.type(), "rules": rules,
                         "alias": alias, "colours": len(colours), "ok": ok}  # fmt: skip
    return results


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
        elif check == "linked_styles":
            result = check_linked_styles(argv[2], argv[3], argv[4])
        elif check == "project":
            result = check_project(argv[2], argv[3], json.loads(argv[4]))
        elif check == "oapif_years":
            result = check_oapif_years(argv[2], argv[3], int(argv[4]), int(argv[5]))
        elif check == "tiles":
            result = check_tiles(argv[2], [float(v) for v in argv[3:7]])
        elif check == "styled_tiles":
            result = check_styled_tiles(argv[2], argv[3], argv[4], [float(v) for v in argv[5:9]], argv[9])
        elif check == "temporal":
            result = check_temporal(argv[2], argv[3], json.loads(argv[4]), int(argv[5]))
        else:
            raise SystemExit(f"unknown check {check!r}")
    finally:
        app.exitQgis()
    print(json.dumps({"qgis": Qgis.QGIS_VERSION, "results": result}))  # noqa: T201 (the result channel)
    return 0 if all(r["ok"] for r in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
