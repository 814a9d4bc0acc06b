"""Uploadcare's Upload API: direct, from-URL and multipart uploads, and upload info.

Errors are text/plain, as Uploadcare's are, or `{"error": {...}}` with `?jsonerrors=1`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import math
import time
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ...errors import APIError, BadRequest, Forbidden, NotFound
from ...jobs import IMPORTS_AT_ONCE
from ...library import MAX_NAME_LENGTH, NewFile, clean_file_name, clean_tags, looks_like_uuid, whole_number
from ...models import JobStatus
from ...openapi import OBJECT, Description, Schema, json_content, path_param, query_param
from ...settings import Settings
from ...signing import same_text
from .. import common
from ..common import library, public, services
from .shapes import clean_uploadcare_metadata, parse_uuid, upload_info

MULTIPART_MIN_SIZE = 10 * 1024 * 1024
PART_SIZE = 5 * 1024 * 1024
PART_URL_SECONDS = 3600
SESSION_SECONDS = 24 * 3600
URL_STATUS_SECONDS = 3600
FETCHES_AT_ONCE = IMPORTS_AT_ONCE
MAX_FILES = 20
BAD_PART_URL = "The part URL is invalid or has expired; start the multipart upload again."
COMMON_FIELDS = {"signature", "expire", "tags", "source"}
BASE_FIELDS = {"UPLOADCARE_PUB_KEY", "UPLOADCARE_STORE", *COMMON_FIELDS}
FROM_URL_FIELDS = {
    "pub_key", "source_url", "store", "filename", "check_URL_duplicates", "save_URL_duplicates", *COMMON_FIELDS,
}  # fmt: skip
MULTIPART_START_FIELDS = {"filename", "size", "content_type", "part_size", *BASE_FIELDS}

# ---- errors --------------------------------------------------------------------------


def render_error(request: Request, exc: APIError) -> Response:
    if request.query_params.get("jsonerrors") == "1":
        error: dict[str, Any] = {"status_code": exc.status, "content": exc.message}
        if "error_code" in exc.extra:
            error["error_code"] = exc.extra["error_code"]
        return JSONResponse({"error": error}, exc.status, headers=exc.headers)
    return PlainTextResponse(exc.message, exc.status, headers=exc.headers)


api = functools.partial(common.endpoint, render=render_error)
# The Upload API is called from browsers with the public key: it is in the form, checked first by the handler.
KEY_IN_FORM = public("the form carries the public key (and a signature when required); the handler checks them first")


async def key_in_query(request: Request) -> None:
    check_public_key(request, request.query_params.get("pub_key"), "pub_key")


# ---- form fields -----------------------------------------------------------------------


async def read_form(request: Request) -> FormData:
    return await common.read_form(
        request, max_files=MAX_FILES, max_fields=200, max_part_size=services(request).settings.max_upload_bytes + 1024,
        not_a_form="HTTP POST request parsing failed: send multipart/form-data or a urlencoded form.",
        unreadable="HTTP POST request parsing failed: ", detail_only=True,
    )  # fmt: skip


def text(form: FormData, name: str) -> str | None:
    return common.text_field(form, name, refuse_nul=True)


def check_fields(form: FormData, allowed: set[str]) -> None:
    for name, value in form.multi_items():
        if isinstance(value, str) and name not in allowed and not _metadata_key(name):
            raise BadRequest(f"Unknown field {name[:64]!r}.", field=name[:64])


def _metadata_key(name: str) -> str | None:
    return name[len("metadata[") : -1] if name.startswith("metadata[") and name.endswith("]") else None


def check_public_key(request: Request, key: str | None, name: str) -> None:
    if not key:
        raise Forbidden(f"{name} is required.", field=name, extra={"error_code": "UploadcarePublicKeyRequiredError"})
    if not same_text(key, services(request).settings.uploadcare_public_key):
        raise Forbidden(f"{name} is invalid.", field=name, extra={"error_code": "UploadcarePublicKeyInvalidError"})


def check_signature(request: Request, form: FormData) -> None:
    """Signed uploads: `signature` = hex HMAC-SHA256(secret key, `expire`), before `expire` (unix seconds).
    Optional unless CUTOUT_UPLOADCARE_SIGNED_UPLOADS is `required`; one that is sent is always checked."""
    signature, expire = text(form, "signature"), text(form, "expire")
    if signature is None and expire is None and services(request).settings.uploadcare_signed_uploads != "required":
        return
    if not signature:
        raise BadRequest("`signature` is required.", field="signature", extra={"error_code": "SignatureRequiredError"})
    if not expire:
        raise BadRequest("`expire` is required.", field="expire", extra={"error_code": "SignatureExpirationRequiredError"})
    expires = whole_number(expire)
    if expires is None:
        raise BadRequest(
            "`expire` must be a UNIX timestamp.", field="expire", extra={"error_code": "SignatureExpirationInvalidError"}
        )
    if expires < time.time():
        raise Forbidden("Expired signature.", field="expire", extra={"error_code": "SignatureExpirationError"})
    secret = services(request).settings.uploadcare_secret_key.encode()
    expected = hmac.new(secret, str(expires).encode(), hashlib.sha256).hexdigest()
    if not same_text(signature.strip().lower(), expected):
        raise Forbidden("Invalid signature.", field="signature", extra={"error_code": "SignatureInvalidError"})


def parse_store(form: FormData, name: str) -> bool:
    """`0` keeps the file a day only; `1` and `auto` store it (auto-store is on here)."""
    value = (text(form, name) or "auto").strip().lower()
    if value not in ("0", "1", "auto"):
        raise BadRequest(f"{name} must be 0, 1 or auto, got {value[:20]!r}.", field=name)
    return value != "0"


def parse_metadata(form: FormData) -> dict[str, str]:
    raw: dict[str, object] = {}
    for name, value in form.multi_items():
        key = _metadata_key(name)
        if key is None:
            continue
        if key in raw:
            raise BadRequest(f"File's metadata key `{key[:64]}` has a duplicate.", field="metadata")
        raw[key] = value if isinstance(value, str) else None
    return clean_uploadcare_metadata(raw)


def new_file(raw_name: str | None, form: FormData, stored: bool) -> NewFile:
    """What every Upload API endpoint asks of the library, from the common fields."""
    original = (raw_name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:MAX_NAME_LENGTH] or "file"
    tags = text(form, "tags")
    return NewFile(
        data=b"",
        file_name=clean_file_name(original, "filename"),
        original_filename=original,
        stored=stored,
        custom_metadata=parse_metadata(form) or None,
        tags=clean_tags(tags.split(",")) if tags else None,
    )


# ---- direct uploads --------------------------------------------------------------------


@api(auth=KEY_IN_FORM)
async def base_upload(request: Request) -> Response:
    """Direct upload of one or more file parts; answers `{<field name>: <uuid>}`."""
    form = await read_form(request)
    try:
        check_public_key(request, text(form, "UPLOADCARE_PUB_KEY"), "UPLOADCARE_PUB_KEY")
        check_signature(request, form)
        check_fields(form, BASE_FIELDS)
        stored = parse_store(form, "UPLOADCARE_STORE")
        uploads = [
            (name, new_file(part.filename or name, form, stored), await part.read())
            for name, part in form.multi_items()
            if isinstance(part, UploadFile)
        ]
    finally:
        await form.close()
    if not uploads:
        raise BadRequest("Request does not contain files.", field="file", extra={"error_code": "FileRequiredError"})
    lib = library(request)
    if len(uploads) > 1:  # refuse the whole request before any file of it is kept
        if not stored:
            lib.check_unstored_room(len(uploads))
        for _, _, data in uploads:
            await lib.check_image(data)
    result = {}
    for name, new, data in uploads:
        file, _ = await lib.upload(replace(new, data=data))
        result[name] = file.uuid
    return JSONResponse(result)


@api(auth=key_in_query)
async def file_info(request: Request) -> Response:
    params = request.query_params
    file_uuid = parse_uuid(params.get("file_id"), "file_id")
    try:
        file = library(request).get_by_uuid(file_uuid)
    except NotFound:
        file = None
    # The public key alone may not learn that a private file exists.
    if file is None or not library(request).readable(file, file.version, signed=False):
        raise NotFound("File is not found.", field="file_id")
    return JSONResponse(upload_info(file))


# ---- uploads from a URL ----------------------------------------------------------------


@api(auth=KEY_IN_FORM)
async def from_url(request: Request) -> Response:
    form = await read_form(request)
    try:
        check_public_key(request, text(form, "pub_key"), "pub_key")
        check_signature(request, form)
        check_fields(form, FROM_URL_FIELDS)
        source_url = (text(form, "source_url") or "").strip()
        if not source_url:
            raise BadRequest("source_url is required.", field="source_url")
        services(request).egress.check_given(source_url, "source_url")
        if (text(form, "check_URL_duplicates") or "0") != "0":
            raise BadRequest("check_URL_duplicates is not supported by this server; send 0.", field="check_URL_duplicates")
        if (text(form, "save_URL_duplicates") or "0") not in ("0", "1"):
            raise BadRequest("save_URL_duplicates must be 0 or 1.", field="save_URL_duplicates")
        name = text(form, "filename") or urlsplit(source_url).path.rsplit("/", 1)[-1]
        new = new_file(name, form, parse_store(form, "store"))
    finally:
        await form.close()
    if not new.stored:  # refused now rather than after the fetch
        library(request).check_unstored_room()
    job = await library(request).enqueue_import(source_url, new, str(uuid.uuid4()), dialect="uploadcare")
    return JSONResponse({"type": "token", "token": job.id})


# An import's failure reasons as the status's error codes (rows from before imports were jobs hold the codes).
IMPORT_ERRORS = {"download_failed": "DownloadFileError", "file_rejected": "FileValidationError"}


def _error(message: str, code: str) -> dict[str, Any]:
    return {"status": "error", "error": message, "error_code": code}


@api(auth=public("the token is the credential: only who started the upload learns it"))
async def from_url_status(request: Request) -> Response:
    token = request.query_params.get("token")
    if not token:
        raise BadRequest("token is required.", field="token")
    job = library(request).import_job(token)
    if job is None:
        return JSONResponse({"status": "unknown"})
    if job.status == JobStatus.SUCCEEDED:
        _, new = library(request).import_request(job)
        file = library(request).get_live_or_removed(new.uuid or "")
        return JSONResponse({"status": "success", **upload_info(file)})
    if job.status == JobStatus.FAILED:
        code = IMPORT_ERRORS.get(job.error_reason or "", job.error_reason)
        if code not in IMPORT_ERRORS.values():  # anything else is the server's failure, not the file's
            return JSONResponse(_error("Upload failed.", "UploadFailedError"))
        return JSONResponse(_error(job.error_message or "", str(code)))
    if job.status == JobStatus.RUNNING:
        return JSONResponse({"status": "progress", **(job.progress or {"done": 0, "total": None})})
    # Uploadcare answers only the status here; done and total are added because pyuploadcare's
    # `upload(..., callback=...)` reads both from every status it polls, waiting included.
    return JSONResponse({"status": "waiting", "done": 0, "total": None})


# ---- multipart uploads -------------------------------------------------------------------


class MultipartUploads:
    """Multipart sessions: the part URLs' signer and the bounds; the library keeps each part as a blob."""

    def __init__(self, secret: str, *, max_open: int = Settings.uploadcare_max_multipart_sessions):
        self.max_open = max_open
        self.signer = URLSafeTimedSerializer(secret, salt="cutout-uploadcare-multipart-part")
        self.locks: dict[str, asyncio.Lock] = {}

    def part_token(self, upload_uuid: str, index: int) -> str:
        return self.signer.dumps([upload_uuid, index])

    def read_part_token(self, token: str) -> tuple[str, int]:
        try:
            upload_uuid, index = self.signer.loads(token, max_age=PART_URL_SECONDS)
        except (BadSignature, ValueError, TypeError):
            raise Forbidden(BAD_PART_URL) from None
        # Only this server signs tokens; what one holds is still checked before it names a session or part.
        if not (isinstance(upload_uuid, str) and looks_like_uuid(upload_uuid) and type(index) is int and index >= 0):
            raise Forbidden(BAD_PART_URL)
        return upload_uuid, index


