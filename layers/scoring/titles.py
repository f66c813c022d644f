"""Indicators in words, in Bahasa Indonesia and English, for people (downloads, the planner page).

An indicator's title is its column's field title (`layers.schema.FIELDS`) with the direction and
the cutoff in the column's unit: ``Persentase penduduk miskin > 9,03 %``, ``Travel time to the
nearest hospital > 120 min``. Shares (0-1) are shown as percentages.

Examples
--------
>>> from layers.scoring.spec import default_spec
>>> indicator_title(default_spec().indicators[0], "id")
'Persentase penduduk miskin > 9,03 %'
"""

from __future__ import annotations

from layers.schema import field_for
from layers.scoring.spec import Indicator, IndicatorSpec

#: Unit words where the unit's own name is not what a reader expects.
UNIT_WORDS = {"id": {"percent": "%", "minutes": "menit"}, "en": {"percent": "%", "minutes": "min"}}


def indicator_title(indicator: Indicator, lang: str) -> str:
    """An indicator in words: its column's title and the cutoff, e.g. ``Poverty rate > 9.03 %``.

    Parameters
    ----------
    indicator
        An indicator of the spec.
    lang
        ``id`` or ``en``.

    Returns
    -------
    str
        The column's field title in ``lang`` (the indicator's name for an unknown column), the
        direction of deprivation and the cutoff in the column's unit.
    """
    field = field_for(indicator.column)
    if field is None:
        return indicator.name
    title = getattr(field.title, lang)
    sign = ">" if indicator.deprived_when == "above" else "<"
    value, unit = indicator.cutoff, field.unit
    if unit == "fraction":
        value, unit = 100 * value, "%"
    units = UNIT_WORDS[lang]
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    if lang == "id":
        text = text.translate(str.maketrans(",.", ".,"))
    return f"{title} {sign} {text} {units.get(unit, unit)}".rstrip()


def indicator_titles(spec: IndicatorSpec) -> dict[str, dict[str, str]]:
    """Every indicator of ``spec`` in words: name -> {"id": ..., "en": ...}."""
    return {i.name: {lang: indicator_title(i, lang) for lang in ("id", "en")} for i in spec.indicators}
