"""A small CQL2-text parser and a vectorised evaluator over in-memory columns (OGC 21-065).

Supported: comparisons ``= <> < <= > >=``, ``AND``/``OR``/``NOT``, ``[NOT] BETWEEN``, ``[NOT] IN``,
``IS [NOT] NULL``, ``[NOT] LIKE`` (``%`` and ``_``, ``\\`` escapes), ``TRUE``/``FALSE``, and the spatial
functions ``S_INTERSECTS``, ``S_DISJOINT``, ``S_WITHIN``, ``S_CONTAINS``, ``S_TOUCHES``, ``S_OVERLAPS``,
``S_CROSSES``, ``S_EQUALS`` between the ``geometry`` property and a literal (``BBOX(...)`` or WKT:
``POINT``, ``LINESTRING``, ``POLYGON``, ``MULTI*``, ``GEOMETRYCOLLECTION``) in CRS84.

`parse` builds a tree of frozen dataclasses; `evaluate` turns it into one boolean mask over the
rows, with numpy comparisons on whole columns and shapely predicates on the candidates whose
bounds meet the literal's (no per-row Python). Comparisons with a null are false, as in SQL.

One filter's work is bounded (the ``MAX_*`` constants, README "Limits"): text length, nesting,
a literal's vertices and parts, and the estimated spatial tests; `like` runs without backtracking.
A spatial literal is prepared and passed first to GEOS (which only uses a prepared first
argument); multi-part and line literals are tested part by part through the table's STRtree.

Examples
--------
>>> parse("population > 1000 AND kabupaten_code = '6201'")  # doctest: +ELLIPSIS
And(items=(Compare(op='>', left=Property(name='population'), right=Literal(value=1000)), ...
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import shapely

from layers.cancel import checkpoint
from layers.errors import InvalidQuery, excerpt

Kind = Literal["string", "integer", "number", "boolean", "date", "timestamp"]
GEOMETRY_PROPERTY = "geometry"

# Bounds on the work one filter may ask for (README, "Limits"). Each is answered with `InvalidQuery`
# (HTTP 400) saying the limit, never with a RecursionError or a request that holds a worker.
#: Characters of filter text.
MAX_FILTER_CHARS = 65_536
#: Nesting of parentheses and NOT (the parser recurses once per level).
MAX_DEPTH = 32
#: Coordinates of one geometry literal (all parts together).
MAX_GEOMETRY_VERTICES = 5_000
#: Coordinates of a GEOMETRYCOLLECTION literal: it is tested whole against each row.
MAX_COLLECTION_VERTICES = 500
#: Parts of one geometry literal (lines of a MULTILINESTRING, members of a collection, ...).
MAX_GEOMETRY_PARTS = 1_000
#: Estimated (part, feature) envelope pairs a multi-part literal may need (about 1 µs each).
MAX_SPATIAL_PAIRS = 1_000_000
#: Parenthesis nesting inside one WKT literal: GEOMETRYCOLLECTION(MULTIPOLYGON(((...)))) is 4.
MAX_WKT_DEPTH = 6


class Columns(Protocol):
    """What `evaluate` needs from a table (`layers.query.table.Table` provides it)."""

    @property
    def geometry(self) -> np.ndarray | None:
        """Shapely geometry of each row (None when the table has none)."""
        ...

    @property
    def bounds(self) -> np.ndarray | None:
        """(n, 4) bounds of each row's geometry."""
        ...

    def column(self, name: str) -> tuple[np.ndarray, np.ndarray | None, Kind]:
        """Values, null mask (or None when nothing is null) and kind of a column."""
        ...

    def spatial_index(self) -> shapely.STRtree:
        """An STRtree over `geometry` (built on first use)."""
        ...


# ------------------------------------------------------------------------------------------------
# Tree
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    """A property (column) reference."""

    name: str


@dataclass(frozen=True)
class Literal_:  # noqa: N801 - `Literal` is taken by typing
    """A scalar literal: str, int, float or bool."""

    value: Any

    def __repr__(self) -> str:
        return f"Literal(value={self.value!r})"


@dataclass(frozen=True)
class Geometry:
    """A geometry literal (shapely)."""

    value: Any


Operand = Property | Literal_


@dataclass(frozen=True)
class Compare:
    """``left op right``."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class Between:
    """``value [NOT] BETWEEN low AND high``."""

    value: Operand
    low: Operand
    high: Operand
    negate: bool = False


@dataclass(frozen=True)
class In:
    """``value [NOT] IN (items)``."""

    value: Operand
    items: tuple[Literal_, ...]
    negate: bool = False


@dataclass(frozen=True)
class IsNull:
    """``value IS [NOT] NULL``."""

    value: Operand
    negate: bool = False


@dataclass(frozen=True)
class Like:
    """``value [NOT] LIKE 'pattern'``."""

    value: Operand
    pattern: str
    negate: bool = False


@dataclass(frozen=True)
class Spatial:
    """``S_<op>(geometry, literal)``; ``op`` is given as seen from the geometry property."""

    op: str
    geometry: Geometry


@dataclass(frozen=True)
class And:
    """Conjunction."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Disjunction."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """Negation."""

    item: Node


@dataclass(frozen=True)
class Truth:
    """A bare boolean: a literal ``TRUE``/``FALSE`` or a boolean property."""

    value: Operand


Node = Compare | Between | In | IsNull | Like | Spatial | And | Or | Not | Truth

