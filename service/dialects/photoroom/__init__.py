"""Photoroom's API: `/v1/segment` (Basic plan), `/v2/edit` (Plus plan, GET and POST), and the account endpoints.

One request is one synchronous cut-out through the runner's slots (sync.py).
Auth is the `x-api-key` header. Errors take each endpoint's shape from
Photoroom's OpenAPI: `{"detail", "status_code", "type"}` for /v1/segment,
`{"error": {"message"}}` for /v2/edit and the accounts. What each parameter
does, or why it is refused, is in `edit_params` and `segment_params`.
"""

from __future__ import annotations

import base64
import functools

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ... import engine
from ...egress import EgressBlocked
from ...errors import APIError, BadRequest, Forbidden
from ...openapi import Description, Schema
from ...signing import same_text
from .. import common
from ..common import read_form, services
from .edit_params import IMPLEMENTED, REFUSED, EditRequest, parse_edit
from .segment_params import FIELDS, parse_segment

SEGMENT_PATHS = ("/v1/segment",)
EDIT_PATHS = ("/v2/edit", "/v1/account", "/v2/account")
# Cutout does not count images: the accounts report this many, always (the README says so).
UNMETERED = 1_000_000
PLAN = "self-hosted"
BAD_KEY = "The API key in the x-api-key header is not this server's Photoroom API key."
NO_KEY = "Missing API key: send it in the x-api-key header."
MAX_FIELDS = 100
MAX_FIELD_BYTES = 64 * 1024
ERROR_TYPES = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 408: "request_timeout",
               413: "payload_too_large", 429: "too_many_requests", 499: "client_closed_request"}  # fmt: skip


# ---- errors -----------------------------------------------------------------------------------


def render_segment_error(request: Request, exc: APIError) -> Response:
    """/v1/segment's `{"detail", "status_code", "type"}`."""
    kind = exc.extra.get("type") or ERROR_TYPES.get(exc.status, "invalid_parameter" if exc.status < 500 else
                                                    "internal_error")  # fmt: skip
    body = {"detail": exc.message, "status_code": exc.status, "type": kind}
    return JSONResponse(body, exc.status, headers=exc.headers)


def render_edit_error(request: Request, exc: APIError) -> Response:
    """/v2/edit's and the accounts' `{"error": {"message"}}`."""
    return JSONResponse({"error": {"message": exc.message}}, exc.status, headers=exc.headers)


def render_error(request: Request, exc: APIError) -> Response | None:
    """An error raised outside an endpoint (routing, the body cap, a crash) on this dialect's paths; None elsewhere."""
    path = request.url.path.rstrip("/")
    if path in SEGMENT_PATHS:
        return render_segment_error(request, exc)
    if path in EDIT_PATHS:
        return render_edit_error(request, exc)
    return None


# ---- auth ---------------------------------------------------------------------------------------


def _key_matches(request: Request) -> bool | None:
    """None without the header, else whether it holds this server's Photoroom key."""
    key = request.headers.get("x-api-key")
    if key is None:
        return None
    return same_text(key, services(request).settings.photoroom_api_key)


async def api_key(request: Request) -> None:
    """`x-api-key`; missing or wrong: 403 (the spec lists 403 for segment, and nothing for /v2/edit)."""
    if not _key_matches(request):
        raise Forbidden(NO_KEY if request.headers.get("x-api-key") is None else BAD_KEY)


async def account_key(request: Request) -> None:
    """The accounts answer a missing key with the spec's 400 `apiKey: Required`, a wrong one with 403."""
    matches = _key_matches(request)
    if matches is None:
        raise BadRequest("apiKey: Required", field="x-api-key")
    if not matches:
        raise Forbidden(BAD_KEY)


segment_endpoint = functools.partial(common.endpoint, render=render_segment_error, auth=api_key)
edit_endpoint = functools.partial(common.endpoint, render=render_edit_error, auth=api_key)
account_endpoint = functools.partial(common.endpoint, render=render_edit_error, auth=account_key)


# ---- running one cut-out ------------------------------------------------------------------------


async def cut_out(request: Request, edit: engine.Edit, data: bytes, background: bytes | None) -> engine.Result:
    """The edit's result through the synchronous lane; engine refusals become 400s naming what they refuse."""
    try:
        return await services(request).runner.sync.run(edit, data, background=background,
                                                        gone=lambda: common.disconnected(request))  # fmt: skip
    except engine.OptionError as exc:
        raise BadRequest(f"{exc.option} {exc.reason}", field=exc.option) from None
    except engine.ImageRejected as exc:
        raise BadRequest(f"The image could not be read: {exc.message}.", extra={"type": "unsupported_image"}) from None


