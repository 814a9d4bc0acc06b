"""The searchQuery subset: parsing and its errors."""

from __future__ import annotations

import pytest

from service.errors import BadRequest
from service.search import BoolOp, Compare, parse


def test_precedence_and_grouping() -> None:
    tree = parse('name = "a" OR tags IN ["x", "y"] AND size > 10')
    assert tree == BoolOp("OR", (Compare("name", "=", "a"), BoolOp("AND", (Compare("tags", "IN", ["x", "y"]), Compare("size", ">", 10)))))
    grouped = parse('(name = "a" OR name = "b") AND private = true')
    assert isinstance(grouped, BoolOp) and grouped.op == "AND"
    assert grouped.items[1] == Compare("private", "=", True)


def test_not_operators_and_quoted_custom_metadata() -> None:
    assert parse('format NOT IN ["png"]') == Compare("format", "NOT IN", ["png"])
    assert parse('name NOT = "x"') == Compare("name", "NOT =", "x")
    assert parse('"customMetadata.brand" = "Nike"') == Compare("customMetadata.brand", "=", "Nike")


def test_dates_become_utc_timestamps() -> None:
    exact = parse('createdAt >= "2026-01-31"')
    assert exact == Compare("createdAt", ">=", "2026-01-31T00:00:00.000Z")
    relative = parse('updatedAt > "7d"')
    assert isinstance(relative, Compare) and relative.value.endswith("Z")


@pytest.mark.parametrize(
    "query,words",
    [
        ('nmae = "x"', "unknown field"),
        ("name = x", "double quotes"),
        ('name = "x" AND', "ends too early"),
        ('(name = "x"', "not closed"),
        ('size > "big"', "numbers"),
        ('createdAt > "yesterday"', "neither a date"),
        ('name ~ "x"', "unexpected character"),
        ('tags IN "x"', "list"),
        ("x" * 5000, "4096"),
    ],
)
def test_errors_say_what_is_wrong(query: str, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        parse(query)
