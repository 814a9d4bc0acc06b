"""ImageKit's wire format: routes, request parsing and response shaping over the library."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import quote, unquote

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import engine
from ..egress import EgressBlocked
from ..errors import BadRequest, NotFound, Unauthorized
from ..library import (
    ExtensionRequest,
    FileChanges,
    ListQuery,
    NewFile,
    clean_coordinates,
    clean_description,
    clean_file_name,
    clean_folder,
    clean_metadata,
    clean_tags,
    loads_client_json,
    parse_json_object,
    whole_number,
)
from ..models import Endpoint, File, Folder, Job, JobStatus, ResultTo, Version
from ..openapi import (
    OBJECT,
    REMOVE_BG_OPTIONS,
    Description,
    Schema,
    json_content,
    operation,
    path_param,
    query_param,
)
from ..search import parse as parse_search
from ..signing import same_text
from ..webhooks import EVENT_KINDS, Event, WebhookFormat
from . import common
from .common import NO_KEY, int_param, library, private_key, public, services, text_field

THUMBNAIL = "n-ik_ml_thumbnail"
NEVER_EXPIRES = 9999999999
RESPONSE_FIELDS = {
    "tags", "customCoordinates", "isPrivateFile", "embeddedMetadata", "isPublished",
    "customMetadata", "metadata", "selectedFieldsSchema", "description",
}  # fmt: skip
UPLOAD_FORM: Schema = {
    "type": "object",
    "required": ["file", "fileName"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "a file part, an http(s) URL, or base64"},
        "fileName": {"type": "string", "minLength": 1},
        "useUniqueFileName": {"type": "string", "enum": ["true", "false"]},
        "tags": {"type": "string", "description": "comma-separated"},
        "folder": {"type": "string"},
        "isPrivateFile": {"type": "string", "enum": ["true", "false"]},
        "isPublished": {"type": "string", "enum": ["true", "false"]},
        "customCoordinates": {"type": "string"},
        "customMetadata": {"type": "string", "description": "a JSON object"},
        "responseFields": {"type": "string"},
        "extensions": {"type": "string", "description": "a JSON array of extensions"},
        "webhookUrl": {"type": "string"},
        "overwriteFile": {"type": "string", "enum": ["true", "false"]},
        "overwriteTags": {"type": "string", "enum": ["true", "false"]},
        "overwriteCustomMetadata": {"type": "string", "enum": ["true", "false"]},
        "overwriteAITags": {"type": "string", "enum": ["true", "false"]},
        "description": {"type": "string"},
        "publicKey": {"type": "string"},
        "signature": {"type": "string"},
        "expire": {"type": "string"},
        "token": {"type": "string"},
    },
}
UNSUPPORTED_UPLOAD_FIELDS = {"transformation", "checks"}
# The upload form has one source, its schema, which /openapi.json describes too.
UPLOAD_FIELDS = {*UPLOAD_FORM["properties"], *UNSUPPORTED_UPLOAD_FIELDS}
SORT_FIELDS = {"NAME", "CREATED", "UPDATED", "HEIGHT", "WIDTH", "SIZE", "RELEVANCE"}
LIST_TYPES = {"file", "file-version", "folder", "all"}
PATCH_FIELDS = {
    "tags", "customCoordinates", "customMetadata", "description", "extensions", "webhookUrl",
    "removeAITags", "publish",
}  # fmt: skip

render_error = common.render_message
api = functools.partial(common.endpoint, render=lambda request, exc: render_error(exc))
# The upload form carries its own credentials (a v1 signature or a v2 JWT), or the private key as Basic auth.
SIGNED_UPLOAD = public("client-side uploads: authorize_upload checks the signature, JWT or private key first")


# ---- shaping ------------------------------------------------------------------


def base_url(request: Request) -> str:
    return services(request).settings.base_url


def file_url(base: str, file: File, version: Version | None = None) -> str:
    url = f"{base}/media{quote(file.path)}"
    if version is not None and version.id != file.version.id:
        url += f"?ik-obj-version={version.id}"
    return url


def thumbnail_url(base: str, file: File, version: Version | None = None) -> str:
    url = f"{base}/media/tr:{THUMBNAIL}{quote(file.path)}"
    if version is not None and version.id != file.version.id:
        url += f"?ik-obj-version={version.id}"
    return url


def details(base: str, file: File, version: Version | None = None) -> dict[str, Any]:
    """The FileDetails object of a file (its current version) or of one of its versions; `base` is the public URL."""
    v = version or file.version
    body: dict[str, Any] = {
        "fileId": file.id,
        "type": "file" if v.id == file.version.id else "file-version",
        "name": file.name,
        "filePath": file.path,
        "tags": list(file.tags) or None,
        "AITags": file.ai_tags,
        "versionInfo": {"id": v.id, "name": v.name},
        "isPrivateFile": file.is_private,
        "isPublished": file.is_published,
        "customCoordinates": file.custom_coordinates,
        "url": file_url(base, file, v),
        "thumbnail": thumbnail_url(base, file, v),
        "fileType": "image",
        "mime": v.mime,
        "width": v.width,
        "height": v.height,
        "size": v.size,
        "hasAlpha": v.has_alpha,
        "customMetadata": file.custom_metadata,
        "createdAt": file.created_at if v.id == file.id else v.created_at,
        "updatedAt": file.updated_at,
    }
    if file.description is not None:
        body["description"] = file.description
    return body


def webhook_format(base: str) -> WebhookFormat:
    """ImageKit-style webhooks: the `{type, id, created_at, data}` envelope, and extension results."""

    def extension_result(event: Event) -> dict[str, Any]:
        job = event.job
        assert job is not None
        if event.kind == "extension.succeeded" and event.file is not None:
            return {"service": job.extension, "status": "SUCCESS", "fileObject": details(base, event.file)}
        return {
            "service": job.extension,
            "status": "FAILURE",
            "fileId": event.file_id,
            "error": {"reason": job.error_reason, "message": job.error_message},
        }

    def render(event: Event, name: str, endpoint: Endpoint) -> dict[str, Any]:
        if event.kind.startswith("extension."):
            data = extension_result(event)
        else:
            assert event.file is not None
            data = details(base, event.file, event.version)
        return {"type": name, "id": event.id, "created_at": event.at, "data": data}

    return WebhookFormat(
        name="imagekit",
        events={kind: kind for kind in EVENT_KINDS if kind != "file.stored"},
        render=render,
        extension_result=extension_result,
    )


def folder_details(folder: Folder) -> dict[str, Any]:
    return {
        "type": "folder",
        "folderId": folder.id,
        "name": folder.name,
        "folderPath": folder.path.rstrip("/"),
        "customMetadata": {},
        "createdAt": folder.created_at,
        "updatedAt": folder.updated_at,
    }


def upload_response(request: Request, file: File, response_fields: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "fileId": file.id,
        "name": file.name,
        "filePath": file.path,
        "url": file_url(base_url(request), file),
        "thumbnailUrl": thumbnail_url(base_url(request), file),
        "width": file.version.width,
        "height": file.version.height,
        "size": file.version.size,
        "fileType": "image",
        "versionInfo": {"id": file.version.id, "name": file.version.name},
        "AITags": file.ai_tags,
    }
    full = details(base_url(request), file)
    for name in response_fields & full.keys():
        body[name] = full[name]
    return body


# ---- parsing helpers ------------------------------------------------------------


def bool_field(form: FormData, name: str, default: bool) -> bool:
    value = text_field(form, name)
    if value is None or value == "":
        return default
    if value.lower() not in ("true", "false"):
        raise BadRequest(f"{name} must be \"true\" or \"false\", got {value[:40]!r}.", field=name)
    return value.lower() == "true"


SUPPORTED_EXTENSIONS = ("remove-bg",)
EXTENSION_STATUS = {
    JobStatus.QUEUED: "pending",
    JobStatus.RUNNING: "pending",
    JobStatus.SUCCEEDED: "success",
    JobStatus.FAILED: "failed",
}


def parse_extensions(request: Request, raw: object, webhook_url: object) -> list[ExtensionRequest]:
    """The `extensions` array (a JSON string in uploads), validated before anything is stored."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        try:
            raw = loads_client_json(raw)
        except ValueError as exc:
            raise BadRequest(f"extensions must be a JSON array: {str(exc)[:200]}.", field="extensions") from None
    if not isinstance(raw, list):
        raise BadRequest("extensions must be a JSON array.", field="extensions")
    egress = services(request).egress
    hook = egress.check_given(webhook_url, "webhookUrl") if webhook_url not in (None, "") else None
    result: list[ExtensionRequest] = []
    for index, item in enumerate(raw):
        where = f"extensions[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object with a name.", field="extensions")
        name = item.get("name")
        if name not in SUPPORTED_EXTENSIONS:
            raise BadRequest(
                f"{where}.name {str(name)[:64]!r} is not a supported extension; supported: "
                f"{', '.join(SUPPORTED_EXTENSIONS)}.",
                field="extensions",
            )
        extra = sorted(set(item) - {"name", "options"})
        if extra:
            raise BadRequest(f"{where} has an unknown key {extra[0][:64]!r}.", field="extensions")
        if any(r.name == name for r in result):
            raise BadRequest(f"{where}: {name} is requested twice.", field="extensions")
        options = item.get("options") or {}
        if not isinstance(options, dict):
            raise BadRequest(f"{where}.options must be an object.", field="extensions")
        try:
            edit = engine.remove_bg_edit(options)
        except engine.OptionError as exc:
            raise BadRequest(f"{where}.options.{exc.option}: {exc.reason}", field="extensions") from None
        if edit.background_url:
            egress.check_given(edit.background_url, f"{where}.options.bg_image_url")
        result.append(
            ExtensionRequest(
                name=str(name), options=engine.edit_to_json(edit), dialect="imagekit", webhook_url=hook,
                result_to=ResultTo.VERSION,
            )
        )
    return result


