"""The OpenAPI 3.1 description served at /openapi.json: the merge of each dialect's `describe()`, and the
schema helpers and shared schemas they are written with."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .engine import remove_bg_schema

Schema = dict[str, Any]
Description = dict[str, Any]  # {"paths": ..., "components": ...} as a dialect describes its routes

# The `{message, help}` errors of ImageKit and of Cutout's own API (`common.render_message`).
MESSAGE_ERROR: Schema = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}, "help": {"type": "string"}},
}
OBJECT: Schema = {"type": "object"}
# One source: the engine's parser table.
REMOVE_BG_OPTIONS: Schema = remove_bg_schema()
# Basic auth with the private key (`common.private_key`), shared by ImageKit and Cutout's own API.
BASIC = {"basic": {"type": "http", "scheme": "basic", "description": "ImageKit private key as the user"}}


def json_content(schema: Schema) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def operation(
    summary: str,
    ok: tuple[int, Schema | None],
    *,
    errors: tuple[int, ...] = (400, 401, 404),
    more: dict[int, Schema] | None = None,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    secured: bool = True,
    security: list[dict[str, list[str]]] | None = None,
    tag: str = "ImageKit",
) -> dict[str, Any]:
    status, schema = ok
    responses: dict[str, Any] = {str(status): {"description": "OK", **(json_content(schema) if schema else {})}}
    for code, other in (more or {}).items():
        responses[str(code)] = {"description": "Partly OK", **json_content(other)}
    for code in errors:
        responses[str(code)] = {"description": "Error", **json_content(MESSAGE_ERROR)}
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    if security is not None:
        op["security"] = security
    elif secured:
        op["security"] = [{"basic": []}]
    return op


def path_param(name: str, schema: Schema | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def query_param(name: str, schema: Schema, *, empty: bool = False, required: bool = False) -> dict[str, Any]:
    """A query parameter; with `empty`, sending it empty is the same as leaving it out."""
    empty_value = {"allowEmptyValue": True} if empty else {}
    return {"name": name, "in": "query", "required": required, "schema": schema, **empty_value}


def operations() -> Description:
    """The probes and this description, which the application serves itself."""

    def plain(summary: str, statuses: tuple[int, ...] = (200,)) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary,
                "tags": ["Operations"],
                "responses": {str(s): {"description": summary} for s in statuses},
            }
        }

    return {
        "paths": {
            "/healthz": plain("Liveness"),
            "/readyz": plain("Readiness: database writable and model loaded", (200, 503)),
            "/metrics": plain("Prometheus metrics"),
            "/openapi.json": plain("This description"),
        }
    }


def _body_timeouts(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation that takes a body may answer 408 when it arrives too slowly, shaped as its 400."""
    for operations in paths.values():
        for op in operations.values():
            if "requestBody" in op and "400" in op["responses"]:
                op["responses"].setdefault("408", {**op["responses"]["400"], "description": "The body was too slow"})
    return paths


def build(parts: Iterable[Description]) -> dict[str, Any]:
    """The whole document, from the descriptions of the routes the application serves."""
    paths: dict[str, Any] = {}
    schemes: dict[str, Any] = {**BASIC}
    for part in parts:
        paths.update(part["paths"])
        schemes.update(part.get("components", {}).get("securitySchemes", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cutout",
            "version": "1.0.0",
            "description": "Self-hosted media library with background removal: ImageKit and Uploadcare wire "
            "formats, and Cutout's own webhook API.",
        },
        "servers": [{"url": "/"}],
        "components": {"securitySchemes": schemes},
        "paths": _body_timeouts(paths),
    }
