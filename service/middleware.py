"""ASGI middleware: request ids, one log line per request, the request body's size cap and read deadline,
and form charsets."""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import secrets
import time
from collections.abc import Callable

from python_multipart.multipart import parse_options_header
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import APIError, BadRequest, PayloadTooLarge, RequestTimeout

log = logging.getLogger("cutout.http")

# Multipart framing and text fields travel beside the file itself.
BODY_OVERHEAD = 1024 * 1024


class BodyTooLarge(PayloadTooLarge):
    def __init__(self, limit: int):
        super().__init__(
            f"The request body is larger than the limit of {limit} bytes.",
            extra={"help": "See CUTOUT_MAX_UPLOAD_BYTES."},
        )


class BodyTooSlow(RequestTimeout):
    def __init__(self, seconds: float, rate: int):
        super().__init__(
            f"The request body did not arrive in time: {seconds:g} s, plus one second per {rate} bytes received.",
            extra={"help": "See CUTOUT_BODY_TIMEOUT_SECONDS and CUTOUT_BODY_MIN_RATE."},
        )


# A form's text is decoded with the charset its Content-Type names; codecs such as unicode_escape or
# utf-7 make lone surrogates, which no text column, JSON answer or HMAC key can hold.
FORM_CHARSETS = {"utf-8", "ascii"}


def bad_form_charset(content_type: bytes) -> BadRequest | None:
    kind, params = parse_options_header(content_type)
    charset = params.get(b"charset")
    if kind not in (b"multipart/form-data", b"application/x-www-form-urlencoded") or charset is None:
        return None
    try:
        if codecs.lookup(charset.decode("latin-1")).name in FORM_CHARSETS:
            return None
    except LookupError:
        pass
    return BadRequest("Content-Type: a form's charset must be utf-8.", field="Content-Type")


class RequestContext:
    """Adds `x-ik-requestId` to every response, caps request bodies, refuses forms in other charsets than
    UTF-8, and logs each request.

    A body must arrive by a deadline: `body_seconds` after the request began, one second later for every
    `body_rate` bytes received. A client that stalls or trickles its body (slow-loris) is answered 408
    and its connection closed, so it holds no worker or buffer for long, while a slow but steady upload
    earns the time it needs. A refused request is answered with `render_error`, in the shape of the
    path's dialect.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        body_seconds: float,
        body_rate: int,
        render_error: Callable[[Request, APIError], Response],
        observe: Callable[[str, str, int, float], None] = lambda method, route, status, seconds: None,
    ):
        self.app = app
        self.max_body = max_body
        self.body_seconds = body_seconds
        self.body_rate = body_rate
        self.render_error = render_error
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0
        limit = self.max_body * 4 // 3 + BODY_OVERHEAD  # base64 text fields are a third larger
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        received = 0
        body_done = False

        async def capped_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # what follows the body is the wait for a disconnect, which has no deadline
                return await receive()
            deadline = started + self.body_seconds + received / self.body_rate
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.perf_counter(), 0))
            except TimeoutError:
                raise BodyTooSlow(self.body_seconds, self.body_rate) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-ik-requestid", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if declared.isdigit() and int(declared) > limit:
                await self.render_error(Request(scope), BodyTooLarge(limit))(scope, receive, send_with_id)
                return
            if refused := bad_form_charset(headers.get(b"content-type", b"")):
                await self.render_error(Request(scope), refused)(scope, receive, send_with_id)
                return
            try:
                await self.app(scope, capped_receive, send_with_id)
            except (BodyTooLarge, BodyTooSlow) as exc:
                if status == 0:
                    await self.render_error(Request(scope), exc)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.observe(scope["method"], route, status, elapsed)
            log.info(
                json.dumps(
                    {
                        "event": "request",
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round(elapsed * 1000, 1),
                    }
                )
            )

