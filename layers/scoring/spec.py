"""The indicator spec: which columns count as deprivations, with what weights and cutoffs (docs/contracts.md).

A spec is a TOML file, the same format for the built-in spatial set (``layers/data/indicators.toml``)
and for ``sasaran mpi``::

    k = "1/3"                      # optional; numbers or fractions as strings
    [[indicator]]
    name = "d_income"              # unique
    column = "pce_rp"              # raw value column in the unit table
    dimension = "income"
    weight = "1/4"                 # weights must sum to 1
    cutoff = 623954                # Rp per capita per month: BPS poverty line, Kalteng, March 2024
    deprived_when = "below"        # "below" (value < cutoff) or "above" (value > cutoff)
    # optional for user specs, required in the built-in set:
    source = { document = "BPS ...", article = "...", year = 2024 }
    rationale = "why this cutoff, and where it departs from its source"

Every error is a `ConfigError` whose message names the spec source and the indicator, e.g.
``indicators.toml, indicator 'd_water': weight must be positive``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from layers.errors import ConfigError, excerpt, excerpt_list
from layers.types import BoolArray, DeprivedWhen, FloatArray, IndicatorDict, IntArray, SpecDict

#: Most indicators one spec may list (README, "Limits"): checked before any array is built, so a
#: request body with thousands of copies is refused at once. Real specs have 10-20.
MAX_INDICATORS = 64
#: Longest indicator name, column or dimension (they become columns, map labels and messages).
MAX_NAME_CHARS = 64
#: Longest number text `parse_fraction` reads, and the form it must have (exponents of at most
#: 3 digits: `Fraction("1e100000000")` builds a 100-million-digit integer before anything else).
MAX_NUMBER_CHARS = 64
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")  # ASCII: not "٠.٥"

#: Tolerance on "weights sum to 1". Decimal weights written to 9+ places pass; 0.33 * 3 does not.
WEIGHT_SUM_TOLERANCE = 1e-9

_INDICATOR_KEYS = ("name", "column", "dimension", "weight", "cutoff", "deprived_when")
#: Provenance keys: optional in user specs, required in the built-in set (`default_spec`).
_PROVENANCE_KEYS = ("source", "rationale")
_SOURCE_KEYS = ("document", "article", "year")
_TOP_KEYS = {"k", "indicator", "description"}
_DEFAULT_SOURCE = "layers/data/indicators.toml"


@dataclass(frozen=True)
class Source:
    """Where an indicator's cutoff comes from: the document, the article in it, and its year."""

    document: str
    article: str
    year: int


@dataclass(frozen=True)
class Indicator:
    """One deprivation indicator: a unit is deprived when its ``column`` value is beyond ``cutoff``.

    ``source`` and ``rationale`` say where the cutoff comes from and why (required in the built-in
    set, optional in user specs); they do not change any score.
    """

    name: str
    column: str
    dimension: str
    weight: float
    cutoff: float
    deprived_when: DeprivedWhen
    source: Source | None = None
    rationale: str | None = None


@dataclass(frozen=True)
class IndicatorSpec:
    """A validated set of indicators with nested weights summing to 1, and the poverty cutoff ``k``.

    Construction validates (weights positive and summing to 1, unique names, ``k`` in (0, 1]) and
    raises `ConfigError` naming ``source`` and the indicator at fault.
    """

    indicators: tuple[Indicator, ...]
    k: float = 1 / 3
    source: str = field(default="<spec>", compare=False)

    def __post_init__(self) -> None:
        _validate(self)

    def __len__(self) -> int:
        return len(self.indicators)

    @property
    def names(self) -> list[str]:
        """Indicator names, in spec order."""
        return [ind.name for ind in self.indicators]

    @property
    def columns(self) -> list[str]:
        """Unit-table column of each indicator, in spec order."""
        return [ind.column for ind in self.indicators]

    @cached_property
    def dimensions(self) -> list[str]:
        """Unique dimension names, in order of first appearance."""
        return list(dict.fromkeys(ind.dimension for ind in self.indicators))

    @cached_property
    def weights(self) -> FloatArray:
        """Indicator weights (read-only float64 array summing to 1)."""
        return _frozen(np.array([ind.weight for ind in self.indicators], dtype=np.float64))

    @cached_property
    def cutoffs(self) -> FloatArray:
        """Indicator cutoffs (read-only float64 array)."""
        return _frozen(np.array([ind.cutoff for ind in self.indicators], dtype=np.float64))

    @cached_property
    def above(self) -> BoolArray:
        """True where an indicator is deprived above its cutoff, False where below."""
        return _frozen(np.array([ind.deprived_when == "above" for ind in self.indicators], dtype=bool))

    @cached_property
    def dimension_index(self) -> IntArray:
        """Position in `dimensions` of each indicator's dimension."""
        pos = {dim: i for i, dim in enumerate(self.dimensions)}
        return _frozen(np.array([pos[ind.dimension] for ind in self.indicators], dtype=np.int64))

    @cached_property
    def dimension_weights(self) -> FloatArray:
        """Total weight of each dimension, in `dimensions` order."""
        out = np.bincount(self.dimension_index, weights=self.weights, minlength=len(self.dimensions))
        return _frozen(out)


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _where(source: str, name: str | None, index: int | None = None) -> str:
    if name is not None:
        return f"{source}, indicator '{excerpt(name)}'"
    if index is not None:
        return f"{source}, indicator #{index + 1}"
    return source


