"""The poverty table: one row per village and year, every number and code checked."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.config import (
    BuildConfig,
    PovertySource,
)
from layers.errors import SourceError
from layers.sources.common import as_code, refuse, refuse_scientific_codes, row_place
from layers.sources.tables import DELIMITERS, DOT_GROUPED, parse_numbers, read_table

FORMAT_HINT = (
    'declare how numbers are written in [sources.poverty]: thousands = "." for Indonesian '
    'style (1.053 people, 5,17 %), or thousands = "," for English style (1,053 people, 5.17 %)'
)

#: Counts that cannot exceed another count in the same row: part -> whole.
_AT_MOST = {
    "poor_population": "population",
    "elderly": "population",
    "disabled": "population",
    "households": "population",
    "hh_decile_1": "households",
    "hh_decile_2": "households",
    "hh_decile_3": "households",
    "hh_decile_4": "households",
    "female_headed_hh": "households",
    "hh_no_electricity": "households",
    "hh_no_safe_water": "households",
    "hh_no_sanitation": "households",
}

#: Plausible survey years.
YEARS = (1900, 2100)

#: Unit checks need this many rows with values: a handful of villages says nothing about a column.
UNIT_ROWS = 10
#: Share of rows beyond which a pattern is the column's, not a few villages' (`_check_units`).
MOST = 0.5
#: A poor count disagrees with a given poverty rate by more than this many percentage points, or
#: this share of the rate, whichever is larger (rounding of either never does).
RATE_AGREEMENT_PP, RATE_AGREEMENT_REL = 1.0, 0.25
#: Below this slope of log(poor people) on log(people), poor "counts" do not grow with the
#: population: they are rates (a count grows about in proportion, slope ~1).
COUNT_SLOPE_MIN = 0.3


def read_poverty(source: PovertySource, config: BuildConfig, village_codes: pd.Series) -> pd.DataFrame:
    """The poverty table in canonical columns, one row per (village_code, year), every code checked.

    Numbers are parsed as declared (``decimal``, ``thousands``); the year and every count must be
    whole numbers, counts finite and ≥ 0, the population given and > 0 (every village owns at least
    one H3 cell), parts no larger than their whole (poor people ≤ people, deprived households ≤
    households, deciles 1-4 together ≤ households) and ``poverty_rate`` a percentage. Every row
    must match a village and every village must have a row for every year in the table.
    """
    path = config.resolve(source.file)
    raw, how = read_table(path, source)
    needed = [source.code, source.year, *source.columns.values()]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        found = list(map(str, raw.columns))
        note = f"; {how}" if how else ""
        if len(found) == 1 and any(d in found[0] for d in DELIMITERS if d not in how):
            note += ": the header is one field, so the delimiter is probably another"
        raise SourceError(path.name, None, missing[0], f"column not found; the file has {found}{note}")
    if "population" not in source.columns:
        raise SourceError(path.name, None, None, "config maps no 'population' column (required)")
    refuse_scientific_codes(raw[source.code], path.name, source.code, row_place)
    out = pd.DataFrame({"village_code": as_code(raw[source.code])})
    fields = {"year": source.year, **source.columns}
    values = {
        canonical: _checked_numbers(raw[column], path.name, column, canonical, source.number_format)
        for canonical, column in fields.items()
    }
    _check_wholes(values, fields, path.name)
    _check_units(values, fields, path.name)
    out["year"] = values.pop("year").astype(np.int64)
    for canonical in source.columns:
        out[canonical] = values[canonical]
    _check_keys(out, path.name, source, village_codes)
    return out.sort_values(["year", "village_code"], kind="stable").reset_index(drop=True)


def _checked_numbers(
    column: pd.Series, file: str, field: str, canonical: str, number_format: tuple[str, str] | None
) -> np.ndarray:
    values, not_number = parse_numbers(column, number_format)
    cells = column.astype("string")

    def quote(position: int) -> str:
        return repr(str(cells.iloc[position]).strip())

    declared = (
        f'(read with decimal "{number_format[0]}" and thousands "{number_format[1]}" as declared in '
        "[sources.poverty])"
        if number_format
        else ""
    )
    # The number-format hint only where a refused cell has digits ("1.053,5"), not for "NaN".
    digits = cells[not_number].str.contains(r"\d", regex=True, na=False).any()
    required = canonical in ("year", "population")
    blank = (
        f"{canonical.capitalize()} is required in every row"
        if required
        else "Leave a cell empty for a missing value"
    )
    hint = declared or (blank + (f"; {FORMAT_HINT}" if digits else ""))
    refuse(file, not_number, row_place, field, quote, "is not a number", hint)
    refuse(
        file,
        np.isinf(values),
        row_place,
        field,
        quote,
        "is not a finite number",
        "A count or rate must be an ordinary number",
    )
    refuse(
        file,
        required & np.isnan(values),
        row_place,
        field,
        lambda _: "empty cell",
        f"where {canonical} is required",
    )
    with np.errstate(invalid="ignore"):
        refuse(file, values < 0, row_place, field, quote, "is negative")
        if canonical != "poverty_rate":
            fractional = np.isfinite(values) & (values != np.floor(values))
            looks_grouped = number_format is None and bool(
                cells[fractional].str.strip().str.fullmatch(DOT_GROUPED.pattern).any()
            )
            hint = (
                "It looks like '.' separates thousands (Indonesian style); " + FORMAT_HINT
                if looks_grouped
                else (
                    declared
                    or ("A year" if canonical == "year" else "A count of people or households")
                    + " is a whole number"
                )
            )
            refuse(file, fractional, row_place, field, quote, "is not a whole number", hint)
        if canonical == "year":
            refuse(
                file,
                (values < YEARS[0]) | (values > YEARS[1]),
                row_place,
                field,
                quote,
                "is not a plausible year",
            )
        elif canonical == "population":
            refuse(
                file,
                values == 0,
                row_place,
                field,
                quote,
                "is zero",
                "Every village owns at least one H3 cell, so it must have people to be scored",
            )
        elif canonical == "poverty_rate":
            refuse(file, values > 100, row_place, field, quote, "is above 100 (poverty_rate is a percentage)")
    return values


def _check_wholes(values: dict[str, np.ndarray], fields: dict[str, str], file: str) -> None:
    """Refuse rows where a part exceeds its whole (poor people > people, ...)."""
    with np.errstate(invalid="ignore"):
        for part, whole in _AT_MOST.items():
            if part not in values or whole not in values:
                continue
            p, w = values[part], values[whole]
            # NaN compares false: a missing cell is not an excess.
            refuse(
                file,
                p > w,
                row_place,
                fields[part],
                # refuse() calls it at once, so the loop's current p, w and whole are the right ones.
                lambda at: f"{p[at]:,.0f} (> {fields[whole]} {w[at]:,.0f})",  # noqa: B023
                f"exceeds its {whole}",
            )
        if "households" in values and "population" in values:
            h, n = values["households"], values["population"]
            refuse(
                file,
                (h == 0) & (n > 0),
                row_place,
                fields["households"],
                lambda at: f"0 households for {n[at]:,.0f} people",
                "is impossible: people live in households",
            )
        deciles = [c for c in ("hh_decile_1", "hh_decile_2", "hh_decile_3", "hh_decile_4") if c in values]
        if len(deciles) > 1 and "households" in values:
            total = np.sum([values[c] for c in deciles], axis=0)
            h = values["households"]
            names = " + ".join(fields[c] for c in deciles)
            refuse(
                file,
                total > h,
                row_place,
                fields[deciles[0]],
                lambda at: f"{names} = {total[at]:,.0f} (> {fields['households']} {h[at]:,.0f})",
                "exceeds its households (a household is in one decile)",
            )


def _check_keys(out: pd.DataFrame, file: str, source: PovertySource, village_codes: pd.Series) -> None:
    known = set(village_codes)
    unmatched = ~out["village_code"].isin(known).to_numpy()
    if unmatched.any():
        rows = np.flatnonzero(unmatched)
        codes = out["village_code"].iloc[rows[:5]].tolist()
        raise SourceError(
            file,
            int(rows[0]) + 1,
            source.code,
            f"{len(rows)} row(s) match no village code, e.g. {codes}; check the join key "
            "(BPS and Kemendagri codes differ in Kalimantan Tengah)",
        )
    duplicated = out.duplicated(["village_code", "year"]).to_numpy()
    if duplicated.any():
        at = int(np.flatnonzero(duplicated)[0])
        raise SourceError(
            file,
            at + 1,
            source.code,
            f"second row for village '{out['village_code'].iloc[at]}' in year {out['year'].iloc[at]}",
        )
    for year, rows in out.groupby("year")["village_code"]:
        absent = sorted(known - set(rows))
        if absent:
            raise SourceError(
                file,
                None,
                source.code,
                f"{len(absent)} village(s) have no row for year {year}, e.g. {absent[:5]}",
            )


def _check_units(values: dict[str, np.ndarray], fields: dict[str, str], file: str) -> None:
    """Refuse columns whose numbers are in the wrong unit though every one of them parses.

    A poverty rate delivered as a fraction (0.052 for 5.2 %) leaves nobody above a 9.03 % cutoff; a
    poor-population column holding the rate (9 for 26 poor people of 283) divides the poor by ten.
    Both build and pass every other check, so the column's numbers are checked as a whole:

    - ``poverty_rate`` is a percentage: all values within [0, 1] are fractions (multiply by 100);
    - ``poor_population`` is a count: equal to the rounded rate in most rows, or not growing with
      the population at all (and never above 100), it holds percentages;
    - where both are given, ``poor_population / population`` must agree with ``poverty_rate`` in
      most rows (the build computes the rate from the counts and would drop the given one).
    """
    rate = values.get("poverty_rate")
    poor, people = values.get("poor_population"), values.get("population")
    if rate is not None:
        given = rate[np.isfinite(rate)]
        if len(given) >= UNIT_ROWS and 0 < given.max() <= 1:
            raise SourceError(
                file,
                None,
                fields["poverty_rate"],
                f"every value lies between 0 and 1 (the largest is {given.max():g}): these are fractions, "
                f"but poverty_rate is a percentage (5.17 for 5.17 %). Multiply the column by 100",
            )
    if poor is None or people is None:
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        if rate is not None:
            both = np.isfinite(poor) & np.isfinite(rate) & (people > 0)
            pasted = both & (rate >= 1) & ((poor == np.floor(rate)) | (poor == np.ceil(rate)))
            if both.sum() >= UNIT_ROWS and pasted.sum() > MOST * both.sum():
                at = int(np.flatnonzero(pasted)[0])
                raise SourceError(
                    file,
                    None,
                    fields["poor_population"],
                    f"equals the rounded {fields['poverty_rate']} in {int(pasted.sum()):,} of "
                    f"{int(both.sum()):,} rows (row {at + 1}: {poor[at]:,.0f} poor of {people[at]:,.0f} "
                    f"people, rate {rate[at]:g} %): the column holds percentages, not people. Map "
                    "poor_population to the number of poor people",
                )
            implied = 100 * poor / people
            off = np.abs(implied - rate) > np.maximum(RATE_AGREEMENT_PP, RATE_AGREEMENT_REL * rate)
            off &= both
            if both.sum() >= UNIT_ROWS and off.sum() > MOST * both.sum():
                at = int(np.flatnonzero(off)[0])
                raise SourceError(
                    file,
                    None,
                    fields["poor_population"],
                    f"{fields['poor_population']} / {fields['population']} disagrees with "
                    f"{fields['poverty_rate']} in {int(off.sum()):,} of {int(both.sum()):,} rows (row "
                    f"{at + 1}: {poor[at]:,.0f} of {people[at]:,.0f} people is {implied[at]:.2f} %, the "
                    f"rate says {rate[at]:g} %). One of the columns is in another unit or from another "
                    "source: map the ones that belong together",
                )
        counted = np.isfinite(poor) & (poor > 0) & (people > 0)
        if counted.sum() >= UNIT_ROWS and poor[np.isfinite(poor)].max() <= 100:
            x, y = np.log(people[counted]), np.log(poor[counted])
            spread = x.var()
            slope = float(((x - x.mean()) * (y - y.mean())).mean() / spread) if spread > 0 else 1.0
            if slope < COUNT_SLOPE_MIN and people[counted].max() >= 10 * poor[counted].max():
                latest = values["year"] == np.nanmax(values["year"])
                total = np.nansum(poor[latest])
                share = 100 * total / np.nansum(people[latest])
                raise SourceError(
                    file,
                    None,
                    fields["poor_population"],
                    f"never exceeds 100 and does not grow with {fields['population']} (log-log slope "
                    f"{slope:.2f}; counts of people grow about in proportion, slope ~1): it looks like "
                    f"a percentage, not a count. Read as people, {np.nanmax(values['year']):.0f} would "
                    f"have {total:,.0f} poor of {np.nansum(people[latest]):,.0f} ({share:.2f} %). Map "
                    "poor_population to the number of poor people (or a rate to poverty_rate)",
                )
