"""Default QGIS styles (QML) for the store's layers, embedded in GeoPackage exports.

The XML follows what QGIS 3.22+ writes with *Export style* (``renderer-v2`` with ``ranges`` or
``categories`` and ``symbols``; symbol layer properties as an ``Option`` map), trimmed to the
elements QGIS needs to rebuild the renderer. ``style_for("hexagons")`` colours cells by score.

Score classes follow DESIGN §5 and OPHI: vulnerable 0.2 ≤ c < 1/3, poor c ≥ k (k = 1/3), severe c ≥ 0.5.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from layers.schema import BUILTIN_FACILITY_KINDS, LAYERS, FacilityKind

#: ColorBrewer YlOrRd, 5 classes.
YL_OR_RD = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")

#: Deprivation score classes of a cell: (lower, upper, label "Indonesian / English").
SCORE_CLASSES: tuple[tuple[float, float, str], ...] = (
    (0.0, 0.2, "Tidak terdeprivasi / not deprived (c < 0.2)"),
    (0.2, 1 / 3, "Rentan / vulnerable (0.2 ≤ c < 1/3)"),
    (1 / 3, 0.5, "Miskin / poor (1/3 ≤ c < 0.5)"),
    (0.5, 0.75, "Miskin parah / severe (0.5 ≤ c < 0.75)"),
    (0.75, 1.0, "Sangat parah / most severe (c ≥ 0.75)"),
)
#: Adjusted headcount ratio (M0) classes of an area.
M0_CLASSES: tuple[tuple[float, float, str], ...] = (
    (0.0, 0.05, "Sangat rendah / very low (M0 < 0.05)"),
    (0.05, 0.1, "Rendah / low (0.05-0.1)"),
    (0.1, 0.2, "Sedang / medium (0.1-0.2)"),
    (0.2, 0.3, "Tinggi / high (0.2-0.3)"),
    (0.3, 1.0, "Sangat tinggi / very high (M0 ≥ 0.3)"),
)


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
#: Road widths in mm by OSM ``highway`` class; other classes are drawn thin.
ROAD_WIDTHS: dict[str, float] = {
    "motorway": 1.4, "trunk": 1.2, "primary": 1.0, "secondary": 0.8, "tertiary": 0.6,
    "unclassified": 0.4, "residential": 0.35, "track": 0.3, "path": 0.2,
}  # fmt: skip
RIVER_COLOR = "#3a7bd5"


def style_for(layer: str, kinds: Sequence[FacilityKind] = BUILTIN_FACILITY_KINDS) -> str | None:
    """The default QML style of a store layer (`layers.schema.LayerSchema.style`), or None.

    Parameters
    ----------
    layer
        Store layer name (``hexagons``, ``villages``, ``schools`` ...).
    kinds
        The store's facility kinds (its manifest's ``facility_kinds``), for facility markers.

    Returns
    -------
    str or None
        A QML document (XML text).

    Examples
    --------
    >>> 'type="graduatedSymbol"' in style_for("hexagons") and 'attr="score"' in style_for("hexagons")
    True
    """
    schema = LAYERS.get(layer)
    style = schema.style if schema else None
    if style == "score":
        return graduated_qml("score", SCORE_CLASSES, YL_OR_RD, outline="none")
    if style == "m0" and schema is not None:
        return graduated_qml("M0", M0_CLASSES, YL_OR_RD, outline="#555555", outline_width=schema.outline_mm)
    if style == "facility":
        return categorized_markers_qml("kind", facility_markers(kinds, layer))
    if style == "roads":
        return categorized_lines_qml("class", ROAD_WIDTHS, color="#6b4f2a", default_width=0.25)
    if style == "rivers":
        return single_line_qml(RIVER_COLOR, 0.5)
    return None


def graduated_qml(
    attribute: str,
    classes: Sequence[tuple[float, float, str]],
    colors: Sequence[str],
    outline: str = "none",
    outline_width: float = 0.1,
) -> str:
    """A graduated fill style on ``attribute``: one range per class, coloured in order.

    QGIS puts a value in the first range with ``lower ≤ value ≤ upper``, so each upper bound
    except the last sits just below the next class's lower bound: a cell at exactly k = 1/3 is
    drawn as poor, as the scores count it.
    """
    root, renderer = _document("graduatedSymbol", attr=attribute, graduatedMethod="GraduatedColor")
    ranges = ET.SubElement(renderer, "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    for i, ((lower, upper, label), color) in enumerate(zip(classes, colors, strict=True)):
        top = upper if i == len(classes) - 1 else upper - 1e-9
        attrib = {
            "render": "true",
            "symbol": str(i),
            "lower": f"{lower:.15f}",
            "upper": f"{top:.15f}",
            "label": label,
        }
        ET.SubElement(ranges, "range", attrib)
        _fill_symbol(symbols, str(i), color, outline, outline_width)
    method = ET.SubElement(renderer, "classificationMethod", id="Custom")
    ET.SubElement(method, "labelFormat", format="%1 - %2", labelprecision="2", trimtrailingzeroes="1")
    return _serialise(root, geometry_type=2)


def categorized_markers_qml(attribute: str, markers: Sequence[Marker]) -> str:
    """A categorized point style: one marker shape and colour per value of ``attribute``."""
    root, renderer = _document("categorizedSymbol", attr=attribute)
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
    return _serialise(root, geometry_type=0)


def categorized_lines_qml(attribute: str, widths: dict[str, float], color: str, default_width: float) -> str:
    """A categorized line style: one width per value of ``attribute``, all in one colour."""
    root, renderer = _document("categorizedSymbol", attr=attribute)
    categories = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    entries = [*widths.items(), ("", default_width)]
    for i, (value, width) in enumerate(entries):
        ET.SubElement(
            categories, "category", render="true", symbol=str(i), value=value, label=value or "other"
        )
        _line_layer(_symbol(symbols, str(i), "line"), color, width)
    return _serialise(root, geometry_type=1)


def single_line_qml(color: str, width: float) -> str:
    """A single-symbol line style."""
    root, renderer = _document("singleSymbol")
    symbols = ET.SubElement(renderer, "symbols")
    _line_layer(_symbol(symbols, "0", "line"), color, width)
    return _serialise(root, geometry_type=1)


def _document(renderer_type: str, **attributes: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element("qgis", version="3.22.0", styleCategories="Symbology")
    attrib = {"type": renderer_type, "symbollevels": "0", "forceraster": "0", "enableorderby": "0"}
    renderer = ET.SubElement(root, "renderer-v2", {**attrib, "referencescale": "-1", **attributes})
    return root, renderer


def _symbol(parent: ET.Element, name: str, kind: str) -> ET.Element:
    return ET.SubElement(parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")


def _fill_symbol(parent: ET.Element, name: str, color: str, outline: str, outline_width: float) -> None:
    symbol = _symbol(parent, name, "fill")
    _layer(symbol, "SimpleFill", color=_rgba(color), style="solid",
           outline_color=_rgba(outline) if outline != "none" else "35,35,35,255",
           outline_style="no" if outline == "none" else "solid", outline_width=str(outline_width),
           outline_width_unit="MM", joinstyle="bevel")  # fmt: skip


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
