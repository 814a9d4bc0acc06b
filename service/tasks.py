"""Edits of images from outside the library: read the input, write the result, describe both.

The input is an http(s) URL (fetched through the safe egress client) or a
storage object (`storage://name/path`); the result goes to a storage
(`storage://name/path`, or a folder ending in `/` that keeps the input's
name) or, with no destination, is kept TEMPORARY_RESULT_SECONDS behind an
unguessable token. A dialect's synchronous route and the runner's task jobs
share these steps; failures are APIErrors naming the field (`input`,
`output`); `transient(exc)` says whether a retry may succeed.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from anyio import to_thread

from . import engine
from .egress import Egress, EgressBlocked
from .errors import APIError, BadRequest
from .library import Library
from .storage import StorageInvalid, StorageNotFound, Storages, is_storage_uri

DEFAULT_NAME = "image"
EXTENSIONS = {"jpg": "jpg", "png": "png", "webp": "webp", "avif": "avif", "tiff": "tiff", "zip": "zip"}


class Unreachable(BadRequest):
    """An input URL that could not be fetched; `transient` when the same fetch may succeed later."""

    def __init__(self, message: str, *, field: str, transient: bool):
        super().__init__(message, field=field)
        self.transient = transient


def transient(exc: APIError) -> bool:
    """Whether the failed read or write may succeed if tried again (storage errors say so the same way)."""
    return bool(getattr(exc, "transient", False))


@dataclass(frozen=True)
class Source:
    data: bytes
    uri: str
    name: str  # the output's file name, without extension


def check_storage_uri(storages: Storages, uri: str, field: str, *, folder: bool | None = None) -> None:
    """A storage URI fit to use, checked before anything is queued: its grammar, and a storage of its name."""
    try:
        storages.check(uri, folder=folder)
    except StorageInvalid as exc:
        raise StorageInvalid({field: [problem for problems in exc.details.values() for problem in problems]}) from None
    except StorageNotFound as exc:  # a 422 naming the field, as Claid answers a bad reference in a request
        raise StorageInvalid({field: [exc.message]}) from None


def stem(uri_or_name: str) -> str:
    """The file name a URI or upload ends in, without its extension (DEFAULT_NAME when there is none)."""
    path = urlsplit(uri_or_name).path if "://" in uri_or_name else uri_or_name
    base = posixpath.basename(unquote(path)).strip()
    name = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    return name[:200] or DEFAULT_NAME


def _storages(storages: Storages | None, field: str) -> Storages:
    if storages is None:
        raise BadRequest(f"{field}: storage:// URIs need the storage connectors, which this server lacks.",
                         field=field)  # fmt: skip
    return storages


def _refused(exc: APIError, field: str) -> APIError:
    """A storage's error, named for the field whose URI it was."""
    if exc.field is None or not exc.field.startswith(field):
        exc.message = f"{field}: {exc.message}"
    return exc


async def read_input(uri: str, *, egress: Egress, storages: Storages | None, max_bytes: int,
                     name: str | None = None, field: str = "input") -> Source:  # fmt: skip
    """The input's bytes, from its storage or its URL."""
    if is_storage_uri(uri):
        try:
            stored = await _storages(storages, field).read(uri, max_bytes=max_bytes)
        except APIError as exc:
            raise _refused(exc, field) from None
        return Source(stored.data, uri, name or stem(uri))
    try:
        data = await egress.fetch(uri, max_bytes=max_bytes)
    except EgressBlocked as exc:
        raise Unreachable(f"{field} could not be fetched: {exc.message}.", field=field,
                          transient=exc.transient) from None  # fmt: skip
    return Source(data, uri, name or stem(uri))


def output_uri(destination: str, name: str, result: engine.Result) -> str:
    """Where a result goes: a folder (trailing `/`) gets the input's name and the format's extension."""
    if destination.endswith("/"):
        return f"{destination}{name}.{EXTENSIONS.get(result.format, result.format)}"
    return destination


async def write_output(result: engine.Result, source: Source, destination: str | None, *, library: Library,
                       storages: Storages | None, field: str = "output") -> dict[str, Any]:  # fmt: skip
    """Store the result where asked (a storage, or a temporary result); where it went."""
    file_name = f"{source.name}.{EXTENSIONS.get(result.format, result.format)}"
    if destination is None:
        kept = await library.keep_result(result.data, result.mime, file_name)
        return {"tmp_token": kept.token, "name": file_name, "expires_at": kept.expires_at}
    uri = output_uri(destination, source.name, result)
    try:
        written = await _storages(storages, field).write(uri, result.data, result.mime)
    except APIError as exc:
        raise _refused(exc, field) from None
    return {"uri": written.uri, "key": written.key, "bucket": written.bucket, "name": posixpath.basename(uri)}


async def describe(source: Source, result: engine.Result, written: dict[str, Any],
                   limits: engine.Limits) -> dict[str, Any]:  # fmt: skip
    """The input and the output of one edit, as a task item keeps them (each dialect renders its own)."""
    info = await to_thread.run_sync(engine.inspect_image, source.data, limits)
    return {
        "input": {"uri": source.uri, "name": source.name, "format": info.format, "mime": info.mime,
                  "width": info.width, "height": info.height},
        "output": {"format": result.format, "mime": result.mime, "width": result.width, "height": result.height,
                   "size": len(result.data), **written},
    }  # fmt: skip
