"""The words of a selection's downloads in Bahasa Indonesia and English: headers, values, parameters.

The CSV and XLSX headers are the field titles of `layers.schema.FIELDS`; the numbers are rounded
by `layers.rounding`; what is not a field (a reason, a status, the "about" items, the briefing's
sentences) is worded here once, for the XLSX about sheet and the PDF briefing alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from layers.errors import InvalidQuery
from layers.rounding import decimals_for, round_frame, round_value
from layers.schema import field_for
from layers.store import Provenance
from layers.targeting.selection import TargetResult

#: Languages of the downloads; Bahasa Indonesia first (the default).
LANGS: tuple[str, ...] = ("id", "en")

WORDS: dict[str, dict[str, str]] = {
    "id": {
        "yes": "ya",
        "no": "tidak",
        "none": "tidak ada",
        "unlimited": "tanpa batas",
        "item": "Parameter",
        "value": "Nilai",
        "data": "Data",
        "synthetic": "DATA SINTETIS (demo), bukan statistik sebenarnya",
        "real": "penyimpanan lapisan (data sumber di bawah)",
        "store": "Nama penyimpanan",
        "build_id": "ID build",
        "built": "Tanggal build",
        "sources": "Sumber",
        "year": "Tahun",
        "objective": "Tujuan",
        "dimension": "Dimensi",
        "k": "Batas miskin k",
        "weight": "Bobot",
        "budget": "Anggaran (Rp)",
        "cost_fixed": "Biaya tetap per desa (Rp)",
        "cost_per_person": "Biaya per orang (Rp)",
        "max_villages": "Jumlah desa maksimum",
        "kabupaten_min": "Minimum desa per kabupaten/kota",
        "kabupaten_max": "Maksimum desa per kabupaten/kota",
        "excluded_kabupaten": "Kabupaten/kota dikecualikan",
        "include": "Desa wajib",
        "exclude": "Desa dikecualikan",
        "min_score": "Skor M0 minimum",
        "priority": "Prioritas",
        "scenarios": "Skenario keyakinan",
        "seed": "Seed acak",
        "status": "Status pemecah",
        "reason_text": "Keterangan status",
        "gap": "Selisih optimalitas (terbukti)",
        "custom_spec": "Spesifikasi indikator sendiri",
        "selected": "terpilih",
        "below_line": "di_bawah_garis",
        "by_kabupaten": "per_kabupaten",
        "about": "tentang",
        "priority_gained": "Ditambahkan oleh prioritas",
        "priority_lost": "Tergeser oleh prioritas",
    },
    "en": {
        "yes": "yes",
        "no": "no",
        "none": "none",
        "unlimited": "no limit",
        "item": "Parameter",
        "value": "Value",
        "data": "Data",
        "synthetic": "SYNTHETIC demo data, not real statistics",
        "real": "layer store (source files below)",
        "store": "Store name",
        "build_id": "Build id",
        "built": "Build date",
        "sources": "Sources",
        "year": "Year",
        "objective": "Objective",
        "dimension": "Dimension",
        "k": "Poverty cutoff k",
        "weight": "Weight",
        "budget": "Budget (Rp)",
        "cost_fixed": "Fixed cost per village (Rp)",
        "cost_per_person": "Cost per person (Rp)",
        "max_villages": "Maximum number of villages",
        "kabupaten_min": "Minimum villages per kabupaten/kota",
        "kabupaten_max": "Maximum villages per kabupaten/kota",
        "excluded_kabupaten": "Excluded kabupaten/kota",
        "include": "Villages always chosen",
        "exclude": "Villages never chosen",
        "min_score": "Minimum M0",
        "priority": "Priority",
        "scenarios": "Confidence scenarios",
        "seed": "Random seed",
        "status": "Solver status",
        "reason_text": "Status note",
        "gap": "Optimality gap (proven)",
        "custom_spec": "Own indicator spec",
        "selected": "selected",
        "below_line": "below_line",
        "by_kabupaten": "by_kabupaten",
        "about": "about",
        "priority_gained": "Brought in by the priority",
        "priority_lost": "Pushed out by the priority",
    },
}

#: Values the service sends as codes, in words (`reason`, `status`, `objective`, groups, dimensions).
VALUES: dict[str, dict[str, str]] = {
    "id": {
        "reason_budget": "anggaran habis (uang dipakai untuk desa yang menjangkau lebih banyak)",
        "reason_quota": "kuota kabupaten/kota penuh",
        "reason_max_villages": "jumlah desa maksimum tercapai",
        "reason_min_score": "M0 di bawah minimum",
        "reason_excluded": "dikecualikan",
        "reason_no_people": "tidak ada penduduk sasaran",
        "status_optimal": "optimal (terbukti)",
        "status_work_limit": "batas kerja tercapai (selisih optimalitas tertera)",
        "status_budget_too_small": "anggaran di bawah biaya desa termurah",
        "objective_mpi_poor": "penduduk miskin multidimensi",
        "objective_m0_people": "M0 × penduduk",
        "objective_income_poor": "penduduk miskin pendapatan",
        "objective_dimension": "satu dimensi",
        "elderly": "lansia",
        "disabled": "penyandang disabilitas",
        "female_headed_hh": "KRT perempuan",
        "income": "pendapatan",
        "education": "pendidikan",
        "health": "kesehatan",
        "quality_of_life": "kualitas hidup",
    },
    "en": {
        "reason_budget": "budget exhausted (the money reaches more people elsewhere)",
        "reason_quota": "kabupaten/kota quota full",
        "reason_max_villages": "maximum number of villages reached",
        "reason_min_score": "M0 below the minimum",
        "reason_excluded": "excluded",
        "reason_no_people": "no target population",
        "status_optimal": "optimal (proven)",
        "status_work_limit": "work limit reached (optimality gap shown)",
        "status_budget_too_small": "budget below the cheapest village's cost",
        "objective_mpi_poor": "multidimensionally poor people",
        "objective_m0_people": "M0 × population",
        "objective_income_poor": "income-poor people",
        "objective_dimension": "one dimension",
        "elderly": "elderly",
        "disabled": "people with disabilities",
        "female_headed_hh": "female-headed households",
        "income": "income",
        "education": "education",
        "health": "health",
        "quality_of_life": "quality of life",
    },
}


def check_lang(lang: str) -> str:
    """``lang`` if it is a language of the downloads, else `InvalidQuery` naming the choices."""
    if lang not in LANGS:
        raise InvalidQuery(f"lang must be one of {', '.join(LANGS)}, got '{lang}'")
    return lang


def word(key: str, lang: str) -> str:
    """A label of the downloads in ``lang``."""
    return WORDS[lang][key]


def value_word(value: Any, lang: str, prefix: str = "") -> str:
    """A code the service sends (a reason, a status, a group) in words; unknown codes as they are."""
    key = f"{prefix}_{value}" if prefix else str(value)
    return VALUES[lang].get(key, str(value))


def title(name: str, lang: str) -> str:
    """A column's header: its field title in ``lang`` (the name itself for an unknown column)."""
    field = field_for(name)
    return name if field is None else getattr(field.title, lang)


