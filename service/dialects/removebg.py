"""remove.bg's API: `POST /v1.0/removebg` answers with the cut-out itself, `GET /v1.0/account` with the balance.

The key is the `X-Api-Key` header (`settings.removebg_api_key`); errors are
`{"errors": [{"title", "code", "detail"}]}` with remove.bg's codes. The
options are remove.bg's (the engine's remove-bg grammar) plus what only this
API has: `size`, `format=zip`, the three image sources and `bg_image_file`.
Every parameter is checked before anything is fetched or decoded; the
cut-out runs in the synchronous lane (sync.py), ahead of queued jobs, and
nothing is stored. The README's "remove.bg API" section says what each
parameter does here.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import engine
from ..egress import EgressBlocked
from ..errors import APIError, BadRequest, Forbidden, PayloadTooLarge
from ..openapi import REMOVE_BG_OPTIONS, Description, Schema, json_content
from ..signing import same_text
from . import common
from .common import disconnected, json_body, read_form, services, wants_json

PREFIX = "/v1.0/"
# remove.bg's sizes -> the most pixels a result may have (None: the photo's own resolution).
PREVIEW_PIXELS = 250_000
SIZES: dict[str, int | None] = {
    "preview": PREVIEW_PIXELS,
    "small": PREVIEW_PIXELS,
    "regular": PREVIEW_PIXELS,
    "medium": 1_500_000,
    "hd": 4_000_000,
    "full": None,
    "4k": None,
    "50MP": None,
    "auto": None,
}
DEFAULT_SIZE = "preview"
FORMATS = ("auto", "png", "jpg", "webp", "zip")
SHADOW_METHODS = ("latest", "legacy")
SOURCES = ("image_file", "image_file_b64", "image_url")
BACKGROUNDS = ("bg_color", "bg_image_url", "bg_image_file")
FILES = ("image_file", "bg_image_file")
# Passed to the engine's remove-bg parser as they are (format after zip is taken out).
ENGINE_OPTIONS = (
    "type", "type_level", "roi", "crop", "crop_margin", "scale", "position", "channels", "add_shadow",
    "semitransparency", "bg_color", "bg_image_url", "format",
)  # fmt: skip
PARAMETERS = frozenset({*ENGINE_OPTIONS, *SOURCES, "bg_image_file", "size", "shadow_method"})
CREDITS_CHARGED = "0"  # Cutout sells no credits: nothing is ever charged
NO_FOREGROUND = "Could not identify foreground in image. For details and recommendations see https://www.remove.bg/supported-images."
TITLES = {400: "Invalid parameters", 403: "Authentication failed", 404: "Not found", 405: "Method not allowed",
          408: "Request timeout", 429: "Rate limit exceeded", 500: "Internal server error"}  # fmt: skip
CODES = {400: "invalid_request", 403: "auth_failed", 404: "not_found", 405: "method_not_allowed",
         408: "request_timeout", 429: "rate_limit_exceeded", 500: "unknown_error"}  # fmt: skip


def refused(code: str, title: str, detail: str, *, field: str | None = None) -> BadRequest:
    """A 400 with remove.bg's code and title; `detail` says what was wrong, naming the parameter."""
    return BadRequest(detail, field=field, extra={"code": code, "title": title})


def invalid(name: str, reason: str) -> BadRequest:
    return refused(f"invalid_{name}", f"Invalid {name} parameter given", f"{name}: {reason}", field=name)


def render(exc: APIError) -> Response:
    """Every error in remove.bg's shape; a body over the limit is its 400 file_too_large."""
    status, code, title = exc.status, exc.extra.get("code"), exc.extra.get("title")
    if isinstance(exc, PayloadTooLarge):
        status, code, title = 400, "file_too_large", "File too large"
    error = {
        "title": str(title or TITLES.get(status, "Error")),
        "code": str(code or CODES.get(status, "unknown_error")),
        "detail": exc.message,
    }
    return JSONResponse({"errors": [error]}, status, headers=exc.headers)


def render_error(request: Request, exc: APIError) -> Response | None:
    """An error raised outside an endpoint (routing, the body cap) on this dialect's paths; None elsewhere."""
    return render(exc) if request.url.path.startswith(PREFIX) else None


api = functools.partial(common.endpoint, render=lambda request, exc: render(exc))


async def api_key(request: Request) -> None:
    """remove.bg's `X-Api-Key` header."""
    key = request.headers.get("x-api-key")
    if not key:
        raise Forbidden("Send your API key in the X-Api-Key header.",
                        extra={"code": "auth_failed", "title": "Missing API Key"})  # fmt: skip
    if not same_text(key, services(request).settings.removebg_api_key):
        raise Forbidden("The API key in the X-Api-Key header is not valid.",
                        extra={"code": "auth_failed", "title": "API Key invalid"})  # fmt: skip


