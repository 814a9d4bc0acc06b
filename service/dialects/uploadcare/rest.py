"""Uploadcare's REST API v0.7 (files, storage, metadata, add-ons) and its CDN, over the library."""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ... import engine
from ...errors import APIError, BadRequest, Forbidden, NotAcceptable, NotFound, Unauthorized
from ...library import (
    MAX_METADATA_KEYS,
    ExtensionRequest,
    FileChanges,
    UploadListQuery,
)
from ...models import File, Job, JobStatus, ResultTo
from ...openapi import OBJECT, REMOVE_BG_OPTIONS, Description, Schema, json_content, path_param, query_param
from ...signing import same_text
from .. import common
from ..common import int_param, library, public, services
from .shapes import (
    MAX_METADATA_VALUE,
    base_url,
    clean_uploadcare_metadata,
    file_object,
    metadata_strings,
    parse_uuid,
)

ACCEPT = "application/vnd.uploadcare-v0.7+json"
DATE_WINDOW_SECONDS = 15 * 60
# pyuploadcare writes a comma after the year: "Sat, 21 Nov 2026, 10:08:57 GMT".
PYUPLOADCARE_DATE = "%a, %d %b %Y, %H:%M:%S GMT"
BAD_CREDENTIALS = "Incorrect authentication credentials."
MAX_BATCH = 100
MAX_LIST_LIMIT = 1000
LIST_PARAMS = {"stored", "removed", "limit", "ordering", "from", "include", "offset"}
# pyuploadcare's FileList.count() sends its filters packed into this one parameter, which Uploadcare ignores.
IGNORED_LIST_PARAMS = {"query_parameters"}
# Uploadcare add-on name -> the library's extension
ADDONS = {"remove_bg": "remove-bg"}
ADDON_APPDATA_VERSION = "1.0"
REMOVE_BG_PARAMS = (
    "crop", "crop_margin", "scale", "add_shadow", "type_level", "type", "semitransparency", "channels", "roi",
    "position",
)  # fmt: skip
# The add-on takes remove.bg's snake_case names only: the engine's schema, narrowed to them.
REMOVE_BG_PARAMS_SCHEMA: Schema = {
    **REMOVE_BG_OPTIONS,
    "properties": {name: REMOVE_BG_OPTIONS["properties"][name] for name in REMOVE_BG_PARAMS},
}
ADDON_STATUS = {
    JobStatus.QUEUED: "in_progress",
    JobStatus.RUNNING: "in_progress",
    JobStatus.SUCCEEDED: "done",
    JobStatus.FAILED: "error",
}


def render_error(exc: APIError) -> Response:
    return JSONResponse({"detail": exc.message}, exc.status, headers=exc.headers)


def render_cdn_error(exc: APIError) -> Response:
    """The CDN answers errors in plain text: its clients are browsers and image tags."""
    return PlainTextResponse(exc.message, exc.status, headers=exc.headers)


api = functools.partial(common.endpoint, render=lambda request, exc: render_error(exc))
cdn_api = functools.partial(common.endpoint, render=lambda request, exc: render_cdn_error(exc))


# ---- authentication ------------------------------------------------------------------------


async def versioned_and_signed(request: Request) -> None:
    """Every REST API v0.7 request: the version's Accept header, then Uploadcare's authentication."""
    if request.headers.get("accept", "").strip() != ACCEPT:
        raise NotAcceptable(
            "Incorrect Accept header provided. Make sure to specify API version "
            f"(Accept: {ACCEPT}). Refer to REST API docs for details."
        )
    await authenticate(request)