# ------------------------------------------------------------------------------------------------
# Lexer and parser
# ------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
      | (?P<quoted>"(?:[^"]|"")+")
      | (?P<word>[A-Za-z_][A-Za-z0-9_.:]*)
      | (?P<op><=|>=|<>|!=|=|<|>|\(|\)|,)
    )""",
    re.VERBOSE,
)
_SPACE = re.compile(r"\s*")
_KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN", "IS", "NULL", "LIKE", "TRUE", "FALSE"}
_WKT = {
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
}
_SPATIAL = {
    "S_INTERSECTS": "intersects",
    "S_DISJOINT": "disjoint",
    "S_WITHIN": "within",
    "S_CONTAINS": "contains",
    "S_TOUCHES": "touches",
    "S_OVERLAPS": "overlaps",
    "S_CROSSES": "crosses",
    "S_EQUALS": "equals",
}
#: The relation seen from the other side: S_WITHIN(literal, geometry) is S_CONTAINS(geometry, literal).
_CONVERSE = {"within": "contains", "contains": "within"}
_COMPARISONS = {"=", "<>", "!=", "<", "<=", ">", ">="}
#: CQL2 temporal literals (basic CQL2): the function and what it takes.
_TEMPORAL = {"DATE": "date such as '2023-01-01'", "TIMESTAMP": "instant such as '2023-01-01T00:00:00Z'"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)


def temporal_literal(function: str, text: str) -> np.datetime64:
    """The value of ``DATE('...')`` (a day) or ``TIMESTAMP('...')`` (an instant, in UTC, RFC 3339).

    Examples
    --------
    >>> temporal_literal("DATE", "2023-01-31")
    np.datetime64('2023-01-31')
    >>> temporal_literal("TIMESTAMP", "2023-01-01T07:00:00+07:00")
    np.datetime64('2023-01-01T00:00:00.000')
    """
    try:
        if function == "DATE" and _DATE.match(text):
            return np.datetime64(datetime.date.fromisoformat(text), "D")
        if function == "TIMESTAMP" and _TIMESTAMP.match(text):
            moment = datetime.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
            utc = moment.astimezone(datetime.UTC).replace(tzinfo=None)
            return np.datetime64(utc, "ms")
    except ValueError:
        pass
    raise InvalidQuery(f"filter: {function}('{excerpt(text, 40)}') is not a {_TEMPORAL[function]}")


#: Characters of the filter an error message quotes around the place of the error.
_CONTEXT_CHARS = 80


@dataclass(frozen=True)
class _Token:
    kind: str  # string, number, quoted, word, op, end
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.depth = 0
        self._peeked: _Token | None = None

    # -- tokens -----------------------------------------------------------------------------------
    def _lex(self) -> _Token:
        # Not `text[pos:].strip()`: a copy of the rest per token is quadratic on a long filter.
        start = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]  # \s* always matches
        if start == len(self.text):
            return _Token("end", "", len(self.text), len(self.text))
        m = _TOKEN.match(self.text, self.pos)
        if m is None or m.lastgroup is None:
            raise self.error(f"unexpected character {self.text[start]!r}", start)
        return _Token(m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup), m.end())

    def peek(self) -> _Token:
        if self._peeked is None:
            self._peeked = self._lex()
        return self._peeked

    def next(self) -> _Token:
        tok = self.peek()
        self.pos, self._peeked = tok.end, None
        return tok

    def accept(self, *words: str) -> bool:
        if self.peek().upper in words:
            self.next()
            return True
        return False

    def expect(self, word: str) -> _Token:
        tok = self.next()
        if tok.upper != word:
            raise self.error(f"expected {word!r} but found {_quote(tok.text or 'the end')}", tok.start)
        return tok

    def error(self, problem: str, at: int | None = None) -> InvalidQuery:
        """The error at character ``at``, quoting the filter around it (never the whole filter)."""
        at = self.pos if at is None else at
        if len(self.text) <= _CONTEXT_CHARS:
            where = f"of '{self.text}'"
        else:
            start = max(0, at - _CONTEXT_CHARS // 2)
            near = self.text[start : start + _CONTEXT_CHARS]
            where = f"(of {len(self.text)}), near '{'…' if start else ''}{near}…'"
        return InvalidQuery(f"filter: {problem} at character {at + 1} {where}")

    def nested(self, at: int) -> None:
        """One level deeper (a parenthesis or a NOT): `InvalidQuery` beyond `MAX_DEPTH`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                f"nested more than {MAX_DEPTH} levels deep (parentheses and NOT); write it flatter", at
            )

    # -- grammar ----------------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(f"unexpected {_quote(tok.text)}", tok.start)
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.accept("OR"):
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.accept("AND"):
            items.append(self.not_())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_(self) -> Node:
        tok = self.peek()
        if self.accept("NOT"):
            self.nested(tok.start)
            node = Not(self.not_())
            self.depth -= 1
            return node
        return self.predicate()

    def predicate(self) -> Node:
        tok = self.peek()
        if tok.text == "(":
            self.next()
            self.nested(tok.start)
            node = self.or_()
            self.expect(")")
            self.depth -= 1
            return node
        if tok.kind == "word" and tok.upper in _SPATIAL:
            return self.spatial()
        left = self.operand()
        return self.after_operand(left)

    def after_operand(self, left: Operand) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in _COMPARISONS:
            self.next()
            op = "<>" if tok.text == "!=" else tok.text
            return Compare(op, left, self.operand())
        if self.accept("IS"):
            negate = self.accept("NOT")
            self.expect("NULL")
            return IsNull(left, negate)
        negate = self.accept("NOT")
        if self.accept("BETWEEN"):
            low = self.operand()
            self.expect("AND")
            return Between(left, low, self.operand(), negate)
        if self.accept("IN"):
            return In(left, self.literal_list(), negate)
        if self.accept("LIKE"):
            pattern = self.operand()
            if not (isinstance(pattern, Literal_) and isinstance(pattern.value, str)):
                raise self.error("LIKE needs a quoted pattern such as 'Desa %'")
            return Like(left, pattern.value, negate)
        if negate:
            raise self.error("NOT here must be followed by BETWEEN, IN or LIKE")
        return Truth(left)

    def literal_list(self) -> tuple[Literal_, ...]:
        self.expect("(")
        items = []
        while True:
            item = self.operand()
            if not isinstance(item, Literal_):
                raise self.error("IN lists hold literal values only")
            items.append(item)
            if not self.accept(","):
                break
        self.expect(")")
        return tuple(items)

    def operand(self) -> Operand:
        tok = self.next()
        if tok.kind == "string":
            return Literal_(tok.text[1:-1].replace("''", "'"))
        if tok.kind == "number":
            # Whole numbers beyond int64 are read as floats: no column could equal them exactly, and
            # Python refuses to read an int of more than 4,300 digits.
            if re.fullmatch(r"-?[0-9]{1,18}", tok.text):
                return Literal_(int(tok.text))
            value = float(tok.text)
            if not math.isfinite(value):
                raise self.error(f"the number {_quote(tok.text)} is out of range", tok.start)
            return Literal_(value)
        if tok.kind == "quoted":
            return Property(tok.text[1:-1].replace('""', '"'))
        if tok.kind == "word" and tok.upper in ("TRUE", "FALSE"):
            return Literal_(tok.upper == "TRUE")
        if tok.kind == "word" and tok.upper in _TEMPORAL and self.peek().text == "(":
            self.next()
            text = self.next()
            if text.kind != "string":
                raise self.error(f"{tok.upper}() takes a quoted {_TEMPORAL[tok.upper]}", text.start)
            self.expect(")")
            return Literal_(temporal_literal(tok.upper, text.text[1:-1]))
        if tok.kind == "word" and tok.upper not in _KEYWORDS:
            if self.peek().text == "(":
                raise self.error(f"unknown function {_quote(tok.text)}", tok.start)
            return Property(tok.text)
        raise self.error(
            f"expected a property or a value but found {_quote(tok.text or 'the end')}", tok.start
        )

    def spatial(self) -> Node:
        name = self.next()
        op = _SPATIAL[name.upper]
        self.expect("(")
        first = self.geometry_or_property()
        self.expect(",")
        second = self.geometry_or_property()
        self.expect(")")
        if isinstance(first, Property) and isinstance(second, Geometry):
            prop, geom = first, second
        elif isinstance(first, Geometry) and isinstance(second, Property):
            prop, geom, op = second, first, _CONVERSE.get(op, op)
        else:
            raise self.error(f"{name.text} needs the '{GEOMETRY_PROPERTY}' property and one geometry literal")
        if prop.name != GEOMETRY_PROPERTY:
            raise self.error(f"the spatial property is '{GEOMETRY_PROPERTY}', not {_quote(prop.name)}")
        return Spatial(op, geom)

    def geometry_or_property(self) -> Geometry | Property:
        tok = self.peek()
        if tok.kind == "word" and tok.upper == "BBOX":
            self.next()
            self.expect("(")
            nums = []
            while True:
                value = self.operand()
                if not (isinstance(value, Literal_) and isinstance(value.value, int | float)):
                    raise self.error("BBOX takes 4 numbers: minlon, minlat, maxlon, maxlat")
                nums.append(float(value.value))
                if not self.accept(","):
                    break
            self.expect(")")
            if len(nums) != 4:
                raise self.error(f"BBOX takes 4 numbers (minlon, minlat, maxlon, maxlat), got {len(nums)}")
            west, south, east, north = nums
            if south > north or west > east:
                # shapely.box would quietly sort the corners; a filter has no antimeridian crossing.
                raise self.error(
                    f"BBOX({west:g}, {south:g}, {east:g}, {north:g}) has its corners swapped: it is "
                    "BBOX(minlon, minlat, maxlon, maxlat); across the antimeridian, OR two boxes",
                    tok.start,
                )
            return Geometry(shapely.box(*nums))
        if tok.kind == "word" and tok.upper in _WKT:
            return Geometry(self.wkt())
        operand = self.operand()
        if not isinstance(operand, Property):
            raise self.error("expected the 'geometry' property, BBOX(...) or a WKT geometry")
        return operand

    def wkt(self) -> Any:
        start = self.next().start
        depth, deepest, i = 0, 0, self.pos
        while i < len(self.text):
            ch = self.text[i]
            depth += (ch == "(") - (ch == ")")
            deepest = max(deepest, depth)
            i += 1
            if depth == 0 and ch == ")":
                break
        else:
            raise self.error("unbalanced parentheses in the geometry", start)
        if deepest > MAX_WKT_DEPTH:
            # GEOS reads nested collections recursively: refuse before it sees them.
            raise self.error(f"the geometry nests more than {MAX_WKT_DEPTH} levels of parentheses", start)
        try:
            geom = shapely.from_wkt(self.text[start:i])
        except shapely.errors.GEOSException as exc:
            raise self.error(f"invalid geometry ({excerpt(exc)})", start) from None
        problem = _literal_problem(geom)
        if problem:
            raise self.error(problem, start)
        self.pos, self._peeked = i, None
        return geom


