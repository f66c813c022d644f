"""The printable briefing of a selection: one PDF a coordination meeting can use.

- (optional, ``slide=True``) a 16:9 summary page for a projector: the list in one sentence, four
  figures, the map and the first ten villages;
- page 1: the programme's title and date, the list in one sentence, the guards and the priority's
  effect in words, the map (villages coloured by M0 in the classes every Sasaran map uses,
  kabupaten/kota named, the chosen villages outlined and numbered by rank with leader lines where
  markers would overlap, zoomed to the eligible kabupaten/kota) and the breakdown by eligible
  kabupaten/kota with its total;
- then, on landscape pages, the ranked list with each village's reason in a sentence and the total,
  the villages just below the line and why, the priority's gains and losses with their values;
- last, the parameters, where the data come from in plain words, the method and the terms (H, A,
  M0, k) in a paragraph each, and a signature block.

Tables never break a word: each column is at least as wide as its longest word (a sum of money is
one word: "Rp" and its amount are joined by a no-break space), then shares the rest of the line by
the length of its text. The document is laid out by fpdf2 and the map drawn by matplotlib (its Agg
canvas, no pyplot state: safe in the service's threads); this module is imported only when a PDF
is made, so neither library loads with the service or the command line. The font is the DejaVu
Sans that matplotlib ships (every character the words use: ``—``, ``≥``, ``×``).
"""

from __future__ import annotations

import datetime
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import shapely
from fpdf import FPDF
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.path import Path as Path2D

from layers.export.wording import (
    Item,
    Table,
    about_items,
    below_line_table,
    by_kabupaten_table,
    guards_sentence,
    headline,
    number,
    percent,
    priority_sentence,
    provenance_items,
    reason_sentence,
    rupiah,
    selected_table,
    shown,
    title,
    value_word,
    word,
)
from layers.maps.classes import M0 as M0_CLASSES
from layers.store import Provenance
from layers.targeting.result import TargetResult

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
#: Rows of the ranked list printed (the downloads hold every village).
MAX_ROWS = 200
#: Chosen villages numbered on the map (all are outlined).
MAP_LABELS = 30
#: Size of the kabupaten/kota names on the map, in points at the map's own size.
NAME_POINTS = 6.5
SELECTED_EDGE = "#0b2a6f"
EXCLUDED = "#eeeeee"
NO_DATA = "#d9dee5"

