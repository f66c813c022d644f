"""Default QGIS styles (QML) for the store's layers, embedded in GeoPackage exports.

The XML follows what QGIS 3.22+ writes with *Export style* (``renderer-v2`` with ``ranges`` or
``categories`` and ``symbols``; symbol layer properties as an ``Option`` map; ``labeling``;
``temporal``), trimmed to the elements QGIS needs. Classes and colours come from `layers.maps.classes`,
the one classification the tile styles and the planner use too.

- Scores and M0 are graduated on the classes of `layers.maps.classes`; given the layer's values, only
  the classes some feature falls in are listed (a legend shows what the map shows).
- Facilities and roads are categorized on the values present.
- Areas carry labels (their name); kecamatan and kabupaten are outlines only when ``stacked``
  (every layer loaded at once), so they never hide the villages beneath.
- ``temporal``: the layer holds every year (``date``, ``date_end``) and QGIS's temporal
  controller shows one year per frame.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from layers.maps.classes import CLASSIFICATIONS, MIN_PEOPLE_SHOWN, Classification
from layers.maps.classes import M0 as M0_CLASSES
from layers.schema import BUILTIN_FACILITY_KINDS, LAYERS, FacilityKind, LayerSchema, field_for, level

#: QGIS version the XML is written for (the oldest QGIS supported: Debian 12's 3.22).
QGIS_VERSION = "3.22.0"


@dataclass(frozen=True)
class Marker:
    """A facility category: value of ``kind``, label, QGIS SimpleMarker shape, colour, size in mm."""

    value: str
    label: str
    shape: str
    color: str
    size: float = 2.6


#: Points of no facility kind (an unmapped school level or facility type).
OTHER_MARKER = Marker("", "Lainnya / other", "circle", "#999999", 1.8)


def facility_markers(kinds: Sequence[FacilityKind], layer: str) -> tuple[Marker, ...]:
    """The markers of a facility layer: one per kind written to it, then "other"."""
    own = [k for k in kinds if k.layer == layer]
    markers = [Marker(k.name, k.label.both(), k.marker, k.color, k.size_mm) for k in own]
    return (*markers, OTHER_MARKER)


FACILITY_MARKERS: tuple[Marker, ...] = (
    *facility_markers(BUILTIN_FACILITY_KINDS, "schools")[:-1],
    *facility_markers(BUILTIN_FACILITY_KINDS, "health_facilities"),
)
#: Road width in mm and colour by OSM ``highway`` class, most important first; others thin grey.
ROAD_CLASSES: dict[str, tuple[float, str]] = {
    "motorway": (1.4, "#c0392b"), "trunk": (1.2, "#d35400"), "primary": (1.0, "#e67e22"),
    "secondary": (0.8, "#d4a017"), "tertiary": (0.6, "#8d6e3f"), "unclassified": (0.4, "#7f7f7f"),
    "residential": (0.35, "#9e9e9e"), "track": (0.3, "#a1887f"), "path": (0.2, "#bcaaa4"),
}  # fmt: skip
ROAD_OTHER = (0.25, "#b0b0b0")
RIVER_COLOR = "#3a7bd5"
#: Outline of an area drawn without fill (stacked kecamatan and kabupaten).
ADMIN_OUTLINE = "#3c3c3c"
#: Outline of a selected village in a target list.
TARGET_OUTLINE = "#08306b"
#: Names as labels: villages from 1:150,000, kecamatan from 1:600,000, kabupaten at any scale.
LABEL_MIN_SCALE: dict[str, float] = {"villages": 150_000, "kecamatan": 600_000, "kabupaten": 0}
#: The hexagon styles' class value: the score where a cell holds enough people to be coloured
#: (`layers.maps.classes.MIN_PEOPLE_SHOWN`), else nothing (the cell is left undrawn).
SHOWN_SCORE = f'CASE WHEN "population" >= {MIN_PEOPLE_SHOWN:g} THEN "score" END'
#: The same in web map zoom levels, for tile styles (-1: every zoom).
LABEL_MIN_ZOOM: dict[str, int] = {"villages": 11, "kecamatan": 9, "kabupaten": -1}


def style_for(
    layer: str,
    kinds: Sequence[FacilityKind] = BUILTIN_FACILITY_KINDS,
    values: pd.DataFrame | None = None,
    temporal: bool = False,
    stacked: bool = False,
) -> str | None:
    """The default QML style of a store layer (`layers.schema.LayerSchema.style`), or None.

    Parameters
    ----------
    layer
        Store layer name (``hexagons``, ``villages``, ``schools`` ...).
    kinds
        The store's facility kinds (its manifest's ``facility_kinds``), for facility markers.
    values
        The features the style is for: legends then list only the classes and categories present.
        None lists every class.
    temporal
        The layer holds every year with ``date`` and ``date_end``: set QGIS's temporal properties.
    stacked
        The layer is one of many in a file: kecamatan and kabupaten become outlines.

    Returns
    -------
    str or None
        A QML document (XML text).

    Examples
    --------
    >>> hexagons = style_for("hexagons")
    >>> 'type="graduatedSymbol"' in hexagons and "&quot;score&quot;" in hexagons
    True
    """
    schema = LAYERS.get(layer)
    if schema is None or schema.style is None:
        return None
    root = _root()
    if schema.style in CLASSIFICATIONS:
        _area_renderer(root, schema, CLASSIFICATIONS[schema.style], values, stacked)
    elif schema.style == "facility":
        markers = facility_markers(kinds, layer)
        root.append(categorized_markers_renderer("kind", _present_markers(markers, values)))
    elif schema.style == "roads":
        root.append(categorized_lines_renderer("class", _present_roads(values)))
    else:
        root.append(single_line_renderer(RIVER_COLOR, 0.5))
    if layer in LABEL_MIN_SCALE and schema.level:
        name_column = level(schema.level).name_column or ""
        _labels(root, name_column, LABEL_MIN_SCALE[layer], bold=layer == "kabupaten")
    if temporal:
        _temporal(root)
    if values is not None:
        columns = [str(c) for c in values.columns if c != getattr(values, "_geometry_column_name", None)]
        _aliases(root, [*columns, *(("date", "date_end") if temporal else ())], kinds)
    geometry_type = {"Point": 0, "LineString": 1}.get(schema.geometry or "", 2)
    return _serialise(root, geometry_type)


def _aliases(root: ET.Element, columns: Sequence[str], kinds: Sequence[FacilityKind]) -> None:
    """Each column's title, Bahasa Indonesia / English, as its QGIS alias (attribute table, forms,
    identify results), from the field dictionary (`layers.schema.FIELDS`): ``hh_H`` reads "Rasio
    jumlah H, basis rumah tangga" beside the area's "Rasio jumlah H" and nobody takes one for the other."""
    aliases = ET.SubElement(root, "aliases")
    for index, column in enumerate(dict.fromkeys(columns)):
        entry = field_for(column, tuple(kinds))
        if entry is not None:
            ET.SubElement(aliases, "alias", field=column, index=str(index), name=entry.title.both())


