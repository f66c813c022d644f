"""A QGIS project (``.qgz``) of a store: every layer of the styled GeoPackage, the years on QGIS's
temporal controller and a print layout (title, map, legend, scale bar, north arrow, source note).

The project is QGIS 3.22's XML (what *Project → Save* writes, trimmed to what QGIS needs), written
from the same QML styles the GeoPackage carries (`layers.maps.qml`), so the map opens as the
GeoPackage does, with field aliases, labels and temporal settings. Its layers read either the
GeoPackage beside it (``./sasaran.gpkg``, `write_qgis_project`) or the service's download over HTTP
(``/vsicurl/https://.../exports/sasaran.gpkg``, `qgis_project_bytes`): GDAL reads a GeoPackage by
HTTP range requests, so nothing needs unpacking.
"""

from __future__ import annotations

import io
import math
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from pyproj import CRS, Transformer

from layers.atomic import atomic_path
from layers.export.store_layers import BY_YEAR, by_year_layers, export_all_gpkg, layer_description
from layers.maps.qml import QGIS_VERSION, style_for
from layers.schema import LAYERS
from layers.store import LayerStore

#: The project's CRS: Web Mercator, as the tiles and basemaps (scale near the equator ~1).
PROJECT_EPSG = 3857
#: A4 landscape, millimetres.
PAGE_MM = (297.0, 210.0)
#: Layers drawn from top to bottom (those the store holds), and those shown when it opens.
ORDER = ("schools", "health_facilities", "facilities", "roads", "rivers", "kabupaten", "kecamatan",
         "villages", "hexagons")  # fmt: skip
SHOWN = frozenset({"kabupaten", "kecamatan", "villages", "roads", "rivers", "health_facilities"})
#: Layout item types (QgsLayoutItemRegistry: QGraphicsItem::UserType + 100 + n).
PAGE, MAP, PICTURE, LABEL, LEGEND, SCALEBAR = 65638, 65639, 65640, 65641, 65642, 65646
NORTH_ARROW = ":/images/north_arrows/layout_default_north_arrow.svg"


@dataclass(frozen=True)
class _Layer:
    name: str
    """Layer in the GeoPackage."""
    title: str
    shown: bool
    geometry: str
    """QGIS's geometry family: Point, Line or Polygon."""
    wkb: str


def write_qgis_project(store: LayerStore, path: str | Path, gpkg: Path | None = None) -> Path:
    """Write ``path`` (``.qgz``) and, beside it, the styled GeoPackage its layers read.

    Parameters
    ----------
    store
        An open layer store.
    path
        The project file (``.qgz``); replaced atomically.
    gpkg
        An existing all-layers GeoPackage of this store to refer to (default: write
        ``<path stem>.gpkg`` beside the project).

    Returns
    -------
    Path
        The project file.

    Examples
    --------
    >>> write_qgis_project(store, tmp_path / "sasaran.qgz").name
    'sasaran.qgz'
    """
    path = Path(path)
    if gpkg is None:
        gpkg = export_all_gpkg(store, path.with_suffix(".gpkg"))
    with atomic_path(path) as tmp:
        tmp.write_bytes(qgis_project_bytes(store, f"./{gpkg.name}", path.stem))
    return path


def qgis_project_bytes(store: LayerStore, source: str, stem: str = "sasaran") -> bytes:
    """The ``.qgz`` archive of a project whose layers read the GeoPackage at ``source`` (a path
    relative to the project, or ``/vsicurl/<url>`` of the service's ``sasaran.gpkg``)."""
    qgs = ET.tostring(project_xml(store, source), encoding="unicode")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}.qgs", "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + qgs)
    return buffer.getvalue()


def _layers(store: LayerStore) -> tuple[list[_Layer], list[_Layer]]:
    """The map's layers (top first) and the layers of every year."""
    wkb = {"Point": ("Point", "Point"), "LineString": ("Line", "LineString"),
           "Polygon": ("Polygon", "Polygon"),
           "MultiPolygon": ("Polygon", "MultiPolygon")}  # fmt: skip
    main = []
    for name in ORDER:
        if name in store.names and LAYERS[name].geometry:
            family, kind = wkb[LAYERS[name].geometry or "Polygon"]
            if name in ("roads", "rivers"):
                kind = _line_kind(store, name)
            main.append(_Layer(name, LAYERS[name].description.id.split(":")[0], name in SHOWN, family, kind))
    yearly = []
    for name in by_year_layers(store):
        title = f"{LAYERS[name].description.id.split(':')[0]} per tahun / by year"
        yearly.append(_Layer(f"{name}{BY_YEAR}", title, False, "Polygon", "MultiPolygon"))
    return main, yearly


