"""What every dialect does the same way: endpoints with declared auth, request parsing, serving a version's bytes."""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from anyio import to_thread
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from ..errors import APIError, BadRequest, Unauthorized
from ..library import Library, loads_client_json, whole_number
from ..models import File, Version
from ..services import Services
from ..signing import same_text

Handler = Callable[[Request], Awaitable[Response]]
Render = Callable[[Request, APIError], Response]
AuthCheck = Callable[[Request], Awaitable[None]]
HELP = "For support, read the Cutout README or the API description at /openapi.json."
NO_KEY = "Your request does not contain private API key."
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Public:
    """A route anyone may call; `reason` says what protects it instead (a signature, the read policy...)."""

    reason: str


Auth = AuthCheck | Public


def public(reason: str) -> Public:
    return Public(reason)


def endpoint(*, render: Render, auth: Auth) -> Callable[[Handler], Handler]:
    """Run `auth` before the handler, and render the error hierarchy in the dialect's shape.

    There is no default `auth`: a route says who may call it, or that anyone may and why.
    """

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def wrapper(request: Request) -> Response:
            try:
                if not isinstance(auth, Public):
                    await auth(request)
                return await fn(request)
            except APIError as exc:
                return render(request, exc)

        wrapper.auth = auth  # type: ignore[attr-defined]
        return wrapper

    return decorate


def declared_auth(handler: object) -> Auth | None:
    auth = getattr(handler, "auth", None)
    return auth if isinstance(auth, Public) or callable(auth) else None


def undeclared(routes: Iterable[BaseRoute], prefix: str = "") -> list[str]:
    """`METHODS path` of every route (inside mounts too) whose handler declares no auth."""
    found: list[str] = []
    for route in routes:
        if isinstance(route, Mount):
            found += undeclared(route.routes, prefix + route.path)
        elif isinstance(route, Route) and declared_auth(route.endpoint) is None:
            found.append(f"{','.join(sorted(route.methods or ()))} {prefix}{route.path}")
        elif not isinstance(route, Route):  # a websocket or host route: nothing here declares its auth
            found.append(f"{type(route).__name__} {prefix}{getattr(route, 'path', '')}")
    return found


def require_declared(routes: Iterable[BaseRoute]) -> None:
    """Refuse to build an app with a route open by omission."""
    if missing := undeclared(routes):
        raise RuntimeError(f"routes without a declared auth: {', '.join(missing)}")


def render_message(exc: APIError) -> Response:
    """The `{message, help}` error shape of ImageKit and of Cutout's own API."""
    return JSONResponse({"message": exc.message, "help": HELP, **exc.extra}, exc.status, headers=exc.headers)


def services(request: Request) -> Services:
    return request.app.state.services


def library(request: Request) -> Library:
    return services(request).library


# ---- auth ---------------------------------------------------------------------


