"""Amounts of money as Indonesian planners write them: ``2.000.000.000``, ``2 miliar``, ``2M``, ``500 jt``.

`parse_amount` reads what a planner types into a budget or cost field (the command line's
``--budget``; the planner page has the same rules in ``planner.js``) and `say_amount` echoes it in
words, so a typing slip is seen before the selection runs.

The rules (docs/targeting.md, "Typing amounts"):

- digits grouped by dots in threes are thousands (``2.000.000.000``; Indonesian), and so are
  commas in threes (``2,000,000,000``; English); a lone comma or dot followed by other than three
  digits is the decimal mark (``2,5`` = ``2.5``); ``2.500`` is two thousand five hundred;
- a unit may follow, with or without a space: ``rb``/``ribu``/``k`` (thousand), ``jt``/``juta``
  (million), ``M``/``miliar``/``milyar``/``bn`` (thousand million, Indonesian *miliar*),
  ``T``/``triliun`` (million million); a leading ``Rp`` is ignored;
- a lone lower-case ``m`` is refused: in Bahasa Indonesia ``M`` is *miliar*, in English ``m`` is
  often million, and a budget a thousand times off must not pass silently;
- plain numbers and exponents (``2e9``) are read as they are.

Examples
--------
>>> parse_amount("2.000.000.000"), parse_amount("2 miliar"), parse_amount("2M"), parse_amount("2,5 M")
(2000000000.0, 2000000000.0, 2000000000.0, 2500000000.0)
>>> parse_amount("Rp 500 jt"), parse_amount("250.000"), parse_amount("1,5 triliun")
(500000000.0, 250000.0, 1500000000000.0)
>>> say_amount(2.5e9, "id"), say_amount(2.5e9, "en")
('Rp 2.500.000.000 (2,5 miliar)', 'Rp 2,500,000,000 (2.5 billion)')
"""

from __future__ import annotations

import math
import re

from layers.errors import InvalidQuery, excerpt

#: Unit words (lower case) and their factor.
UNITS: dict[str, float] = {
    "rb": 1e3,
    "ribu": 1e3,
    "k": 1e3,
    "jt": 1e6,
    "juta": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "miliar": 1e9,
    "milyar": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "triliun": 1e12,
    "trillion": 1e12,
}
#: Single capital letters: Indonesian abbreviations (``2M`` = 2 miliar, ``3T`` = 3 triliun).
CAPITALS: dict[str, float] = {"M": 1e9, "T": 1e12}
_AMOUNT = re.compile(
    r"^\s*(?:rp\.?\s*)?(?P<number>[0-9][0-9.,]*(?:e[+-]?[0-9]+)?)\s*(?P<unit>[a-z]*)\s*$", re.I
)
_GROUPED_DOTS = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?$")
_GROUPED_COMMAS = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$")


def _number(text: str) -> float:
    if _GROUPED_DOTS.match(text):  # 2.000.000.000 or 2.500,75
        return float(text.replace(".", "").replace(",", "."))
    if _GROUPED_COMMAS.match(text):  # 2,000,000,000
        return float(text.replace(",", ""))
    if text.count(",") == 1 and "." not in text:  # a decimal comma: 2,5
        return float(text.replace(",", "."))
    return float(text)  # 2000000000, 2.5, 2e9; anything else is a ValueError


def parse_amount(text: str | float | int, field: str = "amount") -> float:
    """An amount in Rupiah from what a planner types (module docstring), or `InvalidQuery`.

    Parameters
    ----------
    text
        The typed amount (a number is returned as it is).
    field
        The field's name, for the message.

    Returns
    -------
    float
        The amount (finite, not negative).
    """
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _AMOUNT.match(str(text))
        unit = match.group("unit") if match else ""
        factor = CAPITALS.get(unit) or UNITS.get(unit.lower()) if unit else 1.0
        if match is None or factor is None or unit == "m":
            hint = (
                "; write 2M or 2 miliar for 2.000.000.000, 2 jt or 2 juta for 2.000.000"
                if match is not None and unit == "m"
                else "; e.g. 2.000.000.000, 2 miliar, 2M, 500 jt or 2e9"
            )
            raise InvalidQuery(f"{field}: cannot read '{excerpt(text, 40)}' as an amount of Rupiah{hint}")
        try:
            value = _number(match.group("number")) * factor
        except ValueError:
            raise InvalidQuery(
                f"{field}: cannot read '{excerpt(text, 40)}' as an amount of Rupiah; "
                "group thousands with dots (2.000.000.000) or write 2 miliar"
            ) from None
    if not math.isfinite(value) or value < 0:
        raise InvalidQuery(f"{field} must be a finite amount of at least 0, got '{excerpt(text, 40)}'")
    return value


_SCALE_WORDS = {
    "id": ((1e12, "triliun"), (1e9, "miliar"), (1e6, "juta"), (1e3, "ribu")),
    "en": ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")),
}


def say_amount(value: float, lang: str = "id") -> str:
    """``Rp 2.500.000.000 (2,5 miliar)``: an amount in full and in words, to echo what was typed."""
    whole = f"{round(value):,}"
    if lang == "id":
        whole = whole.replace(",", ".")
    for scale, name in _SCALE_WORDS[lang]:
        if abs(value) >= scale:
            short = f"{value / scale:,.3f}".rstrip("0").rstrip(".")
            if lang == "id":
                short = short.translate(str.maketrans(",.", ".,"))
            return f"Rp {whole} ({short} {name})"
    return f"Rp {whole}"