# ---- request -----------------------------------------------------------------------------------


async def read_params(request: Request) -> tuple[dict[str, object], dict[str, UploadFile]]:
    """The parameters of a JSON, urlencoded or multipart body; files only as multipart parts."""
    if request.headers.get("content-type", "").startswith("application/json"):
        params: dict[str, object] = dict(await json_body(request, want_object=True))
        _check_names(params, {}, [])
        return params, {}
    limit = services(request).settings.max_upload_bytes
    form = await read_form(
        request, max_files=len(FILES), max_fields=len(PARAMETERS), max_part_size=2 * limit,
        not_a_form="Send the parameters as multipart/form-data, application/x-www-form-urlencoded or JSON.",
        unreadable="The request body could not be read: ", detail_only=True,
    )  # fmt: skip
    files: dict[str, UploadFile] = {}
    params = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            files.setdefault(name, value)
        else:
            params.setdefault(name, value)
    try:
        _check_names(params, files, form.multi_items())
    except APIError:
        await form.close()
        raise
    return params, files


def _check_names(params: Mapping[str, object], files: Mapping[str, UploadFile], items: list[tuple[str, Any]]) -> None:
    """Only remove.bg's parameters, each once, files only where it takes a file."""
    names = [name for name, _ in items]
    for name in names:
        if names.count(name) > 1:
            raise refused("invalid_request", "Parameter given twice", f"{name[:64]} is given twice.", field=name[:64])
    for name in [*params, *files]:
        if name not in PARAMETERS:
            raise refused("unknown_parameter", "Unknown parameter",
                          f"{name[:64]!r} is not a parameter of this API; see /openapi.json.", field=name[:64])  # fmt: skip
    for name in files:
        if name not in FILES:
            raise refused("invalid_request", "Not a file parameter",
                          f"{name} must be a text field, not a file.", field=name)  # fmt: skip
    for name in FILES:
        if name in params and params[name] not in (None, ""):
            raise refused("invalid_request", "File parameter sent as text",
                          f"{name} must be a file part of a multipart body.", field=name)  # fmt: skip


