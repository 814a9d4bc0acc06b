"""Claid's storage connector endpoints, under `/v1/` and `/v1-beta1/`:

    GET    storage/storage-types     -> {"data": ["web_folder", "s3", "gcs"]}
    GET    storage/storages          -> {"data": [storage, ...]}
    POST   storage/storages          -> 201 {"data": storage}   (body {name, type, parameters})
    GET    storage/storages/{id}     -> {"data": storage}
    DELETE storage/storages/{id}     -> 204

and the objects of web folders at `GET /web-folders/{token}/{key}` (the URL is the capability). A storage
is shown without its credentials, always.
"""

from __future__ import annotations

import functools
import mimetypes
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ... import storage
from ...errors import APIError, NotFound
from ...models import StorageRecord
from ...openapi import MESSAGE_ERROR, Description, Schema, json_content, path_param
from .. import common
from ..common import json_body, public, services
from .auth import bearer
from .shapes import ERROR_SCHEMA, PREFIXES, SECURITY_SCHEMES, envelope, render

FIELDS = ("name", "type", "parameters")
# Served inline: raster formats a browser shows as an image. Anything else (SVG among them) is a download.
INLINE = frozenset({"image/png", "image/jpeg", "image/webp", "image/avif", "image/gif", "image/tiff"})

api = functools.partial(common.endpoint, render=lambda request, exc: render(exc))


def shown(record: StorageRecord) -> dict[str, object]:
    """A storage as Claid lists it (credentials are not part of the record at all)."""
    created = record.created_at.replace("Z", "+00:00")
    return {"id": record.id, "name": record.name, "type": record.type, "parameters": record.parameters,
            "created_at": created}  # fmt: skip


def storages(request: Request) -> storage.Storages:
    return services(request).storages


def storage_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise storage.StorageInvalid({"id": ["value is not a valid integer"]})
    return int(raw)


@api(auth=bearer)
async def storage_types(request: Request) -> Response:
    return envelope(list(storage.TYPES))


@api(auth=bearer)
async def list_storages(request: Request) -> Response:
    return envelope([shown(record) for record in storages(request).list()])


@api(auth=bearer)
async def create_storage(request: Request) -> Response:
    body = await json_body(request, want_object=True)
    if extra := [str(name)[:64] for name in body if name not in FIELDS]:
        raise storage.StorageInvalid({name: ["extra fields not permitted"] for name in extra})
    missing = {name: ["field required"] for name in ("name", "type") if body.get(name) is None}
    if missing:
        raise storage.StorageInvalid(missing)
    record = await storages(request).create(body["name"], body["type"], body.get("parameters"))
    return envelope(shown(record), 201)


@api(auth=bearer)
async def get_storage(request: Request) -> Response:
    return envelope(shown(storages(request).get(storage_id(request))))


@api(auth=bearer)
async def delete_storage(request: Request) -> Response:
    await storages(request).delete(storage_id(request))
    return Response(status_code=204)


def _plain_not_found(request: Request, exc: APIError) -> Response:
    return JSONResponse({"message": exc.message}, exc.status)


@common.endpoint(render=_plain_not_found, auth=public("a web folder's URL holds its random token: the URL is the key"))
async def web_folder_object(request: Request) -> Response:
    try:
        path = storages(request).web_object(request.path_params["token"], request.path_params["key"])
    except storage.ObjectNotFound as exc:
        raise NotFound(exc.message) from None
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    disposition = "inline" if mime in INLINE else "attachment"
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-cache",  # objects may be overwritten: revalidate with the ETag
    }
    return FileResponse(path, media_type=mime, headers=headers, content_disposition_type=disposition,
                        filename=path.name)  # fmt: skip


routes: list[Route] = [
    route
    for prefix in PREFIXES
    for route in (
        Route(f"{prefix}storage/storage-types", storage_types, methods=["GET"]),
        Route(f"{prefix}storage/storages", list_storages, methods=["GET"]),
        Route(f"{prefix}storage/storages", create_storage, methods=["POST"]),
        Route(f"{prefix}storage/storages/{{id}}", get_storage, methods=["GET"]),
        Route(f"{prefix}storage/storages/{{id}}", delete_storage, methods=["DELETE"]),
    )
] + [Route(f"{storage.WEB_FOLDER_ROUTE}/{{token}}/{{key:path}}", web_folder_object, methods=["GET", "HEAD"])]