def _literal_problem(geom: Any) -> str | None:
    """Why a geometry literal cannot be tested (None: it is finite and within the limits)."""
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        return "the geometry has a coordinate that is not a finite number (nan, inf)"
    vertices = int(shapely.get_num_coordinates(geom))
    is_collection = shapely.get_type_id(geom) == 7
    limit = MAX_COLLECTION_VERTICES if is_collection else MAX_GEOMETRY_VERTICES
    if vertices > limit:
        what = "a GEOMETRYCOLLECTION" if is_collection else "a geometry"
        return (
            f"the geometry has {vertices:,} vertices; {what} may have at most {limit:,} "
            "(simplify it, or use a MULTI* geometry or a bbox)"
        )
    parts = _num_parts(geom)
    if parts > MAX_GEOMETRY_PARTS:
        return f"the geometry has {parts:,} parts; at most {MAX_GEOMETRY_PARTS:,} are allowed"
    return None


def _quote(text: str) -> str:
    return f"'{excerpt(text, 40)}'"


def _num_parts(geom: Any) -> int:
    """Parts of a geometry, counting the members of nested collections."""
    n = int(shapely.get_num_geometries(geom))
    if n <= 1 or shapely.get_type_id(geom) != 7:  # 7: GEOMETRYCOLLECTION, whose members may be multi
        return n
    return int(sum(_num_parts(part) for part in shapely.get_parts(geom)))