def text(params: Mapping[str, object], name: str) -> str | None:
    """A string parameter; None when absent or empty (as remove.bg's clients send unset options)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(name, f"expected a string, got {str(value)[:64]!r}")
    return value.strip()


def given(params: Mapping[str, object], files: Mapping[str, UploadFile], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in files or params.get(name) not in (None, "")]


def choice(params: Mapping[str, object], name: str, allowed: Iterable[str], default: str) -> str:
    """One of `allowed`, in any case, as `allowed` spells it; `default` when not given."""
    value = text(params, name)
    if value is None:
        return default
    spelled = {option.lower(): option for option in allowed}
    if value.lower() not in spelled:
        raise invalid(name, f"expected one of {', '.join(spelled.values())}, got {value[:64]!r}")
    return spelled[value.lower()]


def build_edit(params: Mapping[str, object], *, has_bg_file: bool) -> engine.Edit:
    """The engine's edit for these parameters: remove-bg options, then remove.bg's size and zip on the output."""
    size = choice(params, "size", SIZES, DEFAULT_SIZE)
    choice(params, "shadow_method", SHADOW_METHODS, "latest")  # one shadow look here: validated only
    fmt = choice(params, "format", (*FORMATS, "jpeg"), "auto")
    options = {name: params[name] for name in ENGINE_OPTIONS if name in params}
    options["format"] = "png" if fmt == "zip" else fmt
    try:
        edit = engine.remove_bg_edit(options, has_bg_image=has_bg_file)
    except engine.OptionError as exc:
        raise invalid(exc.option, exc.reason) from None
    output = replace(edit.output, format="zip" if fmt == "zip" else edit.output.format, max_pixels=SIZES[size])
    steps = tuple(step for step in edit.steps if not isinstance(step, engine.Encode))
    return engine.Edit((*steps, engine.Encode(output)))


def decoded_b64(value: str, limit: int) -> bytes:
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise refused("failed_to_read_image", "There was an error reading the image.",
                      "image_file_b64 is not valid base64.", field="image_file_b64") from None  # fmt: skip
    return within_limit(data, limit, "image_file_b64")


def within_limit(data: bytes, limit: int, name: str) -> bytes:
    if len(data) > limit:
        raise refused("file_too_large", "File too large",
                      f"{name}: file exceeds limit of {limit / 1_000_000:g} MB.", field=name)  # fmt: skip
    return data


async def fetched(request: Request, url: str, name: str, code: str, what: str) -> bytes:
    limit = services(request).settings.max_upload_bytes
    try:
        return await services(request).egress.fetch(url, max_bytes=limit)
    except EgressBlocked as exc:
        raise refused(code, f"Failed to download {what} from given {name}: {url[:200]}",
                      f"{name}: {exc.message}", field=name) from None  # fmt: skip


def allowed_url(request: Request, url: str, name: str) -> str:
    """A URL the egress rules let us fetch (checked now, before anything is fetched)."""
    try:
        return services(request).egress.check_given(url, name)
    except BadRequest as exc:
        raise refused(f"invalid_{name}", f"Invalid {name}: Please provide a valid URL.", exc.message,
                      field=name) from None  # fmt: skip


def image_refused(exc: engine.ImageRejected) -> BadRequest:
    """The engine's word on bytes it will not decode, with remove.bg's code for it."""
    if exc.kind == "format":
        return refused("invalid_file_type", "Invalid file type", exc.message)
    if exc.kind == "too_large":
        return refused("resolution_too_high", "Image resolution too high", exc.message)
    return refused("failed_to_read_image", "There was an error reading the image.", exc.message)


# ---- routes ------------------------------------------------------------------------------------


@api(auth=api_key)
async def remove_background(request: Request) -> Response:
    params, files = await read_params(request)
    try:
        return await _cut_out(request, params, files)
    finally:
        for upload in files.values():
            await upload.close()


async def _cut_out(request: Request, params: dict[str, object], files: dict[str, UploadFile]) -> Response:
    sources = given(params, files, SOURCES)
    if not sources:
        raise refused("missing_source", "No image given",
                      "Please provide the source image in the image_url, image_file or image_file_b64 parameter.")  # fmt: skip
    if len(sources) > 1:
        raise refused("multiple_sources", "Multiple image sources given",
                      f"{sources[0]} and {sources[1]} are both given: provide exactly one of image_url, "
                      "image_file or image_file_b64.", field=sources[1])  # fmt: skip
    backgrounds = given(params, files, BACKGROUNDS)
    if len(backgrounds) > 1:
        raise refused("multiple_bg_sources", "Multiple background sources given",
                      f"{backgrounds[0]} and {backgrounds[1]} are both given: provide at most one of bg_color, "
                      "bg_image_url or bg_image_file.", field=backgrounds[1])  # fmt: skip
    edit = build_edit(params, has_bg_file="bg_image_file" in files)
    image_url = allowed_url(request, text(params, "image_url") or "", "image_url") if "image_url" in sources else None
    bg_url = allowed_url(request, edit.background_url, "bg_image_url") if edit.background_url else None
    limit = services(request).settings.max_upload_bytes
    b64 = text(params, "image_file_b64")
    if b64 is not None:
        data = decoded_b64(b64, limit)
    elif image_url is not None:
        data = await fetched(request, image_url, "image_url", "failed_image_download", "image")
    else:
        data = within_limit(await files["image_file"].read(), limit, "image_file")
    background = None
    if bg_url is not None:
        background = await fetched(request, bg_url, "bg_image_url", "failed_bg_download", "background image")
    elif "bg_image_file" in files:
        background = within_limit(await files["bg_image_file"].read(), limit, "bg_image_file")
    try:
        result = await services(request).runner.sync.run(
            edit, data, background=background, gone=lambda: disconnected(request)
        )
    except engine.ImageRejected as exc:
        raise image_refused(exc) from None
    except engine.OptionError as exc:
        raise invalid(exc.option, exc.reason) from None
    return answer(request, result)


def answer(request: Request, result: engine.Result) -> Response:
    if result.foreground is None:
        raise refused("unknown_foreground", NO_FOREGROUND, "The model found no subject in the image.")
    left, top, width, height = result.foreground
    headers = {
        "X-Width": str(result.width),
        "X-Height": str(result.height),
        "X-Foreground-Top": str(top),
        "X-Foreground-Left": str(left),
        "X-Foreground-Width": str(width),
        "X-Foreground-Height": str(height),
        "X-Credits-Charged": CREDITS_CHARGED,
    }
    if wants_json(request):
        data = {
            "result_b64": base64.b64encode(result.data).decode(),
            "foreground_top": top,
            "foreground_left": left,
            "foreground_width": width,
            "foreground_height": height,
        }
        return JSONResponse({"data": data}, headers=headers)
    return Response(result.data, media_type=result.mime, headers=headers)


@api(auth=api_key)
async def account(request: Request) -> Response:
    """No credits are sold or spent here; `free_calls` is the cut-outs that could start at once (free workers)."""
    credits = {"total": 0, "subscription": 0, "payg": 0, "enterprise": 0}
    free = services(request).runner.slots.free
    return JSONResponse({"data": {"attributes": {"credits": credits, "api": {"free_calls": free, "sizes": "all"}}}})


routes = [
    Route("/v1.0/removebg", remove_background, methods=["POST"]),
    Route("/v1.0/account", account, methods=["GET"]),
]


# ---- description -------------------------------------------------------------------------------

ERRORS: Schema = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "code"],
                "properties": {"title": {"type": "string"}, "code": {"type": "string"}, "detail": {"type": "string"}},
            },
        }
    },
}


def _given_or_not(schema: Schema) -> Schema:
    """Empty values (null, "") mean "not given", as remove.bg's clients send unset options."""
    return {"anyOf": [schema, {"type": "null"}, {"const": ""}]}