def describe() -> Description:
    """The OpenAPI paths of these routes."""
    tag = "Claid storage connectors"
    security: list[dict[str, list[str]]] = [{"claid": []}]

    def errors(*codes: int) -> dict[str, Any]:
        return {str(code): {"description": "Error", **json_content(ERROR_SCHEMA)} for code in codes}

    text = {"type": "string"}
    record: Schema = {
        "type": "object",
        "required": ["id", "name", "type", "parameters", "created_at"],
        "properties": {"id": {"type": "integer"}, "name": text, "type": {"enum": list(storage.TYPES)},
                       "parameters": {"type": "object"}, "created_at": text},
    }  # fmt: skip
    credentials: Schema = {
        "type": "object", "additionalProperties": False, "required": ["access_key", "secret_access_key"],
        "properties": {"access_key": {"type": "string", "minLength": 1},
                       "secret_access_key": {"type": "string", "minLength": 1}},
    }  # fmt: skip
    parameters: Schema = {
        "type": "object",
        "description": "s3: bucket, path, region, endpoint_url, credentials {access_key, secret_access_key}; "
        "gcs: bucket, path, endpoint_url, credentials (a service-account key); web_folder: path.",
        "properties": {"bucket": text, "path": text, "region": text, "endpoint_url": {"type": "string", "format": "uri"},
                       "credentials": {"oneOf": [credentials, {"type": "object"}, text]}},
    }  # fmt: skip
    create: Schema = {
        "type": "object", "additionalProperties": False, "required": ["name", "type"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
                       "type": {"enum": list(storage.TYPES)}, "parameters": parameters},
    }  # fmt: skip
    one = {"type": "object", "required": ["data"], "properties": {"data": record}}
    ident = [path_param("id", {"type": "integer", "minimum": 1})]
    paths: dict[str, Any] = {}
    for prefix in PREFIXES:
        paths[f"{prefix}storage/storage-types"] = {"get": {
            "summary": "The storage types", "tags": [tag], "security": security,
            "responses": {"200": {"description": "OK", **json_content({
                "type": "object", "properties": {"data": {"type": "array", "items": text}}})}, **errors(401)},
        }}  # fmt: skip
        paths[f"{prefix}storage/storages"] = {
            "get": {"summary": "List the storages (never their credentials)", "tags": [tag], "security": security,
                    "responses": {"200": {"description": "OK", **json_content({
                        "type": "object", "properties": {"data": {"type": "array", "items": record}}})},
                        **errors(401)}},
            "post": {"summary": "Register a storage: checked, reached, then recorded", "tags": [tag],
                     "security": security, "requestBody": {"required": True, **json_content(create)},
                     "responses": {"201": {"description": "Created", **json_content(one)},
                                   **errors(400, 401, 409, 422)}},
        }  # fmt: skip
        paths[f"{prefix}storage/storages/{{id}}"] = {
            "get": {"summary": "One storage", "tags": [tag], "security": security, "parameters": ident,
                    "responses": {"200": {"description": "OK", **json_content(one)}, **errors(401, 404, 422)}},
            "delete": {"summary": "Forget a storage (a web folder's objects go with it)", "tags": [tag],
                       "security": security, "parameters": ident,
                       "responses": {"204": {"description": "Deleted"}, **errors(401, 404, 422)}},
        }  # fmt: skip
    paths[f"{storage.WEB_FOLDER_ROUTE}/{{token}}/{{key}}"] = {"get": {
        "summary": "An object of a web folder (the URL's token is the key)", "tags": [tag], "security": [],
        "parameters": [path_param("token"), path_param("key")],
        "responses": {"200": {"description": "The object", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
                      "404": {"description": "No such object", **json_content(MESSAGE_ERROR)}},
    }}  # fmt: skip
    return {"paths": paths, "components": {"securitySchemes": SECURITY_SCHEMES}}