async def authenticate(request: Request) -> None:
    """`Uploadcare.Simple pub:secret`, or `Uploadcare pub:signature` with a Date within 15 minutes."""
    settings = services(request).settings
    scheme, _, credentials = request.headers.get("authorization", "").strip().partition(" ")
    public_key, _, proof = credentials.strip().partition(":")
    if scheme not in ("Uploadcare.Simple", "Uploadcare") or not public_key or not proof:
        raise Unauthorized(f"{BAD_CREDENTIALS} Send Authorization: Uploadcare.Simple <public key>:<secret key>.")
    secret = settings.uploadcare_secret_key
    if not same_text(public_key, settings.uploadcare_public_key):
        if same_text(public_key, secret):  # named, but never echoed back
            raise Unauthorized("Public key not found: that is the secret key; send <public key>:<secret key>.")
        raise Unauthorized(f"Public key {public_key[:64]} not found.")
    if scheme == "Uploadcare.Simple":
        if not same_text(proof, secret):
            raise Unauthorized(BAD_CREDENTIALS)
        return
    date = request.headers.get("date", "")
    sent = parse_date(date)
    if sent is None:
        raise Unauthorized("The Date header is missing or not an RFC 2822 date; signed requests need it.")
    if abs((datetime.now(UTC) - sent).total_seconds()) > DATE_WINDOW_SECONDS:
        raise Unauthorized("The Date header is more than 15 minutes away from the server's time.")
    expected = signature(request, secret, date, await request.body())
    if not same_text(proof.strip().lower(), expected):
        raise Unauthorized("Invalid signature. Please check your Secret key.")


def signature(request: Request, secret: str, date: str, body: bytes) -> str:
    """hex HMAC-SHA1(secret, METHOD \\n md5(body) \\n Content-Type \\n Date \\n URI with query)."""
    uri = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    if request.scope.get("query_string"):
        uri += "?" + request.scope["query_string"].decode("latin-1")
    parts = [request.method, hashlib.md5(body).hexdigest(), request.headers.get("content-type", ""), date, uri]
    return hmac.new(secret.encode(), "\n".join(parts).encode(), hashlib.sha1).hexdigest()


def parse_date(raw: str) -> datetime | None:
    """pyuploadcare's Date format or RFC 2822, as an aware UTC datetime."""
    try:
        return datetime.strptime(raw.strip(), PYUPLOADCARE_DATE).replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: a day or offset no C int holds
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---- request parsing ---------------------------------------------------------------------------


async def json_body(request: Request) -> Any:
    return await common.json_body(request, want_object=False)


def bool_param(raw: str | None, name: str) -> bool | None:
    if raw is None or raw == "":
        return None
    value = raw.lower()
    if value not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false, got {raw[:20]!r}.")
    return value in ("true", "1")


def iso_param(raw: str | None, name: str) -> str | None:
    """An ISO 8601 date-time, as the library writes them (UTC, milliseconds, `Z`)."""
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
        utc = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves it past year 1 or 9999
        raise BadRequest(f"{name} must be an ISO 8601 date-time such as 2026-01-31T10:00:00Z.") from None
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def uuid_list(body: Any) -> list[str]:
    if not isinstance(body, list) or not all(isinstance(item, str) for item in body):
        raise BadRequest("Expected list of UUIDs")
    if not body:
        raise BadRequest("List of UUIDs can not be empty")
    if len(body) > MAX_BATCH:
        raise BadRequest(f"Maximum UUIDs per request is exceeded. The limit is {MAX_BATCH}")
    return [item.strip().lower() for item in body]


# ---- files -----------------------------------------------------------------------------------


@api(auth=versioned_and_signed)
async def list_files(request: Request) -> Response:
    params = request.query_params
    unknown = sorted(set(params) - LIST_PARAMS - IGNORED_LIST_PARAMS)
    if unknown:
        raise BadRequest(f"Unknown query parameter {unknown[0][:64]!r}; accepted: {', '.join(sorted(LIST_PARAMS))}.")
    ordering = params.get("ordering") or "datetime_uploaded"
    if ordering not in ("datetime_uploaded", "-datetime_uploaded"):
        raise BadRequest("ordering must be datetime_uploaded or -datetime_uploaded.")
    include = params.get("include")
    if include not in (None, "", "appdata"):
        raise BadRequest("include accepts only appdata.")
    query = UploadListQuery(
        removed=bool_param(params.get("removed"), "removed") or False,
        stored=bool_param(params.get("stored"), "stored"),
        since=iso_param(params.get("from"), "from"),
        descending=ordering.startswith("-"),
        limit=int_param(params.get("limit"), "limit", 100, 1, MAX_LIST_LIMIT),
        offset=int_param(params.get("offset"), "offset", 0, 0, 10**9),
    )
    lib = library(request)
    page, total = lib.list_by_upload(query)
    # Pin the starting point, so files uploaded while a client pages do not shift the pages.
    pinned = {**params, "from": query.since or (page[0].created_at if page else None)}
    for name in IGNORED_LIST_PARAMS:
        pinned.pop(name, None)
    nxt = page_url(request, pinned, query.offset + query.limit) if len(page) == query.limit else None
    previous = page_url(request, pinned, max(0, query.offset - query.limit)) if query.offset else None
    return JSONResponse(
        {
            "next": nxt,
            "previous": previous,
            "total": total,
            "totals": lib.upload_totals(),
            "per_page": query.limit,
            "results": [file_object(base_url(request), f, include_appdata=include == "appdata") for f in page],
        }
    )


