"""The words of a selection in Bahasa Indonesia and English: headers, values, reasons, parameters.

The CSV, XLSX and PDF of a selection (`layers.export.targets`, `layers.export.briefing`) say
everything through here: the field titles of `layers.schema.FIELDS` as headers, codes in words,
each village's reason as a sentence, the "about" items, and the service's errors in Bahasa
Indonesia (`localise_error`). Numbers are the ones the answer holds (`layers.targeting.result`
rounded them once); `number` shows them with the locale's marks, rounding half away from zero on
the exact stored value when it shows fewer digits, as the page's ``Intl.NumberFormat`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from layers.errors import InvalidQuery
from layers.rounding import decimals_for
from layers.schema import field_for
from layers.store import Provenance
from layers.targeting.result import AreaRow, BelowLine, Guarded, SelectedVillage, TargetResult

#: Languages of the downloads; Bahasa Indonesia first (the default).
LANGS: tuple[str, ...] = ("id", "en")
#: Between "Rp" and its amount: a space no line is broken at.
NBSP = "\u00a0"

WORDS: dict[str, dict[str, str]] = {
    "id": {
        "yes": "ya",
        "no": "tidak",
        "none": "tidak ada",
        "unlimited": "tanpa batas",
        "no_guard": "tanpa penjaga",
        "item": "Parameter",
        "value": "Nilai",
        "total": "Jumlah",
        "data": "Data",
        "synthetic": "DATA SINTETIS: provinsi demo buatan, bukan statistik sebenarnya",
        "real": "data yang dibangun oleh Sasaran dari berkas sumber di bawah",
        "store": "Wilayah data",
        "built": "Data dibangun pada",
        "build_id": "Kode versi data (untuk pemeriksaan)",
        "sources": "Sumber data",
        "year": "Tahun data kemiskinan",
        "objective": "Tujuan",
        "dimension": "Dimensi",
        "k": "Batas miskin k",
        "weight": "Bobot",
        "budget": "Anggaran (Rp)",
        "cost_fixed": "Biaya tetap per desa (Rp)",
        "cost_per_person": "Biaya per orang terjangkau (Rp)",
        "min_people": "Penjaga: minimum orang terjangkau per desa",
        "max_cost_per_person": "Penjaga: biaya maksimum per orang terjangkau (Rp)",
        "max_villages": "Jumlah desa maksimum",
        "kabupaten": "Kabupaten/kota yang memenuhi syarat",
        "all_kabupaten": "semua",
        "kabupaten_min": "Minimum desa per kabupaten/kota",
        "kabupaten_max": "Maksimum desa per kabupaten/kota",
        "excluded_kabupaten": "Kabupaten/kota dikecualikan",
        "include": "Desa wajib dipilih",
        "exclude": "Desa tidak boleh dipilih",
        "min_score": "Skor M0 minimum",
        "priority": "Prioritas",
        "scenarios": "Skenario keyakinan",
        "seed": "Seed acak",
        "status": "Status pemecah",
        "reason_text": "Keterangan status",
        "gap": "Selisih optimalitas (terbukti)",
        "custom_spec": "Spesifikasi indikator sendiri",
        "title": "Program",
        "selected": "terpilih",
        "below_line": "di_bawah_garis",
        "guarded": "dikecualikan_penjaga",
        "by_kabupaten": "per_kabupaten",
        "by_kecamatan": "per_kecamatan",
        "about": "tentang",
        "priority_gained": "Ditambahkan oleh prioritas",
        "priority_lost": "Tergeser oleh prioritas",
        "people_unit": "orang",
        "per_million_people": "orang per Rp 1 juta",
        "per_million_score": "skor per Rp 1 juta",
    },
    "en": {
        "yes": "yes",
        "no": "no",
        "none": "none",
        "unlimited": "no limit",
        "no_guard": "no guard",
        "item": "Parameter",
        "value": "Value",
        "total": "Total",
        "data": "Data",
        "synthetic": "SYNTHETIC DATA: a made-up demo province, not real statistics",
        "real": "data built by Sasaran from the source files below",
        "store": "Area of the data",
        "built": "Data built on",
        "build_id": "Data version code (for checking)",
        "sources": "Data sources",
        "year": "Year of the poverty data",
        "objective": "Objective",
        "dimension": "Dimension",
        "k": "Poverty cutoff k",
        "weight": "Weight",
        "budget": "Budget (Rp)",
        "cost_fixed": "Fixed cost per village (Rp)",
        "cost_per_person": "Cost per person reached (Rp)",
        "min_people": "Guard: minimum people reached per village",
        "max_cost_per_person": "Guard: maximum cost per person reached (Rp)",
        "max_villages": "Maximum number of villages",
        "kabupaten": "Eligible kabupaten/kota",
        "all_kabupaten": "all",
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
        "title": "Programme",
        "selected": "selected",
        "below_line": "below_line",
        "guarded": "left_out_by_guards",
        "by_kabupaten": "by_kabupaten",
        "by_kecamatan": "by_kecamatan",
        "about": "about",
        "priority_gained": "Brought in by the priority",
        "priority_lost": "Pushed out by the priority",
        "people_unit": "people",
        "per_million_people": "people per Rp 1 million",
        "per_million_score": "score per Rp 1 million",
    },
}

#: Values the service sends as codes, in words (`reason`, `status`, `objective`, groups, dimensions).
VALUES: dict[str, dict[str, str]] = {
    "id": {
        "reason_selected": "terpilih",
        "reason_budget": "anggaran habis",
        "reason_quota": "kuota kabupaten/kota penuh",
        "reason_max_villages": "jumlah desa maksimum tercapai",
        "reason_min_score": "M0 di bawah minimum",
        "reason_excluded": "dikecualikan",
        "reason_kabupaten_excluded": "kabupaten/kota dikecualikan",
        "reason_no_people": "tidak ada penduduk sasaran",
        "reason_min_people": "penjaga: terlalu sedikit orang terjangkau",
        "reason_max_cost_per_person": "penjaga: biaya per orang terlalu tinggi",
        "reason_priority": "tergeser oleh prioritas",
        "status_optimal": "optimal (terbukti)",
        "status_work_limit": "batas kerja tercapai (selisih optimalitas tertera)",
        "status_budget_too_small": "anggaran di bawah biaya desa termurah",
        "objective_mpi_poor": "penduduk miskin multidimensi",
        "objective_m0_people": "penduduk miskin multidimensi, dibobot M0",
        "objective_income_poor": "penduduk miskin pendapatan",
        "objective_dimension": "penduduk yang kekurangan dalam satu dimensi",
        "elderly": "lansia",
        "disabled": "penyandang disabilitas",
        "female_headed_hh": "KRT perempuan",
        "income": "pendapatan",
        "education": "pendidikan",
        "health": "kesehatan",
        "quality_of_life": "kualitas hidup",
    },
    "en": {
        "reason_selected": "selected",
        "reason_budget": "budget used up",
        "reason_quota": "kabupaten/kota quota full",
        "reason_max_villages": "maximum number of villages reached",
        "reason_min_score": "M0 below the minimum",
        "reason_excluded": "excluded",
        "reason_kabupaten_excluded": "kabupaten/kota excluded",
        "reason_no_people": "no target population",
        "reason_min_people": "guard: too few people reached",
        "reason_max_cost_per_person": "guard: cost per person too high",
        "reason_priority": "pushed out by the priority",
        "status_optimal": "optimal (proven)",
        "status_work_limit": "work limit reached (optimality gap shown)",
        "status_budget_too_small": "budget below the cheapest village's cost",
        "objective_mpi_poor": "multidimensionally poor people",
        "objective_m0_people": "multidimensionally poor people, weighted by M0",
        "objective_income_poor": "income-poor people",
        "objective_dimension": "people deprived in one dimension",
        "elderly": "elderly",
        "disabled": "people with disabilities",
        "female_headed_hh": "female-headed households",
        "income": "income",
        "education": "education",
        "health": "health",
        "quality_of_life": "quality of life",
    },
}

#: Sentences, with ``{placeholders}`` filled by `sentence`.
SENTENCES: dict[str, dict[str, str]] = {
    "id": {
        "why": (
            "Menjangkau {people} orang dengan biaya {cost} ({cost_pp} per orang): {ratio} {per} "
            "(peringkat {rank} dari {of} desa yang dapat dipilih). Deprivasi terutama {drivers}."
        ),
        "why_score": " Skor tujuan {score}.",
        "why_priority": " Masuk karena prioritas.",
        "why_low_confidence": (
            " Keyakinan {confidence}: dipilih untuk memakai sisa anggaran; dengan bobot sedikit "
            "berbeda desa lain yang serupa dapat menggantikannya."
        ),
        "reason_budget": (
            "Tidak terpilih: biayanya {cost} melebihi sisa anggaran {left}; memasukkannya berarti "
            "mengeluarkan desa terpilih yang bersama-sama bernilai lebih."
        ),
        "reason_quota": "Tidak terpilih: kuota {kabupaten} sudah penuh.",
        "reason_max_villages": "Tidak terpilih: jumlah desa maksimum sudah tercapai.",
        "reason_min_score": "Tidak terpilih: M0 {m0} di bawah minimum yang ditetapkan.",
        "reason_excluded": "Tidak terpilih: ada di daftar desa yang tidak boleh dipilih.",
        "reason_kabupaten_excluded": "Tidak terpilih: {kabupaten} tidak termasuk yang memenuhi syarat.",
        "reason_no_people": "Tidak terpilih: tidak ada penduduk sasaran di desa ini.",
        "reason_min_people": (
            "Tidak terpilih (penjaga): hanya {people} orang terjangkau, kurang dari minimum {minimum}."
        ),
        "reason_max_cost_per_person": (
            "Tidak terpilih (penjaga): biaya {cost_pp} per orang terjangkau melebihi batas {maximum}."
        ),
        "reason_priority": (
            "Tergeser oleh prioritas: desa ini terpilih tanpa prioritas; dengan prioritas, daftar lain "
            "dalam anggaran yang sama bernilai lebih ({list_with} dibanding {list_without}). Nilai desa "
            "ini {value_with} dengan prioritas ({value_without} tanpa)."
        ),
        "reason_selected": "Terpilih.",
        "headline": (
            "{n} desa terpilih menjangkau {people} {objective} ({coverage} dari provinsi) dengan biaya "
            "{cost} dari anggaran {budget}. Status: {status}."
        ),
        "guards": (
            "Penjaga: setiap desa terpilih menjangkau minimal {min_people} orang dan berbiaya paling "
            "banyak {max_cpp} per orang terjangkau; {excluded} desa tidak dipilih karena penjaga ini."
        ),
        "priority_changed": (
            "Prioritas ({groups}) mengubah daftar: nilai dengan prioritas {value_with} dibanding "
            "{value_without} untuk daftar tanpa prioritas (lebih dari batas toleransi {tolerance})."
        ),
        "priority_unchanged": (
            "Prioritas ({groups}) tidak mengubah daftar: tidak ada daftar lain yang nilainya lebih "
            "dari {tolerance} di atas daftar tanpa prioritas."
        ),
    },
    "en": {
        "why": (
            "Reaches {people} people at a cost of {cost} ({cost_pp} per person): {ratio} {per} "
            "(rank {rank} of {of} villages that could be chosen). Deprivation mostly {drivers}."
        ),
        "why_score": " Objective score {score}.",
        "why_priority": " On the list because of the priority.",
        "why_low_confidence": (
            " Confidence {confidence}: chosen to use the last of the budget; under slightly different "
            "weights a similar village can take its place."
        ),
        "reason_budget": (
            "Not chosen: its cost {cost} is more than the budget left {left}; taking it means dropping "
            "chosen villages that together are worth more."
        ),
        "reason_quota": "Not chosen: the quota of {kabupaten} is full.",
        "reason_max_villages": "Not chosen: the maximum number of villages is reached.",
        "reason_min_score": "Not chosen: its M0 {m0} is below the minimum set.",
        "reason_excluded": "Not chosen: it is on the list of villages never to choose.",
        "reason_kabupaten_excluded": "Not chosen: {kabupaten} is not eligible.",
        "reason_no_people": "Not chosen: nobody in this village is in the target population.",
        "reason_min_people": (
            "Not chosen (guard): it reaches only {people} people, fewer than the minimum {minimum}."
        ),
        "reason_max_cost_per_person": (
            "Not chosen (guard): it costs {cost_pp} per person reached, more than the limit {maximum}."
        ),
        "reason_priority": (
            "Pushed out by the priority: it is chosen without the priority; with it, another list within "
            "the same budget is worth more ({list_with} against {list_without}). This village's value is "
            "{value_with} with the priority ({value_without} without)."
        ),
        "reason_selected": "Selected.",
        "headline": (
            "{n} villages chosen reach {people} {objective} ({coverage} of the province) at a cost of "
            "{cost} of a {budget} budget. Status: {status}."
        ),
        "guards": (
            "Guards: every chosen village reaches at least {min_people} people and costs at most "
            "{max_cpp} per person reached; {excluded} villages were left out by these guards."
        ),
        "priority_changed": (
            "The priority ({groups}) changes the list: its value with the priority is {value_with} "
            "against {value_without} for the list without (more than the tolerance of {tolerance})."
        ),
        "priority_unchanged": (
            "The priority ({groups}) does not change the list: no other list is worth more than "
            "{tolerance} above the list without it."
        ),
    },
}

#: The service's targeting errors in Bahasa Indonesia, by the error's ``key`` (the English is the
#: error's own message). Numbers in ``params`` are formatted by `localise_error`.
ERRORS_ID: dict[str, str] = {
    "include_excluded": "Desa wajib: desa {villages} juga ada di daftar desa yang tidak boleh dipilih.",
    "max_villages_needed": (
        "Jumlah desa maksimum: aturan lain memerlukan {needed} desa, batasnya {max_villages}."
    ),
    "kabupaten_min_above_max": (
        "Minimum per kabupaten/kota: {kabupaten} memerlukan {minimum} desa, tetapi maksimumnya {maximum}."
    ),
    "kabupaten_min_selectable": (
        "Minimum per kabupaten/kota: {kabupaten} memerlukan {minimum} desa, tetapi hanya {selectable} "
        "desa yang dapat dipilih (setelah pengecualian, M0 minimum dan penjaga)."
    ),
    "kabupaten_max_include": (
        "Maksimum per kabupaten/kota: {kabupaten} hanya boleh {maximum} desa, tetapi daftar desa wajib "
        "berisi {included} desa di sana."
    ),
    "include_budget": "Desa wajib: biayanya {cost}, anggaran hanya {budget}.",
    "kabupaten_min_budget": (
        "Minimum per kabupaten/kota: desa termurah yang memenuhi minimum (dengan desa wajib) berbiaya "
        "{cost}, anggaran hanya {budget}."
    ),
    "unknown_village": "Kode desa tidak dikenal ({field}): {codes}.",
    "unknown_kabupaten": "Kode kabupaten/kota tidak dikenal ({field}): {codes}.",
    "budget_without_cost": (
        "Anggaran memerlukan biaya: biaya tetap per desa dan biaya per orang keduanya 0. Isi salah "
        "satunya, atau kosongkan anggaran."
    ),
    "dimension_objective": "Dimensi hanya dipilih bila tujuannya satu dimensi.",
    "cost_too_large": (
        "Biaya per orang terlalu besar: semua desa bersama-sama akan berbiaya {total}; tulis biaya per "
        "orang dalam rupiah (mis. 250.000)."
    ),
    "unknown_dimension": "Dimensi '{dimension}' tidak ada; dimensi yang ada: {dimensions}.",
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
    entry = field_for(name)
    return name if entry is None else getattr(entry.title, lang)


def _marks(text: str, lang: str) -> str:
    # Bahasa Indonesia groups thousands with a dot and marks decimals with a comma.
    return text.translate(str.maketrans(",.", ".,")) if lang == "id" else text


def number(value: Any, lang: str, name: str = "", digits: int | None = None) -> str:
    """A number as a person reads it in ``lang``: ``1.234.567`` (id) or ``1,234,567`` (en).

    ``digits`` decimals (default: the field's, `layers.rounding.decimals_for`), rounded half away
    from zero on the exact value (as ``Intl.NumberFormat`` rounds on the page).
    """
    if value is None:
        return "—"
    places = digits if digits is not None else decimals_for(name)
    if places is None:
        places = 0
    elif places < 0:  # a field without a stated precision: the digits it has, at most four
        text = repr(float(value))
        places = min(len(text.split(".")[1]) if "." in text and "e" not in text else 4, 4)
    exact = Decimal(float(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return _marks(f"{exact:,.{places}f}", lang)


def rupiah(value: Any, lang: str) -> str:
    """``Rp 1.234.567`` (id) or ``Rp 1,234,567`` (en); whole rupiah, never broken after "Rp"."""
    return "—" if value is None else f"Rp{NBSP}{number(value, lang, digits=0)}"


def percent(value: Any, lang: str, digits: int = 2) -> str:
    """A share (0-1) as a percentage in ``lang`` (``12,35%``), half away from zero on its exact value."""
    if value is None:
        return "—"
    exact = (Decimal(float(value)) * 100).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return _marks(f"{exact:,.{digits}f}", lang) + "%"


def sentence(key: str, lang: str, **params: Any) -> str:
    """A sentence of `SENTENCES` with its placeholders filled."""
    return SENTENCES[lang][key].format(**params)


def localise_error(error: Exception, lang: str) -> str:
    """The message of a targeting error in ``lang`` (its own message for English or an unknown key)."""
    key, params = getattr(error, "key", None), getattr(error, "params", None)
    if lang != "id" or key not in ERRORS_ID or params is None:
        return str(error)
    shown = {
        name: (rupiah(v, lang) if name in ("cost", "budget") else number(v, lang, digits=0))
        if isinstance(v, int | float) and not isinstance(v, bool)
        else v
        for name, v in params.items()
    }
    return ERRORS_ID[key].format(**shown)


def drivers_text(drivers: Sequence[Any], lang: str, limit: int = 4) -> str:
    """``"kesehatan 45%, pendidikan 30%"``: each dimension's share of a village's M0, largest first."""
    shown = [d for d in drivers if d.share][:limit]
    return ", ".join(f"{value_word(d.dimension, lang)} {percent(d.share, lang, 0)}" for d in shown)


def indicators_text(village: SelectedVillage, lang: str) -> str:
    """The indicators contributing most to a village's M0, in words, with their share."""
    return "; ".join(
        f"{getattr(t.title, lang)} ({percent(t.share, lang, 0)})" for t in village.top_indicators
    )


def _per_million_word(result: TargetResult, lang: str) -> str:
    return word("per_million_score" if result.weighted else "per_million_people", lang)


def why_sentence(village: SelectedVillage, result: TargetResult, lang: str) -> str:
    """A chosen village's reason in a sentence: people, cost, value per Rp 1 juta, rank, drivers."""
    text = sentence(
        "why",
        lang,
        people=number(village.people_reached, lang, digits=0),
        cost=rupiah(village.cost, lang),
        cost_pp=rupiah(village.cost_per_person_reached, lang),
        ratio=number(village.value_per_million, lang, digits=2),
        per=_per_million_word(result, lang),
        rank=village.value_per_rupiah_rank or "—",
        of=number(result.summary.candidates, lang, digits=0),
        drivers=drivers_text(village.drivers, lang, 2) or "—",
    )
    if village.score is not None:
        text += sentence("why_score", lang, score=number(village.score, lang, digits=2))
    if village.priority_gained:
        text += sentence("why_priority", lang)
    if village.confidence is not None and village.confidence < LOW_CONFIDENCE:
        text += sentence("why_low_confidence", lang, confidence=percent(village.confidence, lang, 0))
    return text


#: Below this confidence a village's reason says why it is low (docs/targeting.md §7).
LOW_CONFIDENCE = 0.5


def reason_sentence(row: BelowLine | Guarded, result: TargetResult, lang: str) -> str:
    """Why a village is not on the list, in a sentence with its numbers."""
    p = result.parameters
    effect = result.priority_effect
    lost = {v.village_code: v for v in effect.lost} if effect else {}
    kabupaten = row.kabupaten_name
    values = {
        "cost": rupiah(row.cost, lang),
        "left": rupiah(getattr(row, "budget_left", None), lang),
        "kabupaten": kabupaten,
        "m0": number(getattr(row, "M0", None), lang, "M0"),
        "people": number(row.people_reached, lang, digits=0),
        "minimum": number(p.min_people, lang, digits=0),
        "cost_pp": rupiah(row.cost_per_person_reached, lang),
        "maximum": rupiah(p.max_cost_per_person, lang),
        "value_with": number(lost[row.village_code].value_with, lang, digits=2)
        if row.village_code in lost
        else "—",
        "value_without": (
            number(lost[row.village_code].value_without, lang, digits=2) if row.village_code in lost else "—"
        ),
        "list_with": number(effect.value_with, lang, digits=2) if effect else "—",
        "list_without": number(effect.value_without, lang, digits=2) if effect else "—",
    }
    return sentence(f"reason_{row.reason}", lang, **values)


def headline(result: TargetResult, lang: str) -> str:
    """The list in one sentence (the briefing's first line)."""
    s = result.summary
    return sentence(
        "headline",
        lang,
        n=number(s.n_selected, lang, digits=0),
        people=number(s.people_reached, lang, digits=0),
        objective=value_word(result.objective, lang, "objective"),
        coverage=percent(s.coverage, lang),
        cost=rupiah(s.total_cost, lang),
        budget=rupiah(s.budget, lang) if s.budget is not None else word("unlimited", lang),
        status=value_word(result.status, lang, "status"),
    )


def guards_sentence(result: TargetResult, lang: str) -> str:
    """The guards as applied and how many villages they left out."""
    g = result.summary.guards
    return sentence(
        "guards",
        lang,
        min_people=number(g.min_people.value or 0, lang, digits=0),
        max_cpp=rupiah(g.max_cost_per_person.value, lang)
        if g.max_cost_per_person.value is not None
        else word("unlimited", lang),
        excluded=number(g.min_people.excluded + g.max_cost_per_person.excluded, lang, digits=0),
    )


def priority_sentence(result: TargetResult, lang: str) -> str | None:
    """What the priority did, with the values with and without it (None without a priority)."""
    effect = result.priority_effect
    if effect is None:
        return None
    groups = ", ".join(
        f"{value_word(g, lang)} {number(v, lang, digits=2)}" for g, v in effect.priority.items()
    )
    return sentence(
        "priority_changed" if effect.changed else "priority_unchanged",
        lang,
        groups=groups,
        value_with=number(effect.value_with, lang, digits=2),
        value_without=number(effect.value_without, lang, digits=2),
        tolerance=percent(effect.tolerance, lang, 1),
    )


# ------------------------------------------------------------------------------------------------
# Tables: the rows of every download, with the numbers as numbers
# ------------------------------------------------------------------------------------------------

#: Excel number formats by column (others by their field's unit, `_format`).
FORMATS: dict[str, str] = {
    "H": "0.0000",
    "A": "0.0000",
    "M0": "0.0000",
    "confidence": "0%",
    "coverage": "0.00%",
    "budget_used_share": "0.00%",
    "elderly_share": "0.00%",
    "disabled_share": "0.00%",
    "female_headed_hh_share": "0.00%",
    "value_per_million": "#,##0.00",
    "objective_score": "#,##0.00",
}
_WHOLE_UNITS = ("people", "households", "count", "rupiah")


def number_format(name: str) -> str | None:
    """The Excel number format of a column (None: text or a code)."""
    if name in FORMATS:
        return FORMATS[name]
    entry = field_for(name)
    if entry is None:
        return None
    if entry.unit in _WHOLE_UNITS:
        return "#,##0"
    return {"index": "0.0000", "fraction": "0.00%", "ratio": "#,##0.00"}.get(entry.unit)


def shown(name: str, value: Any, lang: str) -> str:
    """A table cell as text (the PDF): by the column's number format, or as it is."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return word("yes" if value else "no", lang)
    fmt = number_format(name)
    if fmt is None or not isinstance(value, int | float):
        return str(value)
    if fmt.endswith("%"):
        return percent(value, lang, fmt.count("0") - 1)
    if fmt == "#,##0" and name in ("cost", "total_cost", "budget", "budget_left", "cost_per_person_reached"):
        return rupiah(value, lang)
    return number(value, lang, digits=len(fmt.split(".")[1]) if "." in fmt else 0)


@dataclass(frozen=True)
class Table:
    """One table of a download: field-named columns, rows of plain values, and its total row."""

    name: str
    """Key of `WORDS` naming the sheet."""
    columns: list[str]
    rows: list[list[Any]]
    total: list[Any] | None = None
    widths: dict[str, float] = field(default_factory=dict)

    def headers(self, lang: str) -> list[str]:
        """The columns' titles in ``lang``."""
        return [title(c, lang) for c in self.columns]

    def frame(self, lang: str, with_total: bool = False) -> pd.DataFrame:
        """The table as a DataFrame with titled columns (numbers stay numbers)."""
        rows = [*self.rows, self.total] if with_total and self.total is not None else self.rows
        return pd.DataFrame(rows, columns=self.headers(lang))


def _total(columns: Sequence[str], rows: Sequence[Sequence[Any]], additive: set[str], lang: str) -> list[Any]:
    """The total row: sums of the additive columns (whole numbers and scores), the word "total" first."""
    out: list[Any] = []
    for j, name in enumerate(columns):
        if name in additive:
            values = [r[j] for r in rows if r[j] is not None]
            out.append(round(sum(values), 2) if name == "objective_score" else sum(values))
        else:
            out.append(None)
    out[0 if columns[0] not in additive else 1] = word("total", lang)
    return out


_ADDITIVE = {"population", "people_reached", "cost", "objective_score", "n_selected", "objective_total"}


def selected_table(result: TargetResult, lang: str) -> Table:
    """The ranked list: one row per chosen village, the reason as a sentence, a total row."""
    columns = ["rank", "village_code", "village_name", "kecamatan_name", "kabupaten_code", "kabupaten_name"]
    columns += ["population", "people_reached"]
    if result.weighted:
        columns.append("objective_score")
    columns += ["cost", "cost_per_person_reached", "H", "A", "M0", "confidence", "value_per_million"]
    columns += ["value_per_rupiah_rank"]
    if result.priority_effect is not None:
        columns.append("priority_gained")
    columns += [
        "drivers",
        "top_indicators",
        "elderly_share",
        "disabled_share",
        "female_headed_hh_share",
        "why",
    ]
    rows = []
    for v in result.selected:
        values = v.model_dump()
        values |= {
            "objective_score": v.score,
            "drivers": drivers_text(v.drivers, lang),
            "top_indicators": indicators_text(v, lang),
            "elderly_share": v.priority_shares.elderly,
            "disabled_share": v.priority_shares.disabled,
            "female_headed_hh_share": v.priority_shares.female_headed_hh,
            "why": why_sentence(v, result, lang),
        }
        rows.append([values.get(c) for c in columns])
    return Table("selected", columns, rows, _total(columns, rows, _ADDITIVE, lang))


def below_line_table(result: TargetResult, lang: str) -> Table:
    """The villages just below the line, with their reason in a sentence."""
    columns = ["village_code", "village_name", "kecamatan_name", "kabupaten_name", "people_reached"]
    if result.weighted:
        columns.append("objective_score")
    columns += ["cost", "cost_per_person_reached", "M0", "value_per_million", "reason"]
    rows = []
    for b in result.below_line:
        values = b.model_dump() | {"objective_score": b.score, "reason": reason_sentence(b, result, lang)}
        rows.append([values.get(c) for c in columns])
    return Table("below_line", columns, rows)


def guarded_table(result: TargetResult, lang: str) -> Table:
    """The villages a guard left out, with the guard in a sentence."""
    columns = ["village_code", "village_name", "kabupaten_name", "people_reached", "cost"]
    columns += ["cost_per_person_reached", "reason"]
    rows = []
    for g in result.guarded:
        values = g.model_dump() | {"reason": reason_sentence(g, result, lang)}
        rows.append([values.get(c) for c in columns])
    return Table("guarded", columns, rows)


def _area_table(
    name: str, areas: Sequence[AreaRow], result: TargetResult, lang: str, kecamatan: bool
) -> Table:
    columns = ["kecamatan_code", "kecamatan_name"] if kecamatan else []
    columns += ["kabupaten_code", "kabupaten_name", "n_selected", "people_reached"]
    if result.weighted:
        columns.append("objective_score")
    columns += ["cost", "objective_total", "coverage"]
    rows = []
    for a in areas:
        values = a.model_dump() | {"objective_score": a.score}
        rows.append([values.get(c) for c in columns])
    total = _total(columns, rows, _ADDITIVE, lang)
    covered = sum(a.objective_total for a in areas)
    total[columns.index("coverage")] = (
        round(sum(a.people_reached for a in areas) / covered, 4) if covered else None
    )
    return Table(name, columns, rows, total)


def by_kabupaten_table(result: TargetResult, lang: str) -> Table:
    """Villages, people reached, cost and coverage per eligible kabupaten/kota, with the total."""
    return _area_table("by_kabupaten", result.summary.by_kabupaten, result, lang, kecamatan=False)


def by_kecamatan_table(result: TargetResult, lang: str, chosen_only: bool = False) -> Table:
    """The same per kecamatan of the eligible kabupaten/kota (``chosen_only``: where villages are chosen)."""
    areas = [a for a in result.summary.by_kecamatan if a.n_selected or not chosen_only]
    return _area_table("by_kecamatan", areas, result, lang, kecamatan=True)


# ------------------------------------------------------------------------------------------------
# The parameters and where the data come from
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One line of the "about" sheet and the briefing's parameters: a label and a value, with the
    value's number format when it is a number (the XLSX stores it as a number)."""

    label: str
    value: Any
    fmt: str | None = None

    def text(self, lang: str) -> str:
        """The value as text in ``lang``."""
        if self.fmt is None or not isinstance(self.value, int | float):
            return str(self.value)
        if self.fmt.endswith("%"):
            return percent(self.value, lang, self.fmt.count("0") - 1)
        places = len(self.fmt.split(".")[1]) if "." in self.fmt else 0
        return number(self.value, lang, digits=places)


def provenance_items(result: TargetResult, lang: str, provenance: Provenance | None) -> list[Item]:
    """Where the data come from, in words a reader understands (technical ids last)."""
    w = WORDS[lang]
    synthetic = provenance is not None and provenance.synthetic
    sources = provenance.sources if provenance is not None else ()
    names = {
        "villages": {"id": "batas desa", "en": "village boundaries"},
        "poverty": {"id": "tabel kemiskinan per desa dan tahun", "en": "poverty table per village and year"},
        "population": {"id": "raster penduduk", "en": "population raster"},
        "roads": {"id": "jalan", "en": "roads"},
        "rivers": {"id": "sungai", "en": "rivers"},
        "schools": {"id": "sekolah", "en": "schools"},
        "health_facilities": {"id": "fasilitas kesehatan", "en": "health facilities"},
    }
    listed = ", ".join(
        f"{names.get(str(s.get('name')), {}).get(lang, s.get('name'))} ({s.get('file')})" for s in sources
    )
    built = (provenance.created if provenance is not None else "")[:10] or "—"
    return [
        Item(w["data"], w["synthetic"] if synthetic else w["real"]),
        Item(w["store"], provenance.name if provenance is not None else "—"),
        Item(w["year"], result.year),
        Item(w["built"], built),
        Item(w["sources"], listed or w["none"]),
        Item(w["build_id"], provenance.build_id if provenance is not None else "—"),
    ]


def about_items(result: TargetResult, lang: str) -> list[Item]:
    """Every parameter of a selection as (label, value, format) in ``lang``, then the solver's status."""
    w = WORDS[lang]
    p = result.parameters
    s = result.summary
    kab_names = {k.kabupaten_code: k.kabupaten_name for k in s.by_kabupaten}
    kab_names |= {k.kabupaten_code: k.kabupaten_name for k in s.excluded_kabupaten}
    excluded = {e.kabupaten_code for e in s.excluded_kabupaten}

    def listed(values: Any) -> str:
        texts = [str(v) for v in values or []]
        return ", ".join(texts) if texts else w["none"]

    def quotas(mapping: Mapping[str, int]) -> str:
        kept = {c: n for c, n in mapping.items() if n > 0 or c not in excluded}
        return listed(f"{kab_names.get(c, c)} ({c}) = {n}" for c, n in kept.items())

    items = [Item(w["title"], p.title)] if p.title else []
    items += [
        Item(w["year"], result.year),
        Item(w["objective"], value_word(result.objective, lang, "objective")),
    ]
    if p.dimension:
        items.append(Item(w["dimension"], value_word(p.dimension, lang)))
    items.append(Item(w["k"], p.k, "0.0000"))
    for dim, weight in p.dimension_weights.items():
        items.append(Item(f"{w['weight']} {value_word(dim, lang)}", weight, "0.00%"))
    if p.custom_spec:
        items.append(Item(w["custom_spec"], w["yes"]))
    items.append(
        Item(w["budget"], p.budget, "#,##0") if p.budget is not None else Item(w["budget"], w["unlimited"])
    )
    items += [
        Item(w["cost_fixed"], p.cost_fixed, "#,##0"),
        Item(w["cost_per_person"], p.cost_per_person, "#,##0"),
    ]
    items.append(
        Item(w["min_people"], p.min_people, "#,##0") if p.min_people else Item(w["min_people"], w["no_guard"])
    )
    items.append(
        Item(w["max_cost_per_person"], p.max_cost_per_person, "#,##0")
        if p.max_cost_per_person is not None
        else Item(w["max_cost_per_person"], w["no_guard"])
    )
    items.append(
        Item(w["max_villages"], p.max_villages, "#,##0")
        if p.max_villages is not None
        else Item(w["max_villages"], w["unlimited"])
    )
    eligible = list(s.by_kabupaten)
    items += [
        Item(
            w["kabupaten"],
            w["all_kabupaten"]
            if not excluded
            else listed(f"{k.kabupaten_name} ({k.kabupaten_code})" for k in eligible),
        ),
        Item(
            w["excluded_kabupaten"],
            listed(f"{e.kabupaten_name} ({e.kabupaten_code})" for e in s.excluded_kabupaten),
        ),
        Item(w["kabupaten_min"], quotas(p.kabupaten_min)),
        Item(w["kabupaten_max"], quotas(p.kabupaten_max)),
        Item(w["include"], listed(p.include)),
        Item(w["exclude"], listed(p.exclude)),
        Item(w["min_score"], p.min_score, "0.0000")
        if p.min_score is not None
        else Item(w["min_score"], w["none"]),
    ]
    priority = {g: v for g, v in p.priority.items() if v}
    items.append(
        Item(
            w["priority"],
            listed(f"{value_word(g, lang)} = {number(v, lang, digits=2)}" for g, v in priority.items()),
        )
    )
    items += [Item(w["scenarios"], p.scenarios, "#,##0"), Item(w["seed"], p.seed)]
    items += [
        Item(w["status"], value_word(result.status, lang, "status")),
        Item(w["gap"], result.gap, "0.000%") if result.gap is not None else Item(w["gap"], "—"),
    ]
    if result.reason:
        items.append(Item(w["reason_text"], result.reason))
    effect = result.priority_effect
    if effect is not None:
        items.append(Item(w["priority_gained"], listed(v.village_name for v in effect.gained)))
        items.append(Item(w["priority_lost"], listed(v.village_name for v in effect.lost)))
    return items


def summary_items(result: TargetResult, lang: str) -> list[Item]:
    """The list's totals as items (the "about" sheet ends with them)."""
    s = result.summary
    items = [
        Item(title("n_selected", lang), s.n_selected, "#,##0"),
        Item(title("people_reached", lang), s.people_reached, "#,##0"),
    ]
    if s.score is not None:
        items.append(Item(title("objective_score", lang), s.score, "#,##0.00"))
    items += [
        Item(title("objective_total", lang), s.objective_total, "#,##0"),
        Item(title("total_cost", lang), s.total_cost, "#,##0"),
    ]
    if s.budget_left is not None:
        items.append(Item(title("budget_left", lang), s.budget_left, "#,##0"))
    items.append(Item(title("coverage", lang), s.coverage, "0.00%"))
    return items