def uncertainty_header(result: engine.Result) -> dict[str, str]:
    # Never Photoroom's -1 (humans): the model does not tell people from objects.
    return {} if result.uncertainty is None else {"x-uncertainty-score": f"{result.uncertainty:g}"}


def image_response(result: engine.Result) -> Response:
    return Response(result.data, media_type=result.mime, headers=uncertainty_header(result))


async def fields_and_files(request: Request, *, max_files: int, detail: str) -> tuple[dict[str, str], dict[str, bytes]]:
    """A multipart (or urlencoded) body's text fields and file parts, each name once."""
    form: FormData = await read_form(
        request, max_files=max_files, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES,
        not_a_form=f"{detail} The body must be multipart/form-data.", unreadable="The body is not a readable form: ",
    )  # fmt: skip
    values: dict[str, str] = {}
    files: dict[str, bytes] = {}
    try:
        for name, value in form.multi_items():
            if name in values or name in files:
                raise BadRequest(f"{name[:64]} is given more than once.", field=name[:64])
            if isinstance(value, UploadFile):
                files[name] = await value.read()
            elif value != "":  # an empty field is one left out, as form builders send them
                values[name] = value
    finally:
        await form.close()
    return values, files


# ---- /v1/segment --------------------------------------------------------------------------------


@segment_endpoint()
async def segment(request: Request) -> Response:
    values, files = await fields_and_files(request, max_files=len(FIELDS), detail="Please provide an image.")
    asked = parse_segment(values, frozenset(files))
    result = await cut_out(request, asked.edit(), files["image_file"], None)
    if common.wants_json(request):
        encoded = base64.b64encode(result.data).decode()
        return JSONResponse({"base64img": encoded}, headers=uncertainty_header(result))
    return image_response(result)


# ---- /v2/edit -----------------------------------------------------------------------------------


async def _fetch(request: Request, url: str, name: str) -> bytes:
    egress = services(request).egress
    try:
        return await egress.fetch(url, max_bytes=services(request).settings.max_upload_bytes)
    except EgressBlocked as exc:
        raise BadRequest(f"{name} could not be fetched: {exc.message}.", field=name) from None


async def _edit(request: Request, asked: EditRequest, data: bytes | None, background: bytes | None) -> Response:
    if asked.image_url is not None:
        data = await _fetch(request, asked.image_url, "imageUrl")
    if asked.background_url is not None:
        background = await _fetch(request, asked.background_url, "background.imageUrl")
    assert data is not None  # parse_edit required imageUrl (GET) or imageFile (POST)
    return image_response(await cut_out(request, asked.edit, data, background))


@edit_endpoint()
async def edit_get(request: Request) -> Response:
    names = [name for name, _ in request.query_params.multi_items()]
    values = {name: value for name, value in request.query_params.multi_items() if value != ""}
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise BadRequest(f"{twice[:64]} is given more than once.", field=twice[:64])
    asked = parse_edit(values, frozenset(), "GET", services(request).runner.sync.limits)
    for name, url in (("imageUrl", asked.image_url), ("background.imageUrl", asked.background_url)):
        if url is not None:
            services(request).egress.check_given(url, name)
    return await _edit(request, asked, None, None)


@edit_endpoint()
async def edit_post(request: Request) -> Response:
    if request.query_params:
        name = next(iter(request.query_params))[:64]
        raise BadRequest(f"{name} is in the query string: POST /v2/edit takes every parameter in the "
                         "multipart body.", field=name)  # fmt: skip
    # Room for more file parts than the two it takes, so that a refused one is refused by its name.
    values, files = await fields_and_files(request, max_files=MAX_FIELDS, detail="imageFile is required.")
    asked = parse_edit(values, frozenset(files), "POST", services(request).runner.sync.limits)
    return await _edit(request, asked, files["imageFile"], files.get("background.imageFile"))


# ---- accounts -----------------------------------------------------------------------------------


@account_endpoint()
async def account_v1(request: Request) -> Response:
    return JSONResponse({"credits": {"available": UNMETERED, "subscription": UNMETERED}})


@account_endpoint()
async def account_v2(request: Request) -> Response:
    return JSONResponse({"images": {"available": UNMETERED, "subscription": UNMETERED}, "plan": PLAN})