def multipart(request: Request) -> MultipartUploads:
    return request.app.state.uploadcare.multipart


def int_field(form: FormData, name: str) -> int | None:
    value = text(form, name)
    if value is None or value == "":
        return None
    number = whole_number(value)
    if number is None:
        raise BadRequest(f"{name} must be a whole number of bytes.", field=name)
    return number


@api(auth=KEY_IN_FORM)
async def multipart_start(request: Request) -> Response:
    form = await read_form(request)
    try:
        check_public_key(request, text(form, "UPLOADCARE_PUB_KEY"), "UPLOADCARE_PUB_KEY")
        check_signature(request, form)
        check_fields(form, MULTIPART_START_FIELDS)
        for name in ("filename", "size", "content_type"):
            if not text(form, name):
                raise BadRequest(f"{name} is required.", field=name)
        size = int_field(form, "size") or 0
        limit = services(request).settings.max_upload_bytes
        if size < MULTIPART_MIN_SIZE:
            raise BadRequest(
                f"File size can not be less than {MULTIPART_MIN_SIZE} bytes. Please use direct upload instead of "
                "multipart.",
                field="size",
            )
        if size > limit:
            raise BadRequest(f"File size exceeds project limit ({limit} bytes).", field="size")
        part_size = int_field(form, "part_size") or PART_SIZE
        if part_size < PART_SIZE:
            raise BadRequest(f"Multipart Upload Part Size can not be less than {PART_SIZE} bytes.", field="part_size")
        new = new_file(text(form, "filename"), form, parse_store(form, "UPLOADCARE_STORE"))
    finally:
        await form.close()
    if not new.stored:
        library(request).check_unstored_room()
    upload_uuid = str(uuid.uuid4())
    session = {
        "size": size,
        "part_size": part_size,
        "file_name": new.file_name,
        "original_filename": new.original_filename,
        "stored": new.stored,
        "metadata": new.custom_metadata,
        "tags": list(new.tags) if new.tags else None,
    }
    sessions = multipart(request)
    count = math.ceil(size / part_size)
    await library(request).open_chunked(
        upload_uuid, session, count, max_open=sessions.max_open, open_seconds=SESSION_SECONDS
    )
    base = services(request).settings.base_url
    parts = [f"{base}/multipart/part/{sessions.part_token(upload_uuid, i)}/" for i in range(count)]
    return JSONResponse({"uuid": upload_uuid, "parts": parts})


