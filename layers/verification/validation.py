"""The register's own rules for families that verification writes: a proposed family
(``usulan_baru``), a correction, an uploaded sheet's rows.

One set of rules (`layers.sources.households.validate_families`, the build's): a family the
village proposes passes exactly the checks a register file passes in ``sasaran build``. Its
refusals name a field and describe the value without quoting it; here they become `InvalidInput`
(the API) or row-and-column errors in Bahasa Indonesia (`indonesian`, for sheets).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from layers.errors import SourceError
from layers.register import to_names
from layers.sources.households import validate_families
from layers.verification.db import Database
from layers.verification.errors import InvalidInput
from layers.verification.rounds import Round
from layers.verification.tables import villages

if TYPE_CHECKING:
    from layers.store import LayerStore

#: Checks families in canonical columns; returns them typed as the register types them.
#: ``place`` names a row in messages (position -> text), as `layers.sources.common.row_place` does.
Validator = Callable[..., pd.DataFrame]


class RuleBroken(InvalidInput):
    """A family breaks a register rule: which row (as ``place`` named it), which field, what is wrong."""

    def __init__(self, row: str | None, field: str | None, problem: str):
        self.row, self.field, self.problem = row, field, problem
        where = f"{row}, " if row else ""
        super().__init__(f"{where}field '{field}': {problem}" if field else f"{where}{problem}")


def validator_for(db: Database, round_: Round, store: LayerStore | None = None) -> Validator:
    """The rules for families of ``round_``: its villages, its year, synthetic NIKs if synthetic.

    Parameters
    ----------
    db
        The database (the round's village codes).
    round_
        The round.
    store
        The store, for the villages' polygons (coordinates are checked against them when given).

    Returns
    -------
    Validator
        ``validate(frame, place=None)``: the frame typed, categorical columns as code names;
        `RuleBroken` at the first broken rule.
    """
    with db.read() as conn:
        codes = list(conn.execute(select(villages.c.code).where(villages.c.round_id == round_.id)).scalars())
    polygons = None
    if store is not None:
        try:
            polygons = store.layer("villages")[["village_code", "geometry"]]
        except Exception:  # a store without polygons: coordinates are checked against the region only
            polygons = None
    options: dict[str, Any] = {
        "synthetic": round_.synthetic,
        "nik_any_province": bool(round_.source.get("nik_any_province")),
        "villages": polygons,
        "years": [round_.year] if round_.year else None,
    }

    def validate(frame: pd.DataFrame, place: Callable[[int], str] | None = None) -> pd.DataFrame:
        return check(frame, "keluarga", codes, place=place, **options)

    return validate


def check(
    frame: pd.DataFrame,
    file: str,
    codes: list[str],
    place: Callable[[int], str] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """`validate_families` on ``frame``, categorical columns back as code names; `RuleBroken` if refused."""
    data = frame.copy()
    if "year" in data and data["year"].isna().all():
        data = data.drop(columns=["year"])
    try:
        checked = validate_families(data, file, codes, place=place or _no_place, **options)
    except SourceError as exc:
        row = exc.row if isinstance(exc.row, str) and exc.row else None
        raise RuleBroken(row, exc.field, exc.problem) from None
    return to_names(checked)


def _no_place(_: int) -> str:
    return ""


#: English phrases of the register's refusals and their Bahasa Indonesia (for sheets).
_PHRASES = (
    ("is not 16 digits", "bukan 16 angka"),
    ("a NIK stored as a number", "NIK tersimpan sebagai angka"),
    ("loses its last digits", "kehilangan angka terakhirnya (format kolom sebagai Teks)"),
    ("cannot exist (serials start at 0001)", "tidak mungkin ada (nomor urut mulai 0001)"),
    ("does not match its village", "tidak sesuai provinsi desanya"),
    ("is not a possible date of birth", "bukan tanggal lahir yang mungkin"),
    ("where every family needs its", "kosong, padahal wajib diisi:"),
    ("an empty cell", "sel kosong"),
    ("is not a whole number", "bukan bilangan bulat"),
    ("is not a number", "bukan angka"),
    ("is below", "kurang dari"),
    ("is above", "lebih dari"),
    ("exceeds its family's members", "melebihi jumlah anggota keluarga"),
    ("is not a mapped value", "bukan nilai yang dikenal"),
    ("is not a village code of the villages source", "bukan kode desa yang dikenal"),
    ("appears twice", "muncul dua kali"),
    ("lie outside the region", "berada di luar wilayah"),
    ("outside the family's village", "di luar desa keluarga"),
    ("is given without the other", "diisi tanpa pasangannya (isi keduanya atau kosongkan)"),
    ("(also ", "(juga "),
    (" in all", " seluruhnya"),
)


#: Descriptions of refused values, as patterns (they carry a number or a code).
_PATTERNS = (
    (re.compile(r"\ba NIK of (\d+) characters\b"), r"NIK \1 karakter"),
    (re.compile(r"\ban empty NIK\b"), "NIK kosong"),
    (
        re.compile(r"\ba NIK of province (\d+) for a family in province (\d+)\b"),
        r"NIK provinsi \1 untuk keluarga di provinsi \2",
    ),
    (re.compile(r"\ba NIK with serial 0000\b"), "NIK bernomor urut 0000"),
    (re.compile(r"\ba NIK whose date part\b"), "bagian tanggal NIK"),
    (re.compile(r"\ba head's NIK already given in\b"), "NIK kepala keluarga yang sudah ada di"),
    (re.compile(r"\ba family id already given in\b"), "ID keluarga yang sudah ada di"),
    (re.compile(r"\(> members (\d+)\)"), r"(> anggota \1)"),
)


def indonesian(problem: str) -> str:
    """A register refusal in Bahasa Indonesia where its phrases are known (else as it is)."""
    text = problem
    for pattern, bahasa in _PATTERNS:
        text = pattern.sub(bahasa, text)
    for english, bahasa in _PHRASES:
        text = text.replace(english, bahasa)
    return text