def _validate(spec: IndicatorSpec) -> None:
    src = spec.source
    if not spec.indicators:
        raise ConfigError(f"{src}: the spec lists no indicators")
    _check_count(len(spec.indicators), src)
    if not (isinstance(spec.k, int | float) and 0 < spec.k <= 1):
        raise ConfigError(
            f"{src}: k must be in (0, 1] (a share of the weighted indicators, not a percent); got {spec.k!r}"
        )
    seen: set[str] = set()
    for ind in spec.indicators:
        where = _where(src, ind.name)
        if ind.name in seen:
            raise ConfigError(f"{where}: duplicate indicator name")
        seen.add(ind.name)
        _validate_indicator(ind, where)
    total = math.fsum(ind.weight for ind in spec.indicators)
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        listed = excerpt(
            ", ".join(f"{excerpt(ind.name, 30)}={ind.weight:.6g}" for ind in spec.indicators), 400
        )
        raise ConfigError(f"{src}: indicator weights must sum to 1, they sum to {total:.10g} ({listed})")


def _validate_indicator(ind: Indicator, where: str) -> None:
    for key in ("name", "column", "dimension"):
        value = getattr(ind, key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {key} must be a non-empty string, got {excerpt(repr(value))}")
        if len(value) > MAX_NAME_CHARS:  # names become columns, labels and messages
            raise ConfigError(f"{where}: {key} has {len(value):,} characters, more than {MAX_NAME_CHARS}")
    if ind.deprived_when not in ("below", "above"):
        raise ConfigError(
            f"{where}: deprived_when must be 'below' or 'above', got {excerpt(repr(ind.deprived_when))}"
        )
    if not math.isfinite(ind.weight) or ind.weight <= 0:
        raise ConfigError(f"{where}: weight must be positive and finite, got {ind.weight!r}")
    if ind.weight > 1:  # weights sum to 1, so none exceeds it (and 1e308s overflow the sum)
        raise ConfigError(f"{where}: weight must be at most 1 (the weights sum to 1), got {ind.weight:g}")
    if not math.isfinite(ind.cutoff):
        raise ConfigError(f"{where}: cutoff must be a finite number, got {ind.cutoff!r}")


def _check_count(n: int, source: str) -> None:
    if n > MAX_INDICATORS:
        raise ConfigError(f"{source}: {n:,} indicators; a spec may list at most {MAX_INDICATORS}")


def parse_fraction(value: Any, where: str) -> float:
    """Read a number given as an int, a float, or a string such as ``"1/3"`` or ``"0.25"``.

    Every number of a spec and of its overrides (k, weights, cutoffs; from TOML, JSON, a query
    string or a command-line option) is read here, so this is the one place that refuses what is
    not a finite float: inf, nan, ``1e400`` (overflow), a zero denominator, or over-long text.

    Parameters
    ----------
    value
        The raw value, as parsed from TOML, JSON or a command-line option.
    where
        Where the value came from, used as the error-message prefix
        (``"indicators.toml, indicator 'd_water', weight"``).

    Returns
    -------
    float
        The value as a finite float.

    Raises
    ------
    ConfigError
        When the value is not a finite number or fraction.

    Examples
    --------
    >>> parse_fraction("1/3", "k") == 1 / 3
    True
    """
    bad = ConfigError(f"{where}: expected a number or a fraction like '1/3', got {excerpt(repr(value))}")
    try:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int | float):
            out = float(value)
        elif isinstance(value, str):
            out = _parse_text(value, bad)
        else:
            raise bad
    except (OverflowError, ZeroDivisionError):  # 10**400 or '1e400'; '1/0'
        out = math.nan
    if not math.isfinite(out):
        raise ConfigError(f"{where}: expected a finite number, got {excerpt(repr(value))}")
    return out