@api(auth=public("the part URL is the credential: a token this server signed, valid for an hour"))
async def multipart_part(request: Request) -> Response:
    sessions = multipart(request)
    upload_uuid, index = sessions.read_part_token(request.path_params["token"])
    found = library(request).chunked(upload_uuid)
    if found is None:
        raise NotFound("The multipart upload is not found: it was completed or has expired.")
    session = found[0]
    if index >= math.ceil(session["size"] / session["part_size"]):
        raise Forbidden(BAD_PART_URL)
    expected = min(session["part_size"], session["size"] - index * session["part_size"])
    data = await request.body()
    if len(data) != expected:
        raise BadRequest(f"Part {index + 1} must be {expected} bytes, got {len(data)}.")
    if not await library(request).put_chunk(upload_uuid, index, data):  # completed meanwhile
        raise NotFound("The multipart upload is not found: it was completed or has expired.")
    return Response(status_code=200)


@api(auth=KEY_IN_FORM)
async def multipart_complete(request: Request) -> Response:
    form = await read_form(request)
    try:
        check_public_key(request, text(form, "UPLOADCARE_PUB_KEY"), "UPLOADCARE_PUB_KEY")
        check_fields(form, {"uuid", "UPLOADCARE_PUB_KEY"})
        upload_uuid = parse_uuid(text(form, "uuid"), "uuid")
    finally:
        await form.close()
    sessions = multipart(request)
    lock = sessions.locks.setdefault(upload_uuid, asyncio.Lock())
    async with lock:
        try:
            lib = library(request)
            found = lib.chunked(upload_uuid)
            try:
                lib.get_live_or_removed(upload_uuid)
            except NotFound:
                if found is None:
                    raise NotFound("File is not found.", field="uuid") from None
            else:  # with a session left behind by a crash between making the file and dropping its parts
                await lib.close_chunked(upload_uuid)
                raise BadRequest("File is already uploaded.", field="uuid")
            session, part_blobs = found
            data = await lib.join_chunks(part_blobs)
            if data is None:
                raise BadRequest("File size mismatch. Not all parts uploaded?", field="uuid")
            new = NewFile(
                data=data,
                file_name=session["file_name"],
                original_filename=session["original_filename"],
                stored=session["stored"],
                custom_metadata=session["metadata"],
                tags=tuple(session["tags"]) if session["tags"] else None,
                uuid=upload_uuid,
            )
            try:
                file, _ = await lib.upload(new)
            finally:  # a refused file cannot be completed later either
                await lib.close_chunked(upload_uuid)
        finally:
            sessions.locks.pop(upload_uuid, None)
    return JSONResponse(upload_info(file))


