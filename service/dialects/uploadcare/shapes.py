"""Uploadcare's objects and input rules, shared by its Upload API, REST API and CDN."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from ...errors import BadRequest
from ...library import clean_metadata, looks_like_uuid
from ...models import File
from ..common import services

MAX_METADATA_VALUE = 512


def parse_uuid(raw: str | None, field: str) -> str:
    """A file UUID as Uploadcare writes it (lowercase); a 400 naming `field` otherwise."""
    value = (raw or "").strip().lower()
    if not value:
        raise BadRequest(f"{field} is required.", field=field)
    if not looks_like_uuid(value):
        raise BadRequest(f"{field} is invalid: {value[:64]!r} is not a UUID.", field=field)
    return value


def clean_uploadcare_metadata(raw: dict[str, object], field: str = "metadata") -> dict[str, str]:
    """Uploadcare's limits on top of the library's: string values of 1 to 512 characters."""
    for key, value in raw.items():  # before the library's own, longer limit
        if isinstance(value, str) and len(value) > MAX_METADATA_VALUE:
            raise BadRequest(
                f"{field}[{key[:64]}] is longer than {MAX_METADATA_VALUE} characters ({len(value)}).", field=field
            )
    metadata = clean_metadata(raw, field)
    for key, value in metadata.items():
        if not isinstance(value, str) or not value:
            raise BadRequest(f"{field}[{key}] must be a non-empty string.", field=field)
    return metadata


def metadata_strings(file: File) -> dict[str, str]:
    """Uploadcare metadata values are strings; values set through ImageKit may be numbers, booleans or lists."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in file.custom_metadata.items()}


def base_url(request: Request) -> str:
    return services(request).settings.base_url


def cdn_url(base: str, file: File) -> str:
    return f"{base}/cdn/{file.uuid}/"


def content_info(file: File) -> dict[str, Any]:
    v = file.version
    kind, _, subtype = v.mime.partition("/")
    return {
        "mime": {"mime": v.mime, "type": kind, "subtype": subtype},
        "image": {
            "format": subtype.upper(),
            "width": v.width,
            "height": v.height,
            "sequence": False,
            "color_mode": "RGBA" if v.has_alpha else "RGB",
            "orientation": None,
            "geo_location": None,
            "datetime_original": None,
            "dpi": None,
        },
    }


def file_object(base: str, file: File, *, include_appdata: bool = False) -> dict[str, Any]:
    """The REST API v0.7 file object; `base` is the public URL."""
    body: dict[str, Any] = {
        "datetime_removed": file.removed_at,
        "datetime_stored": None if file.removed_at else file.stored_at,
        "datetime_uploaded": file.created_at,
        "is_image": True,
        "is_ready": True,
        "mime_type": file.version.mime,
        "original_file_url": None if file.removed_at else cdn_url(base, file) + quote(file.original_filename, safe=""),
        "original_filename": file.original_filename,
        "size": file.version.size,
        "url": f"{base}/files/{file.uuid}/",
        "uuid": file.uuid,
        "variations": None,
        "content_info": content_info(file),
        "metadata": metadata_strings(file),
        "tags": list(file.tags),
    }
    if include_appdata:
        body["appdata"] = file.appdata
    return body


def upload_info(file: File) -> dict[str, Any]:
    """The Upload API's file info (`/info/`, `/multipart/complete/`, `/from_url/status/`)."""
    info = content_info(file)
    return {
        "uuid": file.uuid,
        "file_id": file.uuid,
        "size": file.version.size,
        "total": file.version.size,
        "done": file.version.size,
        "original_filename": file.original_filename,
        "filename": file.name,
        "mime_type": file.version.mime,
        "image_info": info["image"],
        "video_info": None,
        "content_info": info,
        "metadata": metadata_strings(file),
        "is_image": True,
        "is_stored": file.stored_at is not None,
        "is_ready": True,
    }