def parse(text: str) -> Node:
    """Parse CQL2 text into a tree; raise `InvalidQuery` saying where and what went wrong.

    Parameters
    ----------
    text
        A CQL2-text filter, e.g. ``"M0 >= 0.2 AND S_INTERSECTS(geometry, BBOX(113, -3, 114, -2))"``.

    Returns
    -------
    Node
        The expression tree.

    Examples
    --------
    >>> parse("kind IN ('school_sd', 'school_smp')")  # doctest: +ELLIPSIS
    In(value=Property(name='kind'), items=(Literal(value='school_sd'), ...), negate=False)
    """
    if not text or not text.strip():
        raise InvalidQuery("filter: empty expression")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidQuery(
            f"filter: {len(text):,} characters; at most {MAX_FILTER_CHARS:,} are allowed "
            f"(starts '{excerpt(text, 40)}')"
        )
    return _Parser(text).parse()


# ------------------------------------------------------------------------------------------------
# CQL2-JSON (the same tree, from the JSON encoding of OGC 21-065)
# ------------------------------------------------------------------------------------------------

_JSON_COMPARISONS = {"=", "<>", "<", "<=", ">", ">="}
_JSON_SPATIAL = {name.lower(): op for name, op in _SPATIAL.items()}


def _json_depth(text: str) -> int:
    """Deepest nesting of arrays and objects in JSON text (strings skipped), before parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json_text(text: str) -> Node:
    """Parse a CQL2-JSON filter given as text (a ``filter`` with ``filter-lang=cql2-json``).

    The same limits as CQL2 text: `MAX_FILTER_CHARS` characters, `MAX_DEPTH` levels of logical
    nesting (a JSON nesting of about three levels per logical level), the geometry literal limits.

    Examples
    --------
    >>> parse_json_text('{"op": "=", "args": [{"property": "year"}, 2023]}')
    Compare(op='=', left=Property(name='year'), right=Literal(value=2023))
    """
    if not text or not text.strip():
        raise InvalidQuery("filter: empty expression")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidQuery(f"filter: {len(text):,} characters; at most {MAX_FILTER_CHARS:,} are allowed")
    if _json_depth(text) > 3 * MAX_DEPTH + 8:
        raise InvalidQuery(f"filter: nested more than {MAX_DEPTH} levels deep; write it flatter")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidQuery(f"filter: not CQL2-JSON ({excerpt(exc)})") from None
    return parse_json(value)


def parse_json(value: Any, depth: int = 0) -> Node:
    """Parse CQL2-JSON (already decoded) into the tree `parse` builds from text."""
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"filter: nested more than {MAX_DEPTH} levels deep; write it flatter")
    if isinstance(value, bool):
        return Truth(Literal_(value))
    if not isinstance(value, dict) or "op" not in value:
        raise InvalidQuery(
            f"filter: expected an object with 'op' and 'args', got {_quote(json.dumps(value))}"
        )
    op = str(value["op"]).lower()
    args = value.get("args")
    if not isinstance(args, list):
        raise InvalidQuery(f"filter: '{excerpt(op)}' needs a list 'args'")
    if op in ("and", "or"):
        if len(args) < 2:
            raise InvalidQuery(f"filter: '{op}' needs at least two args")
        items = tuple(parse_json(a, depth + 1) for a in args)
        return And(items) if op == "and" else Or(items)
    if op == "not":
        _arity(op, args, 1)
        return Not(parse_json(args[0], depth + 1))
    if op in _JSON_SPATIAL:
        _arity(op, args, 2)
        return _json_spatial(_JSON_SPATIAL[op], args)
    reader = _JSON_PREDICATES.get(op)
    if reader is None:
        raise InvalidQuery(f"filter: unknown CQL2-JSON operator '{excerpt(op)}'")
    return reader(op, args)


def _json_compare(op: str, args: list[Any]) -> Node:
    _arity(op, args, 2)
    return Compare(op, _json_operand(args[0]), _json_operand(args[1]))


def _json_like(op: str, args: list[Any]) -> Node:
    _arity(op, args, 2)
    pattern = _json_operand(args[1])
    if not (isinstance(pattern, Literal_) and isinstance(pattern.value, str)):
        raise InvalidQuery("filter: like needs a string pattern such as 'Desa %'")
    return Like(_json_operand(args[0]), pattern.value)


def _json_between(op: str, args: list[Any]) -> Node:
    _arity(op, args, 3)
    return Between(_json_operand(args[0]), _json_operand(args[1]), _json_operand(args[2]))


def _json_in(op: str, args: list[Any]) -> Node:
    _arity(op, args, 2)
    if not isinstance(args[1], list) or not args[1]:
        raise InvalidQuery("filter: in needs a non-empty list of values")
    items = [_json_operand(a) for a in args[1]]
    literals = tuple(i for i in items if isinstance(i, Literal_))
    if len(literals) != len(items):
        raise InvalidQuery("filter: in lists hold literal values only")
    return In(_json_operand(args[0]), literals)


def _json_is_null(op: str, args: list[Any]) -> Node:
    _arity(op, args, 1)
    return IsNull(_json_operand(args[0]))


_JSON_PREDICATES: dict[str, Callable[[str, list[Any]], Node]] = {
    **dict.fromkeys(_JSON_COMPARISONS, _json_compare),
    "like": _json_like,
    "between": _json_between,
    "in": _json_in,
    "isnull": _json_is_null,
}


def _arity(op: str, args: list[Any], n: int) -> None:
    if len(args) != n:
        raise InvalidQuery(f"filter: '{op}' takes {n} args, got {len(args)}")


def _json_operand(value: Any) -> Operand:
    if isinstance(value, dict):
        if set(value) == {"property"} and isinstance(value["property"], str):
            return Property(value["property"])
        if set(value) == {"date"} and isinstance(value["date"], str):
            return Literal_(temporal_literal("DATE", value["date"]))
        if set(value) == {"timestamp"} and isinstance(value["timestamp"], str):
            return Literal_(temporal_literal("TIMESTAMP", value["timestamp"]))
        raise InvalidQuery(f"filter: expected a property or a value, got {_quote(json.dumps(value))}")
    if isinstance(value, bool | str):
        return Literal_(value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidQuery("filter: numbers must be finite")
        return Literal_(value)
    raise InvalidQuery(f"filter: expected a property or a value, got {_quote(json.dumps(value))}")


def _json_geometry(value: Any) -> Geometry | Property:
    if isinstance(value, dict) and set(value) == {"property"}:
        return Property(str(value["property"]))
    if isinstance(value, dict) and set(value) == {"bbox"}:
        box = value["bbox"]
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
            raise InvalidQuery("filter: bbox takes 4 numbers: minlon, minlat, maxlon, maxlat")
        return Geometry(shapely.box(*(float(v) for v in box)))
    if isinstance(value, dict) and "type" in value:
        try:
            geom = shapely.from_geojson(json.dumps(value))
        except (shapely.errors.GEOSException, ValueError) as exc:
            raise InvalidQuery(f"filter: invalid GeoJSON geometry ({excerpt(exc)})") from None
        problem = _literal_problem(geom)
        if problem:
            raise InvalidQuery(f"filter: {problem}")
        return Geometry(geom)
    raise InvalidQuery(
        "filter: a spatial function takes the 'geometry' property and a GeoJSON geometry or bbox"
    )


def _json_spatial(op: str, args: list[Any]) -> Spatial:
    first, second = _json_geometry(args[0]), _json_geometry(args[1])
    if isinstance(first, Property) and isinstance(second, Geometry):
        prop, geom = first, second
    elif isinstance(first, Geometry) and isinstance(second, Property):
        prop, geom, op = second, first, _CONVERSE.get(op, op)
    else:
        raise InvalidQuery(f"filter: s_{op} needs the '{GEOMETRY_PROPERTY}' property and one geometry")
    if prop.name != GEOMETRY_PROPERTY:
        raise InvalidQuery(f"filter: the spatial property is '{GEOMETRY_PROPERTY}', not {_quote(prop.name)}")
    return Spatial(op, geom)


# ------------------------------------------------------------------------------------------------
# Reading and rewriting a tree
# ------------------------------------------------------------------------------------------------


def properties_of(node: object) -> set[str]:
    """Names of the properties a (sub)tree refers to.

    Examples
    --------
    >>> sorted(properties_of(parse("year = 2023 AND (M0 > 0.2 OR kabupaten_code = '6201')")))
    ['M0', 'kabupaten_code', 'year']
    """
    if isinstance(node, Property):
        return {node.name}
    if isinstance(node, tuple):
        return set().union(*(properties_of(item) for item in node)) if node else set()
    fields: dict[str, object] = getattr(node, "__dataclass_fields__", None) or {}
    if isinstance(node, Literal_ | Geometry):
        return set()
    return set().union(*(properties_of(getattr(node, name)) for name in fields)) if fields else set()


def map_geometries(node: Node, change: Any) -> Node:
    """The tree with each geometry literal replaced by ``change(geometry)`` (e.g. a reprojection)."""
    if isinstance(node, Spatial):
        return Spatial(node.op, Geometry(change(node.geometry.value)))
    if isinstance(node, And | Or):
        return type(node)(tuple(map_geometries(item, change) for item in node.items))
    if isinstance(node, Not):
        return Not(map_geometries(node.item, change))
    return node


# ------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------

_NUMERIC: set[Kind] = {"integer", "number"}


@dataclass(frozen=True)
class _Value:
    """An evaluated operand: a whole column (with its null mask) or a scalar."""

    data: Any
    kind: Kind
    null: np.ndarray | None = None
    name: str | None = None  # property name, for messages


def _literal_kind(value: Any) -> Kind:
    if isinstance(value, np.datetime64):
        return "date" if np.datetime_data(value)[0] == "D" else "timestamp"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _operand(node: Operand, table: Columns) -> _Value:
    if isinstance(node, Property):
        try:
            values, null, kind = table.column(node.name)
        except InvalidQuery as exc:
            raise InvalidQuery(f"filter: {exc}") from None
        return _Value(values, kind, null, node.name)
    return _Value(node.value, _literal_kind(node.value))


def _check_types(a: _Value, b: _Value) -> None:
    if a.kind == b.kind or (a.kind in _NUMERIC and b.kind in _NUMERIC):
        return
    prop = a if a.name else b
    other = b if prop is a else a
    hint = {
        "string": "a quoted 'text' value",
        "boolean": "TRUE or FALSE",
        "date": "DATE('2023-01-01')",
        "timestamp": "TIMESTAMP('2023-01-01T00:00:00Z')",
    }.get(prop.kind, "a number")
    what = f"property '{prop.name}'" if prop.name else "value"
    raise InvalidQuery(
        f"filter: {what} is {prop.kind} but is compared with a {other.kind}; compare it with {hint}"
    )


def _not_null(*values: _Value) -> np.ndarray | bool:
    mask: np.ndarray | bool = True
    for v in values:
        if v.null is not None:
            mask = mask & ~v.null
    return mask


_OPS = {
    "=": np.equal,
    "<>": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _compare(node: Compare, table: Columns) -> Any:
    left, right = _operand(node.left, table), _operand(node.right, table)
    _check_types(left, right)
    if node.op not in ("=", "<>") and "boolean" in (left.kind, right.kind):
        raise InvalidQuery(f"filter: booleans can only be compared with = or <>, not {node.op}")
    return _OPS[node.op](left.data, right.data) & _not_null(left, right)


def _between(node: Between, table: Columns) -> Any:
    value, low, high = (_operand(n, table) for n in (node.value, node.low, node.high))
    for bound in (low, high):
        _check_types(value, bound)
    if value.kind not in _NUMERIC:
        raise InvalidQuery(f"filter: BETWEEN needs a numeric property, '{value.name}' is {value.kind}")
    inside = np.asarray((value.data >= low.data) & (value.data <= high.data), dtype=bool)
    return (~inside if node.negate else inside) & _not_null(value, low, high)


def _in(node: In, table: Columns) -> Any:
    value = _operand(node.value, table)
    items = [_operand(item, table) for item in node.items]
    for item in items:
        _check_types(value, item)
    found = np.isin(value.data, [item.data for item in items])
    return (~found if node.negate else found) & _not_null(value)


def _like(node: Like, table: Columns) -> Any:
    value = _operand(node.value, table)
    if value.kind != "string":
        raise InvalidQuery(f"filter: LIKE needs a text property, '{value.name}' is {value.kind}")
    if isinstance(value.data, np.ndarray):
        found = like(value.data, node.pattern)
    else:
        found = np.asarray(like(np.array([value.data], dtype=str), node.pattern)[0])
    return (~found if node.negate else found) & _not_null(value)


@dataclass(frozen=True)
class _Segment:
    """A run of a LIKE pattern between two ``%``: literal pieces at fixed offsets, ``_`` between them."""

    pieces: tuple[tuple[int, str], ...]
    """(offset, text) of each run of literal characters."""
    length: int
    """Characters the segment spans (literals and ``_``)."""


def _like_segments(pattern: str) -> list[_Segment]:
    """Split a pattern on its unescaped ``%``; ``\\x`` is the literal x, a final lone ``\\`` itself."""
    segments: list[_Segment] = []
    pieces: list[tuple[int, str]] = []
    run: list[str] = []
    length, i = 0, 0

    def close_run() -> None:
        if run:
            pieces.append((length - len(run), "".join(run)))
            run.clear()

    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            run.append(pattern[i + 1])
            length += 1
            i += 2
            continue
        if ch == "%":
            close_run()
            # A run of % is one %: an empty segment between two matches anywhere and costs a pass
            # over every row (1,000 of them took 60 s a request).
            if not (segments and not pieces and length == 0):
                segments.append(_Segment(tuple(pieces), length))
            pieces, length = [], 0
        elif ch == "_":
            close_run()
            length += 1
        else:
            run.append(ch)
            length += 1
        i += 1
    close_run()
    segments.append(_Segment(tuple(pieces), length))
    return segments


def _matches_at(values: np.ndarray, n: np.ndarray, seg: _Segment, at: np.ndarray) -> np.ndarray:
    """Whether ``seg`` matches each value at position ``at`` (``at`` < 0 never matches)."""
    ok = (at >= 0) & (at + seg.length <= n)
    # A negative start counts from the end in Python's startswith: move it out of reach instead.
    safe = np.where(ok, at, n + 1)
    for offset, text in seg.pieces:
        ok &= np.strings.startswith(values, text, safe + offset)
    return ok


def _find(values: np.ndarray, n: np.ndarray, seg: _Segment, start: np.ndarray) -> np.ndarray:
    """Leftmost position >= ``start`` where ``seg`` matches each value, -1 where it never does.

    The first literal piece is found with `numpy.strings.find` (C, no backtracking); where the other
    pieces then fail, the search resumes one character further. Each round moves every pending value
    forward, so there are at most (longest value) rounds over ever fewer values.
    """
    if not seg.pieces:  # only "_": any position with room left
        return np.where(start + seg.length <= n, start, -1)
    offset0, text0 = seg.pieces[0]
    out = np.full(len(values), -1, dtype=np.int64)
    pending = np.flatnonzero(start + seg.length <= n)
    pos = start[pending].astype(np.int64)
    while len(pending):
        hit = np.strings.find(values[pending], text0, pos + offset0)
        found = hit >= 0
        pending, pos = pending[found], hit[found] - offset0
        ok = _matches_at(values[pending], n[pending], seg, pos)
        out[pending[ok]] = pos[ok]
        pending, pos = pending[~ok], pos[~ok] + 1
    return out


def like(values: np.ndarray, pattern: str) -> np.ndarray:
    r"""Which strings match a LIKE ``pattern`` (``%`` any run, ``_`` one character, ``\`` escapes).

    Case-sensitive, as SQL LIKE with ``ESCAPE '\'``. The pattern is cut at each ``%`` into segments
    of fixed length; the first must match at the start, the last at the end, and each middle one is
    matched at its leftmost place after the previous one (greedy is exact here: an earlier match
    never leaves less room for what follows). Whole-column numpy string operations, no regular
    expression, so no backtracking: a pattern of m segments costs O(m · n · len) at worst.

    Parameters
    ----------
    values
        Strings (a numpy ``str`` array).
    pattern
        The LIKE pattern.

    Returns
    -------
    ndarray
        bool, one per value.

    Examples
    --------
    >>> like(np.array(["Desa Maju", "Desa 100%", "Kelurahan"]), "Desa%").tolist()
    [True, True, False]
    >>> like(np.array(["Desa Maju", "Desa 100%"]), r"%0\%").tolist()
    [False, True]
    """
    values = np.asarray(values, dtype=str)
    n = np.strings.str_len(values).astype(np.int64)
    segments = _like_segments(pattern)
    zero = np.zeros(len(values), dtype=np.int64)
    if len(segments) == 1:
        return _matches_at(values, n, segments[0], zero) & (n == segments[0].length)
    first, *middle, last = segments
    ok = _matches_at(values, n, first, zero)
    pos = np.where(ok, first.length, -1)
    for seg in middle:
        checkpoint()
        live = np.flatnonzero(pos >= 0)
        if not len(live):
            break
        at = _find(values[live], n[live], seg, pos[live])
        pos[live] = np.where(at >= 0, at + seg.length, -1)
    end = n - last.length
    return (pos >= 0) & (end >= pos) & _matches_at(values, n, last, end)


def _spatial(node: Spatial, table: Columns, n: int) -> np.ndarray:
    if table.geometry is None or table.bounds is None:
        raise InvalidQuery("filter: this collection has no geometry")
    literal = node.geometry.value
    if node.op == "disjoint":
        return ~_spatial(Spatial("intersects", node.geometry), table, n)
    mask = np.zeros(n, dtype=bool)
    if shapely.is_empty(literal):
        return mask
    # A collection keeps GEOS's own semantics (it does not read a GEOMETRYCOLLECTION as the union
    # of its members), so it goes the whole-literal way; its vertices are bounded for that.
    parts = _parts(literal) if shapely.get_type_id(literal) != 7 else np.array([literal])
    if len(parts) > 1:
        rows, hit = _by_parts(node.op, literal, parts, table)
    else:
        rows = _bounds_candidates(node.op, literal, table.bounds)
        # GEOS uses a prepared geometry only as the predicate's first argument: put the literal
        # there, with the relation seen from its side (within ↔ contains; the others are symmetric).
        shapely.prepare(literal)
        hit = getattr(shapely, _CONVERSE.get(node.op, node.op))(literal, table.geometry[rows])
    mask[rows] = hit
    return mask


def _bounds_candidates(op: str, literal: Any, bounds: np.ndarray) -> np.ndarray:
    """Rows whose envelope can satisfy ``op`` with the literal's (cheap, whole-column)."""
    minx, miny, maxx, maxy = shapely.bounds(literal)
    b = bounds
    if op == "within":  # the row's envelope lies inside the literal's
        keep = (b[:, 0] >= minx) & (b[:, 2] <= maxx) & (b[:, 1] >= miny) & (b[:, 3] <= maxy)
    elif op == "contains":  # the row's envelope holds the literal's
        keep = (b[:, 0] <= minx) & (b[:, 2] >= maxx) & (b[:, 1] <= miny) & (b[:, 3] >= maxy)
    else:  # every other relation needs the envelopes to meet
        keep = (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
    return np.flatnonzero(keep)


def _parts(literal: Any) -> np.ndarray:
    """The literal's parts, with every line cut into its segments.

    A line's segments, collected in a MultiLineString, are the same point set with the same
    boundary (each inner vertex ends two segments, so the mod-2 rule keeps it interior); a segment's
    envelope is small, so the STRtree pairs each with the few rows it passes near.
    """
    parts = shapely.get_parts(literal)
    is_line = shapely.get_type_id(parts) == 1
    if not is_line.any():
        return parts
    coords, index = shapely.get_coordinates(parts[is_line], return_index=True)
    keep = (index[1:] == index[:-1]) & (coords[1:] != coords[:-1]).any(axis=1)  # no zero-length
    segments = shapely.linestrings(np.stack([coords[:-1][keep], coords[1:][keep]], axis=1))
    return np.concatenate([parts[~is_line], segments]) if len(segments) else parts


#: Multi-geometry constructor of each literal type id (shapely.get_type_id), for its parts.
_COLLECT = {
    1: shapely.multilinestrings,
    4: shapely.multipoints,
    5: shapely.multilinestrings,
    6: shapely.multipolygons,
}


def _by_parts(op: str, literal: Any, parts: np.ndarray, table: Columns) -> tuple[np.ndarray, np.ndarray]:
    """Rows and their answer for a multi-part literal, testing each row against its nearby parts only.

    A prepared multi-part literal still visits every part for each row (500 lines: ~50 µs per
    hexagon, 10 s over 206k). Instead the table's STRtree finds the (part, row) pairs that
    intersect, and each row is related to the collection of *its* parts ("local"). Parts that miss
    a row lie in its exterior, so they only add exterior-of-row entries to the DE-9IM matrix: the
    relations that need that entry empty (contains, equals) fail, and crosses/overlaps, which need
    it non-empty, are tested with that entry left free.
    """
    _check_spatial_work(parts, table)
    tree = table.spatial_index()
    part_at, row_at = tree.query(parts, predicate="intersects")
    order = np.argsort(row_at, kind="stable")
    rows, group = np.unique(row_at[order], return_inverse=True)
    if op == "intersects" or not len(rows):
        return rows, np.ones(len(rows), dtype=bool)
    local = _COLLECT[int(shapely.get_type_id(literal))](parts[part_at[order]], indices=group)
    missed = np.bincount(group, minlength=len(rows)) < len(parts)
    geoms = table.geometry[rows]  # type: ignore[index]
    predicate = getattr(shapely, op)
    hit = np.zeros(len(rows), dtype=bool)
    whole = ~missed
    hit[whole] = predicate(geoms[whole], local[whole])
    if op in ("within", "touches"):  # these read no exterior-of-row entry
        hit[missed] = predicate(geoms[missed], local[missed])
    elif op in ("crosses", "overlaps"):
        lit_dim = int(shapely.get_dimensions(literal))
        row_dim = shapely.get_dimensions(geoms)
        for dim in np.unique(row_dim[missed]).tolist():
            pattern = _free_exterior_pattern(op, dim, lit_dim)
            at = missed & (row_dim == dim)
            if pattern is not None:
                hit[at] = shapely.relate_pattern(geoms[at], local[at], pattern)
    return rows, hit


def _free_exterior_pattern(op: str, row_dim: int, lit_dim: int) -> str | None:
    """DE-9IM pattern of ``op`` (GEOS's definition) with exterior-of-row entries free; None: false."""
    if op == "crosses":
        if row_dim < lit_dim:
            return "T*T******"
        if row_dim > lit_dim:
            return "T********"  # T*****T** with E(row)∩I(literal) known non-empty
        return "0********" if row_dim == 1 else None
    if row_dim != lit_dim:  # overlaps needs equal dimensions
        return None
    return "1*T******" if row_dim == 1 else "T*T******"


def _check_spatial_work(parts: np.ndarray, table: Columns) -> None:
    """Refuse a multi-part literal whose parts' envelopes would meet too many rows' envelopes.

    The count is estimated from areas (rows per square degree of the layer's extent, each part's
    envelope grown by a typical row's), so the refusal costs no more than a bounds computation.
    """
    b = table.bounds
    assert b is not None
    valid = ~np.isnan(b).any(axis=1)
    if not valid.any():
        return
    vb = b[valid]
    width, height = np.median(vb[:, 2] - vb[:, 0]), np.median(vb[:, 3] - vb[:, 1])
    extent = (vb[:, 2].max() - vb[:, 0].min() + width) * (vb[:, 3].max() - vb[:, 1].min() + height)
    density = len(vb) / max(float(extent), 1e-12)
    pb = shapely.bounds(parts)
    area = (pb[:, 2] - pb[:, 0] + width) * (pb[:, 3] - pb[:, 1] + height)
    pairs = float(np.nansum(np.minimum(area * density, len(vb))))
    if pairs > MAX_SPATIAL_PAIRS:
        raise InvalidQuery(
            f"filter: the geometry's {len(parts):,} parts would each be tested against the features "
            f"near them, about {pairs:,.0f} tests; at most {MAX_SPATIAL_PAIRS:,} are allowed. "
            "Use fewer or shorter parts, or split the request by bbox"
        )


def _truth(node: Truth, table: Columns) -> Any:
    value = _operand(node.value, table)
    if value.kind != "boolean":
        raise InvalidQuery(
            f"filter: {_quote(str(value.name or value.data))} is {value.kind}, not a condition; "
            "compare it, e.g. x = 1"
        )
    return np.asarray(value.data, dtype=bool) & _not_null(value)


def _eval(node: Node, table: Columns, n: int) -> Any:
    checkpoint()  # every node is a whole-column pass: the work stops between two if its client left
    if isinstance(node, And):
        out: Any = True
        for item in node.items:
            out = out & _eval(item, table, n)
        return out
    if isinstance(node, Or):
        out = False
        for item in node.items:
            out = out | _eval(item, table, n)
        return out
    if isinstance(node, Not):
        return ~np.asarray(_eval(node.item, table, n), dtype=bool)
    if isinstance(node, Spatial):
        return _spatial(node, table, n)
    handlers: dict[type, Any] = {Compare: _compare, Between: _between, In: _in, Like: _like, Truth: _truth}
    if isinstance(node, IsNull):
        value = _operand(node.value, table)
        null = value.null if value.null is not None else np.zeros(n, dtype=bool)
        return ~null if node.negate else null
    return handlers[type(node)](node, table)


def evaluate(node: Node, table: Columns, n: int) -> np.ndarray:
    """Boolean mask of the ``n`` rows of ``table`` that satisfy ``node``.

    Parameters
    ----------
    node
        A tree from `parse`.
    table
        Columns to evaluate on (see `Columns`).
    n
        Number of rows.

    Returns
    -------
    ndarray
        bool, shape (n,).
    """
    return np.broadcast_to(np.asarray(_eval(node, table, n), dtype=bool), (n,)).copy()