routes = [
    Route("/base/", base_upload, methods=["POST"]),
    Route("/info/", file_info, methods=["GET"]),
    Route("/from_url/", from_url, methods=["POST"]),
    Route("/from_url/status/", from_url_status, methods=["GET"]),
    Route("/multipart/start/", multipart_start, methods=["POST"]),
    Route("/multipart/part/{token}/", multipart_part, methods=["PUT"]),
    Route("/multipart/complete/", multipart_complete, methods=["POST"]),
]


# ---- description ------------------------------------------------------------------------


def upload_operation(summary: str, *, form: Schema | None = None, params: list[dict[str, Any]] | None = None,
               method_body: str = "multipart/form-data", ok: Schema | None = OBJECT,
               errors: tuple[int, ...] = (400, 403, 404, 413)) -> dict[str, Any]:  # fmt: skip
    """An Upload API operation: public key in the form; text/plain errors (JSON with ?jsonerrors=1)."""
    error = {"description": "Error", "content": {"text/plain": {"schema": {"type": "string"}},
                                                  "application/json": {"schema": OBJECT}}}  # fmt: skip
    op: dict[str, Any] = {
        "summary": summary,
        "tags": ["Uploadcare Upload"],
        "parameters": [
            query_param("jsonerrors", {"type": "string", "description": "1 for JSON errors; text otherwise"}),
            *(params or []),
        ],
        "responses": {
            "200": {"description": "OK", **(json_content(ok) if ok else {})},
            **{str(c): error for c in errors},
        },
    }
    if form is not None:
        op["requestBody"] = {"required": True, "content": {method_body: {"schema": form}}}
    return op