def _line_kind(store: LayerStore, name: str) -> str:
    types = set(store.layer(name).geometry.geom_type.dropna())
    return "MultiLineString" if any(t.startswith("Multi") for t in types) else "LineString"


def project_xml(store: LayerStore, source: str) -> ET.Element:
    """The project document (``<qgis>``)."""
    main, yearly = _layers(store)
    title = f"Sasaran: {store.manifest.get('name', 'provinsi')}"
    root = ET.Element("qgis", version=QGIS_VERSION, projectname=title)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = title
    ET.SubElement(root, "projectCrs").append(_srs(PROJECT_EPSG))
    tree = ET.SubElement(root, "layer-tree-group")
    for layer in main:
        _tree_layer(tree, layer, source)
    if yearly:
        group = ET.SubElement(tree, "layer-tree-group", name="Per tahun / By year", checked="Qt::Unchecked",
                              expanded="1")  # fmt: skip
        for layer in yearly:
            _tree_layer(group, layer, source)
    extent = _extent(store)
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    ET.SubElement(canvas, "units").text = "meters"
    canvas.append(_rect("extent", extent))
    ET.SubElement(canvas, "rotation").text = "0"
    ET.SubElement(canvas, "destinationsrs").append(_srs(PROJECT_EPSG))
    layers = ET.SubElement(root, "projectlayers")
    for layer in [*main, *yearly]:
        layers.append(_map_layer(store, layer, source))
    order = ET.SubElement(root, "layerorder")
    for layer in [*main, *yearly]:
        ET.SubElement(order, "layer", id=_id(layer))
    root.append(_properties())
    years = store.years
    if years:
        time = ET.SubElement(root, "ProjectTimeSettings", timeStepUnit="y", timeStep="1", frameRate="1",
                             cumulativeTemporalRange="0")  # fmt: skip
        span = ET.SubElement(time, "TemporalRange")
        ET.SubElement(span, "start").text = f"{min(years)}-01-01T00:00:00Z"
        ET.SubElement(span, "end").text = f"{max(years) + 1}-01-01T00:00:00Z"
    layouts = ET.SubElement(root, "Layouts")
    layouts.append(_layout(store, extent))
    ET.indent(root, space=" ")
    return root


def _id(layer: _Layer) -> str:
    return f"sasaran_{layer.name}"


def _tree_layer(parent: ET.Element, layer: _Layer, source: str) -> None:
    ET.SubElement(
        parent, "layer-tree-layer", id=_id(layer), name=layer.title, providerKey="ogr",
        source=f"{source}|layername={layer.name}", checked="Qt::Checked" if layer.shown else "Qt::Unchecked",
        expanded="1" if layer.shown else "0", legend_exp="",
    )  # fmt: skip


def _map_layer(store: LayerStore, layer: _Layer, source: str) -> ET.Element:
    """A ``<maplayer>``: its source, CRS, description and the elements of its QML style."""
    base = layer.name.removesuffix(BY_YEAR)
    by_year = layer.name.endswith(BY_YEAR)
    values = store.layer(base)
    qml = style_for(base, store.facility_kinds, values=values, temporal=by_year, stacked=not by_year)
    style = ET.fromstring(qml.split("\n", 1)[1]) if qml else ET.Element("qgis")
    element = ET.Element(
        "maplayer", type="vector", geometry=layer.geometry, wkbType=layer.wkb,
        labelsEnabled=style.get("labelsEnabled", "0"), styleCategories="AllStyleCategories",
        hasScaleBasedVisibilityFlag="0", minScale="0", maxScale="0", readOnly="0",
    )  # fmt: skip
    ET.SubElement(element, "id").text = _id(layer)
    ET.SubElement(element, "datasource").text = f"{source}|layername={layer.name}"
    ET.SubElement(element, "layername").text = layer.title
    ET.SubElement(element, "srs").append(_srs(4326))
    metadata = ET.SubElement(element, "resourceMetadata")
    ET.SubElement(metadata, "type").text = "dataset"
    ET.SubElement(metadata, "title").text = layer.title
    ET.SubElement(metadata, "abstract").text = layer_description(store, layer.name)
    ET.SubElement(element, "provider", encoding="UTF-8").text = "ogr"
    for child in style:
        if child.tag != "layerGeometryType":
            element.append(child)
    return element


def _srs(epsg: int) -> ET.Element:
    crs = CRS.from_epsg(epsg)
    srs = ET.Element("spatialrefsys")
    ET.SubElement(srs, "wkt").text = crs.to_wkt()
    ET.SubElement(srs, "srid").text = str(epsg)
    ET.SubElement(srs, "authid").text = f"EPSG:{epsg}"
    ET.SubElement(srs, "description").text = crs.name
    ET.SubElement(srs, "geographicflag").text = "true" if crs.is_geographic else "false"
    return srs