def targets_style(values: pd.DataFrame | None = None) -> str:
    """The QML of a target list (`layers.export.targets`): villages filled by M0 class, a strong
    outline, and ``rank. name`` as label.

    Examples
    --------
    >>> 'fieldName="&quot;rank&quot;' in targets_style()
    True
    """
    root = _root()
    present = None
    if values is not None and "M0" in values:
        present = M0_CLASSES.present(values["M0"].to_numpy(np.float64))
    root.append(graduated_renderer(M0_CLASSES, present, outline=TARGET_OUTLINE, outline_width=0.5))
    _labels(root, '"rank" || \'. \' || "village_name"', 0, bold=True, expression=True)
    return _serialise(root, 2)


def _area_renderer(
    root: ET.Element,
    schema: LayerSchema,
    classes: Classification,
    values: pd.DataFrame | None,
    stacked: bool,
) -> None:
    if stacked and schema.name in ("kecamatan", "kabupaten"):
        width = 0.9 if schema.name == "kabupaten" else 0.4
        root.append(outline_renderer(ADMIN_OUTLINE, width))
        return
    present = None
    attribute = None
    if values is not None and classes.attribute in values:
        shown = values[classes.attribute].to_numpy(np.float64)
        if schema.style == "score" and "population" in values:
            shown = np.where(values["population"].to_numpy(np.float64) >= MIN_PEOPLE_SHOWN, shown, np.nan)
        present = classes.present(shown)
    if schema.style == "score":
        attribute = SHOWN_SCORE  # cells with fewer people than a map shows are left undrawn
    outline = "none" if schema.style == "score" else "#555555"
    root.append(graduated_renderer(classes, present, outline, schema.outline_mm or 0.1, attribute))