def describe() -> Description:
    """The OpenAPI paths of these routes."""
    base_form: Schema = {
        "type": "object",
        "required": ["UPLOADCARE_PUB_KEY", "file"],
        "properties": {
            "UPLOADCARE_PUB_KEY": {"type": "string"},
            "UPLOADCARE_STORE": {"type": "string", "enum": ["0", "1", "auto"]},
            "file": {"type": "string", "format": "binary"},
            "signature": {"type": "string"},
            "expire": {"type": "string"},
        },
    }
    return {"paths": {
        "/base/": {"post": upload_operation("Direct upload; answers {field name: uuid}", form=base_form,
                                      errors=(400, 403, 404, 413, 429))},  # fmt: skip
        "/from_url/": {"post": upload_operation("Upload from a URL; answers a token", form={
            "type": "object", "required": ["pub_key", "source_url"],
            "properties": {"pub_key": {"type": "string"}, "source_url": {"type": "string"},
                           "store": {"type": "string", "enum": ["0", "1", "auto"]}},
        }, errors=(400, 403, 404, 413, 429))},  # fmt: skip
        "/from_url/status/": {"get": upload_operation("Status of an upload from a URL",
            params=[query_param("token", {"type": "string"}, required=True)])},  # fmt: skip
        "/info/": {"get": upload_operation("Upload info of a file", params=[
            query_param("pub_key", {"type": "string"}, required=True),
            query_param("file_id", {"type": "string", "format": "uuid"}, required=True)])},  # fmt: skip
        "/multipart/start/": {"post": upload_operation("Start a multipart upload (10 MiB and more)", form={
            "type": "object", "required": ["UPLOADCARE_PUB_KEY", "filename", "size", "content_type"],
            "properties": {"UPLOADCARE_PUB_KEY": {"type": "string"}, "filename": {"type": "string"},
                           "size": {"type": "integer"}, "content_type": {"type": "string"}},
        }, errors=(400, 403, 404, 413, 429))},  # fmt: skip
        "/multipart/part/{token}/": {"put": upload_operation(
            "Upload one part to a signed part URL", params=[path_param("token")], ok=None,
            form={"type": "string", "format": "binary"}, method_body="application/octet-stream",
        )},  # fmt: skip
        "/multipart/complete/": {"post": upload_operation("Finish a multipart upload", form={
            "type": "object", "required": ["UPLOADCARE_PUB_KEY", "uuid"],
            "properties": {"UPLOADCARE_PUB_KEY": {"type": "string"}, "uuid": {"type": "string"}},
        }, errors=(400, 403, 404, 413, 429))},  # fmt: skip
    }}
