"""Styles for the vector tiles: a MapLibre style document (style spec v8) per tiled layer.

The classes and colours are those of `layers.maps.classes` (and the facility markers and road classes
of `layers.maps.qml`), so a tile map, a GeoPackage in QGIS and the planner colour a village alike.

Each class is its own style layer with a ``filter`` and a constant colour, rather than one layer
with a ``step`` expression: MapLibre draws both the same, but QGIS's converter
(`QgsMapBoxGlStyleConverter`, used when a vector tile layer is given a ``styleUrl``) turns each
style layer into one rule of its legend, so QGIS shows a legend with one row per class. The style
layer ids are the classes' labels (Bahasa Indonesia / English) for that reason.

Areas are labelled from their tiles' ``<layer>_labels`` points (one per feature, `layers.maps.tiles`)
with the glyphs the service vendors (``glyphs``, DejaVu Sans: no font server, works offline), from
the zoom their GeoPackage labels start. Hexagons are drawn where a map shows people
(`layers.maps.classes.MIN_PEOPLE_SHOWN`): each cell and each coarser parent with an opacity of the
square root of ``shown_share``, the share of its area in cells that hold people (docs/method.md,
"Map classes").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from layers.maps.classes import CLASSIFICATIONS, Classification
from layers.maps.qml import (
    ADMIN_OUTLINE,
    LABEL_MIN_ZOOM,
    RIVER_COLOR,
    ROAD_CLASSES,
    ROAD_OTHER,
    Marker,
    facility_markers,
)
from layers.maps.tiles import LABELLED, LABELS_SUFFIX
from layers.schema import BUILTIN_FACILITY_KINDS, LAYERS, FacilityKind, layer_schema

#: Fill opacity of classed areas and cells (the basemap stays readable beneath).
FILL_OPACITY = 0.85
#: Outline width in pixels of each area layer.
OUTLINE_PX = {"villages": 0.4, "kecamatan": 1.0, "kabupaten": 2.0}
#: Pixels per millimetre at 96 dpi (marker and line sizes are declared in mm for QGIS).
PX_PER_MM = 96 / 25.4
#: The font stack of the vendored glyphs (service/static/glyphs, scripts/vendor-glyphs.py).
FONT = "DejaVu Sans Book"
#: Label size in pixels per area layer.
LABEL_PX = {"villages": 11, "kecamatan": 12, "kabupaten": 14}


def class_filter(classes: Classification, i: int) -> list[Any]:
    """The filter of class ``i``: its attribute is present, ``>= start`` and ``<`` the next start."""
    attribute = ["get", classes.attribute]
    parts: list[Any] = ["all", ["has", classes.attribute]]
    if i > 0:
        parts.append([">=", attribute, classes.classes[i].start])
    if i + 1 < len(classes.classes):
        parts.append(["<", attribute, classes.classes[i + 1].start])
    return parts


def maplibre_style(
    layer: str,
    tiles_url: str,
    bounds: Sequence[float] | None = None,
    kinds: Sequence[FacilityKind] = BUILTIN_FACILITY_KINDS,
    present: Sequence[int] | Sequence[str] | None = None,
    minzoom: int = 0,
    maxzoom: int = 14,
    name: str | None = None,
    glyphs: str | None = None,
) -> dict[str, Any]:
    """A MapLibre style (spec v8) drawing one tiled layer with Sasaran's classes.

    Parameters
    ----------
    layer
        The tiled layer (its tiles' source layer has the same name).
    tiles_url
        Tile URL template with ``{z}``, ``{x}``, ``{y}``.
    bounds
        Lon/lat bounds of the tiles.
    kinds
        The store's facility kinds (facility layers).
    present
        Class positions (scores, M0) or category values (facilities, roads) the layer holds; the
        style then has a layer, and a legend row, only for those. None: every class.
    minzoom, maxzoom
        Zoom range of the tiles.
    name
        Style name.
    glyphs
        URL template of the glyphs (``.../{fontstack}/{range}.pbf``): with it, areas are labelled.

    Returns
    -------
    dict
        The style document.

    Examples
    --------
    >>> style = maplibre_style("hexagons", "http://host/tiles/{z}/{y}/{x}")
    >>> style["version"], style["layers"][0]["source-layer"]
    (8, 'hexagons')
    """
    schema = layer_schema(layer)
    source: dict[str, Any] = {"type": "vector", "tiles": [tiles_url], "minzoom": minzoom, "maxzoom": maxzoom}
    if bounds is not None:
        source["bounds"] = [float(v) for v in bounds]
    layers: list[dict[str, Any]]
    if schema.style in CLASSIFICATIONS:
        shown = None if present is None else [int(i) for i in present]
        layers = _classed_layers(layer, CLASSIFICATIONS[schema.style], shown)
    elif schema.style == "facility":
        layers = _facility_layers(layer, facility_markers(kinds, layer), present)
    elif schema.style == "roads":
        layers = _road_layers(layer, present)
    else:
        layers = [_line(layer, "Sungai / river", RIVER_COLOR, 0.5 * PX_PER_MM)]
    style: dict[str, Any] = {
        "version": 8,
        "name": name or f"Sasaran {layer}",
        "metadata": {"sasaran:layer": layer, "sasaran:description": schema.description.both()},
        "sources": {layer: source},
        "layers": layers,
    }
    if glyphs is not None and layer in LABELLED:
        style["glyphs"] = glyphs
        layers.append(_label_layer(layer))
    return style


def _label_layer(layer: str) -> dict[str, Any]:
    """Names from the layer's label points, once per feature, with a white halo."""
    return {
        "id": "Nama / name",
        "type": "symbol",
        "source": layer,
        "source-layer": f"{layer}{LABELS_SUFFIX}",
        "minzoom": max(LABEL_MIN_ZOOM[layer], 0),
        "layout": {
            "text-field": ["get", LABELLED[layer][1]],
            "text-font": [FONT],
            "text-size": LABEL_PX[layer],
            "text-max-width": 8,
            "text-padding": 2,
        },
        "paint": {"text-color": "#1e1e1e", "text-halo-color": "#ffffff", "text-halo-width": 1.5},
    }


def _classed_layers(layer: str, classes: Classification, present: list[int] | None) -> list[dict[str, Any]]:
    shown = range(len(classes.classes)) if present is None else present
    people = layer == "hexagons"  # cells and parents carry shown_share (layers.maps.tiles)
    out = []
    for i in shown:
        item = classes.classes[i]
        filter_ = class_filter(classes, i)
        opacity: Any = FILL_OPACITY
        if people:
            filter_ = [*filter_, [">", ["get", "shown_share"], 0]]
            # sqrt: a parent whose people live in a tenth of it reads faint (0.27), not invisible.
            opacity = ["*", FILL_OPACITY, ["sqrt", ["get", "shown_share"]]]
        out.append(
            {
                "id": f"{item.label.id} / {item.label.en}",
                "type": "fill",
                "source": layer,
                "source-layer": layer,
                "filter": filter_,
                "paint": {"fill-color": item.color, "fill-opacity": opacity},
                "metadata": {"sasaran:class": i, "sasaran:classification": classes.name},
            }
        )
    if layer in OUTLINE_PX:
        out.append(_line(layer, "Batas / boundary", ADMIN_OUTLINE, OUTLINE_PX[layer]))
    return out


def _facility_layers(
    layer: str, markers: Sequence[Marker], present: Sequence[Any] | None
) -> list[dict[str, Any]]:
    named = [m for m in markers if m.value and (present is None or m.value in present)]
    out = []
    for marker in named:
        out.append(_circle(layer, marker, ["==", ["get", "kind"], marker.value]))
    known = [m.value for m in markers if m.value]
    other = present is None or any(v not in known for v in present)
    if other:
        other_marker = markers[-1]
        out.append(_circle(layer, other_marker, ["!", ["in", ["get", "kind"], ["literal", known]]]))
    return out


def _circle(layer: str, marker: Marker, filter_: list[Any]) -> dict[str, Any]:
    return {
        "id": marker.label,
        "type": "circle",
        "source": layer,
        "source-layer": layer,
        "filter": filter_,
        "paint": {
            "circle-color": marker.color,
            "circle-radius": round(marker.size * PX_PER_MM / 2, 2),
            "circle-stroke-color": "#232323",
            "circle-stroke-width": 0.75,
        },
    }


def _road_layers(layer: str, present: Sequence[Any] | None) -> list[dict[str, Any]]:
    out = []
    # Least important first: the major roads are drawn on top.
    for value, (width, color) in reversed(ROAD_CLASSES.items()):
        if present is None or value in present:
            out.append(_line(layer, value, color, width * PX_PER_MM, ["==", ["get", "class"], value]))
    if present is None or any(v not in ROAD_CLASSES for v in present):
        width, color = ROAD_OTHER
        known = ["literal", list(ROAD_CLASSES)]
        out.insert(
            0,
            _line(layer, "Lainnya / other", color, width * PX_PER_MM, ["!", ["in", ["get", "class"], known]]),
        )
    return out


def _line(layer: str, id_: str, color: str, width: float, filter_: list[Any] | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": id_,
        "type": "line",
        "source": layer,
        "source-layer": layer,
        "paint": {"line-color": color, "line-width": round(width, 2)},
        "layout": {"line-join": "round", "line-cap": "round"},
    }
    if filter_ is not None:
        line["filter"] = filter_
    return line


def tiled_layers() -> list[str]:
    """Layers served as tiles, each with a style."""
    return [name for name, schema in LAYERS.items() if schema.tiled]