def _extent(store: LayerStore) -> tuple[float, float, float, float]:
    """The province's extent in the project CRS, with a margin of 4 %."""
    frame: gpd.GeoDataFrame = store.layer("kabupaten" if "kabupaten" in store.names else "villages")
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    to = Transformer.from_crs("OGC:CRS84", f"EPSG:{PROJECT_EPSG}", always_xy=True)
    (x0, x1), (y0, y1) = to.transform([minx, maxx], [miny, maxy])
    dx, dy = (x1 - x0) * 0.04, (y1 - y0) * 0.04
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def _rect(tag: str, extent: Sequence[float]) -> ET.Element:
    rect = ET.Element(tag)
    for name, value in zip(("xmin", "ymin", "xmax", "ymax"), extent, strict=True):
        ET.SubElement(rect, name).text = repr(float(value))
    return rect


def _properties() -> ET.Element:
    properties = ET.Element("properties")
    # QGIS reads the project's CRS (projectCrs) only when this says projections are on.
    srs = ET.SubElement(properties, "SpatialRefSys")
    ET.SubElement(srs, "ProjectionsEnabled", type="int").text = "1"
    paths = ET.SubElement(properties, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    measure = ET.SubElement(properties, "Measure")
    ET.SubElement(measure, "Ellipsoid", type="QString").text = "EPSG:7030"
    units = ET.SubElement(properties, "Measurement")
    ET.SubElement(units, "DistanceUnits", type="QString").text = "km"
    return properties


# ------------------------------------------------------------------------------------------------
# The print layout
# ------------------------------------------------------------------------------------------------


def _item(
    kind: int, position: tuple[float, float], size: tuple[float, float], z: int, **attributes: str
) -> ET.Element:
    item_id = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"sasaran/{kind}/{z}")) + "}"
    defaults = {
        "type": str(kind), "uuid": item_id, "templateUuid": item_id,
        "position": f"{position[0]:g},{position[1]:g},mm",
        "positionOnPage": f"{position[0]:g},{position[1]:g},mm",
        "size": f"{size[0]:g},{size[1]:g},mm", "zValue": str(z), "referencePoint": "0", "visibility": "1",
        "frame": "false", "background": "false", "opacity": "1", "itemRotation": "0", "positionLock": "false",
        "excludeFromExports": "0", "blendMode": "0", "outlineWidthM": "0.3,mm", "frameJoinStyle": "miter",
        "groupUuid": "",
    }  # fmt: skip
    item = ET.Element("LayoutItem", defaults | attributes)
    ET.SubElement(item, "FrameColor", red="60", green="60", blue="60", alpha="255")
    ET.SubElement(item, "BackgroundColor", red="255", green="255", blue="255", alpha="255")
    return item


def _label(
    text: str, position: tuple[float, float], size: tuple[float, float], z: int, font: str
) -> ET.Element:
    label = _item(LABEL, position, size, z, labelText=text, htmlState="0", halign="1", valign="32",
                  marginX="0", marginY="0")  # fmt: skip
    ET.SubElement(label, "LabelFont", description=font, style="")
    ET.SubElement(label, "FontColor", red="30", green="30", blue="30", alpha="255")
    return label