TEXT: dict[str, dict[str, str]] = {
    "id": {
        "title": "Briefing seleksi desa sasaran",
        "synthetic": "DATA SINTETIS: contoh demo, bukan statistik sebenarnya.",
        "date": "Tanggal",
        "map": "Peta seleksi",
        "legend_selected": "desa terpilih (angka = peringkat 1–{n})",
        "legend_excluded": "kabupaten/kota tidak memenuhi syarat",
        "legend_m0": "M0 desa",
        "by_kabupaten": "Per kabupaten/kota (hanya yang memenuhi syarat)",
        "ranked": "Daftar desa terpilih, berurutan, dan alasannya",
        "more_rows": "… dan {n} desa lagi (lihat unduhan XLSX).",
        "more_excluded": " dan {n} lagi (semua tercantum di parameter)",
        "below": "Tepat di bawah garis (tidak terpilih) dan alasannya",
        "guarded": "{n} desa tidak dipilih karena penjaga (daftar lengkap di XLSX); contoh:",
        "priority": "Pengaruh prioritas (dibanding tanpa prioritas)",
        "gained": "Ditambahkan",
        "lost": "Tergeser",
        "value_with": "Nilai dengan prioritas",
        "value_without": "Nilai tanpa prioritas",
        "change": "Perubahan",
        "parameters": "Parameter seleksi",
        "provenance": "Asal data",
        "method": "Cara daftar ini dibuat",
        "method_text": (
            "Sasaran memilih desa dengan perhitungan bilangan bulat 0-1: daftar yang menjangkau orang "
            "terbanyak (atau skor tertinggi bila tujuannya membobot orang) tanpa melampaui anggaran, "
            "kuota kabupaten/kota dan jumlah desa maksimum. Biaya tiap desa = biaya tetap + biaya per "
            "orang × orang terjangkau, dalam orang dan rupiah utuh. Ini bukan pemotongan peringkat: "
            "perhitungan membuktikan tidak ada daftar lain dengan aturan yang sama yang nilainya lebih "
            "dari selisih optimalitas di atas daftar ini. Keyakinan sebuah desa adalah bagian dari {n} "
            "skenario (bobot dimensi dan k sedikit diubah, seed tetap) di mana pengoptimal yang sama, "
            "dimulai dari daftar ini, tetap memilihnya."
        ),
        "terms": "Istilah",
        "terms_text": (
            "k: batas miskin; seseorang miskin multidimensi bila skor deprivasinya (bagian berbobot "
            "indikator yang tidak terpenuhi) paling sedikit k. H: bagian penduduk yang miskin "
            "multidimensi. A: rata-rata skor deprivasi orang miskin (seberapa dalam kemiskinannya). "
            "M0 = H × A: kemiskinan multidimensi yang memperhitungkan jumlah dan kedalaman sekaligus."
        ),
        "signatures": "Pengesahan",
        "prepared": "Disiapkan oleh",
        "checked": "Diperiksa oleh",
        "approved": "Disetujui oleh",
        "sign_name": "Nama",
        "sign_id": "NIP",
        "sign_date": "Tanggal",
        "rank": "No.",
        "village": "Desa (kode · kecamatan)",
        "page": "Halaman {n}",
        "key_villages": "desa terpilih",
        "key_people": "orang terjangkau",
        "key_cost": "biaya",
        "key_coverage": "cakupan provinsi",
        "top_ten": "Sepuluh desa teratas",
    },
    "en": {
        "title": "Village targeting briefing",
        "synthetic": "SYNTHETIC DATA: a demo, not real statistics.",
        "date": "Date",
        "map": "Selection map",
        "legend_selected": "chosen village (number = rank 1–{n})",
        "legend_excluded": "kabupaten/kota not eligible",
        "legend_m0": "Village M0",
        "by_kabupaten": "By kabupaten/kota (eligible ones only)",
        "ranked": "Chosen villages, ranked, and why",
        "more_rows": "… and {n} more villages (see the XLSX download).",
        "more_excluded": " and {n} more (all listed with the parameters)",
        "below": "Just below the line (not chosen) and why",
        "guarded": "{n} villages were left out by the guards (all listed in the XLSX); for example:",
        "priority": "Effect of the priority (against no priority)",
        "gained": "Brought in",
        "lost": "Pushed out",
        "value_with": "Value with priority",
        "value_without": "Value without priority",
        "change": "Change",
        "parameters": "Selection parameters",
        "provenance": "Where the data come from",
        "method": "How this list was made",
        "method_text": (
            "Sasaran chooses villages with a 0-1 integer programme: the list that reaches the most "
            "people (or the highest score, when the objective weighs people) without exceeding the "
            "budget, the kabupaten/kota quotas and the maximum number of villages. A village costs a "
            "fixed amount plus a cost per person reached, in whole persons and whole rupiah. It is not "
            "a ranking cut at the budget: the solver proves that no other list under the same rules "
            "is worth more than the optimality gap above this one. A village's confidence is the share "
            "of {n} scenarios (dimension weights and k moved a little, fixed seed) in which the same "
            "optimiser, started from this list, still chooses it."
        ),
        "terms": "Terms",
        "terms_text": (
            "k: the poverty cutoff; a person is multidimensionally poor when their deprivation score "
            "(the weighted share of indicators they are deprived in) is at least k. H: the share of "
            "people who are multidimensionally poor. A: the average deprivation score of the poor (how "
            "deep their poverty is). M0 = H × A: multidimensional poverty counting both at once."
        ),
        "signatures": "Sign-off",
        "prepared": "Prepared by",
        "checked": "Checked by",
        "approved": "Approved by",
        "sign_name": "Name",
        "sign_id": "Staff no. (NIP)",
        "sign_date": "Date",
        "rank": "No.",
        "village": "Village (code · kecamatan)",
        "page": "Page {n}",
        "key_villages": "villages chosen",
        "key_people": "people reached",
        "key_cost": "cost",
        "key_coverage": "of the province",
        "top_ten": "The first ten villages",
    },
}
MONTHS = {
    "id": "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember".split(),
    "en": "January February March April May June July August September October November December".split(),
}
#: Slide-sized page (16:9, 10 × 5.625 inches) in millimetres.
SLIDE = (254.0, 142.875)


def long_date(day: datetime.date, lang: str) -> str:
    """``12 Mei 2025`` / ``12 May 2025``."""
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"


# ------------------------------------------------------------------------------------------------
# The map
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapImage:
    """The selection map as a PNG, with where the renderer put its labels (pixels, y down)."""

    png: bytes
    width: int
    height: int
    markers: list[tuple[float, float, float, float]]
    """Boxes (x0, y0, x1, y1) of the numbered markers."""
    names: list[MapName]
    """Kabupaten/kota names: placed clear of each other here, written as text over the image by
    the PDF (so that they are crisp, and found by a reader's search or ``pdftotext``)."""
    extent: tuple[float, float, float, float]
    """The map's bounds in degrees (west, south, east, north)."""
    dpi: int
    """Pixels per inch of the PNG (the PDF sizes the names' text by it)."""


@dataclass(frozen=True)
class MapName:
    """A kabupaten/kota name on the map: its box in pixels (y down), and whether it is excluded."""

    label: str
    box: tuple[float, float, float, float]
    excluded: bool