def _parse_text(value: str, bad: ConfigError) -> float:
    """``"0.25"``, ``"1/3"``, ``"1e-3"`` as a float, exactly rounded; ``bad`` for anything else."""
    text = value.strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise bad
    num, slash, den = (part.strip() for part in text.partition("/"))
    if not _NUMBER.fullmatch(num) or (slash and not _NUMBER.fullmatch(den)):
        raise bad
    return float(Fraction(num) / Fraction(den)) if slash else float(Fraction(num))


def _source_from_dict(raw: Any, where: str) -> Source:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}, source: expected a table with {', '.join(_SOURCE_KEYS)}, got {raw!r}")
    keys = set(raw)
    if keys != set(_SOURCE_KEYS):
        missing, unknown = sorted(set(_SOURCE_KEYS) - keys), sorted(keys - set(_SOURCE_KEYS))
        raise ConfigError(
            f"{where}, source: needs exactly {', '.join(_SOURCE_KEYS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
        )
    for key in ("document", "article"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ConfigError(f"{where}, source: {key} must be a non-empty string, got {raw[key]!r}")
    year = raw["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
        raise ConfigError(f"{where}, source: year must be a whole year such as 2024, got {year!r}")
    return Source(document=raw["document"], article=raw["article"], year=year)


def _indicator_from_dict(raw: Any, index: int, source: str, require_provenance: bool = False) -> Indicator:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{_where(source, None, index)}: expected a table of keys, got {excerpt(repr(raw))}"
        )
    name = raw.get("name")
    where = _where(source, name if isinstance(name, str) else None, index)
    required = _INDICATOR_KEYS + (_PROVENANCE_KEYS if require_provenance else ())
    missing = [key for key in required if key not in raw]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(repr(m) for m in missing)}")
    known = _INDICATOR_KEYS + _PROVENANCE_KEYS
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {excerpt_list(unknown)}; known: {', '.join(known)}")
    rationale = raw.get("rationale")
    if "rationale" in raw and (not isinstance(rationale, str) or not rationale.strip()):
        raise ConfigError(f"{where}: rationale must be a non-empty string, got {rationale!r}")
    for key in ("name", "column", "dimension", "deprived_when"):
        if not isinstance(raw[key], str):
            raise ConfigError(f"{where}: {key} must be a string, got {excerpt(repr(raw[key]))}")
    return Indicator(
        name=raw["name"],
        column=raw["column"],
        dimension=raw["dimension"],
        weight=parse_fraction(raw["weight"], f"{where}, weight"),
        cutoff=parse_fraction(raw["cutoff"], f"{where}, cutoff"),
        deprived_when=raw["deprived_when"],
        source=_source_from_dict(raw["source"], where) if "source" in raw else None,
        rationale=rationale,
    )


def spec_from_dict(
    raw: Mapping[str, Any], source: str = "<spec>", require_provenance: bool = False
) -> IndicatorSpec:
    """Validate a spec mapping (as parsed from TOML or JSON).

    Parameters
    ----------
    raw
        ``{"k": ..., "indicator": [{"name": ..., "column": ..., ...}, ...]}``; ``k`` is optional
        (default 1/3). An indicator may carry ``source = {document, article, year}`` and
        ``rationale``.
    source
        Name of the spec used in error messages (usually the file name).
    require_provenance
        Require ``source`` and ``rationale`` on every indicator (the built-in set must cite).

    Returns
    -------
    IndicatorSpec
        The validated spec.

    Raises
    ------
    ConfigError
        On a missing or unknown key, a bad value, duplicate names, or weights not summing to 1.

    Examples
    --------
    >>> spec = spec_from_dict(default_spec_dict(), "demo")
    >>> spec.dimensions
    ['income', 'education', 'health', 'quality_of_life']
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a table with 'k' and [[indicator]] entries")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown top-level key(s) {excerpt_list(unknown)}; "
            "expected 'k' and [[indicator]] tables"
        )
    if not isinstance(raw.get("description", ""), str):
        raise ConfigError(f"{source}: description must be text, got {excerpt(repr(raw['description']))}")
    entries = raw.get("indicator")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: no [[indicator]] entries")
    _check_count(len(entries), source)
    indicators = tuple(
        _indicator_from_dict(entry, i, source, require_provenance) for i, entry in enumerate(entries)
    )
    k = parse_fraction(raw["k"], f"{source}, k") if "k" in raw else 1 / 3
    return IndicatorSpec(indicators=indicators, k=k, source=source)


def load_spec(path: str | Path) -> IndicatorSpec:
    """Read and validate an indicator spec TOML file.

    Parameters
    ----------
    path
        The spec file.

    Returns
    -------
    IndicatorSpec
        The validated spec; its ``source`` is the path as given.

    Raises
    ------
    ConfigError
        When the file is missing, not TOML, or invalid (the message names the file and indicator).
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: indicator spec file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read indicator spec ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return spec_from_dict(raw, source=str(path))