def number(value: Any, lang: str, name: str = "", digits: int | None = None) -> str:
    """A number as a person reads it in ``lang``: rounded by its field, grouped by the locale."""
    if value is None:
        return "—"
    shown = round_value(name, value) if digits is None else round(float(value), digits)
    if shown is None:
        return "—"
    places = digits if digits is not None else decimals_for(name)
    if places is None or isinstance(shown, int):
        places = 0
    elif places < 0:  # a field without a stated precision: the digits it has, at most six
        text = repr(float(shown))
        places = min(len(text.split(".")[1]) if "." in text and "e" not in text else 4, 6)
    text = f"{shown:,.{places}f}"
    # Bahasa Indonesia groups thousands with a dot and marks decimals with a comma.
    return text.translate(str.maketrans(",.", ".,")) if lang == "id" else text


def rupiah(value: Any, lang: str) -> str:
    """``Rp 1.234.567`` (id) or ``Rp 1,234,567`` (en); whole rupiah."""
    return "—" if value is None else f"Rp {number(value, lang, 'cost')}"


def percent(value: Any, lang: str, digits: int = 1) -> str:
    """A share (0-1) as a percentage in ``lang``."""
    return "—" if value is None else f"{number(100 * float(value), lang, digits=digits)}%"


def _yes_no(value: Any, lang: str) -> Any:
    return word("yes" if value else "no", lang) if isinstance(value, bool) else value