routes = [
    Route("/v1/segment", segment, methods=["POST"]),
    Route("/v2/edit", edit_get, methods=["GET"]),
    Route("/v2/edit", edit_post, methods=["POST"]),
    Route("/v1/account", account_v1, methods=["GET"]),
    Route("/v2/account", account_v2, methods=["GET"]),
]


# ---- description --------------------------------------------------------------------------------

SEGMENT_ERROR: Schema = {
    "type": "object",
    "required": ["detail", "status_code", "type"],
    "properties": {"detail": {"type": "string"}, "status_code": {"type": "number"}, "type": {"type": "string"}},
}
EDIT_ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}},
}
SECURITY = {"photoroom": {"type": "apiKey", "name": "x-api-key", "in": "header",
                          "description": "CUTOUT_PHOTOROOM_API_KEY"}}  # fmt: skip
IMAGE = {"image/png": {"schema": {"type": "string", "format": "binary"}}}
UNCERTAINTY = {"x-uncertainty-score": {"description": "0 to 1: the share of the subject's matte the model was unsure "
                                                      "of (the README gives the formula)",
                                       "schema": {"type": "number"}}}  # fmt: skip


def _errors(schema: Schema, *codes: int) -> dict[str, object]:
    return {str(code): {"description": "Error", "content": {"application/json": {"schema": schema}}} for code in codes}


def _edit_parameters() -> dict[str, Schema]:
    return {name: {"type": "string", "description": does} for name, does in IMPLEMENTED.items()}


def describe() -> Description:
    """The OpenAPI paths of these routes (Photoroom's own description has every refused parameter too)."""
    tag = ["Photoroom"]
    security: list[dict[str, list[str]]] = [{"photoroom": []}]
    text = {name: schema for name, schema in _edit_parameters().items() if name not in ("imageFile", "imageUrl",
            "background.imageFile", "background.imageUrl")}  # fmt: skip
    binary = {"type": "string", "format": "binary"}
    segment_body = {name: {"type": "string"} for name in FIELDS} | {"image_file": binary}
    ok_image = {"description": "The result", "headers": UNCERTAINTY, "content": IMAGE}
    edit_ok = {"200": ok_image, **_errors(EDIT_ERROR, 400, 403, 429, 500)}
    refused = "Refused with a 400 naming them: " + ", ".join(sorted(REFUSED)) + "."
    get_params = [{"name": "imageUrl", "in": "query", "required": True, "schema": {"type": "string", "format": "uri"}}]
    get_params += [{"name": name, "in": "query", "schema": schema} for name, schema in
                   {**text, "background.imageUrl": {"type": "string", "format": "uri"}}.items()]  # fmt: skip
    post_body = {**text, "imageFile": binary, "background.imageFile": binary}
    account = {"type": "object", "properties": {"available": {"type": "number"}, "subscription": {"type": "number"}}}
    return {
        "paths": {
            "/v1/segment": {"post": {
                "summary": "Remove the background (Photoroom Basic plan)", "tags": tag, "security": security,
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["image_file"], "properties": segment_body}}}},
                "responses": {"200": {**ok_image, "content": {**IMAGE, "application/json": {"schema": {
                    "type": "object", "properties": {"base64img": {"type": "string"}}}}}},
                    **_errors(SEGMENT_ERROR, 400, 403, 429)},
            }},
            "/v2/edit": {
                "get": {"summary": "Edit an image from its URL (Photoroom Plus plan)", "description": refused,
                        "tags": tag, "security": security, "parameters": get_params, "responses": edit_ok},
                "post": {"summary": "Edit an uploaded image (Photoroom Plus plan)", "description": refused,
                         "tags": tag, "security": security, "responses": edit_ok,
                         "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                             "type": "object", "required": ["imageFile"], "properties": post_body}}}}},
            },
            "/v1/account": {"get": {"summary": "Credits (constant: Cutout does not count images)", "tags": tag,
                                    "security": security, "responses": {"200": {"description": "OK", "content": {
                                        "application/json": {"schema": {"type": "object", "properties": {
                                            "credits": account}}}}}, **_errors(EDIT_ERROR, 400, 403)}}},
            "/v2/account": {"get": {"summary": "Images and plan (constant: Cutout does not count images)",
                                    "tags": tag, "security": security, "responses": {"200": {
                                        "description": "OK", "content": {"application/json": {"schema": {
                                            "type": "object", "properties": {"images": account,
                                                                             "plan": {"type": "string"}}}}}},
                                        **_errors(EDIT_ERROR, 400, 403)}}},
        },
        "components": {"securitySchemes": SECURITY},
    }