def with_extension_status(request: Request, body: dict[str, Any], jobs: list[Job]) -> dict[str, Any]:
    """Report new jobs; `extensionStatus` appears only when extensions were asked."""
    if jobs:
        body["extensionStatus"] = {job.extension: EXTENSION_STATUS[job.status] for job in jobs}
    return body


async def file_bytes(request: Request, form: FormData) -> bytes:
    """The `file` field: a file part, an http(s) URL to fetch, or base64 / a data URI."""
    value = form.get("file")
    if value is None:
        raise BadRequest("Your request is missing file parameter.", field="file")
    if isinstance(value, UploadFile):
        return await value.read()
    text = value.strip()
    limit = services(request).settings.max_upload_bytes
    if text.startswith(("http://", "https://")):
        try:
            return await services(request).egress.fetch(text, max_bytes=limit)
        except EgressBlocked as exc:
            raise BadRequest(f"The file URL could not be fetched: {exc.message}.", field="file") from None
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if not header.endswith(";base64"):
            raise BadRequest("A data URI in file must be base64-encoded (data:<mime>;base64,...).", field="file")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(
            "file must be a file part, an http(s) URL, or base64 data (optionally as a data URI).", field="file"
        ) from None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def check_upload_jwt(request: Request, form: FormData, token: str) -> None:
    """v2 client-side upload: an HS256 JWT over the upload parameters, signed with the private key."""
    settings = services(request).settings
    parts = token.split(".")
    if len(parts) != 3:
        raise BadRequest("Your request contains an invalid token parameter: not a JWT.", field="token")
    try:
        header = loads_client_json(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
        payload = loads_client_json(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        raise BadRequest("Your request contains an invalid token parameter: not a JWT.", field="token") from None
    if not isinstance(header, dict) or not isinstance(payload, dict) or header.get("alg") != "HS256":
        raise BadRequest("Your request contains an invalid token parameter: use an HS256 JWT.", field="token")
    if header.get("kid") != settings.imagekit_public_key:
        raise Unauthorized("Your request contains an invalid publicKey in the token's kid.", field="token")
    expected = b64url(hmac.new(settings.imagekit_private_key.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
    if not same_text(parts[2], expected):
        raise Unauthorized("Your request contains an invalid token signature.", field="token")
    now = int(time.time())
    exp = payload.get("exp")
    if not isinstance(exp, int) or not now < exp <= now + 3600:
        raise BadRequest("The token's exp must be a Unix time less than 1 hour into the future.", field="token")
    # The token is all the server vouched for: a field it does not sign could re-target the upload
    # (folder, useUniqueFileName, overwriteFile) or add work (extensions, webhookUrl).
    unsigned = sorted(set(form.keys()) - set(payload) - {"file", "token"})
    if unsigned:
        raise BadRequest(
            f"The upload parameter {unsigned[0]} is not in the token; the token must sign every field sent "
            "except file and token.",
            field=unsigned[0],
        )
    for name, value in payload.items():
        if name in ("iat", "exp"):
            continue
        sent = form.get(name)
        if not isinstance(sent, str) or sent != (value if isinstance(value, str) else json.dumps(value)):
            raise BadRequest(f"The upload parameter {name} does not match the token.", field=name)
    await library(request).consume_token("jwt:" + hashlib.sha256(token.encode()).hexdigest(), exp, now)


async def authorize_upload(request: Request, form: FormData, *, v2: bool) -> None:
    has_basic = request.headers.get("authorization") is not None
    signature_fields = [n for n in ("publicKey", "signature", "expire") if form.get(n) is not None]
    if has_basic and (signature_fields or (v2 and form.get("token"))):
        raise BadRequest(
            "Your request contains both signature and basic auth parameter. Use only one method, you might be "
            "exposing your private API key."
        )
    if has_basic:
        await private_key(request)
        return
    if v2:
        token = text_field(form, "token")
        if not token:
            raise Unauthorized(NO_KEY)
        await check_upload_jwt(request, form, token)
        return
    if not signature_fields:
        raise Unauthorized(NO_KEY)
    missing = [n for n in ("publicKey", "signature", "expire", "token") if not text_field(form, n)]
    if missing:
        raise BadRequest(f"Your request is missing {missing[0]} parameter.", field=missing[0])
    await check_upload_signature(
        request,
        public_key=text_field(form, "publicKey") or "",
        token=text_field(form, "token") or "",
        expire=text_field(form, "expire") or "",
        signature=text_field(form, "signature") or "",
    )


async def check_upload_signature(request: Request, *, public_key: str, token: str, expire: str, signature: str) -> None:
    """v1 client-side upload: HMAC-SHA1(private key, token + expire), expire within the hour, token once."""
    settings = services(request).settings
    if not same_text(public_key, settings.imagekit_public_key):
        raise Unauthorized("Your request contains an invalid publicKey.", field="publicKey")
    if not token or len(token) > 256:
        raise BadRequest("Your request contains an invalid token parameter.", field="token")
    now = int(time.time())
    expires = whole_number(expire)
    if expires is None or not now < expires <= now + 3600:
        raise BadRequest(
            "Your request contains invalid expire parameter. Expire parameter should be a Unix time in less "
            "than 1 hour into the future.",
            field="expire",
        )
    expected = hmac.new(settings.imagekit_private_key.encode(), (token + expire).encode(), hashlib.sha1).hexdigest()
    if not same_text(signature.lower(), expected):
        raise Unauthorized("Your request contains an invalid signature parameter.", field="signature")
    await library(request).consume_token(token, expires, now)


async def read_form(request: Request) -> FormData:
    limit = services(request).settings.max_upload_bytes
    return await common.read_form(
        request, max_files=1, max_fields=64, max_part_size=limit * 4 // 3 + 1024,
        not_a_form="The upload must be sent as multipart/form-data.", unreadable="The multipart body could not be read: ",
    )  # fmt: skip


async def json_body(request: Request) -> dict[str, Any]:
    return await common.json_body(request, want_object=True)


# ---- endpoints -------------------------------------------------------------------


async def _upload(request: Request, *, v2: bool) -> Response:
    form = await read_form(request)
    try:
        unknown = sorted(set(form.keys()) - UPLOAD_FIELDS)
        if unknown:
            raise BadRequest(f"Your request contains an unknown field: {unknown[0][:64]}.", field=unknown[0][:64])
        for name in UNSUPPORTED_UPLOAD_FIELDS & set(form.keys()):
            raise BadRequest(f"{name} is not supported by this server.", field=name)
        for name in sorted(set(form.keys())):
            if len(form.getlist(name)) > 1:  # which one would count? refuse rather than guess
                raise BadRequest(f"{name[:64]} is given more than once.", field=name[:64])
        await authorize_upload(request, form, v2=v2)
        extensions = parse_extensions(request, text_field(form, "extensions"), text_field(form, "webhookUrl"))
        file_name = text_field(form, "fileName")
        if file_name is None:
            raise BadRequest("Your request is missing fileName parameter.", field="fileName")
        metadata_raw = text_field(form, "customMetadata")
        response_fields = {f.strip() for f in (text_field(form, "responseFields") or "").split(",") if f.strip()}
        unknown_fields = sorted(response_fields - RESPONSE_FIELDS)
        if unknown_fields:
            raise BadRequest(f"responseFields contains an unknown field: {unknown_fields[0][:64]}.", field="responseFields")
        tags_raw = text_field(form, "tags")
        new = NewFile(
            data=b"",
            file_name=clean_file_name(file_name),
            folder=clean_folder(text_field(form, "folder") or "/"),
            use_unique_file_name=bool_field(form, "useUniqueFileName", True),
            tags=clean_tags(tags_raw.split(",")) if tags_raw is not None else None,
            custom_metadata=clean_metadata(parse_json_object(metadata_raw, "customMetadata"))
            if metadata_raw
            else None,
            custom_coordinates=clean_coordinates(text_field(form, "customCoordinates")),
            description=clean_description(text_field(form, "description")),
            is_private=bool_field(form, "isPrivateFile", False),
            is_published=bool_field(form, "isPublished", True),
            overwrite_file=bool_field(form, "overwriteFile", True),
            overwrite_tags=bool_field(form, "overwriteTags", True),
            overwrite_custom_metadata=bool_field(form, "overwriteCustomMetadata", True),
            overwrite_ai_tags=bool_field(form, "overwriteAITags", True),
        )
        data = await file_bytes(request, form)
    finally:
        await form.close()
    file, jobs = await library(request).upload(dataclasses.replace(new, data=data), extensions)
    return JSONResponse(with_extension_status(request, upload_response(request, file, response_fields), jobs))


@api(auth=SIGNED_UPLOAD)
async def upload_v1(request: Request) -> Response:
    return await _upload(request, v2=False)


@api(auth=SIGNED_UPLOAD)
async def upload_v2(request: Request) -> Response:
    return await _upload(request, v2=True)


@api(auth=private_key)
async def get_details(request: Request) -> Response:
    file = library(request).get(request.path_params["file_id"])
    return JSONResponse(details(base_url(request), file))


def _text_or_null(body: dict[str, Any], field: str) -> str | None:
    value = body[field]
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{field} must be a string or null.", field=field)
    return value


@api(auth=private_key)
async def update_details(request: Request) -> Response:
    body = await json_body(request)
    unknown = sorted(set(body) - PATCH_FIELDS)
    if unknown:
        raise BadRequest(f"Your request contains an unknown field: {unknown[0][:64]}.", field=unknown[0][:64])
    extensions = parse_extensions(request, body.get("extensions"), body.get("webhookUrl"))
    changes: dict[str, Any] = {}
    if "publish" in body:
        publish = body["publish"]
        if len(body) > 1:
            raise BadRequest("publish cannot be combined with other updates in one request.", field="publish")
        if not isinstance(publish, dict) or not isinstance(publish.get("isPublished"), bool):
            raise BadRequest("publish.isPublished must be true or false.", field="publish")
        changes["is_published"] = publish["isPublished"]
    if "tags" in body:
        tags = body["tags"]
        if tags is not None and not isinstance(tags, list):
            raise BadRequest("tags must be an array of strings or null.", field="tags")
        changes["tags"] = clean_tags(tags) if tags is not None else None
    if "customCoordinates" in body:
        changes["custom_coordinates"] = clean_coordinates(_text_or_null(body, "customCoordinates"))
    if "customMetadata" in body:
        changes["custom_metadata"] = clean_metadata(body["customMetadata"], allow_null=True)
    if "description" in body:
        changes["description"] = clean_description(_text_or_null(body, "description"))
    if "removeAITags" in body:
        value = body["removeAITags"]
        if value != "all" and not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
            raise BadRequest('removeAITags must be an array of strings or "all".', field="removeAITags")
        changes["remove_ai_tags"] = value
    file, jobs = await library(request).update(request.path_params["file_id"], FileChanges(**changes), extensions)
    return JSONResponse(with_extension_status(request, details(base_url(request), file), jobs))


@api(auth=private_key)
async def list_assets(request: Request) -> Response:
    params = request.query_params
    kind = params.get("type", "file")
    if kind not in LIST_TYPES:
        raise BadRequest(f"type must be one of {', '.join(sorted(LIST_TYPES))}.", field="type")
    sort = params.get("sort", "ASC_CREATED").upper()
    direction, _, sort_field = sort.partition("_")
    if direction not in ("ASC", "DESC") or sort_field not in SORT_FIELDS:
        raise BadRequest("sort must look like ASC_CREATED or DESC_NAME.", field="sort")
    file_type = params.get("fileType", "all")
    if file_type not in ("all", "image", "non-image"):
        raise BadRequest("fileType must be all, image or non-image.", field="fileType")
    limit = int_param(params.get("limit"), "limit", 1000, 1, 1000)
    skip = int_param(params.get("skip"), "skip", 0, 0, 10**9)
    path = params.get("path")
    search_text = params.get("searchQuery")
    query = ListQuery(
        kind=kind,
        folder=clean_folder(path, "path") if path else None,
        search=parse_search(search_text) if search_text else None,
        sort=(sort_field, direction),
        limit=limit,
        skip=skip,
    )
    if file_type == "non-image":  # every file here is an image
        return JSONResponse([])
    items = library(request).listing(query)
    return JSONResponse([shape_listed(request, item) for item in items])


def shape_listed(request: Request, item: File | Folder | tuple[File, Version]) -> dict[str, Any]:
    if isinstance(item, Folder):
        return folder_details(item)
    if isinstance(item, tuple):
        return details(base_url(request), item[0], item[1])
    return details(base_url(request), item)


@api(auth=private_key)
async def delete_file(request: Request) -> Response:
    await library(request).delete(request.path_params["file_id"])
    return Response(status_code=204)


@api(auth=private_key)
async def bulk_delete(request: Request) -> Response:
    body = await json_body(request)
    ids = body.get("fileIds")
    if ids is None:
        raise BadRequest("fileIds parameter is missing.", field="fileIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequest("fileIds should be an Array of strings.", field="fileIds")
    if not ids:
        raise BadRequest("fileIds is empty.", field="fileIds")
    if len(ids) > 100:
        raise BadRequest("fileIds cannot have more than 100 items.", field="fileIds")
    deleted, missing = await library(request).delete_many(ids)
    if not deleted:
        raise NotFound("The requested file(s) does not exist.", extra={"missingFileIds": missing})
    if missing:
        errors = [{"fileId": i, "error": "The requested file does not exist."} for i in missing]
        return JSONResponse({"successfullyDeletedFileIds": deleted, "errors": errors}, 207)
    return JSONResponse({"successfullyDeletedFileIds": deleted})


@api(auth=private_key)
async def list_versions(request: Request) -> Response:
    file, versions = library(request).versions(request.path_params["file_id"])
    return JSONResponse([details(base_url(request), file, v) for v in versions])


@api(auth=private_key)
async def get_version(request: Request) -> Response:
    file, version = library(request).version(request.path_params["file_id"], request.path_params["version_id"])
    return JSONResponse(details(base_url(request), file, version))


@api(auth=private_key)
async def delete_version(request: Request) -> Response:
    await library(request).delete_version(request.path_params["file_id"], request.path_params["version_id"])
    return Response(status_code=204)


@api(auth=private_key)
async def restore_version(request: Request) -> Response:
    file = await library(request).restore_version(request.path_params["file_id"], request.path_params["version_id"])
    return JSONResponse(details(base_url(request), file))


# ---- media ---------------------------------------------------------------------------


def signed_url_ok(request: Request, private_key: str) -> bool:
    """ImageKit's URL signature: ik-s = HMAC-SHA1(key, <URL after the endpoint> + ik-t)."""
    query = request.url.query
    pairs = [p for p in query.split("&") if p]
    signature = next((p[5:] for p in pairs if p.startswith("ik-s=")), None)
    expiry_raw = next((p[5:] for p in pairs if p.startswith("ik-t=")), None)
    if signature is None:
        return False
    expiry = whole_number(expiry_raw) if expiry_raw is not None else NEVER_EXPIRES
    if expiry is None:
        return False
    if expiry < time.time():
        return False
    rest = "&".join(p for p in pairs if not p.startswith(("ik-s=", "ik-t=")))
    raw_path = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
    relative = raw_path.removeprefix("/media/") + (f"?{rest}" if rest else "")
    expected = hmac.new(private_key.encode(), f"{relative}{expiry}".encode(), hashlib.sha1).hexdigest()
    return same_text(signature.lower(), expected)


@api(auth=public("the library's read policy: private and unpublished files need a signed URL"))
async def media(request: Request) -> Response:
    path = "/" + request.path_params["path"]
    transform = request.query_params.get("tr")
    if path.startswith("/tr:"):
        transform, _, rest = path[4:].partition("/")
        path = "/" + rest
    if transform not in (None, THUMBNAIL):
        raise BadRequest(f"The transformation {transform[:64]!r} is not supported; only {THUMBNAIL} is.", field="tr")
    lib = library(request)
    file, version = lib.media(unquote(path), request.query_params.get("ik-obj-version"))
    signed = file.restricted and signed_url_ok(request, services(request).settings.imagekit_private_key)
    refused = Unauthorized("This file is private: open it with a signed URL (ik-s, ik-t) that has not expired.")
    cache = {"Cache-Control": "private, no-cache" if file.is_private else "public, no-cache"}
    if transform != THUMBNAIL:
        return await common.serve_version(request, file, version, signed=signed, refused=refused, headers=cache)
    common.check_readable(request, file, version, signed=signed, refused=refused)
    data, mime = await lib.thumbnail(version)
    headers = {"X-Content-Type-Options": "nosniff", **cache, "Content-Disposition": "inline"}
    return Response(data, media_type=mime, headers={**headers, "ETag": f'"t-{version.blob[:32]}"'})


routes = [
    Route("/api/v1/files/upload", upload_v1, methods=["POST"]),
    Route("/api/v2/files/upload", upload_v2, methods=["POST"]),
    Route("/v1/files", list_assets, methods=["GET"]),
    Route("/v1/files/batch/deleteByFileIds", bulk_delete, methods=["POST"]),
    Route("/v1/files/{file_id}/details", get_details, methods=["GET"]),
    Route("/v1/files/{file_id}/details", update_details, methods=["PATCH"]),
    Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/v1/files/{file_id}/versions", list_versions, methods=["GET"]),
    Route("/v1/files/{file_id}/versions/{version_id}", get_version, methods=["GET"]),
    Route("/v1/files/{file_id}/versions/{version_id}", delete_version, methods=["DELETE"]),
    Route("/v1/files/{file_id}/versions/{version_id}/restore", restore_version, methods=["PUT"]),
    Route("/media/{path:path}", media, methods=["GET"]),
]


# ---- description ------------------------------------------------------------------------

FILE_DETAILS: Schema = {
    "type": "object",
    "required": ["fileId", "name", "filePath", "url", "versionInfo", "fileType", "mime", "size"],
    "properties": {
        "fileId": {"type": "string"},
        "type": {"type": "string", "enum": ["file", "file-version"]},
        "name": {"type": "string"},
        "filePath": {"type": "string"},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "AITags": {"type": ["array", "null"]},
        "versionInfo": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        },
        "isPrivateFile": {"type": "boolean"},
        "isPublished": {"type": "boolean"},
        "customCoordinates": {"type": ["string", "null"]},
        "url": {"type": "string"},
        "thumbnail": {"type": "string"},
        "fileType": {"type": "string"},
        "mime": {"type": "string"},
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        "size": {"type": "integer"},
        "hasAlpha": {"type": "boolean"},
        "customMetadata": {"type": "object"},
        "description": {"type": "string"},
        "createdAt": {"type": "string"},
        "updatedAt": {"type": "string"},
    },
}
EXTENSIONS: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "enum": ["remove-bg"]}, "options": REMOVE_BG_OPTIONS},
    },
}
BULK_DELETED: Schema = {
    "type": "object",
    "required": ["successfullyDeletedFileIds"],
    "properties": {
        "successfullyDeletedFileIds": {"type": "array", "items": {"type": "string"}},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"fileId": {"type": "string"}, "error": {"type": "string"}}},
        },
    },
}