def page_url(request: Request, params: dict[str, Any], offset: int) -> str:
    query = {k: v for k, v in {**params, "offset": offset}.items() if v is not None}
    return f"{services(request).settings.base_url}/files/?{urlencode(query)}"


@api(auth=versioned_and_signed)
async def get_file(request: Request) -> Response:
    include = request.query_params.get("include")
    if include not in (None, "", "appdata"):
        raise BadRequest("include accepts only appdata.")
    file = library(request).get_live_or_removed(parse_uuid(request.path_params["uuid"], "uuid"))
    return JSONResponse(file_object(base_url(request), file, include_appdata=include == "appdata"))


@api(auth=versioned_and_signed)
async def store_file(request: Request) -> Response:
    file = await library(request).store(parse_uuid(request.path_params["uuid"], "uuid"))
    return JSONResponse(file_object(base_url(request), file))


@api(auth=versioned_and_signed)
async def remove_file(request: Request) -> Response:
    file = await library(request).remove(parse_uuid(request.path_params["uuid"], "uuid"))
    return JSONResponse(file_object(base_url(request), file))


@api(auth=versioned_and_signed)
async def store_files(request: Request) -> Response:
    files, problems = await library(request).store_many(uuid_list(await json_body(request)))
    return JSONResponse({"status": "ok", "problems": problems, "result": [file_object(base_url(request), f) for f in files]})


@api(auth=versioned_and_signed)
async def remove_files(request: Request) -> Response:
    files, problems = await library(request).remove_many(uuid_list(await json_body(request)))
    return JSONResponse({"status": "ok", "problems": problems, "result": [file_object(base_url(request), f) for f in files]})


# ---- metadata --------------------------------------------------------------------------------


@api(auth=versioned_and_signed)
async def get_metadata(request: Request) -> Response:
    file = library(request).get_by_uuid(parse_uuid(request.path_params["uuid"], "uuid"))
    return JSONResponse(metadata_strings(file))


def metadata_key(request: Request) -> str:
    key = request.path_params["key"]
    clean_uploadcare_metadata({key: "x"})
    return key


@api(auth=versioned_and_signed)
async def get_metadata_key(request: Request) -> Response:
    key = metadata_key(request)
    file = library(request).get_by_uuid(parse_uuid(request.path_params["uuid"], "uuid"))
    values = metadata_strings(file)
    if key not in values:
        raise NotFound(f"The file has no metadata key {key!r}.")
    return JSONResponse(values[key])


@api(auth=versioned_and_signed)
async def put_metadata_key(request: Request) -> Response:
    key = metadata_key(request)
    value = await json_body(request)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_METADATA_VALUE:
        raise BadRequest(f"The value of metadata key {key!r} must be a JSON string of 1 to {MAX_METADATA_VALUE} characters.")
    lib = library(request)
    file = lib.get_by_uuid(parse_uuid(request.path_params["uuid"], "uuid"))
    if key not in file.custom_metadata and len(file.custom_metadata) >= MAX_METADATA_KEYS:
        raise BadRequest(f"A file can not have more than {MAX_METADATA_KEYS} metadata keys.")
    await lib.update(file.id, FileChanges(custom_metadata={key: value}))
    return JSONResponse(value, 200 if key in file.custom_metadata else 201)