def default_spec_dict() -> dict[str, Any]:
    """Return the packaged default spec (``layers/data/indicators.toml``) as parsed TOML.

    Returns
    -------
    dict
        The raw mapping, before validation.
    """
    text = resources.files("layers").joinpath("data/indicators.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def default_spec() -> IndicatorSpec:
    """Return the default spatial indicator set: four dimensions at 1/4 each, k = 1/3.

    Returns
    -------
    IndicatorSpec
        The packaged spec, with source ``layers/data/indicators.toml``.

    Examples
    --------
    >>> spec = default_spec()
    >>> len(spec), round(spec.k, 4)
    (11, 0.3333)
    """
    return spec_from_dict(default_spec_dict(), source=_DEFAULT_SOURCE, require_provenance=True)


def spec_to_dict(spec: IndicatorSpec) -> SpecDict:
    """Return the spec as a plain mapping that `spec_from_dict` reads back (for JSON answers).

    Parameters
    ----------
    spec
        The spec.

    Returns
    -------
    dict
        ``{"k": float, "indicator": [{name, column, dimension, weight, cutoff, deprived_when}, ...]}``,
        each indicator with its ``source`` and ``rationale`` when it has them.

    Examples
    --------
    >>> spec = default_spec()
    >>> spec_from_dict(spec_to_dict(spec)) == spec
    True
    """
    return {"k": spec.k, "indicator": [_indicator_dict(ind) for ind in spec.indicators]}


def _indicator_dict(ind: Indicator) -> IndicatorDict:
    out: IndicatorDict = {
        "name": ind.name,
        "column": ind.column,
        "dimension": ind.dimension,
        "weight": ind.weight,
        "cutoff": ind.cutoff,
        "deprived_when": ind.deprived_when,
    }
    if ind.source is not None:
        out["source"] = {
            "document": ind.source.document,
            "article": ind.source.article,
            "year": ind.source.year,
        }
    if ind.rationale is not None:
        out["rationale"] = ind.rationale
    return out


def _check_known(kind: str, given: Mapping[str, Any], known: list[str], source: str) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown {kind}(s) {excerpt_list(unknown)}; known: {', '.join(known)}")


def with_overrides(
    spec: IndicatorSpec,
    k: float | str | None = None,
    weights: Mapping[str, float | str] | None = None,
    dimension_weights: Mapping[str, float | str] | None = None,
    cutoffs: Mapping[str, float | str] | None = None,
    origin: str | None = None,
) -> IndicatorSpec:
    """Return a copy of ``spec`` with some of k, indicator weights, dimension weights or cutoffs replaced.

    Indicator weights are applied first; a dimension weight is then split across the dimension's
    indicators in proportion to their (possibly overridden) weights. The result is validated again,
    so the final weights must sum to 1.

    Parameters
    ----------
    spec
        The spec to start from (not changed).
    k
        New poverty cutoff in (0, 1], or a fraction string such as ``"1/3"``.
    weights
        Indicator name -> weight.
    dimension_weights
        Dimension name -> total weight of that dimension.
    cutoffs
        Indicator name -> cutoff.
    origin
        Where the overrides come from, for messages about them (e.g. ``"query"``); default: the
        spec's source.

    Returns
    -------
    IndicatorSpec
        The new spec.

    Raises
    ------
    ConfigError
        On an unknown indicator or dimension name, a bad value, or weights no longer summing to 1.

    Examples
    --------
    >>> spec = with_overrides(default_spec(), k="1/2", dimension_weights={"income": 0.4, "health": 0.1})
    >>> round(spec.k, 2), spec.dimension_weights.round(3).tolist()
    (0.5, [0.4, 0.25, 0.1, 0.25])
    """
    src = origin or spec.source
    inds = list(spec.indicators)
    if weights:
        _check_known("indicator", weights, spec.names, src)
        inds = [
            replace(ind, weight=_positive(weights[ind.name], f"{src}, indicator '{ind.name}', weight"))
            if ind.name in weights
            else ind
            for ind in inds
        ]
    if dimension_weights:
        _check_known("dimension", dimension_weights, spec.dimensions, src)
        current = {dim: math.fsum(i.weight for i in inds if i.dimension == dim) for dim in spec.dimensions}
        for dim in dimension_weights:
            if not current[dim] > 0:  # the dimension weight is split in proportion to these
                raise ConfigError(
                    f"{src}, dimension '{dim}': its indicator weights are all 0, so its weight cannot be "
                    "shared among them; give its indicators weights > 0"
                )
        scale = {
            dim: _positive(value, f"{src}, dimension '{dim}', weight") / current[dim]
            for dim, value in dimension_weights.items()
        }
        inds = [
            replace(ind, weight=ind.weight * scale[ind.dimension]) if ind.dimension in scale else ind
            for ind in inds
        ]
    if cutoffs:
        _check_known("indicator", cutoffs, spec.names, src)
        inds = [
            replace(ind, cutoff=parse_fraction(cutoffs[ind.name], f"{src}, indicator '{ind.name}', cutoff"))
            if ind.name in cutoffs
            else ind
            for ind in inds
        ]
    new_k = spec.k if k is None else parse_fraction(k, f"{src}, k")
    # Validated under the overrides' name: a k or weights that break a rule are the caller's, not
    # the base spec's ("store manifest: k must be in (0, 1]" blamed the store for a query's k=2).
    checked = IndicatorSpec(indicators=tuple(inds), k=new_k, source=src)
    return replace(checked, source=spec.source)


def _positive(value: Any, where: str) -> float:
    """A weight given as an override: a finite number > 0 (`ConfigError` naming ``where``)."""
    weight = parse_fraction(value, where)
    if not weight > 0:
        raise ConfigError(f"{where} must be positive, got {weight:g}")
    return weight


def restrict_to_columns(spec: IndicatorSpec, available: set[str]) -> tuple[IndicatorSpec, list[str]]:
    """Drop the indicators whose column is not available and renormalise the weights.

    Within a dimension that keeps some indicators, their weights are scaled so the dimension keeps
    its total weight. When a whole dimension disappears, the remaining weights are scaled together
    so that they sum to 1 again (the surviving dimensions keep their relative weights).

    Parameters
    ----------
    spec
        The full spec (not changed).
    available
        Column names present in the unit table.

    Returns
    -------
    tuple[IndicatorSpec, list[str]]
        The restricted spec and the names of the dropped indicators (in spec order).

    Raises
    ------
    ConfigError
        When no indicator's column is available.

    Examples
    --------
    >>> spec, dropped = restrict_to_columns(default_spec(), set(default_spec().columns) - {"dist_km_road"})
    >>> dropped, round(float(spec.weights[spec.names.index("qol_water")]), 4)
    (['qol_road'], 0.0833)
    """
    kept = [ind for ind in spec.indicators if ind.column in available]
    dropped = [ind.name for ind in spec.indicators if ind.column not in available]
    if not dropped:
        return spec, []
    if not kept:
        raise ConfigError(
            f"{spec.source}: none of the indicator columns is available (needed: {', '.join(spec.columns)})"
        )
    dim_total = dict(zip(spec.dimensions, spec.dimension_weights.tolist(), strict=True))
    kept_total: dict[str, float] = {}
    for ind in kept:
        kept_total[ind.dimension] = kept_total.get(ind.dimension, 0.0) + ind.weight
    surviving = math.fsum(dim_total[dim] for dim in kept_total)
    inds = tuple(
        replace(ind, weight=ind.weight * dim_total[ind.dimension] / kept_total[ind.dimension] / surviving)
        for ind in kept
    )
    return IndicatorSpec(indicators=inds, k=spec.k, source=spec.source), dropped


def with_named_overrides(
    spec: IndicatorSpec,
    k: float | str | None = None,
    weights: Mapping[str, float | str] | None = None,
    cutoffs: Mapping[str, float | str] | None = None,
    origin: str | None = None,
) -> IndicatorSpec:
    """`with_overrides` where each weight is named by a dimension or an indicator (``w_<name>``).

    Raises
    ------
    ConfigError
        When a weight names neither a dimension nor an indicator (the message lists both).
    """
    weights = weights or {}
    dims = {name: w for name, w in weights.items() if name in spec.dimensions}
    inds = {name: w for name, w in weights.items() if name not in dims}
    unknown = sorted(set(inds) - set(spec.names))
    if unknown:
        raise ConfigError(
            f"unknown weight(s) {excerpt_list('w_' + u for u in unknown)}; use w_<dimension> "
            f"({', '.join(spec.dimensions)}) or w_<indicator> ({', '.join(spec.names)})"
        )
    return with_overrides(
        spec,
        k=k,
        weights=inds or None,
        dimension_weights=dims or None,
        cutoffs=cutoffs or None,
        origin=origin,
    )
