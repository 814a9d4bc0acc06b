"""The searchQuery subset: parsing and its errors."""

from __future__ import annotations

import httpx
import pytest

from service.db import _listing_filter
from service.errors import BadRequest
from service.search import MAX_DEPTH, MAX_TREE_DEPTH, BoolOp, Compare, Node, parse

from .conftest import RunningServer, image_bytes


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


def nested(depth: int, *, mixed: bool = False) -> str:
    """A query `depth` parentheses deep; `mixed` puts an OR over an AND at every level (the deepest tree)."""
    query = '"customMetadata.k" NOT IN ["x"]' if mixed else 'name = "a"'
    for _ in range(depth):
        query = f'name = "a" OR size > 1 AND size < 10000 AND ({query})' if mixed else f"({query})"
    return query


@pytest.mark.parametrize("depth", [1, 10, MAX_DEPTH])
@pytest.mark.parametrize("mixed", [False, True])
def test_nesting_within_the_bound_is_searched(http: httpx.Client, server: RunningServer, depth: int,
                                              mixed: bool) -> None:  # fmt: skip
    http.post("/api/v1/files/upload", auth=server.auth(), files={"file": ("a", image_bytes())},
              data={"fileName": "a", "useUniqueFileName": "false"}).raise_for_status()  # fmt: skip
    found = http.get("/v1/files", params={"searchQuery": nested(depth, mixed=mixed)}, auth=server.auth())
    assert found.status_code == 200, found.text
    assert [f["name"] for f in found.json()] == ["a"]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 32, 100, 330, 1000, 2000])
def test_nesting_beyond_the_bound_is_a_400(http: httpx.Client, server: RunningServer, depth: int) -> None:
    query = nested(depth)
    assert len(query) <= 4096  # within the length limit: the depth is what is refused
    refused = http.get("/v1/files", params={"searchQuery": query}, auth=server.auth())
    assert refused.status_code == 400, refused.text
    assert f"nested too deeply (at most {MAX_DEPTH} levels" in refused.json()["message"]
    assert http.get("/healthz").status_code == 200


def test_a_long_flat_query_is_searched(http: httpx.Client, server: RunningServer) -> None:
    query = " OR ".join(["size=1"] * 400)
    assert len(query) <= 4096
    found = http.get("/v1/files", params={"searchQuery": query}, auth=server.auth())
    assert found.status_code == 200, found.text


def test_the_sql_compiler_bounds_depth_too(server: RunningServer) -> None:
    """A tree deeper than the parser builds (the compiler's own guard) is refused, not recursed into."""
    tree: Node = Compare("name", "=", "a")
    for _ in range(MAX_TREE_DEPTH + 1):
        tree = BoolOp("AND", (Compare("size", ">", 0), tree))
    with pytest.raises(BadRequest, match="nested too deeply"):
        _listing_filter([], None, tree, "v")
