"""A tiled layer's vector tiles as one file: PMTiles (v3) or MBTiles (1.3), for offline use and static
hosting (a PMTiles file on any web server or object store; MBTiles in QGIS, GDAL, tile servers).

Every tile the service would answer (`layers.maps.tiles.VectorTiles`, tile matrices 0 to
`ARCHIVE_MAX_ZOOM`, the rows and columns the layer meets) is encoded once and stored gzip-compressed,
empty tiles left out. The archives carry the layer's TileJSON-style ``vector_layers`` (fields of the
layer and of its label points), bounds, centre and zoom range, so MapLibre (``pmtiles://``), QGIS
and GDAL draw them with the same styles as the service's tiles.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from layers.atomic import atomic_path
from layers.errors import InvalidQuery
from layers.maps.tiles import LABELLED, LABELS_SUFFIX, MIN_ZOOM, VectorTiles, tile_range
from layers.schema import LAYERS
from layers.store import LayerStore
from layers.types import BBox

#: Archive formats of a tiled layer.
TILE_ARCHIVES: tuple[str, ...] = ("pmtiles", "mbtiles")
#: The deepest tile matrix an archive holds: clients overzoom beyond it (a resolution-8 hexagon is
#: 13 px wide at z12). Each matrix deeper would quadruple the tiles, and the file's writing time.
ARCHIVE_MAX_ZOOM = 12


def _tiles(
    tiles: VectorTiles, name: str, year: int | None, max_zoom: int
) -> Iterator[tuple[int, int, int, bytes]]:
    """(z, x, y, gzip-compressed tile) of every tile of the layer that holds something."""
    bounds = tiles.bounds(name)
    for z in range(MIN_ZOOM, max_zoom + 1):
        min_row, max_row, min_col, max_col = tile_range(bounds, z)
        for x in range(min_col, max_col + 1):
            for y in range(min_row, max_row + 1):
                body = tiles.tile(name, z, x, y, year)
                if body:
                    yield z, x, y, gzip.compress(body, compresslevel=6, mtime=0)


def _vector_layers(tiles: VectorTiles, name: str, max_zoom: int) -> list[dict[str, object]]:
    layers: list[dict[str, object]] = [
        {"id": name, "fields": tiles.fields(name), "minzoom": MIN_ZOOM, "maxzoom": max_zoom}
    ]
    if name in LABELLED:
        layers.append({"id": f"{name}{LABELS_SUFFIX}", "fields": tiles.label_fields(name),
                       "minzoom": MIN_ZOOM, "maxzoom": max_zoom})  # fmt: skip
    return layers


def _description(store: LayerStore, name: str, year: int | None) -> str:
    text = f"{LAYERS[name].description.en} ({year or store.manifest.get('default_year', '')}). Sasaran"
    return f"SYNTHETIC demo data, not real statistics. {text}" if store.synthetic else text


def write_tile_archive(
    store: LayerStore,
    name: str,
    path: str | Path,
    fmt: str,
    year: int | None = None,
    tiles: VectorTiles | None = None,
    max_zoom: int = ARCHIVE_MAX_ZOOM,
) -> Path:
    """Write a tiled layer's vector tiles into one PMTiles or MBTiles file (replaced atomically).

    Parameters
    ----------
    store
        An open layer store.
    name
        A tiled layer (``hexagons``, ``villages``, ``schools`` ...).
    path
        The file to write.
    fmt
        ``pmtiles`` or ``mbtiles``.
    year
        A yearly layer's values of that year (default: the stored year).
    tiles
        The store's prepared `VectorTiles`, when the caller has them.
    max_zoom
        The deepest tile matrix written.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> write_tile_archive(store, "villages", tmp_path / "villages.pmtiles", "pmtiles", max_zoom=8).name
    'villages.pmtiles'
    """
    if fmt not in TILE_ARCHIVES:
        raise InvalidQuery(f"tile archive format '{fmt}' is not one of {', '.join(TILE_ARCHIVES)}")
    if name not in LAYERS or not LAYERS[name].tiled:
        tiled = [n for n, s in LAYERS.items() if s.tiled]
        raise InvalidQuery(f"'{name}' has no vector tiles; tiled layers are {', '.join(tiled)}")
    tiles = tiles or VectorTiles(store)
    path = Path(path)
    bounds = tiles.bounds(name)
    metadata = {
        "name": f"Sasaran {name}",
        "description": _description(store, name, year),
        "vector_layers": _vector_layers(tiles, name, max_zoom),
        "attribution": "Sasaran",
    }
    with atomic_path(path) as tmp:
        if fmt == "pmtiles":
            _write_pmtiles(tmp, _tiles(tiles, name, year, max_zoom), bounds, metadata, max_zoom)
        else:
            _write_mbtiles(tmp, _tiles(tiles, name, year, max_zoom), bounds, metadata, max_zoom)
    return path


def _write_pmtiles(
    path: Path, tiles: Iterator[tuple[int, int, int, bytes]], bounds: BBox, metadata: dict, max_zoom: int
) -> None:
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    minx, miny, maxx, maxy = bounds
    with path.open("wb") as out:
        writer = Writer(out)
        # The writer wants tiles in tile-id order (Hilbert order within each zoom).
        for tile_id, data in sorted((zxy_to_tileid(z, x, y), data) for z, x, y, data in tiles):
            writer.write_tile(tile_id, data)
        header = {
            "tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
            "min_zoom": MIN_ZOOM, "max_zoom": max_zoom,
            "min_lon_e7": int(minx * 1e7), "min_lat_e7": int(miny * 1e7),
            "max_lon_e7": int(maxx * 1e7), "max_lat_e7": int(maxy * 1e7),
            "center_zoom": min(8, max_zoom),
            "center_lon_e7": int((minx + maxx) / 2 * 1e7), "center_lat_e7": int((miny + maxy) / 2 * 1e7),
        }  # fmt: skip
        writer.finalize(header, metadata)


def _write_mbtiles(
    path: Path, tiles: Iterator[tuple[int, int, int, bytes]], bounds: BBox, metadata: dict, max_zoom: int
) -> None:
    minx, miny, maxx, maxy = bounds
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute(
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)"
        )
        db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        # MBTiles rows count from the south (TMS), tile matrices from the north.
        db.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            ((z, x, (1 << z) - 1 - y, data) for z, x, y, data in tiles),
        )
        rows = {
            "name": metadata["name"], "format": "pbf", "type": "overlay", "version": "1.3",
            "description": metadata["description"], "attribution": metadata["attribution"],
            "bounds": f"{minx},{miny},{maxx},{maxy}", "center": f"{(minx + maxx) / 2},{(miny + maxy) / 2},8",
            "minzoom": str(MIN_ZOOM), "maxzoom": str(max_zoom),
            "json": json.dumps({"vector_layers": metadata["vector_layers"]}),
        }  # fmt: skip
        db.executemany("INSERT INTO metadata VALUES (?, ?)", rows.items())
    db.close()