@api(auth=versioned_and_signed)
async def delete_metadata_key(request: Request) -> Response:
    key = metadata_key(request)
    lib = library(request)
    file = lib.get_by_uuid(parse_uuid(request.path_params["uuid"], "uuid"))
    if key not in file.custom_metadata:
        raise NotFound(f"The file has no metadata key {key!r}.")
    await lib.update(file.id, FileChanges(custom_metadata={key: None}))
    return Response(status_code=204)


# ---- add-ons ----------------------------------------------------------------------------------


def addon_extension(request: Request) -> str:
    name = request.path_params["addon"]
    if name not in ADDONS:
        raise BadRequest(
            f"The add-on {name[:64]!r} is not available on this server; available: {', '.join(ADDONS)}."
        )
    return ADDONS[name]


def addon_result_labels(job: Job, source: File, now: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An add-on's result file: appdata under the add-on's name, and the add-on run as what caused it."""
    addon = next((name for name, extension in ADDONS.items() if extension == job.extension), job.extension)
    appdata = {addon: {"version": ADDON_APPDATA_VERSION, "datetime_created": now, "datetime_updated": now, "data": {}}}
    detail = {"addon_name": addon, "request_id": job.id, "source_file_uuid": source.uuid}
    return appdata, {"type": "addon", "detail": detail}


def remove_bg_options(raw: object) -> dict[str, Any]:
    """The remove_bg `params` parsed by the engine before anything is queued: the edit's JSON."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise BadRequest("params must be an object.")
    for key in raw:
        if key not in REMOVE_BG_PARAMS:
            raise BadRequest(f"params.{str(key)[:64]} is not a remove_bg parameter; use {', '.join(REMOVE_BG_PARAMS)}.")
    try:
        edit = engine.remove_bg_edit(raw)
    except engine.OptionError as exc:
        raise BadRequest(f"params.{exc.option}: {exc.reason}.") from None
    return engine.edit_to_json(edit)


@api(auth=versioned_and_signed)
async def execute_addon(request: Request) -> Response:
    extension = addon_extension(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("Expected JSON object.")
    unknown = sorted(set(body) - {"target", "params"})
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0][:64]!r}; send target and params.")
    if not isinstance(body.get("target"), str):
        raise BadRequest("target is required: the UUID of the file to process.")
    target = parse_uuid(body["target"], "target")
    options = remove_bg_options(body.get("params"))
    request_id = str(uuid.uuid4())
    job = await library(request).run_addon(
        target,
        ExtensionRequest(name=extension, options=options, dialect="uploadcare", job_id=request_id,
                         result_to=ResultTo.FILE),  # an add-on leaves its source as it is
    )  # fmt: skip
    return JSONResponse({"request_id": job.id})


@api(auth=versioned_and_signed)
async def addon_status(request: Request) -> Response:
    addon_extension(request)
    request_id = parse_uuid(request.query_params.get("request_id"), "request_id")
    found = library(request).addon_job(request_id)
    if found is None:
        return JSONResponse({"status": "unknown"})
    job, result_uuid = found
    body: dict[str, Any] = {"status": ADDON_STATUS[job.status]}
    if job.status == JobStatus.SUCCEEDED:
        body["result"] = {"file_id": result_uuid}
    elif job.status == JobStatus.FAILED:
        body["error"] = job.error_message
    return JSONResponse(body)


# ---- CDN ------------------------------------------------------------------------------------------


@cdn_api(auth=public("the library's read policy: the CDN serves what needs no signed URL"))
async def cdn(request: Request) -> Response:
    """The current bytes of a file; a trailing file name is ignored, processing operations are refused."""
    rest = request.path_params.get("rest", "")
    if rest.startswith("-/"):
        raise BadRequest("CDN processing operations (/-/...) are not supported by this server.")
    try:
        file = library(request).get_by_uuid(parse_uuid(request.path_params["uuid"], "uuid"))
    except NotFound:
        raise NotFound("Not found.") from None
    refused = Forbidden("This file is private: open it with an ImageKit signed URL.")
    try:
        return await common.serve_version(request, file, file.version, signed=False, refused=refused)
    except NotFound:  # deleted since it was looked up
        raise NotFound("Not found.") from None