def _present_markers(markers: Sequence[Marker], values: pd.DataFrame | None) -> list[Marker]:
    if values is None or "kind" not in values:
        return list(markers)
    kinds = set(values["kind"].dropna().astype(str))
    named = [m for m in markers if m.value and m.value in kinds]
    other = kinds - {m.value for m in named} or values["kind"].isna().any()
    return named + ([OTHER_MARKER] if other else [])


def _present_roads(values: pd.DataFrame | None) -> list[tuple[str, float, str]]:
    entries = [(value, width, color) for value, (width, color) in ROAD_CLASSES.items()]
    if values is None or "class" not in values:
        return [*entries, ("", *ROAD_OTHER)]
    classes = set(values["class"].dropna().astype(str))
    shown = [e for e in entries if e[0] in classes]
    other = bool(classes - set(ROAD_CLASSES)) or bool(values["class"].isna().any())
    return shown + ([("", *ROAD_OTHER)] if other else [])


def graduated_renderer(
    classes: Classification,
    present: Sequence[int] | None = None,
    outline: str = "none",
    outline_width: float = 0.1,
    attribute: str | None = None,
) -> ET.Element:
    """A graduated fill renderer on the classification's attribute (or an ``attribute`` expression
    of it), one range per class shown.

    QGIS puts a value in the first range with ``lower ≤ value ≤ upper``. Ranges run from a
    class's start to the next class's start, so they leave no gap: a value exactly on a start
    (a cell on k, within the scoring tolerance) goes to the range above only because the
    classification's starts sit 10⁻⁹ below the policy cutoffs (`layers.maps.classes`). Each range ends
    10⁻¹² below the next start, so a value on a start is in the class above, as everywhere else.
    """
    shown = list(range(len(classes.classes))) if present is None else list(present)
    renderer = _renderer(
        "graduatedSymbol", attr=attribute or classes.attribute, graduatedMethod="GraduatedColor"
    )
    ranges = ET.SubElement(renderer, "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    for n, i in enumerate(shown):
        item = classes.classes[i]
        lower = item.start if i > 0 else min(item.start, -1e-9)
        # Just below the next start: a value on a start belongs to the class above (``>= start``).
        upper = classes.classes[i + 1].start - 1e-12 if i + 1 < len(classes.classes) else 1.0
        label = f"{item.label.id} / {item.label.en}"
        ET.SubElement(
            ranges, "range", render="true", symbol=str(n), lower=f"{lower:.15f}", upper=f"{upper:.15f}",
            label=label,
        )  # fmt: skip
        _fill_symbol(symbols, str(n), item.color, outline, outline_width)
    method = ET.SubElement(renderer, "classificationMethod", id="Custom")
    ET.SubElement(method, "labelFormat", format="%1 - %2", labelprecision="2", trimtrailingzeroes="1")
    return renderer


def outline_renderer(color: str, width: float) -> ET.Element:
    """A single-symbol area renderer drawing the outline only (no fill)."""
    renderer = _renderer("singleSymbol")
    symbols = ET.SubElement(renderer, "symbols")
    symbol = _symbol(symbols, "0", "fill")
    _layer(symbol, "SimpleFill", color="0,0,0,0", style="no", outline_color=_rgba(color),
           outline_style="solid", outline_width=str(width), outline_width_unit="MM",
           joinstyle="round")  # fmt: skip
    return renderer


def categorized_markers_renderer(attribute: str, markers: Sequence[Marker]) -> ET.Element:
    """A categorized point renderer: one marker shape and colour per value of ``attribute``."""
    renderer = _renderer("categorizedSymbol", attr=attribute)
    categories = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, marker in enumerate(markers):
        ET.SubElement(
            categories, "category", render="true", symbol=str(i), value=marker.value, label=marker.label
        )
        symbol = _symbol(symbols, str(i), "marker")
        _layer(symbol, "SimpleMarker", name=marker.shape, color=_rgba(marker.color), size=str(marker.size),
               size_unit="MM", outline_color="35,35,35,255", outline_style="solid", outline_width="0.2",
               outline_width_unit="MM", angle="0", scale_method="diameter", joinstyle="bevel")  # fmt: skip
    return renderer


def categorized_lines_renderer(attribute: str, entries: Sequence[tuple[str, float, str]]) -> ET.Element:
    """A categorized line renderer: (value, width in mm, colour) per value of ``attribute``."""
    renderer = _renderer("categorizedSymbol", attr=attribute)
    categories = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (value, width, color) in enumerate(entries):
        label = value or "Lainnya / other"
        ET.SubElement(categories, "category", render="true", symbol=str(i), value=value, label=label)
        _line_layer(_symbol(symbols, str(i), "line"), color, width)
    return renderer


def single_line_renderer(color: str, width: float) -> ET.Element:
    """A single-symbol line renderer."""
    renderer = _renderer("singleSymbol")
    symbols = ET.SubElement(renderer, "symbols")
    _line_layer(_symbol(symbols, "0", "line"), color, width)
    return renderer


def _root() -> ET.Element:
    return ET.Element(
        "qgis", version=QGIS_VERSION, styleCategories="Symbology|Labeling|Fields|Temporal", labelsEnabled="0"
    )


def _renderer(renderer_type: str, **attributes: str) -> ET.Element:
    attrib = {"type": renderer_type, "symbollevels": "0", "forceraster": "0", "enableorderby": "0"}
    return ET.Element("renderer-v2", {**attrib, "referencescale": "-1", **attributes})


def _labels(root: ET.Element, field: str, min_scale: float, bold: bool, expression: bool = False) -> None:
    """Simple labels of ``field`` (or an ``expression``) over each area, with a white halo, from
    ``min_scale`` inwards (0: at every scale)."""
    root.set("labelsEnabled", "1")
    labeling = ET.SubElement(root, "labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    style = ET.SubElement(
        settings, "text-style", fieldName=field, isExpression="1" if expression else "0",
        fontSize="9" if bold else "7.5", fontSizeUnit="Point", fontWeight="75" if bold else "50",
        textColor="30,30,30,255", textOpacity="1", capitalization="0",
    )  # fmt: skip
    ET.SubElement(
        style, "text-buffer", bufferDraw="1", bufferSize="0.8", bufferSizeUnits="MM",
        bufferColor="255,255,255,255", bufferOpacity="0.85", bufferNoFill="1", bufferJoinStyle="128",
    )  # fmt: skip
    ET.SubElement(settings, "text-format", wrapChar="", multilineAlign="3", formatNumbers="0")
    # placement 1: over the centroid; polygonPlacementFlags 2: inside the polygon.
    ET.SubElement(
        settings, "placement", placement="1", centroidInside="1", centroidWhole="0",
        polygonPlacementFlags="2", fitInPolygonOnly="0", priority="5", dist="0", distUnits="MM",
    )  # fmt: skip
    ET.SubElement(
        settings, "rendering", drawLabels="1", scaleVisibility="1" if min_scale else "0",
        scaleMin="1", scaleMax=f"{min_scale:g}", obstacle="1", obstacleFactor="1", obstacleType="1",
        displayAll="0", labelPerPart="0", mergeLines="0", upsidedownLabels="0", zIndex="0",
    )  # fmt: skip


def _temporal(root: ET.Element) -> None:
    """QGIS's temporal properties: each feature shown from ``date`` to ``date_end`` (excluded)."""
    temporal = ET.SubElement(
        root, "temporal", enabled="1", mode="2", startField="date", endField="date_end",
        accumulate="0", limitMode="0", durationField="", durationUnit="min", fixedDuration="0",
        startExpression="", endExpression="",
    )  # fmt: skip
    fixed = ET.SubElement(temporal, "fixedRange")
    ET.SubElement(fixed, "start")
    ET.SubElement(fixed, "end")


def _symbol(parent: ET.Element, name: str, kind: str) -> ET.Element:
    return ET.SubElement(parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")


def _fill_symbol(
    parent: ET.Element,
    name: str,
    color: str,
    outline: str,
    outline_width: float,
    opacity_field: str | None = None,
) -> None:
    """A solid fill; with ``opacity_field``, its opacity is 0.85 times the square root of that
    field's value (0-1), as the MapLibre style draws it."""
    symbol = _symbol(parent, name, "fill")
    _layer(symbol, "SimpleFill", color=_rgba(color), style="solid",
           outline_color=_rgba(outline) if outline != "none" else "35,35,35,255",
           outline_style="no" if outline == "none" else "solid", outline_width=str(outline_width),
           outline_width_unit="MM", joinstyle="bevel")  # fmt: skip
    if opacity_field is not None:
        layer = symbol.find("layer")
        assert layer is not None
        alpha = f"set_color_part(@symbol_color, 'alpha', 217 * sqrt(\"{opacity_field}\"))"
        _data_defined(layer, {"fillColor": alpha})


def _data_defined(layer: ET.Element, properties: dict[str, str]) -> None:
    """Data-defined properties of a symbol layer (expressions), as QGIS writes them."""
    holder = ET.SubElement(layer, "data_defined_properties")
    options = ET.SubElement(holder, "Option", type="Map")
    ET.SubElement(options, "Option", name="name", type="QString", value="")
    named = ET.SubElement(options, "Option", name="properties", type="Map")
    for key, expression in properties.items():
        entry = ET.SubElement(named, "Option", name=key, type="Map")
        ET.SubElement(entry, "Option", name="active", type="bool", value="true")
        ET.SubElement(entry, "Option", name="expression", type="QString", value=expression)
        ET.SubElement(entry, "Option", name="type", type="int", value="3")
    ET.SubElement(options, "Option", name="type", type="QString", value="collection")


def _line_layer(symbol: ET.Element, color: str, width: float) -> None:
    _layer(symbol, "SimpleLine", line_color=_rgba(color), line_width=str(width), line_width_unit="MM",
           line_style="solid", capstyle="round", joinstyle="round")  # fmt: skip


def _layer(symbol: ET.Element, class_name: str, **options: str) -> None:
    layer = ET.SubElement(
        symbol, "layer", attrib={"class": class_name, "enabled": "1", "locked": "0", "pass": "0"}
    )
    option_map = ET.SubElement(layer, "Option", type="Map")
    for key, value in sorted(options.items()):
        ET.SubElement(option_map, "Option", name=key, type="QString", value=value)


def _rgba(hex_color: str, alpha: int = 255) -> str:
    value = hex_color.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{alpha}"


def _serialise(root: ET.Element, geometry_type: int) -> str:
    ET.SubElement(root, "layerGeometryType").text = str(geometry_type)
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n{body}\n"


def vector_tile_qml(
    layer: str,
    kinds: Sequence[FacilityKind] = BUILTIN_FACILITY_KINDS,
    present: Sequence[int] | Sequence[str] | None = None,
) -> str | None:
    """The QML of a QGIS vector tile layer of ``layer``'s tiles (``QgsVectorTileBasicRenderer``).

    One renderer style per class (or facility kind, road class) with a filter expression, the same
    classes and colours as the GeoPackage styles and the MapLibre style; area names as labels.
    ``present`` restricts the styles to the classes or categories the layer holds (see
    `layers.maps.maplibre.maplibre_style`).

    Examples
    --------
    >>> '<renderer type="basic">' in vector_tile_qml("hexagons")
    True
    """
    schema = LAYERS.get(layer)
    if schema is None or not schema.tiled or schema.style is None:
        return None
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="AllStyleCategories")
    styles = ET.SubElement(ET.SubElement(root, "renderer", type="basic"), "styles")
    for name, expression, geometry, add_symbol in _tile_rules(schema, kinds, present):
        style = ET.SubElement(
            styles, "style", layer=layer, name=name, expression=expression, enabled="1",
            geometry=str(geometry), attrib={"min-zoom": "-1", "max-zoom": "-1"},
        )  # fmt: skip
        add_symbol(ET.SubElement(style, "symbols"))
    if layer in LABEL_MIN_SCALE and schema.level:
        _tile_labels(root, layer, level(schema.level).name_column or "")
    return _serialise_root(root)


_TileRule = tuple[str, str, int, Callable[[ET.Element], None]]


def _tile_rules(
    schema: LayerSchema, kinds: Sequence[FacilityKind], present: Sequence[int] | Sequence[str] | None
) -> list[_TileRule]:
    rules: list[_TileRule] = []
    if schema.style in CLASSIFICATIONS:
        classes = CLASSIFICATIONS[schema.style]
        shown = range(len(classes.classes)) if present is None else [int(i) for i in present]
        outline = "none" if schema.style == "score" else "#555555"
        people = schema.name == "hexagons"  # cells and parents carry shown_share (layers.maps.tiles)
        for i in shown:
            item = classes.classes[i]
            expression = _class_expression(classes, i) + (' AND "shown_share" > 0' if people else "")
            rules.append(
                (f"{item.label.id} / {item.label.en}", expression, 2,
                 partial(_fill_symbol, name="0", color=item.color, outline=outline,
                         outline_width=schema.outline_mm or 0.1,
                         opacity_field="shown_share" if people else None))
            )  # fmt: skip
        if schema.name in ("kecamatan", "kabupaten"):
            width = 0.9 if schema.name == "kabupaten" else 0.4
            rules.append(("Batas / boundary", "", 1, partial(_line_symbol, color=ADMIN_OUTLINE, width=width)))
    elif schema.style == "facility":
        markers = facility_markers(kinds, schema.name)
        known = [m.value for m in markers if m.value]
        for marker in markers:
            if present is not None and marker.value and marker.value not in present:
                continue
            expression = f'"kind" = {_quote(marker.value)}' if marker.value else _not_in("kind", known)
            rules.append((marker.label, expression, 0, partial(_marker_symbol, marker=marker)))
    elif schema.style == "roads":
        for value, width, color in _present_roads(None):
            if present is not None and value and value not in present:
                continue
            expression = f'"class" = {_quote(value)}' if value else _not_in("class", list(ROAD_CLASSES))
            rules.append(
                (value or "Lainnya / other", expression, 1, partial(_line_symbol, color=color, width=width))
            )
    else:
        rules.append(("Sungai / river", "", 1, partial(_line_symbol, color=RIVER_COLOR, width=0.5)))
    return rules


def _class_expression(classes: Classification, i: int) -> str:
    field = f'"{classes.attribute}"'
    parts = [f"{field} IS NOT NULL"]
    if i > 0:
        parts.append(f"{field} >= {classes.classes[i].start!r}")
    if i + 1 < len(classes.classes):
        parts.append(f"{field} < {classes.classes[i + 1].start!r}")
    return " AND ".join(parts)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _not_in(field: str, values: Sequence[str]) -> str:
    listed = ", ".join(_quote(v) for v in values)
    return f'"{field}" IS NULL OR "{field}" NOT IN ({listed})' if values else ""


def _line_symbol(parent: ET.Element, color: str, width: float) -> None:
    _line_layer(_symbol(parent, "0", "line"), color, width)


def _marker_symbol(parent: ET.Element, marker: Marker) -> None:
    symbol = _symbol(parent, "0", "marker")
    _layer(symbol, "SimpleMarker", name=marker.shape, color=_rgba(marker.color), size=str(marker.size),
           size_unit="MM", outline_color="35,35,35,255", outline_style="solid", outline_width="0.2",
           outline_width_unit="MM", angle="0", scale_method="diameter", joinstyle="bevel")  # fmt: skip


def _tile_labels(root: ET.Element, layer: str, field: str) -> None:
    """Basic vector tile labeling: the area's name, from the zoom its GeoPackage labels start."""
    styles = ET.SubElement(ET.SubElement(root, "labeling", type="basic"), "styles")
    min_zoom = LABEL_MIN_ZOOM[layer]
    style = ET.SubElement(
        styles, "style", layer=layer, name="Nama / name", expression="", enabled="1", geometry="2",
        attrib={"min-zoom": str(min_zoom), "max-zoom": "-1"},
    )  # fmt: skip
    holder = ET.Element("holder")
    _labels(holder, field, 0, bold=layer == "kabupaten")
    style.append(holder.find("labeling/settings"))  # type: ignore[arg-type]


def _serialise_root(root: ET.Element) -> str:
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n{body}\n"
