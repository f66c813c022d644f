"""OGC Styled Layer Descriptor 1.0 styles of the store's layers, for GeoServer, ArcGIS and any SLD client.

The same classes, colours, markers and labels as the QGIS styles (`layers.maps.qml`): one ``Rule``
per class with an ``ogc:Filter`` (scores and M0 on the fixed classes of `layers.maps.classes`,
facilities by kind, roads by class), names as ``TextSymbolizer`` labels from the scales the QGIS
styles label at. They travel in GeoPackages (``layer_styles.styleSLD``) and are served at
``/collections/{id}/styles/default?f=sld10``.

Examples
--------
>>> "<se:" not in sld_for("villages") and "PropertyIsGreaterThanOrEqualTo" in sld_for("villages")
True
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

import numpy as np
import pandas as pd

from layers.maps.classes import CLASSIFICATIONS, MIN_PEOPLE_SHOWN, Classification
from layers.maps.qml import (
    ADMIN_OUTLINE,
    LABEL_MIN_SCALE,
    RIVER_COLOR,
    ROAD_CLASSES,
    _present_markers,
    _present_roads,
    facility_markers,
)
from layers.schema import BUILTIN_FACILITY_KINDS, LAYERS, FacilityKind, level

SLD = "http://www.opengis.net/sld"
OGC = "http://www.opengis.net/ogc"
#: Pixels per millimetre (SLD sizes are pixels at 0.28 mm each).
PX_PER_MM = 1 / 0.28
#: QGIS marker shapes as SLD well-known names (and a rotation for the diamond).
WELL_KNOWN = {"circle": "circle", "square": "square", "diamond": "square", "cross_fill": "cross",
              "star": "star", "triangle": "triangle", "pentagon": "circle", "hexagon": "circle"}  # fmt: skip

ET.register_namespace("", SLD)
ET.register_namespace("ogc", OGC)


def _s(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{SLD}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _o(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{OGC}}}{tag}")
    if text is not None:
        element.text = text
    return element


def sld_for(
    layer: str,
    kinds: Sequence[FacilityKind] = BUILTIN_FACILITY_KINDS,
    values: pd.DataFrame | None = None,
    stacked: bool = False,
) -> str | None:
    """The SLD 1.0 document of a store layer's default style (the QML's twin), or None.

    Parameters
    ----------
    layer
        Store layer name; also the ``NamedLayer`` name (a GeoServer layer of that name).
    kinds
        The store's facility kinds, for facility markers.
    values
        The features the style is for: rules only for the classes and categories present.
    stacked
        The layer is one of many: kecamatan and kabupaten become outlines.

    Returns
    -------
    str or None
        The SLD document (XML text).
    """
    schema = LAYERS.get(layer)
    if schema is None or schema.style is None:
        return None
    root = ET.Element(f"{{{SLD}}}StyledLayerDescriptor", version="1.0.0")
    named = _s(root, "NamedLayer")
    _s(named, "Name", layer)
    style = _s(named, "UserStyle")
    _s(style, "Name", "default")
    _s(style, "Title", f"Sasaran: {schema.description.both()}")
    _s(style, "IsDefault", "1")
    features = _s(style, "FeatureTypeStyle")
    if schema.style in CLASSIFICATIONS:
        if stacked and layer in ("kecamatan", "kabupaten"):
            rule = _rule(features, "Batas / boundary")
            _stroke(_s(rule, "PolygonSymbolizer"), ADMIN_OUTLINE, 0.9 if layer == "kabupaten" else 0.4)
        else:
            outline = None if schema.style == "score" else "#555555"
            _class_rules(features, CLASSIFICATIONS[schema.style], values, people=layer == "hexagons",
                         outline=outline, width=schema.outline_mm or 0.1)  # fmt: skip
    elif schema.style == "facility":
        for marker in _present_markers(facility_markers(kinds, layer), values):
            rule = _rule(features, marker.label)
            known = [m.value for m in facility_markers(kinds, layer) if m.value]
            _filter(rule, _equals("kind", marker.value) if marker.value else _not_in("kind", known))
            _point(rule, marker.shape, marker.color, marker.size)
    elif schema.style == "roads":
        for value, width, color in _present_roads(values):
            rule = _rule(features, value or "Lainnya / other")
            _filter(rule, _equals("class", value) if value else _not_in("class", list(ROAD_CLASSES)))
            _stroke(_s(rule, "LineSymbolizer"), color, width)
    else:
        _stroke(_s(_rule(features, "Sungai / river"), "LineSymbolizer"), RIVER_COLOR, 0.5)
    if layer in LABEL_MIN_SCALE and schema.level:
        _labels(features, level(schema.level).name_column or "", LABEL_MIN_SCALE[layer], layer == "kabupaten")
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _rule(parent: ET.Element, title: str) -> ET.Element:
    rule = _s(parent, "Rule")
    _s(rule, "Name", title)
    _s(rule, "Title", title)
    return rule


def _class_rules(
    parent: ET.Element,
    classes: Classification,
    values: pd.DataFrame | None,
    people: bool,
    outline: str | None,
    width: float,
) -> None:
    present = range(len(classes.classes))
    if values is not None and classes.attribute in values:
        shown = values[classes.attribute].to_numpy(np.float64)
        if people and "population" in values:
            shown = np.where(values["population"].to_numpy(np.float64) >= MIN_PEOPLE_SHOWN, shown, np.nan)
        present = classes.present(shown)  # type: ignore[assignment]
    for i in present:
        item = classes.classes[i]
        rule = _rule(parent, f"{item.label.id} / {item.label.en}")
        conditions = []
        if i > 0:
            conditions.append(_compare("PropertyIsGreaterThanOrEqualTo", classes.attribute, item.start))
        if i + 1 < len(classes.classes):
            conditions.append(_compare("PropertyIsLessThan", classes.attribute, classes.classes[i + 1].start))
        if i == 0:
            conditions.append(_compare("PropertyIsGreaterThanOrEqualTo", classes.attribute, 0.0))
        if people:
            conditions.append(_compare("PropertyIsGreaterThanOrEqualTo", "population", MIN_PEOPLE_SHOWN))
        _filter(rule, *conditions)
        symbolizer = _s(rule, "PolygonSymbolizer")
        fill = _s(symbolizer, "Fill")
        _s(fill, "CssParameter", item.color, name="fill")
        _s(fill, "CssParameter", "0.85" if people else "1", name="fill-opacity")
        if outline is not None:
            _stroke(symbolizer, outline, width)


def _compare(operator: str, name: str, value: float | str) -> ET.Element:
    element = ET.Element(f"{{{OGC}}}{operator}")
    _o(element, "PropertyName", name)
    _o(element, "Literal", repr(value) if isinstance(value, float) else value)
    return element


def _equals(name: str, value: str) -> ET.Element:
    return _compare("PropertyIsEqualTo", name, value)


def _not_in(name: str, values: Sequence[str]) -> ET.Element:
    """Null, or none of ``values``."""
    either = ET.Element(f"{{{OGC}}}Or")
    null = _o(either, "PropertyIsNull")
    _o(null, "PropertyName", name)
    none = _o(either, "And") if len(values) > 1 else either
    for value in values:
        _o(none, "Not").append(_equals(name, value))
    return either


def _filter(rule: ET.Element, *conditions: ET.Element) -> None:
    holder = _o(rule, "Filter")
    target = _o(holder, "And") if len(conditions) > 1 else holder
    for condition in conditions:
        target.append(condition)


def _stroke(symbolizer: ET.Element, color: str, width_mm: float) -> None:
    stroke = _s(symbolizer, "Stroke")
    _s(stroke, "CssParameter", color, name="stroke")
    _s(stroke, "CssParameter", f"{width_mm * PX_PER_MM:.2f}", name="stroke-width")
    _s(stroke, "CssParameter", "round", name="stroke-linejoin")


def _point(rule: ET.Element, shape: str, color: str, size_mm: float) -> None:
    graphic = _s(_s(rule, "PointSymbolizer"), "Graphic")
    mark = _s(graphic, "Mark")
    _s(mark, "WellKnownName", WELL_KNOWN.get(shape, "circle"))
    _s(_s(mark, "Fill"), "CssParameter", color, name="fill")
    stroke = _s(mark, "Stroke")
    _s(stroke, "CssParameter", "#232323", name="stroke")
    _s(stroke, "CssParameter", "0.7", name="stroke-width")
    _s(graphic, "Size", f"{size_mm * PX_PER_MM:.1f}")
    if shape == "diamond":
        _s(graphic, "Rotation", "45")


def _labels(parent: ET.Element, field: str, min_scale: float, bold: bool) -> None:
    rule = _rule(parent, "Nama / name")
    if min_scale:
        _s(rule, "MaxScaleDenominator", f"{min_scale:g}")
    text = _s(rule, "TextSymbolizer")
    _o(_s(text, "Label"), "PropertyName", field)
    font = _s(text, "Font")
    _s(font, "CssParameter", "DejaVu Sans", name="font-family")
    _s(font, "CssParameter", "12" if bold else "10", name="font-size")
    _s(font, "CssParameter", "bold" if bold else "normal", name="font-weight")
    halo = _s(text, "Halo")
    _s(halo, "Radius", "1.5")
    _s(_s(halo, "Fill"), "CssParameter", "#ffffff", name="fill")
    _s(_s(text, "Fill"), "CssParameter", "#1e1e1e", name="fill")
