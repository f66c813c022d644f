"""Write the glyphs the vector tile styles label with: MapLibre's SDF glyph protobufs of DejaVu Sans
(matplotlib's copy, Bitstream Vera / DejaVu licence), ranges 0-255 and 256-511 (every letter an
Indonesian place name uses), into service/static/glyphs/. The service then needs no font server.

Each glyph is drawn at 24 px with a 3 px border and turned into a signed distance field of radius 8
with the edge at 0.75 (192/255), the convention of fontnik and TinySDF that MapLibre's shader reads.

    .venv/bin/python scripts/vendor-glyphs.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import distance_transform_edt

from layers.maps._mvt import _field, _varint  # the same protobuf framing as the tiles

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "service" / "static" / "glyphs" / "dejavu-sans-book"
FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
STACK = "DejaVu Sans Book"
SIZE, BUFFER, RADIUS, CUTOFF = 24, 3, 8.0, 0.25
RANGES = ((0, 255), (256, 511))


def _uint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _sint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint((value << 1) ^ (value >> 31))


def _glyph(font: ImageFont.FreeTypeFont, code: int, ascender: int) -> bytes | None:
    char = chr(code)
    if code < 32 or 127 <= code < 160:  # control characters draw nothing
        return None
    if char.isspace() or not font.getmask(char).getbbox():
        return b"" if char.isspace() else None
    advance = round(font.getlength(char))
    left, top, right, bottom = font.getbbox(char, anchor="ls")
    width, height = max(right - left, 0), max(bottom - top, 0)
    fields = _uint(1, code)
    if width and height:
        canvas = Image.new("L", (width + 2 * BUFFER, height + 2 * BUFFER), 0)
        ImageDraw.Draw(canvas).text((BUFFER - left, BUFFER - top), char, font=font, fill=255, anchor="ls")
        alpha = np.asarray(canvas, dtype=np.float64) / 255.0
        inside = alpha > 0.5
        distance = distance_transform_edt(~inside) - distance_transform_edt(inside)
        sdf = np.clip(255 - 255 * (distance / RADIUS + CUTOFF), 0, 255).astype(np.uint8)
        fields += _field(2, sdf.tobytes())
    fields += (
        _uint(3, width) + _uint(4, height) + _sint(5, left) + _sint(6, -top - ascender) + _uint(7, advance)
    )
    return fields


def write_range(font: ImageFont.FreeTypeFont, start: int, end: int) -> Path:
    """One range's protobuf (``glyphs { stacks { name, range, glyphs } }``)."""
    ascender, _ = font.getmetrics()
    glyphs = b""
    for code in range(start, end + 1):
        glyph = _glyph(font, code, ascender)
        if glyph is None:
            continue
        if glyph == b"":  # a space: no bitmap, only its advance
            glyph = _uint(1, code) + _uint(3, 0) + _uint(4, 0) + _sint(5, 0) + _sint(6, -ascender)
            glyph += _uint(7, round(font.getlength(chr(code))))
        glyphs += _field(3, glyph)
    stack = _field(1, STACK.encode()) + _field(2, f"{start}-{end}".encode()) + glyphs
    path = OUT / f"{start}-{end}.pbf"
    path.write_bytes(_field(1, stack))
    return path


def main() -> None:
    """Write every range."""
    OUT.mkdir(parents=True, exist_ok=True)
    font = ImageFont.truetype(str(FONT), SIZE, layout_engine=ImageFont.Layout.BASIC)
    for start, end in RANGES:
        print(write_range(font, start, end))  # noqa: T201 (a script's report)
    (OUT / "LICENSE.txt").write_text(
        "DejaVu Sans (https://dejavu-fonts.github.io), from matplotlib's copy: Bitstream Vera Fonts "
        "copyright (c) 2003 Bitstream, Inc.; DejaVu changes are in the public domain. Converted to SDF "
        "glyphs by scripts/vendor-glyphs.py.\n"
    )


if __name__ == "__main__":
    main()
