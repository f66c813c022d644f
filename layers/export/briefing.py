"""The printable briefing of a selection: one PDF for the coordination meeting.

Page 1: what was chosen (the summary in one sentence, the selection map, the breakdown by
kabupaten/kota); then the ranked list with each village's reason and the villages just below the
line; last, the parameters of the request, where the data come from and the method in one
paragraph. Bahasa Indonesia by default, English on request.

The document is laid out by fpdf2 and the map drawn by matplotlib (its Agg canvas, no pyplot
state: safe in the service's threads); both come from PyPI, so the briefing needs no browser.
The font is the DejaVu Sans that matplotlib ships: it has every character the words use
(``—``, ``≥``, ``×``) and travels with the package.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import shapely
from fpdf import FPDF
from fpdf.fonts import FontFace
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.path import Path as Path2D

from layers.export.wording import (
    about_items,
    drivers_text,
    number,
    percent,
    rupiah,
    title,
    value_word,
    word,
)
from layers.store import Provenance
from layers.targeting.selection import TargetResult

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
#: Rows of the ranked list printed (the downloads hold every village).
MAX_ROWS = 200
#: Selected villages labelled with their rank on the map.
MAP_LABELS = 20
SELECTED = "#c0142b"
EXCLUDED = "#f1f1f1"
ELIGIBLE = "#d9dee5"

TEXT: dict[str, dict[str, str]] = {
    "id": {
        "title": "Briefing seleksi desa sasaran",
        "synthetic": "DATA SINTETIS: contoh demo, bukan statistik sebenarnya.",
        "headline": (
            "{n} desa terpilih menjangkau {people} {objective} ({coverage} dari provinsi) dengan biaya "
            "{cost} dari anggaran {budget}. Status: {status}."
        ),
        "map": "Peta seleksi",
        "legend_selected": "desa terpilih (angka = peringkat)",
        "legend_eligible": "desa lain yang memenuhi syarat",
        "legend_excluded": "kabupaten/kota dikecualikan",
        "by_kabupaten": "Per kabupaten/kota",
        "ranked": "Daftar desa terpilih, berurutan",
        "more_rows": "… dan {n} desa lagi (lihat unduhan XLSX).",
        "below": "Tepat di bawah garis (tidak terpilih) dan alasannya",
        "priority": "Pengaruh prioritas (dibanding tanpa prioritas)",
        "gained": "Ditambahkan",
        "lost": "Tergeser",
        "parameters": "Parameter seleksi",
        "provenance": "Asal data",
        "method": "Metode",
        "method_text": (
            "Sasaran memilih desa dengan program bilangan bulat 0-1: memaksimalkan jumlah penduduk "
            "yang dijangkau (dibobot prioritas kelompok rentan) dengan biaya tiap desa = biaya tetap + "
            "biaya per orang × penduduk terjangkau, tanpa melampaui anggaran, kuota kabupaten/kota dan "
            "jumlah desa maksimum. Ini bukan pemotongan peringkat: pemecah membuktikan bahwa tidak ada "
            "daftar lain yang memenuhi aturan yang sama menjangkau lebih dari (1 + selisih) kali nilai "
            "daftar ini. Skor kemiskinan multidimensi mengikuti metode Alkire-Foster (H, A, M0) dengan "
            "batas k dan bobot dimensi di atas. Keyakinan tiap desa adalah bagian dari skenario bobot "
            "dan k yang diacak (seed tetap) di mana desa itu tetap terpilih. Rincian: docs/targeting.md."
        ),
        "rank": "No.",
        "why": "Alasan",
        "why_text": "{ratio} org/Rp1 jt (peringkat {rank})",
        "page": "Halaman {n}",
    },
    "en": {
        "title": "Village targeting briefing",
        "synthetic": "SYNTHETIC DATA: a demo, not real statistics.",
        "headline": (
            "{n} villages chosen reach {people} {objective} ({coverage} of the province) at a cost of "
            "{cost} of a {budget} budget. Status: {status}."
        ),
        "map": "Selection map",
        "legend_selected": "selected village (number = rank)",
        "legend_eligible": "other eligible villages",
        "legend_excluded": "excluded kabupaten/kota",
        "by_kabupaten": "By kabupaten/kota",
        "ranked": "Selected villages, ranked",
        "more_rows": "… and {n} more villages (see the XLSX download).",
        "below": "Just below the line (not selected) and why",
        "priority": "Effect of the priority (against no priority)",
        "gained": "Brought in",
        "lost": "Pushed out",
        "parameters": "Selection parameters",
        "provenance": "Data provenance",
        "method": "Method",
        "method_text": (
            "Sasaran chooses villages with a 0-1 integer programme: it maximises the people reached "
            "(weighted by the priority for vulnerable groups) where a village costs a fixed amount plus "
            "a cost per person reached, within the budget, the kabupaten/kota quotas and the maximum "
            "number of villages. It is not a ranking cut at the budget: the solver proves that no other "
            "list meeting the same rules reaches more than (1 + gap) times the value of this one. The "
            "multidimensional poverty scores follow Alkire-Foster (H, A, M0) with the cutoff k and the "
            "dimension weights above. A village's confidence is the share of randomly perturbed weight "
            "and k scenarios (fixed seed) in which it is still chosen. Details: docs/targeting.md."
        ),
        "rank": "No.",
        "why": "Why",
        "why_text": "{ratio} people/Rp 1 m (rank {rank})",
        "page": "Page {n}",
    },
}
#: Items of `about_items` that describe the data rather than the request.
PROVENANCE_ITEMS = 5


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

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font("DejaVu", size=7)
        self.set_text_color(90, 100, 114)
        page = TEXT[self.lang]["page"].format(n=self.page_no())
        self.cell(0, 5, f"{self.footer_text}  ·  {page}", align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: float = 12) -> None:
        self.set_font("DejaVu", "B", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align="L")
        self.ln(1.5)
        self.set_font("DejaVu", size=9)

    def paragraph(self, text: str, size: float = 9) -> None:
        self.set_font("DejaVu", size=size)
        self.multi_cell(0, size * 0.48, text, new_x="LMARGIN", new_y="NEXT", align="L")
        self.ln(1.5)

    def table_of(
        self, header: list[str], rows: list[list[str]], widths: tuple[float, ...], numeric: set[int]
    ) -> None:
        self.set_font("DejaVu", size=7.5)
        align = tuple("RIGHT" if i in numeric else "LEFT" for i in range(len(header)))
        head = FontFace(emphasis="BOLD", fill_color=(238, 241, 244))
        with self.table(
            col_widths=widths, text_align=align, headings_style=head, line_height=4, padding=0.8
        ) as table:
            for values in [header, *rows]:
                row = table.row()
                for value in values:
                    row.cell(value)
        self.ln(2)
        self.set_font("DejaVu", size=9)


def write_briefing(
    result: TargetResult,
    path: Path,
    villages: pd.DataFrame | None,
    lang: str = "id",
    provenance: Provenance | None = None,
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
    """
    text = TEXT[lang]
    name = provenance.name if provenance else ""
    synthetic = provenance is not None and provenance.synthetic
    footer = f"Sasaran · {name} · {result.year}" + (" · SYNTHETIC" if synthetic else "")
    pdf = _Briefing(lang, footer)
    pdf.set_title(text["title"])
    pdf.set_creator("Sasaran")
    pdf.add_page()
    pdf.heading(f"{text['title']} — {name} {result.year}", 14)
    if synthetic:
        pdf.set_fill_color(255, 216, 77)
        pdf.set_font("DejaVu", "B", 9)
        pdf.multi_cell(0, 6, text["synthetic"], fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_fill_color(255, 255, 255)  # tables fill with the current colour
        pdf.ln(2)
    pdf.paragraph(_headline(result, lang), 10)
    if result.reason:
        pdf.paragraph(result.reason)
    if villages is not None and len(villages):
        pdf.heading(text["map"], 11)
        image = _map_png(result, villages, lang)
        pdf.image(image, w=pdf.epw * 0.82, x=pdf.l_margin + pdf.epw * 0.09)
        pdf.ln(2)
    _kabupaten(pdf, result, lang)
    _ranked(pdf, result, lang)
    _below(pdf, result, lang)
    _priority(pdf, result, lang)
    _parameters(pdf, result, lang, provenance)
    pdf.output(str(path))


def _headline(result: TargetResult, lang: str) -> str:
    s = result.summary
    return TEXT[lang]["headline"].format(
        n=number(s["n_selected"], lang, "n_selected"),
        people=number(s["people_reached"], lang, "people_reached"),
        objective=value_word(result.objective, lang, "objective"),
        coverage=percent(s.get("coverage"), lang),
        cost=rupiah(s["total_cost"], lang),
        budget=rupiah(s.get("budget"), lang),
        status=value_word(result.status, lang, "status"),
    )


def _kabupaten(pdf: _Briefing, result: TargetResult, lang: str) -> None:
    rows = [
        [
            k["kabupaten_name"],
            number(k["n_selected"], lang, "n_selected"),
            number(k["people_reached"], lang, "people_reached"),
            rupiah(k["cost"], lang),
            percent(k["coverage"], lang),
        ]
        for k in result.summary["by_kabupaten"]
    ]
    excluded = result.summary.get("excluded_kabupaten", [])
    pdf.heading(TEXT[lang]["by_kabupaten"], 11)
    header = [title(n, lang) for n in ("kabupaten_name", "n_selected", "people_reached", "cost", "coverage")]
    pdf.table_of(header, rows, (60, 25, 35, 40, 22), {1, 2, 3, 4})
    if excluded:
        names = ", ".join(e["kabupaten_name"] for e in excluded)
        pdf.paragraph(f"{word('excluded_kabupaten', lang)}: {names}")


def _ranked(pdf: _Briefing, result: TargetResult, lang: str) -> None:
    text = TEXT[lang]
    pdf.add_page()
    pdf.heading(text["ranked"], 11)
    header = [text["rank"], title("village_name", lang), title("kabupaten_name", lang)]
    header += [title("people_reached", lang), title("cost", lang), "M0"]
    header += [title("drivers", lang), text["why"], title("confidence", lang)]
    rows = []
    for x in result.selected[:MAX_ROWS]:
        why = text["why_text"].format(
            ratio=number(x.get("value_per_million"), lang, "value_per_million"),
            rank=x.get("value_per_rupiah_rank") or "—",
        )
        rows.append(
            [
                str(x["rank"]),
                f"{x['village_name']}\n{x['village_code']} · {x['kecamatan_name']}",
                x["kabupaten_name"],
                number(x["people_reached"], lang, "people_reached"),
                rupiah(x["cost"], lang),
                number(x["M0"], lang, "M0"),
                drivers_text(x["drivers"], lang, 2),
                why,
                percent(x["confidence"], lang, 0),
            ]
        )
    pdf.table_of(header, rows, (7, 36, 24, 19, 25, 11, 26, 21, 13), {0, 3, 4, 5, 8})
    if len(result.selected) > MAX_ROWS:
        pdf.paragraph(text["more_rows"].format(n=len(result.selected) - MAX_ROWS))


def _below(pdf: _Briefing, result: TargetResult, lang: str) -> None:
    if not result.below_line:
        return
    pdf.heading(TEXT[lang]["below"], 11)
    header = [title(n, lang) for n in ("village_name", "kabupaten_name", "people_reached", "cost")] + ["M0"]
    header.append(title("reason", lang))
    rows = [
        [
            f"{b['village_name']} ({b['village_code']})",
            b["kabupaten_name"],
            number(b["people_reached"], lang, "people_reached"),
            rupiah(b["cost"], lang),
            number(b["M0"], lang, "M0"),
            value_word(b["reason"], lang, "reason"),
        ]
        for b in result.below_line
    ]
    pdf.table_of(header, rows, (42, 30, 20, 26, 13, 51), {2, 3, 4})


def _priority(pdf: _Briefing, result: TargetResult, lang: str) -> None:
    effect = result.priority_effect
    if effect is None:
        return
    text = TEXT[lang]
    pdf.heading(text["priority"], 11)
    for key in ("gained", "lost"):
        names = ", ".join(v["village_name"] for v in effect[key]) or "—"
        pdf.paragraph(f"{text[key]}: {names}")


def _parameters(pdf: _Briefing, result: TargetResult, lang: str, provenance: Provenance | None) -> None:
    text = TEXT[lang]
    pdf.add_page()
    items = about_items(result, lang, provenance)
    pdf.heading(text["parameters"], 12)
    header = [word("item", lang), word("value", lang)]
    pdf.table_of(header, [list(i) for i in items[PROVENANCE_ITEMS:]], (70, 112), set())
    pdf.heading(text["provenance"], 12)
    pdf.table_of(header, [list(i) for i in items[:PROVENANCE_ITEMS]], (70, 112), set())
    pdf.heading(text["method"], 12)
    pdf.paragraph(text["method_text"])


def _map_png(result: TargetResult, villages: pd.DataFrame, lang: str) -> io.BytesIO:
    """The selection over the province: chosen villages red and numbered, excluded ones pale."""
    text = TEXT[lang]
    codes = villages["village_code"].astype(str).to_numpy()
    kab = villages["kabupaten_code"].astype(str).to_numpy()
    # ~200 m at the equator: invisible at A4 scale, and it keeps drawing well under a second
    shapes = shapely.simplify(np.asarray(villages.geometry), 0.002, preserve_topology=True)
    excluded = {e["kabupaten_code"] for e in result.summary.get("excluded_kabupaten", [])}
    rank = {x["village_code"]: x["rank"] for x in result.selected}
    is_selected = np.isin(codes, list(rank))
    is_excluded = np.isin(kab, list(excluded))

    figure = Figure(figsize=(7.2, 5.4), dpi=170)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    plain = ~is_selected & ~is_excluded
    ax.add_collection(_polygons(shapes[plain], facecolor=ELIGIBLE, edgecolor="white", linewidth=0.15))
    ax.add_collection(
        _polygons(shapes[is_excluded], facecolor=EXCLUDED, edgecolor="#c8c8c8", linewidth=0.1, hatch="///")
    )
    kab_codes, kab_pos = np.unique(kab, return_inverse=True)
    outlines = [shapely.union_all(shapes[kab_pos == g]) for g in range(len(kab_codes))]
    ax.add_collection(_polygons(np.asarray(outlines), facecolor="none", edgecolor="#39424e", linewidth=0.6))
    ax.add_collection(_polygons(shapes[is_selected], facecolor=SELECTED, edgecolor="#4a0010", linewidth=0.5))
    names = {e["kabupaten_code"]: e["kabupaten_name"] for e in result.summary.get("excluded_kabupaten", [])}
    for g, code in enumerate(kab_codes):
        if code in names:
            point = outlines[g].representative_point()
            ax.annotate(
                names[code], (point.x, point.y), ha="center", fontsize=6, color="#5a6472", style="italic"
            )
    points = shapely.point_on_surface(shapes[is_selected])
    ranks = np.array([rank[c] for c in codes[is_selected]])
    for i in np.argsort(ranks)[:MAP_LABELS]:
        ax.annotate(
            str(ranks[i]), (points[i].x, points[i].y), fontsize=6, ha="center", va="center",
            color="white", fontweight="bold",
            bbox={"boxstyle": "circle,pad=0.15", "fc": SELECTED, "ec": "white", "lw": 0.6},
        )  # fmt: skip
    handles = [Patch(color=SELECTED, label=text["legend_selected"])]
    handles.append(Patch(color=ELIGIBLE, label=text["legend_eligible"]))
    if excluded:
        label = text["legend_excluded"]
        handles.append(Patch(facecolor=EXCLUDED, edgecolor="#999", hatch="///", label=label))
    ax.legend(handles=handles, loc="lower left", fontsize=6.5, frameon=True)
    west, south, east, north = shapely.total_bounds(shapes)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    # degrees of longitude are shorter than degrees of latitude away from the equator
    ax.set_aspect(1 / np.cos(np.radians((south + north) / 2)))
    out = io.BytesIO()
    FigureCanvasAgg(figure).print_png(out)
    out.seek(0)
    return out


def _polygons(shapes: np.ndarray, **style: Any) -> PathCollection:
    """One collection of every polygon ring (holes included), drawn in one pass."""
    parts = shapely.get_parts(shapes[~shapely.is_empty(shapes)])
    rings = shapely.get_rings(parts)
    paths = [Path2D(shapely.get_coordinates(ring)) for ring in rings]
    return PathCollection(paths, **style)