routes = [
    Route("/files/", list_files, methods=["GET"]),
    Route("/files/storage/", store_files, methods=["PUT"]),
    Route("/files/storage/", remove_files, methods=["DELETE"]),
    Route("/files/{uuid}/", get_file, methods=["GET"]),
    Route("/files/{uuid}/storage/", store_file, methods=["PUT"]),
    Route("/files/{uuid}/storage/", remove_file, methods=["DELETE"]),
    Route("/files/{uuid}/metadata/", get_metadata, methods=["GET"]),
    Route("/files/{uuid}/metadata/{key}/", get_metadata_key, methods=["GET"]),
    Route("/files/{uuid}/metadata/{key}/", put_metadata_key, methods=["PUT"]),
    Route("/files/{uuid}/metadata/{key}/", delete_metadata_key, methods=["DELETE"]),
    Route("/addons/{addon}/execute/", execute_addon, methods=["POST"]),
    Route("/addons/{addon}/execute/status/", addon_status, methods=["GET"]),
]
cdn_routes = [
    Route("/cdn/{uuid}/", cdn, methods=["GET"]),
    Route("/cdn/{uuid}/{rest:path}", cdn, methods=["GET"]),
]


# ---- description ------------------------------------------------------------------------

UC_ERROR: Schema = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
UC_ACCEPT = {
    "name": "Accept",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "enum": ["application/vnd.uploadcare-v0.7+json"]},
}
UC_FILE: Schema = {
    "type": "object",
    "required": ["uuid", "datetime_uploaded", "is_image", "is_ready", "mime_type", "original_filename", "size"],
    "properties": {
        "uuid": {"type": "string", "format": "uuid"},
        "datetime_uploaded": {"type": "string"},
        "datetime_stored": {"type": ["string", "null"]},
        "datetime_removed": {"type": ["string", "null"]},
        "is_image": {"type": "boolean"},
        "is_ready": {"type": "boolean"},
        "mime_type": {"type": "string"},
        "original_file_url": {"type": ["string", "null"]},
        "original_filename": {"type": "string"},
        "size": {"type": "integer"},
        "url": {"type": "string"},
        "variations": {"type": ["object", "null"]},
        "content_info": {"type": "object"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "appdata": {"type": "object"},
    },
}
def rest_operation(
    summary: str, ok: tuple[int, Schema | None], *, params: list[dict[str, Any]] | None = None,
    body: Schema | None = None, errors: tuple[int, ...] = (400, 401, 404, 406), more: dict[int, Schema] | None = None,
) -> dict[str, Any]:
    """An Uploadcare REST v0.7 operation: version Accept header, Uploadcare auth, `{"detail"}` errors."""
    status, schema = ok
    responses: dict[str, Any] = {str(status): {"description": "OK", **(json_content(schema) if schema else {})}}
    for code, other in (more or {}).items():
        responses[str(code)] = {"description": "OK", **json_content(other)}
    for code in errors:
        responses[str(code)] = {"description": "Error", **json_content(UC_ERROR)}
    op: dict[str, Any] = {
        "summary": summary, "tags": ["Uploadcare REST"], "responses": responses,
        "parameters": [UC_ACCEPT, *(params or [])], "security": [{"uploadcare": []}],
    }  # fmt: skip
    if body is not None:
        op["requestBody"] = {"required": True, **json_content(body)}
    return op


def describe() -> Description:
    """The OpenAPI paths of these routes and of the CDN's."""
    file_uuid = path_param("uuid", {"type": "string", "format": "uuid"})
    key = path_param("key", {"type": "string", "pattern": "^[A-Za-z0-9_\\-.:]{1,64}$"})
    # Other add-on names are answered with a 400 that they are not available here.
    addon = path_param("addon", {"type": "string", "enum": ["remove_bg"]})
    uuids: Schema = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 100}
    batch: Schema = {"type": "object", "properties": {"status": {"type": "string"}, "problems": OBJECT,
                                                      "result": {"type": "array", "items": UC_FILE}}}  # fmt: skip
    flag: Schema = {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[01])$"}  # any case
    include = query_param("include", {"type": "string", "enum": ["appdata"]}, empty=True)
    listing = [
        query_param("stored", flag, empty=True),
        query_param("removed", flag, empty=True),
        query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
        query_param("ordering", {"type": "string", "enum": ["datetime_uploaded", "-datetime_uploaded"]}, empty=True),
        query_param("from", {"type": "string", "format": "date-time"}, empty=True),
        query_param("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}),  # in `next` and `previous`
        include,
    ]

    def cdn_bytes(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "summary": "A file's bytes", "tags": ["Uploadcare CDN"], "parameters": params,
            "responses": {"200": {"description": "The file"}, "400": {"description": "Bad request"},
                          "403": {"description": "Private"}, "404": {"description": "Unknown"}},
        }  # fmt: skip

    return {
        "components": {"securitySchemes": {"uploadcare": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "Uploadcare.Simple <public key>:<secret key>, or the signed Uploadcare scheme",
        }}},
        "paths": {
            "/files/": {"get": rest_operation("List files", (200, {
                "type": "object", "required": ["results"],
                "properties": {"next": {"type": ["string", "null"]}, "previous": {"type": ["string", "null"]},
                               "total": {"type": "integer"}, "totals": OBJECT, "per_page": {"type": "integer"},
                               "results": {"type": "array", "items": UC_FILE}},
            }), params=listing)},  # fmt: skip
            "/files/storage/": {
                "put": rest_operation("Store up to 100 files", (200, batch), body=uuids),
                "delete": rest_operation("Delete up to 100 files", (200, batch), body=uuids),
            },
            "/files/{uuid}/": {"get": rest_operation("File info", (200, UC_FILE),
                                               params=[file_uuid, include])},  # fmt: skip
            "/files/{uuid}/storage/": {
                "put": rest_operation("Store a file", (200, UC_FILE), params=[file_uuid]),
                "delete": rest_operation("Delete a file", (200, UC_FILE), params=[file_uuid]),
            },
            "/files/{uuid}/metadata/": {"get": rest_operation("A file's metadata", (200, OBJECT), params=[file_uuid])},
            "/files/{uuid}/metadata/{key}/": {
                "get": rest_operation("One metadata value", (200, {"type": "string"}), params=[file_uuid, key]),
                "put": rest_operation("Set one metadata value: 200 when the key existed, 201 when it is new",
                                (200, {"type": "string"}), more={201: {"type": "string"}}, params=[file_uuid, key],
                                body={"type": "string", "minLength": 1, "maxLength": 512}),  # fmt: skip
                "delete": rest_operation("Delete one metadata key", (204, None), params=[file_uuid, key]),
            },
            "/addons/{addon}/execute/": {"post": rest_operation(
                "Run an add-on (remove_bg)",
                (200, {"type": "object", "properties": {"request_id": {"type": "string"}}}),
                params=[addon], errors=(400, 401, 404, 406, 429),
                body={"type": "object", "required": ["target"],
                      "properties": {"target": {"type": "string", "format": "uuid"}, "params": REMOVE_BG_PARAMS_SCHEMA}},
            )},  # fmt: skip
            "/addons/{addon}/execute/status/": {"get": rest_operation(
                "An add-on request's status", (200, {"type": "object", "required": ["status"], "properties": {
                    "status": {"type": "string", "enum": ["in_progress", "error", "done", "unknown"]},
                    "result": OBJECT}}),
                params=[addon, query_param("request_id", {"type": "string", "format": "uuid"}, required=True)],
            )},  # fmt: skip
            "/cdn/{uuid}/": {"get": cdn_bytes([file_uuid])},
            "/cdn/{uuid}/{filename}": {"get": cdn_bytes([file_uuid, path_param("filename")])},
        },
    }  # fmt: skip