def _compound_paths(shapes: np.ndarray) -> list[Path2D]:
    """One path per (multi)polygon with its holes as holes: exterior rings counter-clockwise and
    holes clockwise, each ring closed, so that the fill leaves the holes empty."""
    parts, owner = shapely.get_parts(shapely.orient_polygons(shapes), return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(xy), Path2D.LINETO, dtype=np.uint8)
    starts = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    codes[starts] = Path2D.MOVETO
    codes[np.r_[starts[1:], len(xy)] - 1] = Path2D.CLOSEPOLY
    shape_of = owner[ring_part[ring_of]]
    bounds = np.searchsorted(shape_of, np.arange(len(shapes) + 1))
    return [
        Path2D(xy[a:b], codes[a:b]) if b > a else Path2D(np.zeros((1, 2)))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def briefing_map(
    result: TargetResult,
    villages: pd.DataFrame,
    lang: str,
    size: tuple[float, float] = (7.2, 5.2),
    dpi: int = 170,
) -> MapImage:
    """The selection map: villages by M0 class, kabupaten/kota named, chosen villages outlined and
    numbered without overlap, zoomed to the eligible kabupaten/kota.

    Parameters
    ----------
    result
        The selection.
    villages
        The store's villages layer (geometry, codes, kabupaten).
    lang
        ``id`` or ``en``.
    size, dpi
        Figure size in inches and resolution.

    Returns
    -------
    MapImage
        The PNG and the boxes of its labels (tests check that no two markers overlap).
    """
    text = TEXT[lang]
    codes = villages["village_code"].astype(str).to_numpy()
    kab = villages["kabupaten_code"].astype(str).to_numpy()
    table = result.villages
    at = pd.Index(table.village_code).get_indexer(codes)
    m0 = np.array([np.nan if v is None else v for v in table.M0], dtype=np.float64)
    m0 = np.where(at >= 0, m0[np.maximum(at, 0)], np.nan)
    excluded_codes = {e.kabupaten_code for e in result.summary.excluded_kabupaten}
    is_excluded = np.isin(kab, list(excluded_codes))
    rank = {v.village_code: v.rank for v in result.selected}
    is_selected = np.isin(codes, list(rank))

    geometry = np.asarray(villages.geometry)
    eligible = geometry[~is_excluded] if (~is_excluded).any() else geometry
    west, south, east, north = shapely.total_bounds(eligible)
    pad_x, pad_y = 0.03 * (east - west) + 1e-3, 0.03 * (north - south) + 1e-3
    west, east, south, north = west - pad_x, east + pad_x, south - pad_y, north + pad_y
    # topology kept across villages: no slivers between neighbours, so no stray lines
    shapes = shapely.coverage_simplify(geometry, (east - west) / 1500)

    # the figure takes the map's shape (degrees of longitude shrink away from the equator), within
    # bounds that keep it on the page; the extent grows on the short side to fill it exactly
    squeeze = float(np.cos(np.radians((south + north) / 2)))
    ratio = (north - south) / ((east - west) * squeeze)
    width = size[0]
    height = min(max(width * ratio, size[1] * 0.6), size[1] * 1.35)
    if height / width > ratio:  # too tall for the area: widen nothing, add latitude
        extra = (height / width * (east - west) * squeeze - (north - south)) / 2
        south, north = south - extra, north + extra
    else:
        extra = ((north - south) / squeeze * width / height - (east - west)) / 2
        west, east = west - extra, east + extra
    figure = Figure(figsize=(width, height), dpi=dpi)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    colours = np.array(M0_CLASSES.colors + [NO_DATA], dtype=object)
    klass = M0_CLASSES.index(m0)
    face = np.where(is_excluded, EXCLUDED, colours[klass])
    paths = _compound_paths(shapes)
    ax.add_collection(PathCollection(paths, facecolors=list(face), edgecolors="white", linewidths=0.15))
    kab_codes, kab_pos = np.unique(kab, return_inverse=True)
    outlines = np.array([shapely.coverage_union_all(shapes[kab_pos == g]) for g in range(len(kab_codes))])
    veiled = np.isin(kab_codes, list(excluded_codes))
    if veiled.any():  # hatched once per kabupaten, not per village: hatching costs per path
        ax.add_collection(
            PathCollection(
                _compound_paths(outlines[veiled]),
                facecolors="none",
                edgecolors="#b5bcc6",
                linewidths=0.0,
                hatch="////",
            )
        )
    ax.add_collection(
        PathCollection(_compound_paths(outlines), facecolors="none", edgecolors="#39424e", linewidths=0.7)
    )
    chosen_paths = [p for p, c in zip(paths, is_selected, strict=True) if c]
    ax.add_collection(
        PathCollection(chosen_paths, facecolors="none", edgecolors=SELECTED_EDGE, linewidths=1.1)
    )
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    canvas = FigureCanvasAgg(figure)
    renderer = canvas.get_renderer()
    placer = _Placer(ax, renderer)

    names = villages.groupby(villages["kabupaten_code"].astype(str))["kabupaten_name"].first()
    drawn_names = []
    for g, code in enumerate(kab_codes):
        point = outlines[g].representative_point()
        excluded = code in excluded_codes
        label = str(names[code])
        box = placer.name(label, (point.x, point.y), excluded)
        if box is not None:
            drawn_names.append(MapName(label, box, excluded))
    points = shapely.point_on_surface(geometry[is_selected])
    ranks = np.array([rank[c] for c in codes[is_selected]])
    first = len(placer.placed)
    for i in np.argsort(ranks)[:MAP_LABELS]:
        placer.marker(str(ranks[i]), (points[i].x, points[i].y))
    present = M0_CLASSES.present(m0[~is_excluded])
    handles = [
        Patch(facecolor=M0_CLASSES.classes[c].color, label=getattr(M0_CLASSES.classes[c].label, lang))
        for c in present
    ]
    handles.append(
        Patch(
            facecolor="none",
            edgecolor=SELECTED_EDGE,
            linewidth=1.1,
            label=text["legend_selected"].format(n=min(MAP_LABELS, len(ranks))),
        )
    )
    if excluded_codes:
        handles.append(
            Patch(facecolor=EXCLUDED, edgecolor="#b5bcc6", hatch="////", label=text["legend_excluded"])
        )
    legend = ax.legend(
        handles=handles,
        loc="lower left",
        fontsize=5.5,
        frameon=True,
        title=text["legend_m0"],
        title_fontsize=6,
    )
    legend.get_frame().set_alpha(0.9)
    out = io.BytesIO()
    canvas.print_png(out)
    width, height = canvas.get_width_height()
    markers = placer.measured()[first:]
    return MapImage(out.getvalue(), width, height, markers, drawn_names, (west, south, east, north), dpi)


class _Placer:
    """Places labels so that no two overlap: at their point if free, else on rings around it with a
    leader line; boxes are measured by the renderer (pixels, y down as in the PNG)."""

    def __init__(self, ax: Any, renderer: Any) -> None:
        self.ax, self.renderer = ax, renderer
        self.boxes: list[tuple[float, float, float, float]] = []
        self.placed: list[Any] = []
        self.height = ax.figure.bbox.height
        self.frame = ax.bbox

    def _measure(self, artist: Any) -> tuple[float, float, float, float]:
        extent = artist.get_window_extent(self.renderer)
        if artist.get_bbox_patch() is not None:
            artist.update_bbox_position_size(self.renderer)
            extent = artist.get_bbox_patch().get_window_extent(self.renderer)
        return (extent.x0, self.height - extent.y1, extent.x1, self.height - extent.y0)

    def _free(self, box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        inside = x0 >= self.frame.x0 and x1 <= self.frame.x1 and y0 >= 0 and y1 <= self.height
        return inside and all(x1 <= b[0] or b[2] <= x0 or y1 <= b[1] or b[3] <= y0 for b in self.boxes)

    def _place(
        self, artist: Any, anchor: tuple[float, float], rings: Sequence[float], leader: bool = True
    ) -> tuple[float, float, float, float] | None:
        """Put ``artist`` (centred on its position) at the first free spot; its size is measured once."""
        ax_x, ax_y = self.ax.transData.transform(anchor)
        x0, y0, x1, y1 = self._measure(artist)
        cx, cy = ax_x, self.height - ax_y
        size = max(x1 - x0, y1 - y0)
        pad = 1.0
        for radius in rings:
            steps = 1 if radius == 0 else 12
            for k in range(steps):
                angle = 2 * math.pi * k / steps + math.pi / 4
                x, y = ax_x + radius * size * math.cos(angle), ax_y + radius * size * math.sin(angle)
                px, py = x - cx, (self.height - y) - cy
                box = (x0 + px - pad, y0 + py - pad, x1 + px + pad, y1 + py + pad)
                if not self._free(box):
                    continue
                self.boxes.append(box)
                position = self.ax.transData.inverted().transform((x, y))
                artist.set_position(position)
                if radius > 0 and leader:
                    self.ax.annotate(
                        "", xy=anchor, xytext=position,
                        arrowprops={"arrowstyle": "-", "color": "#1c2430", "lw": 0.5, "shrinkA": 0,
                                    "shrinkB": 0},
                        zorder=4,
                    )  # fmt: skip
                    self.ax.plot(*anchor, marker="o", markersize=1.6, color="#1c2430", zorder=5)
                self.placed.append(artist)
                return box
        artist.remove()
        return None

    def measured(self) -> list[tuple[float, float, float, float]]:
        """The boxes of the placed labels as the renderer draws them."""
        return [self._measure(artist) for artist in self.placed]

    def marker(self, label: str, anchor: tuple[float, float]) -> tuple[float, float, float, float] | None:
        """A numbered circle at the village, or on a ring around it with a leader line."""
        artist = self.ax.text(
            *anchor, label, fontsize=6.5, ha="center", va="center", color="white", fontweight="bold",
            zorder=6,
            bbox={"boxstyle": "circle,pad=0.18", "fc": SELECTED_EDGE, "ec": "white", "lw": 0.5},
        )  # fmt: skip
        return self._place(artist, anchor, (0, 1.3, 2.3, 3.4, 4.6, 6.0, 7.5))

    def name(
        self, label: str, anchor: tuple[float, float], excluded: bool
    ) -> tuple[float, float, float, float] | None:
        """A kabupaten/kota name at its centre, or nearby when that place is taken."""
        artist = self.ax.text(
            *anchor, label, fontsize=NAME_POINTS, ha="center", va="center", zorder=5,
            style="italic" if excluded else "normal",
            color="#5a6472" if excluded else "#1c2430", fontweight="normal" if excluded else "bold",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )  # fmt: skip
        box = self._place(artist, anchor, (0, 0.6, 1.2), leader=False)
        artist.set_visible(False)  # its place is kept; the PDF writes the name as text there
        return box


# ------------------------------------------------------------------------------------------------
# The document
# ------------------------------------------------------------------------------------------------


class _Briefing(FPDF):
    def __init__(self, lang: str, footer_text: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.lang = lang
        self.footer_text = footer_text
        self.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_font("DejaVu", size=9)
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(14, 14, 14)
        self._word_widths: dict[tuple[str, float, bool], float] = {}

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font("DejaVu", size=7)
        self.set_text_color(90, 100, 114)
        page = TEXT[self.lang]["page"].format(n=self.page_no())
        self.cell(0, 5, f"{self.footer_text}  ·  {page}", align="C")
        self.set_text_color(0, 0, 0)

    def map_image(
        self, image: MapImage, x: float, y: float, width: float, height: float | None = None
    ) -> None:
        """The map at (x, y), ``width`` mm wide, with the kabupaten/kota names written over it."""
        height = height or width * image.height / image.width
        self.image(io.BytesIO(image.png), x=x, y=y, w=width, h=height)
        scale = width / image.width  # mm per pixel
        size = NAME_POINTS * scale * image.dpi / 25.4
        for name in image.names:
            x0, y0, x1, y1 = (v * scale for v in name.box)
            self.set_font("DejaVu", "" if name.excluded else "B", size)
            self.set_text_color(90, 100, 114) if name.excluded else self.set_text_color(28, 36, 48)
            with self.local_context(fill_opacity=0.75):
                self.set_fill_color(255, 255, 255)
                self.rect(x + x0, y + y0, x1 - x0, y1 - y0, style="F")
            text_width = self.get_string_width(name.label)
            self.text(
                x + (x0 + x1) / 2 - text_width / 2, y + (y0 + y1) / 2 + size * 0.3528 * 0.35, name.label
            )
        self.set_text_color(0, 0, 0)
        self.set_font("DejaVu", size=9)

    def heading(self, text: str, size: float = 12) -> None:
        if self.get_y() > self.page_break_trigger - 30:  # never a heading alone at the foot of a page
            self.add_page(orientation=str(self.cur_orientation.value))
        self.set_font("DejaVu", "B", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align="L")
        self.ln(1.5)
        self.set_font("DejaVu", size=9)

    def paragraph(self, text: str, size: float = 9) -> None:
        self.set_font("DejaVu", size=size)
        self.multi_cell(0, size * 0.48, text, new_x="LMARGIN", new_y="NEXT", align="L")
        self.ln(1.5)

    def grid(
        self, header: list[str], rows: list[list[str]], numeric: set[int], bold_last: bool = False
    ) -> None:
        """A table whose columns never break a word (module docstring), drawn line by line.

        Cells are wrapped here at spaces (a word's width measured once), so that a long list costs
        a few drawing calls per line rather than fpdf2's table layout per cell.
        """
        size = 7.5
        while True:
            widths = self._widths(header, rows, size, bold_last)
            if widths is not None or size <= 5.5:
                break
            size -= 0.5
        if widths is None:  # words too long for the page even small: share it evenly
            widths = tuple(self.epw / len(header) for _ in header)
        line, pad = size * 0.42, 0.8
        self._row(header, widths, numeric, size, line, pad, head=True)
        for r, values in enumerate(rows):
            bold = bold_last and r == len(rows) - 1
            needed = self._height(values, widths, size, line, pad, bold)
            if self.get_y() + needed > self.page_break_trigger:
                self.add_page(orientation=str(self.cur_orientation.value))
                self._row(header, widths, numeric, size, line, pad, head=True)
            self._row(values, widths, numeric, size, line, pad, bold=bold)
        self.ln(2)
        self.set_font("DejaVu", size=9)

    def _word(self, word: str, size: float, bold: bool) -> float:
        key = (word, size, bold)
        width = self._word_widths.get(key)
        if width is None:
            self.set_font("DejaVu", "B" if bold else "", size)
            width = self._word_widths[key] = self.get_string_width(word)
        return width

    def _wrap(self, text: str, width: float, size: float, bold: bool) -> list[str]:
        space = self._word(" ", size, bold)
        lines: list[str] = []
        for paragraph in str(text).split("\n"):
            current, used = "", 0.0
            for token in paragraph.split(" "):
                w = self._word(token, size, bold)
                if current and used + space + w > width:
                    lines.append(current)
                    current, used = token, w
                else:
                    current, used = (f"{current} {token}", used + space + w) if current else (token, w)
            lines.append(current)
        return lines

    def _height(
        self, values: list[str], widths: tuple[float, ...], size: float, line: float, pad: float, bold: bool
    ) -> float:
        most = max(len(self._wrap(v, w - 2 * pad, size, bold)) for v, w in zip(values, widths, strict=True))
        return most * line + 2 * pad

    def _row(
        self,
        values: list[str],
        widths: tuple[float, ...],
        numeric: set[int],
        size: float,
        line: float,
        pad: float,
        head: bool = False,
        bold: bool = False,
    ) -> None:
        strong = head or bold
        wrapped = [self._wrap(v, w - 2 * pad, size, strong) for v, w in zip(values, widths, strict=True)]
        height = max(len(lines) for lines in wrapped) * line + 2 * pad
        x, y = self.l_margin, self.get_y()
        self.set_draw_color(200, 206, 214)
        self.set_line_width(0.15)
        if head:
            self.set_fill_color(238, 241, 244)
        self.set_font("DejaVu", "B" if strong else "", size)
        for j, (lines, width) in enumerate(zip(wrapped, widths, strict=True)):
            self.rect(x, y, width, height, style="DF" if head else "D")
            for k, text in enumerate(lines):
                tx = x + pad
                if j in numeric:
                    tx = (
                        x
                        + width
                        - pad
                        - sum(self._word(w, size, strong) for w in text.split(" "))
                        - self._word(" ", size, strong) * (len(text.split(" ")) - 1)
                    )
                self.text(tx, y + pad + (k + 0.78) * line, text)
            x += width
        self.set_fill_color(255, 255, 255)
        self.set_y(y + height)

    def _widths(
        self, header: list[str], rows: list[list[str]], size: float, bold_last: bool = False
    ) -> tuple[float, ...] | None:
        """Column widths (mm) with room for each column's longest word, or None when they cannot fit."""
        pad = 2 * 0.8 + 0.6
        minimum, desired = [], []
        for j, head in enumerate(header):
            words = [self._word(w, size, True) for w in head.split()]
            lines = [sum(self._word(w, size, True) for w in part.split()) for part in head.split("\n")]
            for r, row in enumerate(rows[:400] + rows[-1:] if len(rows) > 400 else rows):
                bold = bold_last and r == min(len(rows), 401) - 1
                for part in str(row[j]).split("\n"):
                    sizes = [self._word(w, size, bold) for w in part.split(" ")]
                    words += sizes
                    lines.append(sum(sizes) + self._word(" ", size, bold) * (len(sizes) - 1))
            minimum.append(max(words + [1.0]) + pad)
            desired.append(min(max(lines + [1.0]), 90.0) + pad)
        room = self.epw - sum(minimum)
        if room < 0:
            return None
        extra = [d - m for d, m in zip(desired, minimum, strict=True)]
        share = sum(extra)
        if share <= room:  # everything on one line: spread the rest by what each holds
            total = sum(desired)
            return tuple(d * self.epw / total for d in desired)
        return tuple(m + room * e / share for m, e in zip(minimum, extra, strict=True))


def write_briefing(
    result: TargetResult,
    path: Path,
    villages: pd.DataFrame | None,
    lang: str = "id",
    provenance: Provenance | None = None,
    slide: bool = False,
    today: datetime.date | None = None,
) -> None:
    """Write the briefing PDF of a selection to ``path`` (not atomically: `write_targets` does).

    Parameters
    ----------
    result
        The selection.
    path
        The file to write.
    villages
        The store's villages layer (geometry for the map; without it the map is left out).
    lang
        ``id`` (default) or ``en``.
    provenance
        The store's name, build and sources (`LayerStore.provenance`).
    slide
        Add a slide-sized (16:9) summary page first.
    today
        The date printed (default: today).
    """
    # fpdf2 subsets the font with fontTools, which logs every table it touches at INFO.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    text = TEXT[lang]
    synthetic = provenance is not None and provenance.synthetic
    name = provenance.name if provenance is not None else ""
    day = long_date(today or datetime.date.today(), lang)
    title_text = result.parameters.title or text["title"]
    footer = f"Sasaran · {name} · {result.year}" + (" · SYNTHETIC" if synthetic else "")
    pdf = _Briefing(lang, footer)
    pdf.set_title(title_text)
    pdf.set_creator("Sasaran")
    image = briefing_map(result, villages, lang) if villages is not None and len(villages) else None
    if slide:
        _slide(pdf, result, lang, title_text, day, image, synthetic)
    pdf.add_page(orientation="P", format="A4")
    pdf.heading(title_text, 15)
    pdf.paragraph(f"{name} · {text['date']}: {day}", 9)
    if synthetic:
        pdf.set_fill_color(255, 216, 77)
        pdf.set_font("DejaVu", "B", 9)
        pdf.multi_cell(0, 6, text["synthetic"], fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_fill_color(255, 255, 255)  # tables fill with the current colour
        pdf.ln(2)
    pdf.paragraph(headline(result, lang), 10)
    if result.reason:
        pdf.paragraph(result.reason)
    pdf.paragraph(guards_sentence(result, lang))
    said = priority_sentence(result, lang)
    if said:
        pdf.paragraph(said)
    if image is not None:
        pdf.heading(text["map"], 11)
        # the map takes what the kabupaten table (a line per eligible kabupaten/kota) leaves
        table_height = 14 + 5.5 * (len(result.summary.by_kabupaten) + 2)
        room = pdf.page_break_trigger - pdf.get_y() - table_height
        width = min(pdf.epw * 0.92, max(room, 60) * image.width / image.height)
        top = pdf.get_y()
        pdf.map_image(image, pdf.l_margin + (pdf.epw - width) / 2, top, width)
        pdf.set_y(top + width * image.height / image.width + 2)
    _kabupaten(pdf, result, lang)
    pdf.add_page(orientation="L", format="A4")
    _ranked(pdf, result, lang)
    _below(pdf, result, lang)
    _priority(pdf, result, lang)
    _guarded(pdf, result, lang)
    pdf.add_page(orientation="P", format="A4")
    _parameters(pdf, result, lang, provenance)
    _signatures(pdf, lang)
    pdf.output(str(path))


def _cells(table: Table, lang: str, with_total: bool = True) -> tuple[list[str], list[list[str]]]:
    rows = [[shown(c, v, lang) for c, v in zip(table.columns, row, strict=True)] for row in table.rows]
    if with_total and table.total is not None:
        rows.append(_total_cells(table, lang))
    return table.headers(lang), rows


def _total_cells(table: Table, lang: str) -> list[str]:
    """The total row as text: blank where a column does not add up."""
    assert table.total is not None
    return ["" if v is None else shown(c, v, lang) for c, v in zip(table.columns, table.total, strict=True)]


def _numeric(table: Table) -> set[int]:
    text = {
        "village_code",
        "village_name",
        "kecamatan_name",
        "kabupaten_code",
        "kabupaten_name",
        "kecamatan_code",
    }
    text |= {"why", "reason", "drivers", "top_indicators", "priority_gained"}
    return {i for i, c in enumerate(table.columns) if c not in text}


def _kabupaten(pdf: _Briefing, result: TargetResult, lang: str) -> None:
    table = by_kabupaten_table(result, lang)
    keep = [c for c in table.columns if c != "kabupaten_code"]
    table = _only(table, keep)
    pdf.heading(TEXT[lang]["by_kabupaten"], 11)
    header, rows = _cells(table, lang)
    pdf.grid(header, rows, _numeric(table), bold_last=True)
    excluded = result.summary.excluded_kabupaten
    if excluded:
        names = ", ".join(e.kabupaten_name for e in excluded[:4])
        more = TEXT[lang]["more_excluded"].format(n=len(excluded) - 4) if len(excluded) > 4 else ""
        pdf.paragraph(f"{word('excluded_kabupaten', lang)}: {names}{more}.")


def _only(table: Table, columns: list[str]) -> Table:
    """The table with only ``columns``; the total row keeps its label in the first free cell."""
    at = [table.columns.index(c) for c in columns]
    total = None
    if table.total is not None:
        total = [table.total[i] for i in at]
        label = next((v for v in table.total if isinstance(v, str)), None)
        if label is not None and label not in total:
            total[next(i for i, v in enumerate(total) if v is None)] = label
    return Table(table.name, columns, [[r[i] for i in at] for r in table.rows], total)


def _ranked(pdf: _Briefing, result: TargetResult, lang: str) -> None:
    text = TEXT[lang]
    pdf.heading(text["ranked"], 11)
    full = selected_table(result, lang)
    columns = ["rank", "village_name", "kabupaten_name", "people_reached"]
    columns += ["objective_score"] if result.weighted else []
    columns += ["cost", "M0", "confidence", "why"]
    table = _only(full, columns)
    header = [text["rank"], text["village"], *table.headers(lang)[2:]]
    rows = []
    for row, v in zip(table.rows[:MAX_ROWS], result.selected, strict=False):
        cells = [shown(c, x, lang) for c, x in zip(table.columns, row, strict=True)]
        cells[1] = f"{v.village_name}\n{v.village_code} · {v.kecamatan_name}"
        rows.append(cells)
    if table.total is not None:
        rows.append(_total_cells(table, lang))
    pdf.grid(header, rows, _numeric(table), bold_last=table.total is not None)
    if len(result.selected) > MAX_ROWS:
        pdf.paragraph(text["more_rows"].format(n=len(result.selected) - MAX_ROWS))


def _below(pdf: _Briefing, result: TargetResult, lang: str) -> None:
    if not result.below_line:
        return
    pdf.heading(TEXT[lang]["below"], 11)
    table = below_line_table(result, lang)
    keep = [
        c for c in table.columns if c not in ("village_code", "kecamatan_name", "cost_per_person_reached")
    ]
    table = _only(table, keep)
    header, rows = _cells(table, lang, with_total=False)
    pdf.grid(header, rows, _numeric(table))


def _priority(pdf: _Briefing, result: TargetResult, lang: str) -> None:
    effect = result.priority_effect
    if effect is None:
        return
    text = TEXT[lang]
    pdf.heading(text["priority"], 11)
    pdf.paragraph(priority_sentence(result, lang) or "")
    if not effect.changed:
        return
    header = [text["change"], title("village_name", lang), title("kabupaten_name", lang)]
    header += [title("people_reached", lang), title("cost", lang), text["value_without"], text["value_with"]]
    header += [value_word(g, lang) for g in ("elderly", "disabled", "female_headed_hh")]
    rows = []
    for key, villages in (("gained", effect.gained), ("lost", effect.lost)):
        for v in villages:
            shares = v.priority_shares
            rows.append(
                [
                    text[key], v.village_name, v.kabupaten_name, number(v.people_reached, lang, digits=0),
                    rupiah(v.cost, lang), number(v.value_without, lang, digits=2),
                    number(v.value_with, lang, digits=2), percent(shares.elderly, lang),
                    percent(shares.disabled, lang), percent(shares.female_headed_hh, lang),
                ]
            )  # fmt: skip
    pdf.grid(header, rows, {3, 4, 5, 6, 7, 8, 9})


def _guarded(pdf: _Briefing, result: TargetResult, lang: str) -> None:
    g = result.summary.guards
    n = g.min_people.excluded + g.max_cost_per_person.excluded
    if not n:
        return
    pdf.paragraph(TEXT[lang]["guarded"].format(n=number(n, lang, digits=0)))
    header = [title("village_name", lang), title("kabupaten_name", lang), title("reason", lang)]
    rows = [[x.village_name, x.kabupaten_name, reason_sentence(x, result, lang)] for x in result.guarded[:6]]
    pdf.grid(header, rows, set())


def _items(pdf: _Briefing, items: list[Item], lang: str) -> None:
    header = [word("item", lang), word("value", lang)]
    pdf.grid(header, [[i.label, i.text(lang)] for i in items], set())


def _parameters(pdf: _Briefing, result: TargetResult, lang: str, provenance: Provenance | None) -> None:
    text = TEXT[lang]
    pdf.heading(text["parameters"], 12)
    _items(pdf, about_items(result, lang), lang)
    pdf.heading(text["provenance"], 12)
    _items(pdf, provenance_items(result, lang, provenance), lang)
    pdf.heading(text["method"], 12)
    pdf.paragraph(text["method_text"].format(n=result.scenarios.n))
    pdf.heading(text["terms"], 12)
    pdf.paragraph(text["terms_text"])


def _signatures(pdf: _Briefing, lang: str) -> None:
    text = TEXT[lang]
    if pdf.get_y() > pdf.h - 70:
        pdf.add_page(orientation="P", format="A4")
    pdf.heading(text["signatures"], 12)
    width = pdf.epw / 3
    top = pdf.get_y()
    pdf.set_font("DejaVu", size=8.5)
    for k, role in enumerate(("prepared", "checked", "approved")):
        x = pdf.l_margin + k * width
        pdf.set_xy(x, top)
        pdf.set_font("DejaVu", "B", 8.5)
        pdf.cell(width - 4, 5, text[role])
        pdf.set_font("DejaVu", size=8.5)
        pdf.line(x, top + 26, x + width - 6, top + 26)  # the signature
        for line, key in enumerate(("sign_name", "sign_id", "sign_date")):
            pdf.set_xy(x, top + 28 + 6 * line)
            pdf.cell(width - 4, 5, f"{text[key]}: ____________________")
    pdf.set_y(top + 50)


def _slide(
    pdf: _Briefing,
    result: TargetResult,
    lang: str,
    title_text: str,
    day: str,
    image: MapImage | None,
    synthetic: bool,
) -> None:
    """A 16:9 page for a projector: title, the list in a sentence, four figures, the map, the top ten."""
    text = TEXT[lang]
    pdf.add_page(format=SLIDE)
    pdf.set_auto_page_break(auto=False)
    pdf.set_font("DejaVu", "B", 16)
    pdf.set_xy(10, 8)
    pdf.multi_cell(150, 7, title_text)
    pdf.set_font("DejaVu", size=8)
    pdf.set_x(10)
    pdf.cell(150, 5, day + ("  ·  " + text["synthetic"] if synthetic else ""))
    s = result.summary
    figures = [
        (number(s.n_selected, lang, digits=0), text["key_villages"]),
        (number(s.people_reached, lang, digits=0), text["key_people"]),
        (rupiah(s.total_cost, lang), text["key_cost"]),
        (percent(s.coverage, lang), text["key_coverage"]),
    ]
    for k, (big, small) in enumerate(figures):
        x = 10 + k * 37
        pdf.set_xy(x, 26)
        pdf.set_font("DejaVu", "B", 12 if k != 2 else 10)
        pdf.cell(36, 7, big)
        pdf.set_xy(x, 33)
        pdf.set_font("DejaVu", size=7)
        pdf.cell(36, 4, small)
    pdf.set_xy(10, 42)
    pdf.set_font("DejaVu", size=8)
    pdf.multi_cell(145, 3.8, headline(result, lang))
    pdf.set_xy(10, pdf.get_y() + 2)
    pdf.set_font("DejaVu", "B", 8)
    pdf.cell(145, 4.5, text["top_ten"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=7.5)
    for v in result.selected[:10]:
        pdf.set_x(10)
        people = f"{number(v.people_reached, lang, digits=0)} {word('people_unit', lang)}"
        line = f"{v.rank}. {v.village_name} ({v.kabupaten_name}): {people}, {rupiah(v.cost, lang)}"
        pdf.cell(145, 4, line, new_x="LMARGIN", new_y="NEXT")
    if image is not None:
        width = SLIDE[0] - 160
        height = width * image.height / image.width
        if height > SLIDE[1] - 16:
            height = SLIDE[1] - 16
            width = height * image.width / image.height
        pdf.map_image(image, SLIDE[0] - width - 6, 8, width, height)
    pdf.set_auto_page_break(auto=True, margin=15)