def _layout(store: LayerStore, extent: Sequence[float]) -> ET.Element:
    """An A4 landscape layout: title, map, legend, scale bar, north arrow and a source note."""
    width, height = PAGE_MM
    layout = ET.Element("Layout", name="Peta Sasaran", units="mm", printResolution="300", worldFileMap="")
    pages = ET.SubElement(layout, "PageCollection")
    pages.append(_item(PAGE, (0, 0), PAGE_MM, 0, background="true"))
    ET.SubElement(pages, "GuideCollection", visible="1")
    name = str(store.manifest.get("name", "Provinsi"))
    year = store.manifest.get("default_year") or (max(store.years) if store.years else "")
    if store.synthetic and "synth" not in name.lower():
        name += " (DATA SINTETIS / SYNTHETIC DATA)"
    layout.append(_label(name, (10, 6), (width - 20, 10), 10, "DejaVu Sans,18,-1,5,75,0,0,0,0,0"))
    subtitle = (
        f"Indeks kemiskinan multidimensi M0 per desa, {year} / Multidimensional poverty M0 by village, {year}"
    )
    layout.append(_label(subtitle, (10, 15), (width - 20, 6), 11, "DejaVu Sans,11,-1,5,50,0,0,0,0,0"))
    map_position, map_size = (10.0, 23.0), (172.0, 160.0)
    map_item = _item(MAP, map_position, map_size, 1, frame="true", background="true", keepLayerSet="false",
                     drawCanvasItems="true", mapRotation="0", labelMargin="0,mm", mapFlags="1",
                     followPreset="false", followPresetName="", isTemporal="0")  # fmt: skip
    shown = _fit(extent, map_size)
    map_item.append(shown)
    ET.SubElement(map_item, "LayerSet")
    ET.SubElement(map_item, "crs").append(_srs(PROJECT_EPSG))
    layout.append(map_item)
    map_uuid = map_item.get("uuid", "")
    layout.append(_item(PICTURE, (map_position[0] + map_size[0] - 16, map_position[1] + 4), (12, 18), 4,
                        file=NORTH_ARROW, mapUuid=map_uuid, northMode="0", northOffset="0", mode="2",
                        resizeMode="0", anchorPoint="0", pictureRotation="0", pictureWidth="12",
                        pictureHeight="15", svgFillColor="255,255,255,255", svgBorderColor="0,0,0,255",
                        svgBorderWidth="0.2"))  # fmt: skip
    layout.append(_scalebar(map_uuid, (map_position[0], map_position[1] + map_size[1] + 2), shown, map_size))
    legend_at = (map_position[0] + map_size[0] + 5, map_position[1])
    legend = _item(LEGEND, legend_at, (width - 197, map_size[1]), 2,
                   title="Legenda / Legend", map_uuid=map_uuid, legendFilterByMap="1", resizeToContents="1",
                   columnCount="1", splitLayer="0", equalColumnWidth="0", symbolWidth="5", symbolHeight="3.5",
                   wmsLegendWidth="50", wmsLegendHeight="25", wrapChar="", fontColor="#1e1e1e",
                   legendFilterByAtlas="0", titleAlignment="1")  # fmt: skip
    styles = ET.SubElement(legend, "styles")
    for style, size, weight, below in (("title", 11, 75, 3), ("group", 8, 75, 1.5), ("subgroup", 7.5, 75, 1),
                                       ("symbol", 7, 50, 0.8), ("symbolLabel", 6.5, 50, 0.8)):  # fmt: skip
        element = ET.SubElement(styles, "style", name=style, marginTop="1.2" if style != "title" else "0",
                                marginBottom=str(below), marginLeft="0")  # fmt: skip
        ET.SubElement(
            element, "styleFont", description=f"DejaVu Sans,{size},-1,5,{weight},0,0,0,0,0", style=""
        )
    layout.append(legend)
    build = store.manifest.get("build_id", store.manifest.get("created", ""))
    note = (
        f"Sumber / Source: Sasaran, build {build}. Kelas M0 tetap / fixed M0 classes (docs/method.md, "
        "Map classes). Proyeksi / projection: EPSG:3857."
    )
    layout.append(_label(note, (10, height - 7), (width - 20, 5), 12, "DejaVu Sans,7,-1,5,50,0,0,0,0,0"))
    return layout


def _scalebar(
    map_uuid: str, position: tuple[float, float], shown: ET.Element, map_size: tuple[float, float]
) -> ET.Element:
    """A kilometre scale bar of four round segments about 15 mm long at the map's scale."""
    metres_per_mm = (float(shown.get("xmax", 0)) - float(shown.get("xmin", 0))) / map_size[0]
    target_km = metres_per_mm * 15 / 1000
    magnitude = 10 ** math.floor(math.log10(target_km))
    segment_km = min((m * magnitude for m in (1, 2, 2.5, 5, 10)), key=lambda v: abs(v - target_km))
    segment_mm = segment_km * 1000 / metres_per_mm
    return _item(SCALEBAR, position, (4 * segment_mm + 12, 10), 3,
                 mapUuid=map_uuid, style="Single Box", unitType="km", unitLabel="km", numSegments="4",
                 numSegmentsLeft="0", numSubdivisions="1", numUnitsPerSegment=f"{segment_km:g}",
                 numMapUnitsPerScaleBarUnit="1", segmentSizeMode="0", segmentMillimeters=f"{segment_mm:.4f}",
                 minBarWidth="50", maxBarWidth="150", height="2.5", boxContentSpace="1", labelBarSpace="2",
                 alignment="0", outlineWidth="0.3", lineJoinStyle="miter", lineCapStyle="square",
                 labelVerticalPlacement="0", labelHorizontalPlacement="0",
                 subdivisionsHeight="1.5")  # fmt: skip


def _fit(extent: Sequence[float], size: tuple[float, float]) -> ET.Element:
    """The extent grown to the map item's aspect ratio (a map item shows exactly its extent)."""
    x0, y0, x1, y1 = extent
    ratio = size[0] / size[1]
    w, h = x1 - x0, y1 - y0
    if w / h < ratio:
        grow = (h * ratio - w) / 2
        x0, x1 = x0 - grow, x1 + grow
    else:
        grow = (w / ratio - h) / 2
        y0, y1 = y0 - grow, y1 + grow
    return ET.Element("Extent", xmin=repr(x0), ymin=repr(y0), xmax=repr(x1), ymax=repr(y1))