def _parameters() -> dict[str, Schema]:
    """Every text parameter: the engine's remove-bg options as its parser table describes them, and this API's own."""
    shared = {name: REMOVE_BG_OPTIONS["properties"][name] for name in ENGINE_OPTIONS if name != "format"}
    own: dict[str, Schema] = {
        "image_file_b64": {"type": "string", "description": "The photo, base64-encoded."},
        "image_url": {"type": "string", "format": "uri", "description": "An http(s) URL of the photo."},
        "size": {"type": "string", "enum": list(SIZES), "default": DEFAULT_SIZE,
                 "description": "Most pixels of the result: preview/small/regular 0.25 MP, medium 1.5 MP, hd 4 MP; "
                 "full/4k/50MP/auto the photo's resolution. Bigger results are scaled down."},
        "format": {"type": "string", "enum": [*FORMATS, "jpeg"], "default": "auto",
                   "description": "auto: jpg when opaque, else png; zip: color.jpg and alpha.png."},
        "shadow_method": {"type": "string", "enum": list(SHADOW_METHODS),
                          "description": "Validated; changes nothing (one shadow look)."},
    }  # fmt: skip
    return {**shared, **{name: _given_or_not(schema) for name, schema in own.items()}}


def describe() -> Description:
    """The OpenAPI paths of these routes."""
    tag = "remove.bg"
    security: list[dict[str, list[str]]] = [{"removebgApiKey": []}]
    options = _parameters()
    binary = {"type": "string", "format": "binary"}
    multipart = {"image_file": binary, "bg_image_file": binary, **options}
    body = {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": multipart, "additionalProperties": False}},
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": options, "additionalProperties": False}
            },
            "application/json": {"schema": {"type": "object", "properties": options, "additionalProperties": False}},
        },
    }
    box = {f"X-Foreground-{side}": {"schema": {"type": "integer"}} for side in ("Top", "Left", "Width", "Height")}
    headers = {"X-Width": {"schema": {"type": "integer"}}, "X-Height": {"schema": {"type": "integer"}}, **box,
               "X-Credits-Charged": {"schema": {"type": "number"}, "description": "Always 0."}}  # fmt: skip
    result: Schema = {
        "type": "object",
        "properties": {"data": {"type": "object", "properties": {
            "result_b64": {"type": "string"},
            **{f"foreground_{side}": {"type": "integer"} for side in ("top", "left", "width", "height")},
        }}},
    }  # fmt: skip
    errors = {str(code): {"description": TITLES[code], **json_content(ERRORS)} for code in (400, 403, 429)}
    balance: Schema = {"type": "object", "properties": {"data": {"type": "object", "properties": {
        "attributes": {"type": "object", "properties": {
            "credits": {"type": "object", "properties": {k: {"type": "number"} for k in
                                                         ("total", "subscription", "payg", "enterprise")}},
            "api": {"type": "object", "properties": {"free_calls": {"type": "integer"}, "sizes": {"type": "string"}}},
        }}}}}}  # fmt: skip
    return {
        "paths": {
            "/v1.0/removebg": {"post": {
                "summary": "Remove the background of an image (remove.bg)", "tags": [tag], "security": security,
                "requestBody": body,
                "responses": {"200": {"description": "The result image (JSON with Accept: application/json)",
                                      "headers": headers,
                                      "content": {"image/*": {"schema": {"type": "string", "format": "binary"}},
                                                  "application/zip": {"schema": {"type": "string", "format": "binary"}},
                                                  **json_content(result)["content"]}},
                              **errors},
            }},
            "/v1.0/account": {"get": {
                "summary": "Credit balance (remove.bg): no credits are sold here", "tags": [tag], "security": security,
                "responses": {"200": {"description": "OK", **json_content(balance)},
                              "403": errors["403"]},
            }},
        },
        "components": {"securitySchemes": {"removebgApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}},
    }  # fmt: skip