def localise(frame: pd.DataFrame, lang: str, codes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A table as a person reads it: rounded by field, coded values in words, headers as titles.

    Parameters
    ----------
    frame
        Columns named as in `layers.schema.FIELDS`.
    lang
        ``id`` or ``en``.
    codes
        Column -> prefix of `VALUES` for columns holding codes (``{"reason": "reason"}``).

    Returns
    -------
    pandas.DataFrame
        A copy with whole people and rupiah, indices to their stated precision, titled columns.
    """
    out = round_frame(frame)
    for column, prefix in (codes or {}).items():
        if column in out:
            out[column] = [value_word(v, lang, prefix) for v in out[column]]
    for column in out.columns:
        if out[column].dtype == bool or out[column].map(lambda v: isinstance(v, bool)).all():
            out[column] = [_yes_no(v, lang) for v in out[column]]
    return out.rename(columns={c: title(str(c), lang) for c in out.columns})


def selected_table(result: TargetResult, lang: str) -> pd.DataFrame:
    """The ranked list of a selection, meeting-ready (see `localise`)."""
    frame = result.selected_frame()
    frame["drivers"] = [drivers_text(item["drivers"], lang) for item in result.selected]
    return localise(frame, lang)


def drivers_text(drivers: list[dict[str, Any]], lang: str, limit: int = 4) -> str:
    """``"kesehatan 45%, pendidikan 30%"``: each dimension's share of a village's M0, largest first."""
    shown = [d for d in drivers if d.get("share")][:limit]
    return ", ".join(f"{value_word(d['dimension'], lang)} {percent(d['share'], lang, 0)}" for d in shown)


def below_line_table(result: TargetResult, lang: str) -> pd.DataFrame:
    """The villages just below the line with their reason in words."""
    columns = ["village_code", "village_name", "kabupaten_name", "people_reached", "cost", "M0", "reason"]
    frame = pd.DataFrame(result.below_line, columns=columns)
    return localise(frame, lang, {"reason": "reason"})


def by_kabupaten_table(result: TargetResult, lang: str) -> pd.DataFrame:
    """Villages, people reached, cost and coverage per eligible kabupaten/kota."""
    columns = ["kabupaten_code", "kabupaten_name", "n_selected", "people_reached", "cost", "coverage"]
    return localise(pd.DataFrame(result.summary["by_kabupaten"], columns=columns), lang)


def about_items(result: TargetResult, lang: str, provenance: Provenance | None) -> list[tuple[str, str]]:
    """Every parameter of a selection and where its data come from, as (label, value) in ``lang``.

    Parameters
    ----------
    result
        The selection (its ``parameters`` hold the request as solved).
    lang
        ``id`` or ``en``.
    provenance
        The store's name, build id and date, sources, and whether it is synthetic; None: not known.

    Returns
    -------
    list[tuple[str, str]]
        Provenance first, then the request, then the solver's status.
    """
    w = WORDS[lang]
    p = result.parameters or {}
    synthetic = provenance is not None and provenance.synthetic
    kab_names = {k["kabupaten_code"]: k["kabupaten_name"] for k in result.summary["by_kabupaten"]}
    excluded = result.summary.get("excluded_kabupaten", [])
    kab_names |= {k["kabupaten_code"]: k["kabupaten_name"] for k in excluded}

    def listed(values: Any) -> str:
        texts = [str(v) for v in values or []]
        return ", ".join(texts) if texts else w["none"]

    def quotas(mapping: Mapping[str, int]) -> str:
        kept = {
            c: n
            for c, n in (mapping or {}).items()
            if n > 0 or c not in {e["kabupaten_code"] for e in excluded}
        }
        return listed(f"{kab_names.get(c, c)} ({c}) = {n}" for c, n in kept.items())

    items: list[tuple[str, str]] = [
        (w["data"], w["synthetic"] if synthetic else w["real"]),
        (w["store"], provenance.name if provenance else "—"),
        (w["build_id"], provenance.build_id if provenance else "—"),
        (w["built"], provenance.created if provenance else "—"),
        (
            w["sources"],
            listed(f"{s['name']}: {s['file']}" for s in provenance.sources) if provenance else w["none"],
        ),
        (w["year"], str(result.year)),
        (w["objective"], value_word(result.objective, lang, "objective")),
    ]
    if p.get("dimension"):
        items.append((w["dimension"], value_word(p["dimension"], lang)))
    items.append((w["k"], number(result.spec.k, lang, digits=4)))
    for dim, weight in zip(result.spec.dimensions, result.spec.dimension_weights, strict=True):
        items.append((f"{w['weight']} {value_word(dim, lang)}", percent(weight, lang)))
    if p.get("custom_spec"):
        items.append((w["custom_spec"], w["yes"]))
    money = [("budget", p.get("budget")), ("cost_fixed", p.get("cost_fixed"))]
    money.append(("cost_per_person", p.get("cost_per_person")))
    items += [(w[key], w["unlimited"] if v is None else number(v, lang, "cost")) for key, v in money]
    items += [
        (w["max_villages"], w["unlimited"] if p.get("max_villages") is None else str(p["max_villages"])),
        (w["excluded_kabupaten"], listed(f"{e['kabupaten_name']} ({e['kabupaten_code']})" for e in excluded)),
        (w["kabupaten_min"], quotas(p.get("kabupaten_min", {}))),
        (w["kabupaten_max"], quotas(p.get("kabupaten_max", {}))),
        (w["include"], listed(p.get("include"))),
        (w["exclude"], listed(p.get("exclude"))),
        (w["min_score"], w["none"] if p.get("min_score") is None else number(p["min_score"], lang, "M0")),
    ]
    priority = {g: v for g, v in (p.get("priority") or {}).items() if v}
    items.append(
        (
            w["priority"],
            listed(f"{value_word(g, lang)} = {number(v, lang, digits=2)}" for g, v in priority.items()),
        )
    )
    items += [(w["scenarios"], str(p.get("scenarios", "—"))), (w["seed"], str(p.get("seed", "—")))]
    items += [
        (w["status"], value_word(result.status, lang, "status")),
        (w["gap"], percent(result.gap, lang, 3) if result.gap is not None else "—"),
    ]
    if result.reason:
        items.append((w["reason_text"], result.reason))
    effect = result.priority_effect
    if effect is not None:
        for key, kind in (("priority_gained", "gained"), ("priority_lost", "lost")):
            items.append((w[key], listed(v["village_name"] for v in effect[kind])))
    return items


def about_table(result: TargetResult, lang: str, provenance: Provenance | None) -> pd.DataFrame:
    """`about_items` with the summary figures, as the two-column "about" sheet."""
    items = about_items(result, lang, provenance)
    s = result.summary
    for name in ("n_selected", "people_reached", "objective_total", "total_cost", "budget_left"):
        items.append((title(name, lang), number(s.get(name), lang, name)))
    items.append((title("coverage", lang), percent(s.get("coverage"), lang)))
    return pd.DataFrame(items, columns=[word("item", lang), word("value", lang)])