def describe() -> Description:
    """The OpenAPI paths of these routes."""
    file_id = path_param("fileId")
    version_id = path_param("versionId")
    # Basic auth with the private key, or (from browsers) no header and a signature in the form:
    # publicKey + token + expire + signature on v1, an upload JWT in `token` on v2.
    upload = operation(
        "Upload a file (optionally with extensions)", (200, OBJECT), errors=(400, 401, 403, 409, 413, 429),
        body={"required": True, "content": {"multipart/form-data": {"schema": UPLOAD_FORM}}},
        security=[{"basic": []}, {}],
    )  # fmt: skip
    patch_body = {
        "required": True,
        **json_content({
            "type": "object",
            "properties": {
                "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                "customCoordinates": {"type": ["string", "null"]},
                "customMetadata": {"type": "object"},
                "description": {"type": "string"},
                "extensions": EXTENSIONS,
                "webhookUrl": {"type": "string"},
                "removeAITags": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"const": "all"}]},
                "publish": {"type": "object", "properties": {"isPublished": {"type": "boolean"}}},
            },
        }),
    }  # fmt: skip
    listing = [
        query_param("type", {"type": "string", "enum": ["file", "file-version", "folder", "all"]}),
        query_param("sort", {"type": "string"}),
        query_param("path", {"type": "string"}),
        query_param("searchQuery", {"type": "string"}),
        query_param("fileType", {"type": "string", "enum": ["all", "image", "non-image"]}),
        query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
        query_param("skip", {"type": "integer", "minimum": 0, "maximum": 10**9}),
    ]
    return {"paths": {
        "/api/v1/files/upload": {"post": upload},
        "/api/v2/files/upload": {"post": upload},
        "/v1/files": {"get": operation("List files and folders", (200, {"type": "array"}), params=listing)},
        "/v1/files/batch/deleteByFileIds": {
            "post": operation(
                "Delete up to 100 files: 200 when all existed, 207 when some did not, 404 when none did",
                (200, BULK_DELETED), more={207: BULK_DELETED},
                body={"required": True, **json_content({
                    "type": "object", "required": ["fileIds"],
                    "properties": {
                        "fileIds": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 100},
                    },
                })},
            )  # fmt: skip
        },
        "/v1/files/{fileId}/details": {
            "get": operation("File details", (200, FILE_DETAILS), params=[file_id]),
            "patch": operation("Update file details, or run extensions", (200, FILE_DETAILS),
                         errors=(400, 401, 404, 429), params=[file_id], body=patch_body),  # fmt: skip
        },
        "/v1/files/{fileId}": {"delete": operation("Delete a file and its versions", (204, None), params=[file_id])},
        "/v1/files/{fileId}/versions": {
            "get": operation("List versions", (200, {"type": "array", "items": FILE_DETAILS}), params=[file_id])
        },
        "/v1/files/{fileId}/versions/{versionId}": {
            "get": operation("One version", (200, FILE_DETAILS), params=[file_id, version_id]),
            "delete": operation("Delete a version (not the current one)", (204, None), params=[file_id, version_id]),
        },
        "/v1/files/{fileId}/versions/{versionId}/restore": {
            "put": operation("Make a version current", (200, FILE_DETAILS), params=[file_id, version_id])
        },
        "/media/{filePath}": {
            "get": operation(
                "The file's bytes (signed URL for private files)", (200, None), errors=(400, 401, 404, 429),
                params=[path_param("filePath"), query_param("ik-t", {"type": "string"}),
                        query_param("ik-s", {"type": "string"}), query_param("ik-obj-version", {"type": "string"})],
                secured=False,
            )  # fmt: skip
        },
    }}
