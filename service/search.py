"""ImageKit's Lucene-like `searchQuery`, parsed into a small tree that db.py compiles to SQL.

Supported subset: fields name, path, tags, format, type, private, published, size,
width, height, createdAt, updatedAt and "customMetadata.<key>"; operators
= : < <= > >= IN, NOT =, NOT IN; AND / OR with parentheses (AND binds tighter).
`:` is begins-with (name) or within-subfolders (path). Dates are ISO dates or
relative ages such as "7d", "12h", "30m" (meaning that long ago).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import BadRequest
from .models import METADATA_KEY

FIELDS = {
    "name", "path", "tags", "format", "type", "private", "published",
    "size", "width", "height", "createdAt", "updatedAt",
}  # fmt: skip
OPERATORS = {"=", ":", "<", "<=", ">", ">=", "IN", "NOT =", "NOT IN"}
NUMERIC = {"size", "width", "height"}
DATES = {"createdAt", "updatedAt"}
# How deep AND/OR groups may nest in the compiled SQL: SQLite's parser overflows its stack at about
# 30 nested groups ("parser stack overflow"), and the parser and compiler here recurse once per level.
MAX_TREE_DEPTH = 26
# Parentheses may nest this deep: each level, and the top, can hold an OR over an AND.
MAX_DEPTH = MAX_TREE_DEPTH // 2 - 1

Value = str | int | float | bool | list[str | int | float | bool]


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class BoolOp:
    op: str  # "AND" or "OR"
    items: tuple[Node, ...]


Node = Compare | BoolOp

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op><=|>=|=|<|>|:)|(?P<punct>[()\[\],])'
    r"|(?P<word>[A-Za-z0-9_.\-+]+))"
)
_AGE = re.compile(r"^([0-9]+)([smhdw])$")
_INT64 = range(-(2**63), 2**63)  # what SQLite can compare an integer column with
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _problem(detail: str) -> BadRequest:
    return BadRequest(f"Your request contains invalid searchQuery: {detail}", field="searchQuery")


def too_deep() -> BadRequest:
    return _problem(f"it is nested too deeply (at most {MAX_DEPTH} levels of parentheses)")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise _problem(f"unexpected character {text[pos:].lstrip()[:1]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0  # parentheses open at this point

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _problem("the query ends too early")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() == word:
            self.pos += 1
            return True
        return False

    def expression(self) -> Node:
        items = [self.conjunction()]
        while self.keyword("OR"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def conjunction(self) -> Node:
        items = [self.term()]
        while self.keyword("AND"):
            items.append(self.term())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def term(self) -> Node:
        token = self.peek()
        if token == ("punct", "("):
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise too_deep()
            node = self.expression()
            if self.peek() != ("punct", ")"):
                raise _problem("a '(' is not closed")
            self.take()
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        kind, raw = self.take()
        field = _unquote(raw) if kind == "str" else raw
        if kind not in ("str", "word"):
            raise _problem(f"expected a field name, found {raw!r}")
        if field not in FIELDS and not field.startswith("customMetadata."):
            raise _problem(f"unknown field {field[:80]!r}")
        if field.startswith("customMetadata.") and not METADATA_KEY.fullmatch(field[15:]):
            raise _problem(
                f"{field[:80]!r} names no customMetadata key: keys are 1-64 letters, digits, '_', '-', '.' or ':'"
            )
        if self.keyword("NOT"):
            op = "NOT IN" if self.keyword("IN") else "NOT " + self.take()[1]
        elif self.keyword("IN"):
            op = "IN"
        else:
            op = self.take()[1]
        if op not in OPERATORS:
            raise _problem(f"unknown operator {op!r} after {field!r}")
        value: Value = self.list_value() if op in ("IN", "NOT IN") else self.scalar()
        return Compare(field, op, _coerce(field, op, value))

    def list_value(self) -> list[str | int | float | bool]:
        if self.take() != ("punct", "["):
            raise _problem("IN expects a list such as [\"a\", \"b\"]")
        values: list[str | int | float | bool] = []
        while True:
            values.append(self.scalar())
            sep = self.take()
            if sep == ("punct", "]"):
                return values
            if sep != ("punct", ","):
                raise _problem("list items are separated by commas")

    def scalar(self) -> str | int | float | bool:
        kind, raw = self.take()
        if kind == "str":
            return _unquote(raw)
        if kind != "word":
            raise _problem(f"expected a value, found {raw!r}")
        if raw in ("true", "false"):
            return raw == "true"
        try:
            return int(raw)
        except ValueError:
            try:
                return float(raw)
            except ValueError:
                raise _problem(f"text values need double quotes: {raw!r}") from None


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _coerce(field: str, op: str, value: Value) -> Value:
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, int) and v not in _INT64 for v in values):
        raise _problem(f"{field} compares with numbers below 2^63")
    if field in NUMERIC and any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise _problem(f"{field} compares with numbers")
    if field in DATES:
        if isinstance(value, list):
            raise _problem(f"{field} does not take a list")
        return _to_timestamp(field, value)
    if field in ("private", "published") and not isinstance(value, bool):
        raise _problem(f"{field} compares with true or false")
    if op == ":" and not isinstance(value, str):
        raise _problem("':' compares with text")
    return value


def _to_timestamp(field: str, value: Value) -> str:
    if not isinstance(value, str):
        raise _problem(f"{field} compares with a date such as \"2026-01-31\" or an age such as \"7d\"")
    age = _AGE.match(value)
    try:
        if age:
            moment = datetime.now(UTC) - timedelta(**{_AGE_UNITS[age.group(2)]: int(age.group(1))})
        else:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise _problem(f"{field} value {value!r} is neither a date nor an age like \"7d\"") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        utc = moment.astimezone(UTC)
    except OverflowError:  # an age or offset that reaches past year 1 or 9999
        raise _problem(f"{field} value {value[:40]!r} is out of range") from None
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> Node:
    """Parse a searchQuery; raise BadRequest naming what is wrong."""
    if len(text) > 4096:
        raise _problem("the query is longer than 4096 characters")
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek() is not None:
        raise _problem(f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    return node