def presented_key(request: Request) -> str | None:
    """The private key from `Authorization: Basic base64(key:password)` or `Basic <raw key>`."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    value = value.strip()
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except ValueError:  # not base64 (binascii.Error, non-ASCII text) or not UTF-8 inside: a raw key
        return value
    return decoded.partition(":")[0] if ":" in decoded else value


async def private_key(request: Request) -> None:
    """Basic auth with the private key (ImageKit's, which Cutout's own API shares)."""
    key = presented_key(request)
    if key is None or not same_text(key, services(request).settings.imagekit_private_key):
        raise Unauthorized(NO_KEY)


# ---- request parsing --------------------------------------------------------------


async def read_form(
    request: Request, *, max_files: int, max_fields: int, max_part_size: int, not_a_form: str, unreadable: str,
    detail_only: bool = False,
) -> FormData:  # fmt: skip
    """A multipart or urlencoded form within limits; `unreadable` prefixes the parser's word on a bad body
    (its bare detail with `detail_only`, else Starlette's `status: detail`)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise BadRequest(not_a_form)
    try:
        return await request.form(max_files=max_files, max_fields=max_fields, max_part_size=max_part_size)
    except APIError:
        raise
    except HTTPException as exc:  # Starlette's word on a malformed multipart body
        raise BadRequest(f"{unreadable}{exc.detail if detail_only else exc}") from None
    except Exception as exc:  # noqa: BLE001 - other malformed bodies surface as parser exceptions
        raise BadRequest(f"{unreadable}{exc}") from None


def text_field(form: FormData, name: str, *, refuse_nul: bool = False) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a text field, not a file.", field=name)
    if refuse_nul and "\x00" in value:
        raise BadRequest(f"{name} must not contain null characters.", field=name)
    return value


async def json_body(request: Request, *, want_object: bool) -> Any:
    """The JSON body (`null` when empty); with `want_object`, anything but an object is refused."""
    noun = "a JSON object" if want_object else "JSON"
    try:
        body = loads_client_json(await request.body() or b"null")
    except ValueError as exc:
        raise BadRequest(f"The request body must be {noun}: {str(exc)[:200]}.") from None
    if want_object and not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def wants_json(request: Request) -> bool:
    """A vendor's JSON answer instead of the image only when JSON is all the client accepts (axios's default
    `application/json, text/plain, */*` gets the image, as remove.bg and Photoroom clients expect)."""
    kinds = [part.split(";")[0].strip().lower() for part in request.headers.get("accept", "").split(",")]
    kinds = [kind for kind in kinds if kind]
    return bool(kinds) and all(kind == "application/json" for kind in kinds)


def int_param(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """A bounded integer query parameter: `default` when absent; present but empty is refused like any
    other non-number, since the API description says integer."""
    if raw is None:
        return default
    number = whole_number(raw)
    if number is None or not low <= number <= high:
        got = "it is empty" if not raw.strip() else f"got {raw[:20]!r}"
        raise BadRequest(f"{name} must be a whole number from {low} to {high}; {got}.", field=name)
    return number


# ---- serving bytes ------------------------------------------------------------------


def check_readable(request: Request, file: File, version: Version, *, signed: bool, refused: APIError) -> None:
    """The library's read policy decides; the dialect words the refusal."""
    if not library(request).readable(file, version, signed=signed):
        raise refused


async def serve_version(
    request: Request, file: File, version: Version, *, signed: bool, refused: APIError,
    headers: Mapping[str, str] | None = None,
) -> Response:  # fmt: skip
    """A version's bytes, streamed: read policy, ETag and 304, nosniff, one byte range (206, or 416)."""
    check_readable(request, file, version, signed=signed, refused=refused)
    etag = f'"{version.blob[:32]}"'
    sent = {"X-Content-Type-Options": "nosniff", **(headers or {}), "Content-Disposition": "inline", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=sent)
    stream = await library(request).open(version)
    size = await to_thread.run_sync(stream.seek, 0, os.SEEK_END)
    wanted = request.headers.get("range")
    if wanted is not None and request.headers.get("if-range", etag) != etag:
        wanted = None  # the client's copy is another version: all of this one
    try:
        span = byte_range(wanted, size)
    except ValueError:
        stream.close()
        return Response(status_code=416, headers={**sent, "Content-Range": f"bytes */{size}"})
    sent["Accept-Ranges"] = "bytes"
    if span is None:
        return BlobResponse(stream, 0, size, 200, media_type=version.mime, headers=sent)
    start, end = span
    sent["Content-Range"] = f"bytes {start}-{end}/{size}"
    return BlobResponse(stream, start, end - start + 1, 206, media_type=version.mime, headers=sent)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte of a single `bytes=` range; None to send everything (no header, one this
    does not parse, or several ranges); ValueError when no byte of it exists (a 416)."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    start, end = whole_number(first) if first else None, whole_number(last) if last else None
    if (first and start is None) or (last and end is None):
        return None
    if start is None:  # the last `end` bytes
        if not end:
            raise ValueError("an empty suffix range")
        return max(0, size - end), size - 1
    if end is not None and end < start:
        return None
    if start >= size:
        raise ValueError("the range starts past the end")
    return start, min(size - 1, end if end is not None else size - 1)


class BlobResponse(StreamingResponse):
    """`length` bytes of an open blob from `start`, read in chunks off the loop; the blob is closed however
    the response ends (sent, client gone, cancelled)."""

    def __init__(self, stream: BinaryIO, start: int, length: int, status: int, *, media_type: str,
                 headers: Mapping[str, str]):  # fmt: skip
        self.stream = stream
        super().__init__(self._chunks(start, length), status, {**headers, "Content-Length": str(length)}, media_type)

    async def _chunks(self, start: int, length: int) -> AsyncIterator[bytes]:
        await to_thread.run_sync(self.stream.seek, start)
        while length > 0:
            chunk = await to_thread.run_sync(self.stream.read, min(CHUNK, length))
            if not chunk:  # shorter than it was a moment ago: nothing more to send
                return
            length -= len(chunk)
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.stream.close()


async def disconnected(request: Request) -> None:
    """Returns when the client closes the connection (call only once the body has been read)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
