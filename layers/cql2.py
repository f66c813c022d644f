"""A small CQL2-text parser and a vectorised evaluator over in-memory columns (OGC 21-065).

Supported: comparisons ``= <> < <= > >=``, ``AND``/``OR``/``NOT``, ``[NOT] BETWEEN``, ``[NOT] IN``,
``IS [NOT] NULL``, ``[NOT] LIKE`` (``%`` and ``_``, ``\\`` escapes), ``TRUE``/``FALSE``, and the spatial
functions ``S_INTERSECTS``, ``S_DISJOINT``, ``S_WITHIN``, ``S_CONTAINS``, ``S_TOUCHES``, ``S_OVERLAPS``,
``S_CROSSES``, ``S_EQUALS`` between the ``geometry`` property and a literal (``BBOX(...)`` or WKT:
``POINT``, ``LINESTRING``, ``POLYGON``, ``MULTI*``, ``GEOMETRYCOLLECTION``) in CRS84.

`parse` builds a tree of frozen dataclasses; `evaluate` turns it into one boolean mask over the
rows, with numpy comparisons on whole columns and shapely predicates on the candidates whose
bounds meet the literal's (no per-row Python). Comparisons with a null are false, as in SQL.

Examples
--------
>>> parse("population > 1000 AND kabupaten_code = '6201'")  # doctest: +ELLIPSIS
And(items=(Compare(op='>', left=Property(name='population'), right=Literal(value=1000)), ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import shapely

from layers.errors import InvalidQuery

Kind = Literal["string", "integer", "number", "boolean"]
GEOMETRY_PROPERTY = "geometry"


class Columns(Protocol):
    """What `evaluate` needs from a table (`layers.query.Table` provides it)."""

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
      | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<quoted>"(?:[^"]|"")+")
      | (?P<word>[A-Za-z_][A-Za-z0-9_.:]*)
      | (?P<op><=|>=|<>|!=|=|<|>|\(|\)|,)
    )""",
    re.VERBOSE,
)
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
        self._peeked: _Token | None = None

    # -- tokens -----------------------------------------------------------------------------------
    def _lex(self) -> _Token:
        if self.text[self.pos :].strip() == "":
            return _Token("end", "", len(self.text), len(self.text))
        m = _TOKEN.match(self.text, self.pos)
        if m is None or m.lastgroup is None:
            start = len(self.text) - len(self.text[self.pos :].lstrip())
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
            raise self.error(f"expected {word!r} but found {tok.text or 'the end'!r}", tok.start)
        return tok

    def error(self, problem: str, at: int | None = None) -> InvalidQuery:
        at = self.pos if at is None else at
        return InvalidQuery(f"filter: {problem} at character {at + 1} of {self.text!r}")

    # -- grammar ----------------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(f"unexpected {tok.text!r}", tok.start)
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
        if self.accept("NOT"):
            return Not(self.not_())
        return self.predicate()

    def predicate(self) -> Node:
        tok = self.peek()
        if tok.text == "(":
            self.next()
            node = self.or_()
            self.expect(")")
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
            is_int = re.fullmatch(r"-?\d+", tok.text) is not None
            return Literal_(int(tok.text) if is_int else float(tok.text))
        if tok.kind == "quoted":
            return Property(tok.text[1:-1].replace('""', '"'))
        if tok.kind == "word" and tok.upper in ("TRUE", "FALSE"):
            return Literal_(tok.upper == "TRUE")
        if tok.kind == "word" and tok.upper not in _KEYWORDS:
            if self.peek().text == "(":
                raise self.error(f"unknown function {tok.text!r}", tok.start)
            return Property(tok.text)
        raise self.error(f"expected a property or a value but found {tok.text or 'the end'!r}", tok.start)

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
            raise self.error(f"the spatial property is '{GEOMETRY_PROPERTY}', not {prop.name!r}")
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
            return Geometry(shapely.box(*nums))
        if tok.kind == "word" and tok.upper in _WKT:
            return Geometry(self.wkt())
        operand = self.operand()
        if not isinstance(operand, Property):
            raise self.error("expected the 'geometry' property, BBOX(...) or a WKT geometry")
        return operand

    def wkt(self) -> Any:
        start = self.next().start
        depth, i = 0, self.pos
        while i < len(self.text):
            ch = self.text[i]
            depth += (ch == "(") - (ch == ")")
            i += 1
            if depth == 0 and ch == ")":
                break
        else:
            raise self.error("unbalanced parentheses in the geometry", start)
        try:
            geom = shapely.from_wkt(self.text[start:i])
        except shapely.errors.GEOSException as exc:
            raise self.error(f"invalid geometry ({exc})", start) from None
        self.pos, self._peeked = i, None
        return geom


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
    return _Parser(text).parse()


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
    hint = {"string": "a quoted 'text' value", "boolean": "TRUE or FALSE"}.get(prop.kind, "a number")
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
    regex = _like_regex(node.pattern)
    found: np.ndarray
    if isinstance(value.data, np.ndarray):
        # One regex per distinct value: codes and names repeat a lot across rows.
        uniques, inverse = np.unique(value.data, return_inverse=True)
        hits = np.array([regex.fullmatch(u) is not None for u in uniques.tolist()], dtype=bool)
        found = hits[inverse] if len(uniques) else np.zeros(len(value.data), dtype=bool)
    else:
        found = np.asarray(regex.fullmatch(value.data) is not None)
    return (~found if node.negate else found) & _not_null(value)


def _like_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _spatial(node: Spatial, table: Columns, n: int) -> np.ndarray:
    if table.geometry is None or table.bounds is None:
        raise InvalidQuery("filter: this collection has no geometry")
    literal = node.geometry.value
    if node.op == "disjoint":
        return ~_spatial(Spatial("intersects", node.geometry), table, n)
    minx, miny, maxx, maxy = shapely.bounds(literal)
    b = table.bounds
    # Every relation but disjoint needs the two envelopes to meet: test the cheap bounds first.
    candidates = np.flatnonzero((b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny))
    shapely.prepare(literal)
    predicate = getattr(shapely, node.op)
    mask = np.zeros(n, dtype=bool)
    mask[candidates] = predicate(table.geometry[candidates], literal)
    return mask


def _truth(node: Truth, table: Columns) -> Any:
    value = _operand(node.value, table)
    if value.kind != "boolean":
        raise InvalidQuery(
            f"filter: {value.name or value.data!r} is {value.kind}, not a condition; compare it, e.g. x = 1"
        )
    return np.asarray(value.data, dtype=bool) & _not_null(value)


def _eval(node: Node, table: Columns, n: int) -> Any:
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
