"""A corpus of hostile and broken requests: each is a 4xx with a message, the server stays up, nothing is stored.

Table-driven: each dialect contributes `Bad` rows (append another dialect's rows to CORPUS, with its
own entry in DIALECTS for auth and error shape). After every row the test checks /healthz and that
the counts of files, removed files, versions, folders, blobs, jobs, deliveries, endpoints, upload
tokens and multipart parts, and the seeded files' and Uploadcare webhook's details, are exactly what
they were before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import sqlite3
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from service.dialects.uploadcare.upload import MultipartUploads

from ..conftest import CornerSegmenter, RunningServer, image_bytes, make_settings, photo_bytes, run_server

MAX_UPLOAD = 2_000_000
MAX_ENDPOINTS = 2  # the seeded native endpoint and Uploadcare webhook fill it
BODY_SECONDS = 1.0  # a stalled body's rows wait this long
FILE = "{file}"  # stands for the seeded file's id in a path
UUID = "{uuid}"  # the seeded Uploadcare file's uuid (in a path, params, form or JSON body)
HOOK = "{hook}"  # the seeded Uploadcare webhook's id
UPLOAD = "{upload}"  # the seeded (never completed) Uploadcare multipart upload's uuid


# ---- hostile bytes ----------------------------------------------------------------------


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width` x `height` (a decompression bomb's header)."""
    data = bytearray(image_bytes((8, 8)))
    ihdr = bytearray(data[12:29])
    struct.pack_into(">II", ihdr, 4, width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def gif_with_screen(width: int, height: int) -> bytes:
    """A GIF whose logical screen and only frame claim `width` x `height`."""
    data = bytearray(image_bytes((8, 8), "GIF", "P", 1))
    struct.pack_into("<HH", data, 6, width, height)
    frame = data.index(b",")  # the image descriptor: left, top, width, height
    struct.pack_into("<HH", data, frame + 5, width, height)
    return bytes(data)


def png_with_garbage_pixels() -> bytes:
    """A valid PNG header whose IDAT holds bytes that are not zlib data."""
    data = bytearray(image_bytes((64, 48)))
    start = data.index(b"IDAT") + 4
    data[start : start + 20] = b"\x00" * 20
    return bytes(data)


def png_with_pixels(raw: bytes, width: int = 4, height: int = 4) -> bytes:
    """A grey PNG whose IDAT (with a right CRC) inflates to `raw`: rows as stored, filter byte first."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_with_bad_idat_crc() -> bytes:
    data = bytearray(png_with_pixels(b"\x00" * 20))
    crc = data.index(b"IEND") - 8  # the IDAT's CRC, just before IEND's length
    data[crc] ^= 0xFF
    return bytes(data)


PNG = image_bytes()
JPEG = photo_bytes("rocket.jpg")
HUGE = 100_000  # characters in a "huge string"
DEEP_JSON = b"[" * HUGE + b"]" * HUGE  # nested deeper than any parser's recursion
# Not a count of things: for every limit, offset and the like.
BAD_COUNTS = [("zero", "0"), ("negative", "-1"), ("text", "abc"), ("float", "1.5"), ("huge", "9" * 50),
              ("non-ascii-digits", "\u0663"), ("empty", "")]  # fmt: skip


# ---- the corpus -------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """One bad request and what the answer must say."""

    name: str
    method: str
    path: str
    says: str  # words the error message must contain (case-insensitive); "" for any message
    status: int | tuple[int, ...] = 400
    dialect: str = "imagekit"
    auth: str | None = "key"  # "key": the dialect's valid credentials; None: no Authorization header
    headers: dict[str, Any] = field(default_factory=dict)  # sent as given (may set Authorization); None drops one
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    params: dict[str, str] | None = None
    raw: bytes | None = None  # sent as is over a socket: for requests a client library would not send
    # python-multipart never finishes a part cut off mid-body, so Starlette cannot close its spooled
    # file; CPython frees it when the request ends, with a ResourceWarning (Kludex/starlette#3153).
    leaves_unclosed_part: bool = False


@dataclass(frozen=True)
class Dialect:
    credentials: Callable[[RunningServer], dict[str, str]]
    message: Callable[[httpx.Response], str]  # the error message, once the answer is checked to be in its shape


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def imagekit_message(response: httpx.Response) -> str:
    body = response.json()
    assert body.get("help"), body
    return str(body["message"])


UC_PUB = "demopublickey0000000"
UC_SECRET = "demosecretkey0000000"
ACCEPT = "application/vnd.uploadcare-v0.7+json"
UC_SIMPLE = {"Accept": ACCEPT, "Authorization": f"Uploadcare.Simple {UC_PUB}:{UC_SECRET}"}
UPLOAD_API = ("/base/", "/from_url/", "/info/", "/multipart/")


def uploadcare_message(response: httpx.Response) -> str:
    """REST v0.7 answers `{"detail": ...}`; the Upload API and the CDN plain text, or with `?jsonerrors=1`
    `{"error": {"status_code", "content"}}`."""
    url = response.request.url
    if url.path.startswith((*UPLOAD_API, "/cdn/")):
        if url.params.get("jsonerrors") == "1":
            error = response.json()["error"]
            assert error["status_code"] == response.status_code, error
            return str(error["content"])
        assert response.headers["content-type"].startswith("text/plain"), response.headers
        return response.text
    body = response.json()
    assert list(body) == ["detail"], body
    return str(body["detail"])


DIALECTS = {
    "imagekit": Dialect(lambda s: basic(s.settings.imagekit_private_key), imagekit_message),
    "native": Dialect(lambda s: basic(s.settings.imagekit_private_key), imagekit_message),
    "uploadcare": Dialect(lambda s: UC_SIMPLE, uploadcare_message),
}


def upload(name: str, says: str, *, file: bytes | str = PNG, status: int | tuple[int, ...] = 400,
           path: str = "/api/v1/files/upload", auth: str | None = "key", headers: dict[str, Any] | None = None,
           filename: str = "f.png", mime: str = "image/png", **fields: Any) -> Bad:  # fmt: skip
    data = {"fileName": "f.png", **fields}
    files: dict[str, Any] = {}
    if isinstance(file, bytes):
        files["file"] = (filename, file, mime)
    else:
        data["file"] = file
    # A field given as bytes travels as a file part: the wrong type for every text field.
    for key in [k for k, v in data.items() if isinstance(v, bytes)]:
        files[key] = ("x.txt", data.pop(key), "text/plain")
    return Bad(name, "POST", path, says, status, auth=auth, headers=headers or {}, files=files or None, data=data)


def patch(name: str, says: str, body: Any, status: int = 400) -> Bad:
    return Bad(name, "PATCH", f"/v1/files/{FILE}/details", says, status, json=body)


def listing(name: str, says: str, **params: str) -> Bad:
    return Bad(name, "GET", "/v1/files", says, params=params)


def endpoint(name: str, says: str, body: Any, method: str = "POST", path: str = "/v1/webhooks/endpoints") -> Bad:
    return Bad(name, method, path, says, dialect="native", json=body)


def jwt(header: dict[str, Any], claims: dict[str, Any], key: str = "private_test_key") -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def signed(token: str, expire: int, key: str = "private_test_key") -> dict[str, str]:
    signature = hmac.new(key.encode(), f"{token}{expire}".encode(), hashlib.sha1).hexdigest()
    return {"publicKey": "public_test_key", "token": token, "expire": str(expire), "signature": signature}


def no_key(name: str, headers: dict[str, Any]) -> Bad:
    """An upload whose credentials are not the private key."""
    return upload(name, "private API key", status=401, auth=None, headers=headers)


def upload_v2(name: str, says: str, token: str, status: int = 400) -> Bad:
    """A client-side upload to /api/v2 authorised by `token` alone."""
    return upload(name, says, status=status, auth=None, path="/api/v2/files/upload", token=token)


SOON = int(time.time()) + 600  # module import time; the whole corpus runs well within ten minutes
REMOVE_BG = json.dumps([{"name": "remove-bg"}])
JWT = {"alg": "HS256", "kid": "public_test_key"}
CLAIMS = {"fileName": "f.png", "exp": SOON}

# Every form of "a URL we must never call" (loopback, private, metadata, IPv6 wrappers, schemes).
HOSTILE_URLS = [
    ("loopback", "http://127.0.0.1/a.png"),
    ("localhost", "http://localhost/a.png"),
    ("localhost-dot", "http://LOCALHOST./a.png"),
    ("ipv6-loopback", "http://[::1]/a.png"),
    ("metadata", "http://169.254.169.254/latest/meta-data/"),
    ("private-10", "http://10.0.0.1/a.png"),
    ("private-192", "http://192.168.1.1/a.png"),
    ("cgnat", "http://100.64.0.1/a.png"),
    ("unspecified", "http://0.0.0.0/a.png"),
    ("mapped-loopback", "http://[::ffff:127.0.0.1]/a.png"),
    ("mapped-metadata", "http://[::ffff:a9fe:a9fe]/latest/"),
    ("nat64-metadata", "http://[64:ff9b::a9fe:a9fe]/latest/"),
    ("6to4-loopback", "http://[2002:7f00:1::1]/a.png"),
    ("ietf-protocol-block", "http://192.0.0.200/a.png"),  # outside 192.0.0.0/29, which is_global sees
    ("6to4-relay-anycast", "http://192.88.99.1/a.png"),
    ("benchmarking", "http://198.18.0.1/a.png"),
    ("site-local", "http://[fec0::1]/a.png"),
    ("teredo", "http://[2001::808:808]/a.png"),
    ("local-nat64", "http://[64:ff9b:1::808:808]/a.png"),
    ("ipv6-documentation", "http://[3fff::1]/a.png"),
    ("decimal-loopback", "http://2130706433/a.png"),
    ("short-loopback", "http://127.1/a.png"),
    ("hex-loopback", "http://0x7f000001/a.png"),
    ("file-scheme", "file:///etc/passwd"),
    ("ftp", "ftp://example.com/a.png"),
    ("gopher", "gopher://127.0.0.1:70/_stats"),
    ("javascript", "javascript:alert(1)"),
    ("credentials", "http://user:pw@example.com/a.png"),
    ("ssh-port", "http://example.com:22/a.png"),
    ("no-host", "http:///a.png"),
    ("empty-label", "https://a..example/a.png"),
    ("label-over-63", "https://" + "a" * 64 + ".example/a.png"),
    ("nul-in-host", "https://a\x00b.example/a.png"),
]  # fmt: skip


@dataclass(frozen=True)
class BrokenFile:
    """A broken or hostile file that every dialect's upload must refuse."""

    name: str
    says: str
    data: bytes
    filename: str = "f.png"
    mime: str = "image/png"


BROKEN_FILES = [
    BrokenFile("file-empty", "empty", b""),
    BrokenFile("file-truncated-png", "truncated", photo_bytes("coffee.png")[:5000]),
    BrokenFile("file-truncated-jpeg", "truncated", JPEG[: len(JPEG) // 2]),
    BrokenFile("file-jpeg-magic-then-junk", "corrupt", b"\xff\xd8\xff\xe0" + b"\x13" * 4000),
    BrokenFile("file-png-garbage-pixels", "corrupt", png_with_garbage_pixels()),
    BrokenFile("file-png-bad-row-filter", "row filter 9", png_with_pixels(b"\x00" * 15 + b"\x09" + b"\x00" * 4)),
    BrokenFile("file-png-pixels-end-early", "the pixel data ends early", png_with_pixels(b"\x00" * 15)),
    BrokenFile("file-png-bad-idat-crc", "fails its CRC", png_with_bad_idat_crc()),
    BrokenFile("file-text", "not a supported image", b"hello, I am a text file pretending to be a picture" * 10),
    BrokenFile("file-svg-script", "not a supported image",
               b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x.svg", "image/svg+xml"),
    BrokenFile("file-html-as-png", "not a supported image", b"<html><script>alert(1)</script></html>"),
    BrokenFile("file-text-lying-as-jpeg", "not a supported image", b"GIF? no. " * 100, "x.jpg", "image/jpeg"),
    BrokenFile("bomb-png-60000", "bomb", png_with_header(60000, 60000)),
    BrokenFile("bomb-gif-65535", "bomb", gif_with_screen(65535, 65535)),
    BrokenFile("too-many-megapixels", "megapixels", png_with_header(8000, 8000)),
    BrokenFile("too-wide", "per side", png_with_header(20000, 10)),
]  # fmt: skip

def stalled(path: str, content_type: str, headers: dict[str, str]) -> bytes:
    """A request that sends a tenth of its body, then nothing (a slow-loris client)."""
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Type: {content_type}", "Content-Length: 100",
             *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + b"--b\r\nxxxxx"


IMAGEKIT: list[Bad] = [
    # -- broken and hostile files
    *[upload(f.name, f.says, file=f.data, filename=f.filename, mime=f.mime) for f in BROKEN_FILES],
    upload("file-over-limit", "limit", file=b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_UPLOAD + 10), status=413),
    upload("file-base64-over-limit", "limit", file=base64.b64encode(b"\0" * (MAX_UPLOAD + 10)).decode(), status=413),
    upload("file-base64-not-image", "not a supported image", file=base64.b64encode(b"plain text").decode()),
    upload("file-not-base64", "base64", file="definitely not base64 !!!"),
    upload("file-data-uri-not-base64", "base64", file="data:image/png,rawbytes"),
    Bad("file-missing", "POST", "/api/v1/files/upload", "missing file", data={"fileName": "x.png"}),
    Bad("filename-missing", "POST", "/api/v1/files/upload", "fileName", files={"file": ("x.png", PNG, "image/png")}),
    # -- lying or missing framing
    Bad("body-json-not-multipart", "POST", "/api/v1/files/upload", "multipart", json={"file": "x", "fileName": "x"}),
    Bad("multipart-without-boundary", "POST", "/api/v1/files/upload", "multipart",
        content=b"--x\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\na\r\n--x--\r\n",
        headers={"Content-Type": "multipart/form-data"}),
    Bad("multipart-truncated", "POST", "/api/v1/files/upload", "",
        content=b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n" + PNG[:50],
        headers={"Content-Type": "multipart/form-data; boundary=b"}, leaves_unclosed_part=True),
    Bad("body-stalls", "POST", "/api/v1/files/upload", "did not arrive in time", status=408,
        raw=stalled("/api/v1/files/upload", "multipart/form-data; boundary=b", basic("private_test_key"))),
    Bad("content-length-lies-huge", "POST", "/api/v1/files/upload", "limit", status=413,
        raw=b"POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 999999999999\r\nConnection: close\r\n\r\n--b\r\n"),
    Bad("two-file-parts", "POST", "/api/v1/files/upload", "multipart",
        files=[("file", ("a.png", PNG, "image/png")), ("file", ("b.png", PNG, "image/png"))],  # type: ignore[arg-type]
        data={"fileName": "a.png"}),
    # -- every text field as a file part (the wrong type), and as a wrong value
    *[upload(f"{name}-as-file-part", name, file=base64.b64encode(PNG).decode(), **{name: b"x"})
      for name in ("fileName", "folder", "tags", "customMetadata", "extensions", "webhookUrl", "isPrivateFile")],
    upload("useUniqueFileName-maybe", "useUniqueFileName", useUniqueFileName="maybe"),
    upload("isPrivateFile-1", "isPrivateFile", isPrivateFile="1"),
    upload("isPublished-yes", "isPublished", isPublished="yes"),
    upload("overwriteFile-2", "overwriteFile", overwriteFile="2"),
    upload("customMetadata-not-json", "customMetadata", customMetadata="not json"),
    upload("customMetadata-array", "customMetadata", customMetadata="[1, 2]"),
    upload("customMetadata-bad-key", "customMetadata", customMetadata='{"bad key!": 1}'),
    upload("customMetadata-nested", "customMetadata", customMetadata='{"nested": {"a": 1}}'),
    upload("customMetadata-infinity", "out of range", customMetadata='{"a": 1e999}'),
    upload("customMetadata-nan", "NaN", customMetadata='{"a": NaN}'),
    upload("customMetadata-huge-value", "customMetadata", customMetadata=json.dumps({"a": "v" * HUGE})),
    upload("customMetadata-lone-surrogate", "surrogate", customMetadata='{"a": "\\ud800"}'),
    upload("customMetadata-deep", "nested too deeply", customMetadata="[" * 100_000 + "]" * 100_000),
    upload("customMetadata-key-newline", "customMetadata", customMetadata='{"a\\n": 1}'),
    upload("customCoordinates-letters", "customCoordinates", customCoordinates="a,b,c,d"),
    upload("responseFields-unknown", "responseFields", responseFields="tags,password"),
    Bad("field-repeated", "POST", "/api/v1/files/upload", "folder",
        files=[("file", ("a.png", PNG, "image/png")), ("fileName", (None, b"a.png")), ("folder", (None, b"/a")),
               ("folder", (None, b"/b"))]),  # type: ignore[arg-type]
    upload("unknown-field", "unknownField", unknownField="1"),
    upload("transformation-unsupported", "transformation", transformation='{"pre": "w-100"}'),
    # -- traversal and huge names
    upload("fileName-traversal", "fileName", fileName="../../etc/passwd"),
    upload("fileName-backslash-traversal", "fileName", fileName="..\\..\\windows\\win.ini"),
    upload("fileName-slash", "fileName", fileName="a/b.png"),
    upload("fileName-dotdot", "fileName", fileName=".."),
    upload("fileName-nul", "fileName", fileName="a\x00.png"),
    upload("fileName-blank", "fileName", fileName="  "),
    upload("fileName-huge", "fileName", fileName="a" * HUGE + ".png"),
    upload("folder-traversal", "folder", folder="../../outside"),
    upload("folder-dot", "folder", folder="/a/./b"),
    upload("folder-inner-traversal", "folder", folder="/a/../../b"),
    upload("folder-huge", "folder", folder="/" + "a" * HUGE),
    upload("folder-deep", "folder", folder="/a" * 1000),
    upload("tags-huge", "tags", tags="x" * 500),
    upload("tags-too-many", "tags", tags=",".join(f"t{i}" for i in range(500))),
    upload("description-huge", "description", description="d" * HUGE),
    # -- extensions
    upload("extensions-not-json", "extensions", extensions="{nope"),
    upload("extensions-object", "extensions", extensions='{"name": "remove-bg"}'),
    upload("extensions-number", "extensions", extensions="5"),
    upload("extensions-item-string", "extensions", extensions='["remove-bg"]'),
    upload("extensions-name-number", "extensions", extensions='[{"name": 5}]'),
    upload("extensions-unsupported", "google-auto-tagging", extensions='[{"name": "google-auto-tagging"}]'),
    upload("extensions-twice", "twice", extensions='[{"name": "remove-bg"}, {"name": "remove-bg"}]'),
    upload("extensions-options-array", "options", extensions='[{"name": "remove-bg", "options": [1]}]'),
    upload("extensions-bad-bg_color", "bg_color",
           extensions='[{"name": "remove-bg", "options": {"bg_color": "nope"}}]'),
    upload("extensions-bg_color-channel-huge", "bg_color",
           extensions='[{"name": "remove-bg", "options": {"bg_color": "rgb(99999999999999999999, 0, 0)"}}]'),
    upload("extensions-bg_color-channel-over-255", "bg_color",
           extensions='[{"name": "remove-bg", "options": {"bg_color": "rgba(0, 0, 0, 300)"}}]'),
    upload("extensions-unknown-option", "sparkle", extensions='[{"name": "remove-bg", "options": {"sparkle": true}}]'),
    upload("extensions-scale-string", "scale", extensions='[{"name": "remove-bg", "options": {"scale": "300%"}}]'),
    upload("extensions-both-backgrounds", "bg_", extensions=json.dumps(
        [{"name": "remove-bg", "options": {"bg_color": "fff", "bg_image_url": "https://a.example/c.png"}}])),
    upload("extensions-deep", "nested too deeply", extensions="[" * 100_000 + "]" * 100_000),
    upload("extensions-huge", "extensions", extensions="[" + ",".join(['{"name": "remove-bg"}'] * 20_000) + "]"),
    upload("webhookUrl-huge", "webhookUrl", extensions=REMOVE_BG, webhookUrl="https://a.example/" + "x" * HUGE),
    # -- hostile URLs in every URL field of the upload
    *[upload(f"file-url-{name}", "file", file=url) for name, url in HOSTILE_URLS],
    *[upload(f"webhookUrl-{name}", "webhookUrl", extensions=REMOVE_BG, webhookUrl=url) for name, url in HOSTILE_URLS],
    *[upload(f"bg_image_url-{name}", "bg_image_url",
             extensions=json.dumps([{"name": "remove-bg", "options": {"bg_image_url": url}}]))
      for name, url in HOSTILE_URLS],
    # -- bad auth of every kind
    no_key("auth-none", {}),
    no_key("auth-wrong-key", basic("private_wrong_key")),
    no_key("auth-key-as-password", {"Authorization": "Basic " + base64.b64encode(b":private_test_key").decode()}),
    no_key("auth-key-case", basic("PRIVATE_TEST_KEY")),
    no_key("auth-public-key", basic("public_test_key")),
    no_key("auth-bearer", {"Authorization": "Bearer private_test_key"}),
    no_key("auth-basic-empty", {"Authorization": "Basic"}),
    no_key("auth-basic-garbage", {"Authorization": "Basic !!!%%%"}),
    no_key("auth-basic-latin1", {"Authorization": b"Basic \xff\xfe\xfd"}),
    upload("auth-basic-and-signature", "both", **signed("tok-both", SOON)),
    upload("signature-wrong-public-key", "publicKey", status=401, auth=None,
           **{**signed("tok-1", SOON), "publicKey": "nope"}),
    upload("signature-wrong", "signature", status=401, auth=None, **{**signed("tok-2", SOON), "signature": "0" * 40}),
    upload("signature-non-ascii", "signature", status=401, auth=None,
           **{**signed("tok-2", SOON), "signature": "\u00e9" * 40}),
    upload("signature-public-key-non-ascii", "publicKey", status=401, auth=None,
           **{**signed("tok-1", SOON), "publicKey": "\u00e9"}),
    upload("signature-other-key", "signature", status=401, auth=None, **signed("tok-3", SOON, key="private_wrong_key")),
    upload("signature-expired", "expire", auth=None, **signed("tok-4", int(time.time()) - 10)),
    upload("signature-expire-far", "expire", auth=None, **signed("tok-5", int(time.time()) + 7200)),
    upload("signature-expire-text", "expire", auth=None, **{**signed("tok-6", SOON), "expire": "soon"}),
    upload("signature-expire-superscript", "expire", auth=None, **{**signed("tok-6", SOON), "expire": "\u00b2"}),
    upload("signature-expire-arabic-digits", "expire", auth=None,
           **{**signed("tok-6", SOON), "expire": str(SOON).translate({ord("0") + i: 0x660 + i for i in range(10)})}),
    upload("signature-missing", "signature", auth=None,
           **{k: v for k, v in signed("tok-7", SOON).items() if k != "signature"}),
    upload("signature-token-huge", "token", auth=None, **signed("t" * 1000, SOON)),
    upload_v2("jwt-not-a-jwt", "token", "not-a-jwt"),
    upload_v2("jwt-alg-none", "HS256", jwt({"alg": "none", "kid": "public_test_key"}, CLAIMS, "")),
    upload_v2("jwt-wrong-kid", "publicKey", jwt({**JWT, "kid": "nope"}, CLAIMS), status=401),
    upload_v2("jwt-wrong-key", "signature", jwt(JWT, CLAIMS, "private_wrong_key"), status=401),
    upload_v2("jwt-signature-non-ascii", "signature", jwt(JWT, CLAIMS).rpartition(".")[0] + ".\u00e9", status=401),
    upload_v2("jwt-claims-mismatch", "fileName", jwt(JWT, {**CLAIMS, "fileName": "other.png"})),
    upload_v2("jwt-expired", "exp", jwt(JWT, {**CLAIMS, "exp": 1000})),
    upload_v2("jwt-deep", "token", base64.urlsafe_b64encode(b"[" * 50_000).decode() + ".e30.x"),
    *[upload(f"jwt-unsigned-{name}", f"{name} is not in the token", auth=None, path="/api/v2/files/upload",
             token=jwt(JWT, CLAIMS), **{name: value})
      for name, value in [("folder", "/"), ("useUniqueFileName", "false"), ("overwriteFile", "true"),
                          ("extensions", REMOVE_BG), ("webhookUrl", "https://example.com/h"), ("tags", "a")]],
    *[Bad(f"{name}-auth-{kind}", method, path, "private API key", 401, auth=None, headers=headers, json=body)
      for name, method, path, body, (kind, headers) in [
          ("list", "GET", "/v1/files", None, ("none", {})),
          ("details", "GET", f"/v1/files/{FILE}/details", None, ("wrong", basic("x"))),
          ("patch", "PATCH", f"/v1/files/{FILE}/details", {"tags": ["t"]}, ("none", {})),
          ("delete", "DELETE", f"/v1/files/{FILE}", None, ("public-key", basic("public_test_key"))),
          ("bulk-delete", "POST", "/v1/files/batch/deleteByFileIds", {"fileIds": [FILE]}, ("none", {})),
          ("restore", "PUT", f"/v1/files/{FILE}/versions/x/restore", None, ("bearer", {"Authorization": "Bearer k"})),
      ]],
    # -- PATCH details: wrong types in every field, huge and broken bodies
    patch("patch-tags-string", "tags", {"tags": "not-a-list"}),
    patch("patch-tags-numbers", "tags", {"tags": [1, 2]}),
    Bad("patch-tags-lone-surrogate", "PATCH", f"/v1/files/{FILE}/details", "surrogate",
        content=b'{"tags": ["\\ud800"]}'),
    patch("patch-customMetadata-string", "customMetadata", {"customMetadata": "x"}),
    Bad("patch-customMetadata-infinity", "PATCH", f"/v1/files/{FILE}/details", "Infinity",
        content=b'{"customMetadata": {"a": Infinity}}'),
    Bad("patch-customMetadata-overflow", "PATCH", f"/v1/files/{FILE}/details", "out of range",
        content=b'{"customMetadata": {"a": -1e400}}'),
    Bad("patch-customMetadata-huge-int", "PATCH", f"/v1/files/{FILE}/details", "JSON",
        content=b'{"customMetadata": {"a": ' + b"9" * 5000 + b"}}"),
    patch("patch-customCoordinates-number", "customCoordinates", {"customCoordinates": 5}),
    patch("patch-customCoordinates-arabic-digits", "customCoordinates", {"customCoordinates": "\u0661,\u0662,\u0663,\u0664"}),
    patch("patch-customCoordinates-newline", "customCoordinates", {"customCoordinates": "1,2,3,4\n"}),
    patch("patch-customMetadata-key-newline", "customMetadata", {"customMetadata": {"a\n": 1}}),
    patch("patch-description-array", "description", {"description": ["x"]}),
    patch("patch-description-huge", "description", {"description": "d" * HUGE}),
    Bad("patch-description-lone-surrogate", "PATCH", f"/v1/files/{FILE}/details", "surrogate",
        content=b'{"description": "a\\udfffb"}'),
    patch("patch-removeAITags-number", "removeAITags", {"removeAITags": 3}),
    patch("patch-publish-string", "publish", {"publish": {"isPublished": "yes"}}),
    patch("patch-publish-with-others", "publish", {"publish": {"isPublished": False}, "tags": ["a"]}),
    patch("patch-unknown-field", "nope", {"nope": 1}),
    patch("patch-extensions-string", "extensions", {"extensions": "remove-bg"}),
    patch("patch-extensions-bad-scale", "scale", {"extensions": [{"name": "remove-bg", "options": {"scale": "300%"}}]}),
    patch("patch-extensions-bg_color-channel-huge", "bg_color",
          {"extensions": [{"name": "remove-bg", "options": {"bg_color": "rgb(0, 0, 99999999999999999999)"}}]}),
    patch("patch-extensions-unsupported", "ai-auto-description", {"extensions": [{"name": "ai-auto-description"}]}),
    patch("patch-webhookUrl-number", "webhookUrl", {"extensions": [{"name": "remove-bg"}], "webhookUrl": 5}),
    *[patch(f"patch-webhookUrl-{name}", "webhookUrl", {"extensions": [{"name": "remove-bg"}], "webhookUrl": url})
      for name, url in HOSTILE_URLS[:6]],
    Bad("patch-body-not-json", "PATCH", f"/v1/files/{FILE}/details", "JSON object", content=b"{not json"),
    Bad("patch-body-array", "PATCH", f"/v1/files/{FILE}/details", "JSON object", json=[1, 2]),
    Bad("patch-body-deep", "PATCH", f"/v1/files/{FILE}/details", "nested too deeply",
        content=DEEP_JSON),
    Bad("patch-body-not-utf8", "PATCH", f"/v1/files/{FILE}/details", "JSON", content=b'{"tags": ["\xff\xfe"]}'),
    # -- listing and other reads
    listing("list-type", "type", type="nope"),
    listing("list-sort", "sort", sort="SIDEWAYS"),
    *[listing(f"list-limit-{name}", "limit", limit=value) for name, value in BAD_COUNTS],
    listing("list-skip-negative", "skip", skip="-1"),
    listing("list-skip-empty", "skip", skip=""),
    listing("list-fileType", "fileType", fileType="video"),
    listing("list-search-unquoted", "searchQuery", searchQuery="name = unquoted"),
    listing("list-search-unknown-field", "searchQuery", searchQuery='password = "x"'),
    listing("list-search-unbalanced", "searchQuery", searchQuery='(name = "x"'),
    listing("list-search-type", "searchQuery", searchQuery='size > "big"'),
    listing("list-search-deep", "searchQuery", searchQuery="(" * 5000 + 'name = "x"' + ")" * 5000),
    *[listing(f"list-search-parentheses-{depth}-deep", "nested too deeply",
              searchQuery="(" * depth + 'name = "x"' + ")" * depth) for depth in (13, 330, 2000)],
    listing("list-search-groups-15-deep", "nested too deeply",  # deeper than SQLite's parser goes
            searchQuery='size > 1 OR size > 2 AND (' * 15 + "size > 3" + ")" * 15),
    listing("list-search-long", "searchQuery", searchQuery=" OR ".join(['name = "x"'] * 600) + " AND"),
    listing("list-search-age-overflow", "createdAt", searchQuery='createdAt > "99999999999999d"'),
    listing("list-search-age-non-ascii-digits", "createdAt", searchQuery='createdAt > "\u0663d"'),
    listing("list-search-date-past-9999", "createdAt", searchQuery='createdAt > "9999-12-31T23:59:59-01:00"'),
    listing("list-search-number-past-int64", "size", searchQuery="size > 99999999999999999999999999"),
    *[listing(f"list-search-{name}-number-past-int64", field, searchQuery=query) for name, field, query in [
        ("metadata", "customMetadata.a", "customMetadata.a = 99999999999999999999999"),
        ("metadata-in", "customMetadata.a", "customMetadata.a IN [1, 99999999999999999999999]"),
        ("name", "name", "name = 99999999999999999999999"),
        ("tags-in", "tags", "tags IN [99999999999999999999999]"),
        ("format", "format", "format = -99999999999999999999999"),
    ]],
    listing("list-search-metadata-key-quote", "customMetadata", searchQuery='"customMetadata.a\'b" = "x"'),
    listing("list-search-metadata-key-double-quote", "customMetadata", searchQuery='"customMetadata.a\\"]" = "x"'),
    listing("list-search-metadata-key-nul", "customMetadata", searchQuery='"customMetadata.a\x00" = "x"'),
    listing("list-path-traversal", "path", path="../x"),
    Bad("bulk-delete-no-ids", "POST", "/v1/files/batch/deleteByFileIds", "fileIds", json={}),
    Bad("bulk-delete-string", "POST", "/v1/files/batch/deleteByFileIds", "fileIds", json={"fileIds": "x"}),
    Bad("bulk-delete-empty", "POST", "/v1/files/batch/deleteByFileIds", "fileIds", json={"fileIds": []}),
    Bad("bulk-delete-too-many", "POST", "/v1/files/batch/deleteByFileIds", "fileIds", json={"fileIds": ["a"] * 101}),
    Bad("bulk-delete-numbers", "POST", "/v1/files/batch/deleteByFileIds", "fileIds", json={"fileIds": [1]}),
    Bad("details-traversal-id", "GET", "/v1/files/..%2F..%2Fetc/details", "", 404),
    Bad("details-missing", "GET", "/v1/files/ffffffffffffffffffffffff/details", "does not exist", 404),
    Bad("version-missing", "GET", f"/v1/files/{FILE}/versions/ffffffffffffffffffffffff", "", 404),
    Bad("restore-missing", "PUT", f"/v1/files/{FILE}/versions/ffffffffffffffffffffffff/restore", "", 404),
    Bad("delete-current-version", "DELETE", f"/v1/files/{FILE}/versions/{FILE}", "", (400, 404)),
    Bad("media-dot-segments", "GET", "/media/%2e%2e/%2e%2e/keys.json", "", (400, 404), auth=None),
    Bad("media-encoded-slash", "GET", "/media/..%2F..%2Fkeys.json", "", (400, 404), auth=None),
    Bad("media-db", "GET", "/media/../cutout.db", "", (400, 404), auth=None),
    Bad("media-transformation", "GET", "/media/tr:w-100/f.png", "transformation", auth=None),
    Bad("method-not-allowed", "PUT", "/v1/files", "not allowed", 405),
]  # fmt: skip

NATIVE: list[Bad] = [
    endpoint("endpoint-no-url", "url", {}),
    endpoint("endpoint-url-number", "url", {"url": 5}),
    endpoint("endpoint-url-array", "url", {"url": ["https://a.example/"]}),
    endpoint("endpoint-url-huge", "url", {"url": "https://a.example/" + "x" * HUGE}),
    *[endpoint(f"endpoint-url-{name}", "url", {"url": url}) for name, url in HOSTILE_URLS],
    *[endpoint(f"endpoint-patch-url-{name}", "url", {"url": url}, "PATCH", "/v1/webhooks/endpoints/1")
      for name, url in HOSTILE_URLS[:8]],
    endpoint("endpoint-events-unknown", "events", {"url": "https://a.example/", "events": ["file.exploded"]}),
    endpoint("endpoint-events-string", "events", {"url": "https://a.example/", "events": "file.created"}),
    endpoint("endpoint-events-numbers", "events", {"url": "https://a.example/", "events": [1]}),
    endpoint("endpoint-events-too-many", "events", {"url": "https://a.example/", "events": ["file.created"] * 1000}),
    endpoint("endpoint-active-string", "active", {"url": "https://a.example/", "active": "yes"}),
    endpoint("endpoint-active-number", "active", {"url": "https://a.example/", "active": 1}),
    endpoint("endpoint-format-unknown", "format", {"url": "https://a.example/", "format": "smtp"}),
    endpoint("endpoint-format-number", "format", {"url": "https://a.example/", "format": 5}),
    endpoint("endpoint-secret-given", "secret", {"url": "https://a.example/", "secret": "mine"}),
    endpoint("endpoint-description-number", "description", {"url": "https://a.example/", "description": 5}),
    endpoint("endpoint-description-huge", "description", {"url": "https://a.example/", "description": "d" * HUGE}),
    Bad("endpoint-description-lone-surrogate", "POST", "/v1/webhooks/endpoints", "surrogate", dialect="native",
        content=b'{"url": "https://a.example/", "description": "\\ud800"}'),
    endpoint("endpoint-body-array", "JSON object", [{"url": "https://a.example/"}]),
    endpoint("endpoint-patch-format", "format", {"format": "imagekit"}, "PATCH", "/v1/webhooks/endpoints/1"),
    endpoint("endpoint-patch-active-string", "active", {"active": "no"}, "PATCH", "/v1/webhooks/endpoints/1"),
    Bad("endpoint-body-not-json", "POST", "/v1/webhooks/endpoints", "JSON object", dialect="native", content=b"url=x"),
    Bad("endpoint-body-deep", "POST", "/v1/webhooks/endpoints", "nested too deeply", dialect="native",
        content=DEEP_JSON),
    Bad("endpoint-body-truncated", "POST", "/v1/webhooks/endpoints", "JSON object", dialect="native",
        content=b'{"url": "https://a.example/'),
    Bad("endpoint-missing", "GET", "/v1/webhooks/endpoints/999999", "", 404, dialect="native"),
    Bad("endpoint-id-huge", "GET", "/v1/webhooks/endpoints/" + "9" * 40, "", 404, dialect="native"),
    Bad("endpoint-id-text", "GET", "/v1/webhooks/endpoints/abc", "", 404, dialect="native"),
    Bad("deliveries-state", "GET", "/v1/webhooks/deliveries", "state", dialect="native", params={"state": "x"}),
    Bad("deliveries-limit", "GET", "/v1/webhooks/deliveries", "limit", dialect="native", params={"limit": "0"}),
    Bad("deliveries-endpointId", "GET", "/v1/webhooks/deliveries", "endpointId", dialect="native",
        params={"endpointId": "-1"}),
    *[Bad(f"deliveries-{name}-empty", "GET", "/v1/webhooks/deliveries", f"{name} must be a whole number",
          dialect="native", params={name: ""}) for name in ("limit", "skip", "endpointId")],
    Bad("deliveries-unknown-param", "GET", "/v1/webhooks/deliveries", "sneaky", dialect="native",
        params={"sneaky": "1"}),
    Bad("redeliver-missing", "POST", "/v1/webhooks/deliveries/msg_nope/redeliver", "", 404, dialect="native"),
    Bad("endpoints-auth-none", "GET", "/v1/webhooks/endpoints", "private API key", 401, dialect="native", auth=None),
    Bad("endpoints-auth-wrong", "POST", "/v1/webhooks/endpoints", "private API key", 401, dialect="native", auth=None,
        headers=basic("public_test_key"), json={"url": "https://a.example/"}),
    Bad("deliveries-auth-bearer", "GET", "/v1/webhooks/deliveries", "private API key", 401, dialect="native", auth=None,
        headers={"Authorization": "Bearer private_test_key"}),
    Bad("rotate-auth-none", "POST", "/v1/webhooks/endpoints/1/rotate-secret", "private API key", 401,
        dialect="native", auth=None),
    Bad("redeliver-auth-none", "POST", "/v1/webhooks/deliveries/msg_x/redeliver", "private API key", 401,
        dialect="native", auth=None),
    Bad("endpoint-delete-auth-wrong", "DELETE", "/v1/webhooks/endpoints/1", "private API key", 401, dialect="native",
        auth=None, headers=basic("private_test_key2")),
    # -- the seeded server is at its limit of endpoints (MAX_ENDPOINTS)
    Bad("endpoint-over-the-limit", "POST", "/v1/webhooks/endpoints", "limit", 409, dialect="native",
        json={"url": "https://hooks.invalid/more"}),
    Bad("endpoint-body-stalls", "POST", "/v1/webhooks/endpoints", "did not arrive in time", 408, dialect="native",
        raw=stalled("/v1/webhooks/endpoints", "application/json", basic("private_test_key"))),
]  # fmt: skip




# ---- Uploadcare: Upload API, REST API v0.7, add-ons, webhooks, CDN ---------------------------

MISSING = "00000000-0000-4000-8000-000000000000"  # a well-formed uuid that no file has
UPLOAD = "5eed0000-0000-4000-8000-00000000f11e"  # the seeded multipart upload, never completed
SEEDED_HOOK_URL = "https://hooks.invalid/uc"


def uc(name: str, method: str, path: str, says: str, status: int | tuple[int, ...] = 400, **kwargs: Any) -> Bad:
    """A REST API v0.7 (or CDN) request, with valid Uploadcare.Simple credentials unless told otherwise."""
    return Bad(name, method, path, says, status, dialect="uploadcare", **kwargs)


def uc_form(name: str, path: str, says: str, fields: dict[str, Any], *, status: int | tuple[int, ...] = 400,
            file: bytes | None = None, part_name: str = "f.png", mime: str = "image/png",
            params: dict[str, str] | None = None) -> Bad:  # fmt: skip
    """An Upload API form: `fields` (None leaves one out, bytes travel as a file part) and an optional file."""
    files: dict[str, Any] = {} if file is None else {"file": (part_name, file, mime)}
    files.update({k: ("x.txt", v, "text/plain") for k, v in fields.items() if isinstance(v, bytes)})
    data = {k: v for k, v in fields.items() if v is not None and not isinstance(v, bytes)}
    return Bad(name, "POST", path, says, status, dialect="uploadcare", auth=None, files=files or None, data=data,
               params=params)  # fmt: skip


def base(name: str, says: str, *, file: bytes | None = PNG, status: int = 400, part_name: str = "f.png",
         mime: str = "image/png", params: dict[str, str] | None = None, **fields: Any) -> Bad:  # fmt: skip
    return uc_form(name, "/base/", says, {"UPLOADCARE_PUB_KEY": UC_PUB, **fields}, status=status, file=file,
                   part_name=part_name, mime=mime, params=params)  # fmt: skip


def from_url(name: str, says: str, status: int = 400, **fields: Any) -> Bad:
    default = {"pub_key": UC_PUB, "source_url": "https://a.example/a.png"}
    return uc_form(name, "/from_url/", says, {**default, **fields}, status=status)


def start(name: str, says: str, status: int = 400, params: dict[str, str] | None = None, **fields: Any) -> Bad:
    default = {"UPLOADCARE_PUB_KEY": UC_PUB, "filename": "big.png", "size": str(11 * 2**20),
               "content_type": "image/png"}  # fmt: skip
    return uc_form(name, "/multipart/start/", says, {**default, **fields}, status=status, params=params)


def complete(name: str, says: str, status: int = 400, **fields: Any) -> Bad:
    fields = {"UPLOADCARE_PUB_KEY": UC_PUB, "uuid": UPLOAD, **fields}
    return uc_form(name, "/multipart/complete/", says, fields, status=status)


def part(name: str, says: str, token: str, body: bytes = b"x", status: int = 400) -> Bad:
    return Bad(name, "PUT", f"/multipart/part/{token}/", says, status, dialect="uploadcare", auth=None, content=body)


def part_token(upload: object, index: object, *, secret: str = UC_SECRET, age: int = 0) -> str:
    """A part URL's token as the server signs them, for any session and index, signed `age` seconds ago."""
    salt = MultipartUploads(secret).signer.salt

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    return URLSafeTimedSerializer(secret, salt=salt, signer=Then).dumps([upload, index])


def info(name: str, says: str, status: int = 400, **params: str) -> Bad:
    return Bad(name, "GET", "/info/", says, status, dialect="uploadcare", auth=None,
               params={"pub_key": UC_PUB, "file_id": UUID, **params})  # fmt: skip


def uc_list(name: str, says: str, **params: str) -> Bad:
    return uc(name, "GET", "/files/", says, params=params)


def uc_auth(name: str, method: str, path: str, authorization: str | bytes | None, says: str = "credentials",
            json: Any = None) -> Bad:  # fmt: skip
    headers = {"Accept": ACCEPT, **({"Authorization": authorization} if authorization is not None else {})}
    return uc(name, method, path, says, 401, auth=None, headers=headers, json=json)


def signed_rest(name: str, says: str, *, method: str = "GET", path: str = "/files/?limit=1", body: bytes = b"",
                date: str | None = None, secret: str = UC_SECRET, proof: str | bytes | None = None,
                sent_body: bytes | None = None, sent_type: str = "application/json",
                signed_path: str | None = None) -> Bad:  # fmt: skip
    """The signed `Uploadcare pub:signature` scheme; `sent_*` and `signed_path` tamper with what was signed."""
    date = rfc2822(0) if date is None else date
    signed_text = "\n".join([method, hashlib.md5(body).hexdigest(), "application/json", date, signed_path or path])
    proof = proof if proof is not None else hmac.new(secret.encode(), signed_text.encode(), hashlib.sha1).hexdigest()
    scheme = f"Uploadcare {UC_PUB}:"
    authorization = scheme.encode() + proof if isinstance(proof, bytes) else scheme + proof
    headers = {"Accept": ACCEPT, "Content-Type": sent_type, "Date": date or None, "Authorization": authorization}
    content = body if sent_body is None else sent_body
    return uc(name, method, path, says, 401, auth=None, headers=headers, content=content or None)


def addon(name: str, says: str, body: Any = None, status: int = 400, *, params: Any = None,
          path: str = "/addons/remove_bg/execute/", content: bytes | None = None) -> Bad:  # fmt: skip
    if params is not None:
        body = {"target": UUID, "params": params}
    return uc(name, "POST", path, says, status, json=body, content=content)


def hook(name: str, says: str, body: Any = None, *, method: str = "POST", path: str = "/webhooks/",
         form: dict[str, Any] | None = None, content: bytes | None = None, status: int = 400) -> Bad:  # fmt: skip
    """A webhook request: `form` as pyuploadcare sends a create, or a JSON `body` as it sends an update."""
    return uc(name, method, path, says, status, json=body, data=form, content=content)


def rfc2822(seconds_from_now: float) -> str:
    return formatdate(time.time() + seconds_from_now, usegmt=True)


def expire_signature(expire: int | str, secret: str = UC_SECRET) -> str:
    return hmac.new(secret.encode(), str(expire).encode(), hashlib.sha256).hexdigest()


def handwritten_base(name: str, says: str, disposition: bytes) -> Bad:
    """A /base/ upload whose file part has headers written by hand, ones a client library would not write."""
    content = (
        b'--b\r\nContent-Disposition: form-data; name="UPLOADCARE_PUB_KEY"\r\n\r\n' + UC_PUB.encode() + b"\r\n"
        b"--b\r\nContent-Disposition: form-data; " + disposition + b"\r\nContent-Type: image/png\r\n\r\n"
        + PNG + b"\r\n--b--\r\n"
    )
    return Bad(name, "POST", "/base/", says, dialect="uploadcare", auth=None, content=content,
               headers={"Content-Type": "multipart/form-data; boundary=b"})  # fmt: skip


# Further spellings of "a host we must never call", all refused at request time. A host name that only
# DNS maps to such an address cannot be told then: from_url answers its token and the fetch, which checks
# every resolved address, ends the upload in an error with nothing stored (test_egress covers the check).
MORE_HOSTILE_URLS = [
    ("octal-loopback", "http://0177.0.0.1/a.png"),
    ("zero-host", "http://0/a.png"),
    ("fragment-trick", "http://127.0.0.1#@a.example/a.png"),
    ("userinfo-trick", "http://a.example@127.0.0.1/a.png"),
    ("mapped-hex-loopback", "http://[::ffff:7f00:1]/a.png"),
    ("ipv6-unspecified", "http://[::]/a.png"),
    ("multicast", "http://224.0.0.1/a.png"),
    ("broadcast", "http://255.255.255.255/a.png"),
    ("fullwidth-localhost", "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/a.png"),
    ("fullwidth-digits", "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/a.png"),
    ("ideographic-dots", "http://127\u30020\u30020\u30021/a.png"),
    ("uppercase-scheme", "HTTP://127.0.0.1/a.png"),
    ("data-uri", "data:image/png;base64,iVBORw0KGgo="),
    ("scheme-relative", "//127.0.0.1/a.png"),
    ("bare-path", "/etc/passwd"),
    ("port-out-of-range", "http://a.example:99999/a.png"),
    ("huge", "https://a.example/" + "x" * HUGE),
]  # fmt: skip

# Every REST endpoint, each paired below with one kind of bad credentials.
REST_ENDPOINTS = [
    ("list", "GET", "/files/", None),
    ("list", "GET", "/files/", None),
    ("get", "GET", f"/files/{UUID}/", None),
    ("store", "PUT", f"/files/{UUID}/storage/", None),
    ("remove", "DELETE", f"/files/{UUID}/storage/", None),
    ("remove-batch", "DELETE", "/files/storage/", [UUID]),
    ("store-batch", "PUT", "/files/storage/", [UUID]),
    ("metadata", "PUT", f"/files/{UUID}/metadata/subject/", "x"),
    ("metadata-delete", "DELETE", f"/files/{UUID}/metadata/subject/", None),
    ("addon", "POST", "/addons/remove_bg/execute/", {"target": UUID}),
    ("addon-status", "GET", f"/addons/remove_bg/execute/status/?request_id={MISSING}", None),
    ("hooks", "GET", "/webhooks/", None),
    ("hook-create", "POST", "/webhooks/", {"target_url": "https://a.example/"}),
    ("hook-update", "PUT", f"/webhooks/{HOOK}/", {"is_active": False}),
    ("hook-delete", "DELETE", f"/webhooks/{HOOK}/", None),
    ("unsubscribe", "DELETE", "/webhooks/unsubscribe/", {"target_url": SEEDED_HOOK_URL}),
]
SIMPLE = "Uploadcare.Simple"
BAD_REST_AUTH: list[tuple[str, str | bytes | None, str]] = [
    ("none", None, "credentials"),
    ("imagekit-key", basic("private_test_key")["Authorization"], "credentials"),
    ("bearer", f"Bearer {UC_SECRET}", "credentials"),
    ("wrong-secret", f"{SIMPLE} {UC_PUB}:wrong", "credentials"),
    ("wrong-public-key", f"{SIMPLE} nope:{UC_SECRET}", "Public key nope not found"),
    ("no-secret", f"{SIMPLE} {UC_PUB}", "credentials"),
    ("scheme-only", SIMPLE, "credentials"),
    ("secret-only", f"{SIMPLE} :{UC_SECRET}", "credentials"),
    ("lowercase-scheme", f"uploadcare.simple {UC_PUB}:{UC_SECRET}", "credentials"),
    ("swapped-keys", f"{SIMPLE} {UC_SECRET}:{UC_PUB}", "not found"),
    ("non-ascii", b"Uploadcare.Simple \xff\xfe:\xfd", "Public key"),
    ("huge-public-key", f"{SIMPLE} {'p' * 5000}:{UC_SECRET}", "not found"),
    ("none", None, "credentials"),
    ("secret-case", f"{SIMPLE} {UC_PUB}:{UC_SECRET.upper()}", "credentials"),
    ("basic", "Basic " + base64.b64encode(f"{UC_PUB}:{UC_SECRET}".encode()).decode(), "credentials"),
    ("none", None, "credentials"),
]

UPLOADCARE: list[Bad] = [
    # -- Upload API, /base/: broken and hostile files
    *[base(f"uc-{f.name}", f.says, file=f.data, part_name=f.filename, mime=f.mime) for f in BROKEN_FILES],
    base("uc-file-over-limit", "limit", file=b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_UPLOAD + 10), status=413),
    base("uc-file-corrupt-jsonerrors", "truncated", file=JPEG[:3000], params={"jsonerrors": "1"}),
    base("uc-no-file", "does not contain files", file=None),
    Bad("uc-batch-one-bad", "POST", "/base/", "not a supported image", dialect="uploadcare", auth=None,
        data={"UPLOADCARE_PUB_KEY": UC_PUB},
        files=[("good", ("a.png", PNG, "image/png")),  # type: ignore[arg-type]
               ("bad", ("b.png", b"not an image", "image/png"))]),
    Bad("uc-too-many-files", "POST", "/base/", "too many files", dialect="uploadcare", auth=None,
        data={"UPLOADCARE_PUB_KEY": UC_PUB},
        files=[(f"f{i}", (f"{i}.png", PNG, "image/png")) for i in range(21)]),  # type: ignore[arg-type]
    base("uc-too-many-fields", "too many fields", **{f"metadata[k{i}]": "v" for i in range(201)}),
    base("uc-field-over-part-limit", "maximum size", tags="t" * (MAX_UPLOAD + 2048)),
    Bad("uc-base-json-body", "POST", "/base/", "multipart/form-data", dialect="uploadcare", auth=None,
        json={"UPLOADCARE_PUB_KEY": UC_PUB, "file": base64.b64encode(PNG).decode()}),
    Bad("uc-base-multipart-without-boundary", "POST", "/base/", "parsing failed", dialect="uploadcare", auth=None,
        content=b"--x\r\nContent-Disposition: form-data; name=\"UPLOADCARE_PUB_KEY\"\r\n\r\na\r\n--x--\r\n",
        headers={"Content-Type": "multipart/form-data"}),
    Bad("uc-base-multipart-truncated", "POST", "/base/", "", dialect="uploadcare", auth=None,
        content=b"--b\r\nContent-Disposition: form-data; name=\"UPLOADCARE_PUB_KEY\"\r\n\r\n" + UC_PUB.encode()
        + b"\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n" + PNG[:50],
        headers={"Content-Type": "multipart/form-data; boundary=b"}, leaves_unclosed_part=True),
    Bad("uc-base-content-length-lies-huge", "POST", "/base/", "limit", 413, dialect="uploadcare",
        raw=b"POST /base/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 999999999999\r\nConnection: close\r\n\r\n--b\r\n"),
    # -- /base/: names, the public key, storing, metadata, tags and fields
    base("uc-filename-dotdot", "filename", part_name=".."),
    handwritten_base("uc-filename-nul", "filename", b'name="file"; filename="a\x00.png"'),
    handwritten_base("uc-filename-only-dots", "filename", b'name="file"; filename="..."'),
    base("uc-pub-key-missing", "UPLOADCARE_PUB_KEY is required", status=403, UPLOADCARE_PUB_KEY=None),
    base("uc-pub-key-wrong", "UPLOADCARE_PUB_KEY is invalid", status=403, UPLOADCARE_PUB_KEY="nope"),
    base("uc-pub-key-is-the-secret", "UPLOADCARE_PUB_KEY is invalid", status=403, UPLOADCARE_PUB_KEY=UC_SECRET),
    base("uc-pub-key-huge", "UPLOADCARE_PUB_KEY is invalid", status=403, UPLOADCARE_PUB_KEY="k" * HUGE),
    base("uc-pub-key-non-ascii", "UPLOADCARE_PUB_KEY is invalid", status=403,
         UPLOADCARE_PUB_KEY="\u043a\u043b\u044e\u0447"),
    base("uc-pub-key-as-file-part", "UPLOADCARE_PUB_KEY", UPLOADCARE_PUB_KEY=UC_PUB.encode()),
    base("uc-pub-key-wrong-jsonerrors", "UPLOADCARE_PUB_KEY is invalid", status=403, UPLOADCARE_PUB_KEY="nope",
         params={"jsonerrors": "1"}),
    base("uc-store-maybe", "UPLOADCARE_STORE", UPLOADCARE_STORE="maybe"),
    base("uc-store-2", "UPLOADCARE_STORE", UPLOADCARE_STORE="2"),
    base("uc-store-fullwidth-1", "UPLOADCARE_STORE", UPLOADCARE_STORE="\uff11"),
    base("uc-store-nul", "UPLOADCARE_STORE", UPLOADCARE_STORE="1\x00"),
    base("uc-store-as-file-part", "UPLOADCARE_STORE", UPLOADCARE_STORE=b"1"),
    base("uc-metadata-bad-key", "metadata", **{"metadata[bad key!]": "v"}),
    base("uc-metadata-empty-key", "metadata", **{"metadata[]": "v"}),
    base("uc-metadata-nested-key", "metadata", **{"metadata[a][b]": "v"}),
    base("uc-metadata-huge-key", "metadata", **{f"metadata[{'k' * 1000}]": "v"}),
    base("uc-field-name-over-parser-limit", "multipart", **{f"metadata[{'k' * HUGE}]": "v"}),
    base("uc-metadata-long-value", "512", **{"metadata[k]": "v" * 513}),
    base("uc-metadata-huge-value", "512", **{"metadata[k]": "v" * HUGE}),
    base("uc-metadata-empty-value", "non-empty", **{"metadata[k]": ""}),
    base("uc-metadata-duplicate", "duplicate", **{"metadata[k]": ["a", "b"]}),
    base("uc-metadata-too-many", "metadata", **{f"metadata[k{i}]": "v" for i in range(51)}),
    base("uc-metadata-as-file-part", "metadata", **{"metadata[k]": b"v"}),
    base("uc-tags-huge", "tags", tags="x" * 500),
    base("uc-tags-too-many", "tags", tags=",".join(f"t{i}" for i in range(500))),
    base("uc-unknown-field", "sneaky", sneaky="1"),
    base("uc-unknown-field-huge-name", "unknown field", **{"s" * 1000: "1"}),
    # -- /base/: signed uploads
    base("uc-signature-wrong", "signature", status=403, signature="0" * 64, expire=str(SOON)),
    base("uc-signature-other-secret", "signature", status=403, signature=expire_signature(SOON, "other"),
         expire=str(SOON)),
    base("uc-signature-non-ascii", "signature", status=403, signature="\u00e9" * 64, expire=str(SOON)),
    base("uc-signature-huge", "signature", status=403, signature="0" * HUGE, expire=str(SOON)),
    base("uc-signature-expired", "expired", status=403, signature=expire_signature(1000), expire="1000"),
    base("uc-signature-missing", "signature", expire=str(SOON)),
    base("uc-expire-missing", "expire", signature=expire_signature(SOON)),
    base("uc-expire-text", "expire", signature=expire_signature(SOON), expire="soon"),
    base("uc-expire-superscript", "expire", signature=expire_signature(SOON), expire="\u00b2"),
    base("uc-expire-negative", "expire", signature=expire_signature(-5), expire="-5"),
    base("uc-expire-huge", "expire", signature="0" * 64, expire="9" * 5000),
    base("uc-expire-non-ascii-digits", "expire", signature="0" * 64, expire="\u0661\u0667\u0660\u0660" * 3),
    base("uc-expire-float", "expire", signature="0" * 64, expire=f"{SOON}.5"),
    base("uc-unstored-over-bound", "Too many unstored files", status=429, UPLOADCARE_STORE="0"),
    # -- /from_url/
    from_url("uc-from-url-unstored-over-bound", "Too many unstored files", status=429, store="0"),
    from_url("uc-from-url-missing", "source_url is required", source_url=None),
    from_url("uc-from-url-blank", "source_url is required", source_url="   "),
    from_url("uc-from-url-as-file-part", "source_url", source_url=b"https://a.example/a.png"),
    *[from_url(f"uc-from-url-{name}", "source_url", source_url=url) for name, url in HOSTILE_URLS + MORE_HOSTILE_URLS],
    from_url("uc-from-url-store-2", "store", store="2"),
    from_url("uc-from-url-store-yes", "store", store="yes"),
    from_url("uc-from-url-check-duplicates", "check_URL_duplicates", check_URL_duplicates="1"),
    from_url("uc-from-url-save-duplicates", "save_URL_duplicates", save_URL_duplicates="maybe"),
    from_url("uc-from-url-filename-dotdot", "filename", filename=".."),
    from_url("uc-from-url-metadata-bad-key", "metadata", **{"metadata[bad key]": "v"}),
    from_url("uc-from-url-tags-huge", "tags", tags="x" * 500),
    from_url("uc-from-url-unknown-field", "sneaky", sneaky="1"),
    from_url("uc-from-url-pub-key-missing", "pub_key is required", status=403, pub_key=None),
    from_url("uc-from-url-pub-key-wrong", "pub_key is invalid", status=403, pub_key="nope"),
    from_url("uc-from-url-signature-expired", "expired", status=403, signature=expire_signature(1000), expire="1000"),
    from_url("uc-from-url-signature-non-ascii", "signature", status=403, signature="\u00e9" * 64, expire=str(SOON)),
    Bad("uc-from-url-json-body", "POST", "/from_url/", "multipart/form-data", dialect="uploadcare", auth=None,
        json={"pub_key": UC_PUB, "source_url": "https://a.example/a.png"}),
    Bad("uc-from-url-status-no-token", "GET", "/from_url/status/", "token is required", dialect="uploadcare",
        auth=None),
    Bad("uc-from-url-status-empty-token", "GET", "/from_url/status/", "token is required", dialect="uploadcare",
        auth=None, params={"token": ""}),
    # -- /info/
    info("uc-info-pub-key-missing", "pub_key is required", 403, pub_key=""),
    info("uc-info-pub-key-wrong", "pub_key is invalid", 403, pub_key="nope"),
    info("uc-info-file-id-missing", "file_id is required", file_id=""),
    info("uc-info-file-id-not-uuid", "file_id is invalid", file_id="nope"),
    info("uc-info-file-id-huge", "file_id is invalid", file_id="f" * 5000),
    info("uc-info-file-id-non-ascii", "file_id is invalid", file_id="\u0663" * 36),
    info("uc-info-file-id-unknown", "not found", 404, file_id=MISSING),
    info("uc-info-file-id-unknown-jsonerrors", "not found", 404, file_id=MISSING, jsonerrors="1"),
    # -- multipart uploads
    start("uc-start-pub-key-missing", "UPLOADCARE_PUB_KEY is required", 403, UPLOADCARE_PUB_KEY=None),
    start("uc-start-size-missing", "size is required", size=None),
    start("uc-start-size-text", "size", size="big"),
    start("uc-start-size-negative", "size", size="-12000000"),
    start("uc-start-size-huge", "size", size="9" * 5000),
    start("uc-start-size-non-ascii-digits", "size", size="\u0661\u0662" * 4),
    start("uc-start-size-float", "size", size="1.2e7"),
    start("uc-start-size-as-file-part", "size", size=b"12000000"),
    start("uc-start-size-below-minimum", "direct upload", size="1000"),
    start("uc-start-size-over-limit", "limit", size=str(11 * 2**20)),
    start("uc-start-filename-missing", "filename is required", filename=None),
    start("uc-start-content-type-missing", "content_type is required", content_type=""),
    start("uc-start-unknown-field", "sneaky", sneaky="1"),
    start("uc-start-size-text-jsonerrors", "size", size="big", params={"jsonerrors": "1"}),
    part("uc-part-token-tampered", "invalid or has expired", part_token(UPLOAD, 0) + "x", status=403),
    part("uc-part-token-other-secret", "invalid or has expired", part_token(UPLOAD, 0, secret="other"), status=403),
    part("uc-part-token-expired", "invalid or has expired", part_token(UPLOAD, 0, age=2 * 3600), status=403),
    part("uc-part-token-garbage", "invalid or has expired", "not-a-token", status=403),
    part("uc-part-unknown-upload", "not found", part_token(MISSING, 0), status=404),
    part("uc-part-wrong-size", "bytes", part_token(UPLOAD, 0), body=b"x" * 1000),
    part("uc-part-empty", "bytes", part_token(UPLOAD, 1), body=b""),
    # Tokens only the server can sign, holding what it never signs: still no write outside the session.
    part("uc-part-forged-index-beyond", "invalid", part_token(UPLOAD, 7), status=403),
    part("uc-part-forged-index-negative", "invalid", part_token(UPLOAD, -1), status=403),
    part("uc-part-forged-index-text", "invalid", part_token(UPLOAD, "x"), status=403),
    part("uc-part-forged-upload-traversal", "invalid", part_token("../../blobs", 0), status=403),
    complete("uc-complete-uuid-missing", "uuid is required", uuid=None),
    complete("uc-complete-uuid-not-uuid", "uuid is invalid", uuid="../../blobs"),
    complete("uc-complete-uuid-huge", "uuid is invalid", uuid="u" * 5000),
    complete("uc-complete-unknown", "not found", 404, uuid=MISSING),
    complete("uc-complete-already-uploaded", "already uploaded", uuid=UUID),
    complete("uc-complete-missing-parts", "not all parts"),
    complete("uc-complete-pub-key-missing", "UPLOADCARE_PUB_KEY is required", 403, UPLOADCARE_PUB_KEY=None),
    complete("uc-complete-unknown-field", "sneaky", sneaky="1"),
    # -- REST: the version Accept header comes first, then credentials of every kind
    uc("uc-accept-missing", "GET", "/files/", "Accept", 406, headers={"Accept": None}),
    uc("uc-accept-json", "GET", "/files/", "Accept", 406, headers={"Accept": "application/json"}),
    uc("uc-accept-v0.6", "GET", "/files/", "Accept", 406, headers={"Accept": "application/vnd.uploadcare-v0.6+json"}),
    uc("uc-accept-any", "GET", "/files/", "Accept", 406, headers={"Accept": "*/*"}),
    uc("uc-accept-missing-on-remove", "DELETE", f"/files/{UUID}/storage/", "Accept", 406, headers={"Accept": None}),
    uc("uc-accept-missing-no-auth", "GET", "/files/", "Accept", 406, auth=None),
    *[uc_auth(f"uc-{what}-auth-{kind}", method, path, authorization, says, json=body)
      for (what, method, path, body), (kind, authorization, says) in zip(REST_ENDPOINTS, BAD_REST_AUTH, strict=True)],
    signed_rest("uc-signed-wrong-signature", "Invalid signature", proof="0" * 40),
    signed_rest("uc-signed-other-secret", "Invalid signature", secret="other"),
    signed_rest("uc-signed-non-ascii-signature", "Invalid signature", proof=b"\xe9" * 40),
    signed_rest("uc-signed-stale-date", "15 minutes", date=rfc2822(-3600)),
    signed_rest("uc-signed-future-date", "15 minutes", date=rfc2822(3600)),
    signed_rest("uc-signed-stale-pyuploadcare-date", "15 minutes",
                date=time.strftime("%a, %d %b %Y, %H:%M:%S GMT", time.gmtime(time.time() - 3600))),
    signed_rest("uc-signed-no-date", "Date", date=""),
    signed_rest("uc-signed-date-garbage", "Date", date="yesterday"),
    signed_rest("uc-signed-date-year-1", "15 minutes", date="Mon, 01 Jan 0001 00:00:00 +2359"),
    signed_rest("uc-signed-date-offset-overflow", "Date", date="Mon, 01 Jan 2026 00:00:00 +99999999999999999999"),
    signed_rest("uc-signed-date-day-overflow", "Date", date="Mon, 99999999999999999999 Jan 2026 00:00:00 GMT"),
    signed_rest("uc-signed-body-tampered", "Invalid signature", method="PUT", path="/files/storage/",
                body=json.dumps([MISSING]).encode(), sent_body=json.dumps([MISSING, MISSING]).encode()),
    signed_rest("uc-signed-content-type-tampered", "Invalid signature", sent_type="text/plain"),
    signed_rest("uc-signed-query-tampered", "Invalid signature", path="/files/?limit=1000",
                signed_path="/files/?limit=1"),
    # -- REST: listing
    uc_list("uc-list-stored-maybe", "stored", stored="maybe"),
    uc_list("uc-list-removed-2", "removed", removed="2"),
    *[uc_list(f"uc-list-limit-{name}", "limit", limit=value) for name, value in BAD_COUNTS],
    uc_list("uc-list-limit-over-max", "limit", limit="1001"),
    uc_list("uc-list-offset-negative", "offset", offset="-1"),
    uc_list("uc-list-offset-empty", "offset", offset=""),
    uc_list("uc-list-offset-huge", "offset", offset="9" * 20),
    uc_list("uc-list-ordering", "ordering", ordering="size"),
    uc_list("uc-list-ordering-huge", "ordering", ordering="o" * (HUGE // 10)),
    uc_list("uc-list-from-text", "from", **{"from": "yesterday"}),
    uc_list("uc-list-from-after-year-9999", "from", **{"from": "9999-12-31T23:59:59-01:00"}),
    uc_list("uc-list-from-before-year-1", "from", **{"from": "0001-01-01T00:00:00+01:00"}),
    uc_list("uc-list-from-non-ascii-digits", "from", **{"from": "\u0662\u0660\u0662\u0666-01-01"}),
    uc_list("uc-list-include", "include", include="everything"),
    uc_list("uc-list-unknown-param", "sneaky", sneaky="1"),
    uc_list("uc-list-unknown-param-huge", "unknown query parameter", **{"s" * 5000: "1"}),
    # -- REST: one file, storing, removing
    uc("uc-get-not-uuid", "GET", "/files/nope/", "uuid is invalid"),
    uc("uc-get-huge-id", "GET", "/files/" + "f" * 5000 + "/", "uuid is invalid"),
    uc("uc-get-dot-segments", "GET", "/files/%2e%2e/", "", (400, 404)),
    uc("uc-get-unknown", "GET", f"/files/{MISSING}/", "does not exist", 404),
    uc("uc-get-include", "GET", f"/files/{UUID}/", "include", params={"include": "everything"}),
    uc("uc-store-not-uuid", "PUT", "/files/nope/storage/", "uuid is invalid"),
    uc("uc-store-unknown", "PUT", f"/files/{MISSING}/storage/", "does not exist", 404),
    uc("uc-remove-dot-segments", "DELETE", "/files/%2e%2e/storage/", "", (400, 404)),
    uc("uc-remove-unknown", "DELETE", f"/files/{MISSING}/storage/", "does not exist", 404),
    *[uc(f"uc-{verb}-batch-{what}", method, "/files/storage/", says, content=body)
      for verb, method in (("store", "PUT"), ("remove", "DELETE"))
      for what, body, says in [
          ("not-json", b"uuids please", "JSON"),
          ("object", json.dumps({"uuid": MISSING}).encode(), "list of UUIDs"),
          ("empty", b"[]", "can not be empty"),
          ("too-many", json.dumps([MISSING] * 101).encode(), "Maximum"),
          ("numbers", b"[1, 2]", "list of UUIDs"),
          ("nan", b"[NaN]", "NaN"),
          ("deep", DEEP_JSON, "nested too deeply"),
          ("lone-surrogate", b'["\\ud800"]', "surrogate"),
      ]],
    # -- REST: metadata
    uc("uc-metadata-not-uuid", "GET", "/files/nope/metadata/", "uuid is invalid"),
    uc("uc-metadata-unknown-file", "GET", f"/files/{MISSING}/metadata/", "does not exist", 404),
    uc("uc-metadata-key-bad", "GET", f"/files/{UUID}/metadata/bad key!/", "key"),
    uc("uc-metadata-key-huge", "GET", f"/files/{UUID}/metadata/{'k' * 5000}/", "key"),
    uc("uc-metadata-key-absent", "GET", f"/files/{UUID}/metadata/absent/", "no metadata key", 404),
    uc("uc-metadata-delete-absent", "DELETE", f"/files/{UUID}/metadata/absent/", "no metadata key", 404),
    uc("uc-metadata-delete-bad-key", "DELETE", f"/files/{UUID}/metadata/a%20b/", "key"),
    *[uc(f"uc-metadata-put-{what}", "PUT", f"/files/{UUID}/metadata/subject/", says, content=body)
      for what, body, says in [
          ("number", b"5", "JSON string"),
          ("object", b'{"a": "b"}', "JSON string"),
          ("empty", b'""', "JSON string"),
          ("null", b"null", "JSON string"),
          ("long", json.dumps("v" * 513).encode(), "512"),
          ("huge", json.dumps("v" * HUGE).encode(), "512"),
          ("not-json", b"plain words", "JSON"),
          ("infinity", b"Infinity", "JSON"),
          ("lone-surrogate", b'"\\ud800"', "surrogate"),
          ("deep", DEEP_JSON, "nested too deeply"),
          ("not-utf8", b'"\xff\xfe"', "JSON"),
      ]],
    uc("uc-metadata-put-key-bad", "PUT", f"/files/{UUID}/metadata/bad key!/", "key", json="v"),
    uc("uc-metadata-put-key-huge", "PUT", f"/files/{UUID}/metadata/{'k' * 5000}/", "key", json="v"),
    uc("uc-metadata-put-key-newline", "PUT", f"/files/{UUID}/metadata/a%0A/", "key", json="v"),
    uc("uc-metadata-put-unknown-file", "PUT", f"/files/{MISSING}/metadata/subject/", "does not exist", 404, json="v"),
    uc("uc-metadata-put-not-uuid", "PUT", "/files/nope/metadata/subject/", "uuid is invalid", json="v"),
    # -- REST: add-ons
    addon("uc-addon-unknown", "not available", {"target": UUID}, path="/addons/aws_rekognition_detect_labels/execute/"),
    addon("uc-addon-name-huge", "not available", {"target": UUID}, path=f"/addons/{'a' * 5000}/execute/"),
    addon("uc-addon-body-not-json", "JSON", content=b"target=x"),
    addon("uc-addon-body-array", "JSON object", [UUID]),
    addon("uc-addon-body-deep", "nested too deeply", content=DEEP_JSON),
    addon("uc-addon-body-lone-surrogate", "surrogate", content=b'{"target": "\\udfff"}'),
    addon("uc-addon-target-missing", "target", {}),
    addon("uc-addon-target-number", "target", {"target": 5}),
    addon("uc-addon-target-not-uuid", "target is invalid", {"target": "nope"}),
    addon("uc-addon-target-huge", "target is invalid", {"target": "t" * HUGE}),
    addon("uc-addon-target-unknown", "does not exist", {"target": MISSING}, 404),
    addon("uc-addon-unknown-field", "sneaky", {"target": UUID, "sneaky": 1}),
    addon("uc-addon-params-array", "params", params=[1]),
    addon("uc-addon-params-string", "params", params="crop=true"),
    addon("uc-addon-params-bg_color", "bg_color", params={"bg_color": "fff"}),
    addon("uc-addon-params-format", "format", params={"format": "jpg"}),
    addon("uc-addon-params-unknown-huge", "not a remove_bg parameter", params={"p" * 5000: 1}),
    addon("uc-addon-crop-maybe", "crop", params={"crop": "maybe"}),
    addon("uc-addon-crop-number", "crop", params={"crop": 7}),
    addon("uc-addon-crop_margin-negative", "crop_margin", params={"crop": True, "crop_margin": "-5px"}),
    addon("uc-addon-crop_margin-over", "crop_margin", params={"crop": True, "crop_margin": "600px"}),
    addon("uc-addon-crop_margin-five", "crop_margin", params={"crop": True, "crop_margin": "1px 2px 3px 4px 5px"}),
    addon("uc-addon-crop_margin-huge", "crop_margin", params={"crop": True, "crop_margin": "x" * HUGE}),
    addon("uc-addon-scale-300", "scale", params={"scale": "300%"}),
    addon("uc-addon-scale-number", "scale", params={"scale": 5}),
    addon("uc-addon-scale-bool", "scale", params={"scale": True}),
    addon("uc-addon-scale-non-ascii-digits", "scale", params={"scale": "\u0665\u0660%"}),
    addon("uc-addon-position-left", "position", params={"position": "left"}),
    addon("uc-addon-position-over", "position", params={"position": "150%"}),
    addon("uc-addon-position-number", "position", params={"position": 50}),
    addon("uc-addon-roi-three", "roi", params={"roi": "0 0 10"}),
    addon("uc-addon-roi-empty-box", "roi", params={"roi": "10px 10px 5px 5px"}),
    addon("uc-addon-roi-infinite", "roi", params={"roi": "0 0 " + "9" * 400 + " " + "9" * 400}),
    addon("uc-addon-roi-non-ascii-digits", "roi", params={"roi": "0 0 \u0665\u0660 \u0665\u0660"}),
    addon("uc-addon-roi-object", "roi", params={"roi": {"x1": 0}}),
    addon("uc-addon-type", "type", params={"type": "alien"}),
    addon("uc-addon-type-list", "type", params={"type": ["person"]}),
    addon("uc-addon-type_level", "type_level", params={"type_level": "99"}),
    addon("uc-addon-channels", "channels", params={"channels": "cmyk"}),
    addon("uc-addon-add_shadow", "add_shadow", params={"add_shadow": "sometimes"}),
    addon("uc-addon-semitransparency", "semitransparency", params={"semitransparency": 2}),
    uc("uc-addon-status-unknown-addon", "GET", "/addons/nope/execute/status/", "not available",
       params={"request_id": MISSING}),
    uc("uc-addon-status-no-request-id", "GET", "/addons/remove_bg/execute/status/", "request_id is required"),
    uc("uc-addon-status-request-id-not-uuid", "GET", "/addons/remove_bg/execute/status/", "request_id is invalid",
       params={"request_id": "nope"}),
    uc("uc-addon-status-request-id-huge", "GET", "/addons/remove_bg/execute/status/", "request_id is invalid",
       params={"request_id": "r" * 5000}),
    # -- REST: webhooks
    hook("uc-hook-no-target", "target_url", form={"event": "file.uploaded"}),
    hook("uc-hook-target-number", "target_url", {"target_url": 5}),
    hook("uc-hook-target-array", "target_url", {"target_url": ["https://a.example/"]}),
    uc("uc-hook-target-as-file-part", "POST", "/webhooks/", "target_url", data={"event": "file.uploaded"},
       files={"target_url": ("x.txt", b"https://a.example/", "text/plain")}),
    *[hook(f"uc-hook-target-{name}", "target_url", form={"target_url": url, "event": "file.uploaded"})
      for name, url in HOSTILE_URLS + MORE_HOSTILE_URLS],
    hook("uc-hook-event-unknown", "event", form={"target_url": "https://a.example/", "event": "file.exploded"}),
    hook("uc-hook-event-number", "event", {"target_url": "https://a.example/", "event": 5}),
    hook("uc-hook-event-huge", "event", form={"target_url": "https://a.example/", "event": "e" * HUGE}),
    hook("uc-hook-is_active-maybe", "is_active", form={"target_url": "https://a.example/", "is_active": "maybe"}),
    hook("uc-hook-is_active-number", "is_active", {"target_url": "https://a.example/", "is_active": 5}),
    hook("uc-hook-signing_secret-long", "signing_secret",
         form={"target_url": "https://a.example/", "signing_secret": "s" * 33}),
    hook("uc-hook-signing_secret-number", "signing_secret", {"target_url": "https://a.example/", "signing_secret": 5}),
    hook("uc-hook-signing_secret-lone-surrogate", "surrogate",
         content=b'{"target_url": "https://a.example/", "signing_secret": "\\ud800"}'),
    hook("uc-hook-version", "version", form={"target_url": "https://a.example/", "version": "0.6"}),
    hook("uc-hook-version-number", "version", {"target_url": "https://a.example/", "version": 0.7}),
    hook("uc-hook-duplicate", "already subscribed", form={"target_url": SEEDED_HOOK_URL, "event": "file.uploaded"}),
    hook("uc-hook-body-array", "JSON object", [{"target_url": "https://a.example/"}]),
    hook("uc-hook-body-deep", "nested too deeply", content=DEEP_JSON),
    hook("uc-hook-body-not-json", "JSON", content=b"target_url=https://a.example/"),
    *[hook(f"uc-hook-update-target-{name}", "target_url", {"target_url": url}, method="PUT", path=f"/webhooks/{HOOK}/")
      for name, url in HOSTILE_URLS[:8]],
    hook("uc-hook-update-target-huge", "target_url", {"target_url": "https://a.example/" + "x" * HUGE}, method="PUT",
         path=f"/webhooks/{HOOK}/"),
    hook("uc-hook-update-event", "event", {"event": "file.exploded"}, method="PUT", path=f"/webhooks/{HOOK}/"),
    hook("uc-hook-update-is_active", "is_active", {"is_active": "maybe"}, method="PUT", path=f"/webhooks/{HOOK}/"),
    hook("uc-hook-update-signing_secret", "signing_secret", {"signing_secret": "s" * 33}, method="PUT",
         path=f"/webhooks/{HOOK}/"),
    hook("uc-hook-update-version", "version", {"version": "1.0"}, method="PUT", path=f"/webhooks/{HOOK}/"),
    hook("uc-hook-update-body-array", "JSON object", [1], method="PUT", path=f"/webhooks/{HOOK}/"),
    hook("uc-hook-update-body-deep", "nested too deeply", method="PUT", path=f"/webhooks/{HOOK}/", content=DEEP_JSON),
    hook("uc-hook-update-id-text", "whole number", {"is_active": False}, method="PUT", path="/webhooks/abc/"),
    hook("uc-hook-update-id-huge", "whole number", {"is_active": False}, method="PUT", path=f"/webhooks/{'9' * 40}/"),
    hook("uc-hook-update-id-non-ascii", "whole number", {"is_active": False}, method="PUT", path="/webhooks/\u0663/"),
    hook("uc-hook-update-id-negative", "whole number", {"is_active": False}, method="PUT", path="/webhooks/-1/"),
    hook("uc-hook-update-unknown", "does not exist", {"is_active": False}, method="PUT", path="/webhooks/999999/",
         status=404),
    hook("uc-hook-update-imagekit-endpoint", "does not exist", {"is_active": False}, method="PUT",
         path="/webhooks/1/", status=404),
    hook("uc-hook-delete-id-text", "whole number", method="DELETE", path="/webhooks/abc/"),
    hook("uc-hook-delete-unknown", "does not exist", method="DELETE", path="/webhooks/999999/", status=404),
    hook("uc-hook-delete-imagekit-endpoint", "does not exist", method="DELETE", path="/webhooks/1/", status=404),
    hook("uc-unsubscribe-no-target", "target_url", {}, method="DELETE", path="/webhooks/unsubscribe/"),
    hook("uc-unsubscribe-target-number", "target_url", {"target_url": 5}, method="DELETE",
         path="/webhooks/unsubscribe/"),
    hook("uc-unsubscribe-body-array", "JSON object", [SEEDED_HOOK_URL], method="DELETE", path="/webhooks/unsubscribe/"),
    hook("uc-unsubscribe-body-deep", "nested too deeply", method="DELETE", path="/webhooks/unsubscribe/",
         content=DEEP_JSON),
    # -- CDN and the framework's own answers on Uploadcare paths
    uc("uc-cdn-operations", "GET", f"/cdn/{UUID}/-/resize/100x/", "not supported", auth=None),
    uc("uc-cdn-not-uuid", "GET", "/cdn/nope/", "uuid is invalid", auth=None),
    uc("uc-cdn-unknown", "GET", f"/cdn/{MISSING}/", "not found", 404, auth=None),
    uc("uc-method-not-allowed", "POST", "/files/", "not allowed", 405),
    # -- the endpoint limit and the body deadline
    hook("uc-hook-over-the-limit", "limit", form={"target_url": "https://hooks.invalid/more"}, status=409),
    Bad("uc-hook-body-stalls", "POST", "/webhooks/", "did not arrive in time", 408, dialect="uploadcare",
        raw=stalled("/webhooks/", "application/x-www-form-urlencoded", UC_SIMPLE)),
    Bad("uc-base-body-stalls", "POST", "/base/", "did not arrive in time", 408, dialect="uploadcare",
        raw=stalled("/base/", "multipart/form-data; boundary=b", {})),
]  # fmt: skip



def form_in(charset: str, fields: dict[str, str], *, file: bytes | None = PNG) -> tuple[bytes, dict[str, str]]:
    """A multipart body whose Content-Type names `charset`; values are sent as raw bytes (latin-1)."""
    parts = [f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode("latin-1")
             for k, v in fields.items()]  # fmt: skip
    if file is not None:
        parts.append(b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.png"\r\n\r\n' + file + b"\r\n")
    return b"".join(parts) + b"--b--\r\n", {"Content-Type": f"multipart/form-data; boundary=b; charset={charset}"}


# Codecs that decode a form field into a lone surrogate (`\ud800` under unicode_escape, `+2AA-` under utf-7).
FORM_FIELDS = [  # (dialect, name, path, fields, auth, file); `{s}` stands for the lone surrogate
    ("imagekit", "form-description", "/api/v1/files/upload", {"fileName": "f.png", "description": "{s}"}, "key", PNG),
    ("imagekit", "form-publicKey", "/api/v1/files/upload",
     {**signed("tok-8", SOON), "publicKey": "{s}", "fileName": "f.png"}, None, PNG),
    ("uploadcare", "uc-form-metadata", "/base/", {"UPLOADCARE_PUB_KEY": UC_PUB, "metadata[k]": "{s}"}, None, PNG),
    ("uploadcare", "uc-form-pub-key", "/base/", {"UPLOADCARE_PUB_KEY": "{s}"}, None, PNG),
    ("uploadcare", "uc-form-source-url", "/from_url/",
     {"pub_key": UC_PUB, "source_url": "http://example.com/{s}.png"}, None, None),
    ("uploadcare", "uc-form-target-url", "/webhooks/", {"target_url": "https://example.com/{s}"}, "key", None),
]  # fmt: skip
# Codecs that decode a form field into a lone surrogate: `\ud800` under unicode_escape, `+2AA-` under utf-7.
SURROGATES = {"unicode_escape": "\\ud800", "utf-7": "+2AA-"}
FORM_CHARSETS = [
    Bad(f"{name}-{charset}", "POST", path, "charset must be utf-8", dialect=dialect, auth=auth, content=body,
        headers=headers)
    for charset, surrogate in SURROGATES.items()
    for dialect, name, path, fields, auth, file in FORM_FIELDS
    for body, headers in [form_in(charset, {k: v.replace("{s}", surrogate) for k, v in fields.items()}, file=file)]
]  # fmt: skip

CORPUS = IMAGEKIT + NATIVE + UPLOADCARE + FORM_CHARSETS


# ---- the server and what "nothing stored" means ---------------------------------------------


@dataclass
class Seeded:
    server: RunningServer
    http: httpx.Client  # one client for the whole corpus: a new one per request would cost more than the request
    file_id: str
    uuid: str  # the Uploadcare-uploaded file
    hook: int  # the Uploadcare webhook

    def fill(self, value: Any) -> Any:
        """`value` with the placeholders for the seeded things replaced, in strings, bytes and containers."""
        names = {FILE: self.file_id, UUID: self.uuid, HOOK: str(self.hook)}
        if isinstance(value, str):
            for placeholder, real in names.items():
                value = value.replace(placeholder, real)
            return value
        if isinstance(value, bytes):
            return self.fill(value.decode("latin-1")).encode("latin-1")
        if isinstance(value, dict):
            return {self.fill(k): self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def details(self) -> dict[str, Any]:
        """What a refused request must leave as it was: both seeded files and the Uploadcare webhook."""
        http = self.http
        hooks = http.get("/webhooks/", headers=UC_SIMPLE).json()
        return {
            "imagekit": http.get(f"/v1/files/{self.file_id}/details", auth=self.server.auth()).json(),
            "uploadcare": http.get(f"/files/{self.uuid}/", headers=UC_SIMPLE, params={"include": "appdata"}).json(),
            # `updated` moves when a delivery to the hook fails, which is not the request's doing.
            "hooks": [{k: v for k, v in h.items() if k != "updated"} for h in hooks],
        }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A server holding a file from each dialect, an endpoint of each, and a multipart upload in progress
    (so any stray change would also leave a delivery), and as many unstored Uploadcare files as it allows."""
    settings = make_settings(
        Path(tmp_path_factory.mktemp("corpus")) / "data", max_upload_bytes=MAX_UPLOAD,
        uploadcare_public_key=UC_PUB, uploadcare_secret_key=UC_SECRET, uploadcare_max_unstored_files=1,
        max_webhook_endpoints=MAX_ENDPOINTS, body_timeout_seconds=BODY_SECONDS,
    )  # fmt: skip
    for server in run_server(settings, CornerSegmenter()):
        with server.http() as http:
            # .invalid never resolves (RFC 2606): deliveries fail without leaving the machine.
            made = http.post("/v1/webhooks/endpoints", auth=server.auth(), json={"url": "https://hooks.invalid/c"})
            assert made.status_code == 201 and made.json()["id"] == 1, made.text  # rows name it as /webhooks/1/
            hook = http.post("/webhooks/", headers=UC_SIMPLE,
                             data={"target_url": SEEDED_HOOK_URL, "event": "file.uploaded"})  # fmt: skip
            assert hook.status_code == 201, hook.text
            uploaded = http.post("/api/v1/files/upload", auth=server.auth(), files={"file": ("s.png", PNG)},
                                 data={"fileName": "s.png", "tags": "seed"})  # fmt: skip
            assert uploaded.status_code == 200, uploaded.text
            uc_form = {"UPLOADCARE_PUB_KEY": UC_PUB, "UPLOADCARE_STORE": "1", "metadata[subject]": "seed"}
            uc_uploaded = http.post("/base/", files={"file": ("u.png", PNG)}, data=uc_form)
            assert uc_uploaded.status_code == 200, uc_uploaded.text
            unstored = http.post("/base/", files={"file": ("t.png", PNG)}, data={**uc_form, "UPLOADCARE_STORE": "0"})
            assert unstored.status_code == 200, unstored.text  # the one unstored file this server may hold
            # Multipart uploads start at 10 MiB, over this server's limit: the session is written as a start would.
            declared = {
                "size": 11 * 2**20, "part_size": 5 * 2**20, "file_name": "big.png", "original_filename": "big.png",
                "stored": True, "metadata": None, "tags": None,
            }  # fmt: skip
            with sqlite3.connect(server.data_dir / "cutout.db") as conn:
                conn.execute("INSERT INTO multipart_sessions VALUES (?, ?, '[null, null, null]', ?)",
                             [UPLOAD, json.dumps(declared), time.time()])  # fmt: skip
            yield Seeded(server, http, uploaded.json()["fileId"], uc_uploaded.json()["file"], hook.json()["id"])


# Not delivery_attempts: the dispatcher keeps retrying the seeded endpoints' deliveries meanwhile.
TABLES = (
    "files", "removed_files", "versions", "folders", "jobs", "deliveries", "webhook_endpoints", "upload_tokens",
    "multipart_sessions",
)  # fmt: skip


def stored(server: RunningServer) -> dict[str, int]:
    with sqlite3.connect(server.data_dir / "cutout.db") as conn:
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}
    return {**counts, "blobs": server.blob_count()}


def send(seeded: Seeded, case: Bad) -> httpx.Response:
    server = seeded.server
    if case.raw is not None:
        return send_raw(server, case.raw)
    headers = {**(DIALECTS[case.dialect].credentials(server) if case.auth == "key" else {}), **case.headers}
    return seeded.http.request(
        case.method, seeded.fill(case.path), params=seeded.fill(case.params), data=seeded.fill(case.data),
        json=seeded.fill(case.json), content=seeded.fill(case.content), files=case.files,
        headers={k: v for k, v in headers.items() if v is not None},
    )  # fmt: skip


def send_raw(server: RunningServer, raw: bytes) -> httpx.Response:
    with socket.create_connection((server.settings.host, server.settings.port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    method, target, _ = raw.split(b"\r\n", 1)[0].split(b" ", 2)
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    headers = [tuple(line.split(b": ", 1)) for line in header_lines]
    request = httpx.Request(method.decode(), server.url + target.decode())
    return httpx.Response(int(status_line.split(b" ", 2)[1]), content=body, headers=headers, request=request)


def test_the_corpus_is_large_and_its_names_unique() -> None:
    names = [case.name for case in CORPUS]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    assert len(CORPUS) >= 40
    assert {case.dialect for case in CORPUS} == set(DIALECTS)


UNCLOSED_PART = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.name, marks=[UNCLOSED_PART] if c.leaves_unclosed_part else []) for c in CORPUS]
)
def test_bad_input_is_refused_and_stores_nothing(case: Bad, seeded: Seeded) -> None:
    server = seeded.server
    before, details = stored(server), seeded.details()
    response = send(seeded, case)
    expected = case.status if isinstance(case.status, tuple) else (case.status,)
    assert response.status_code in expected, response.text[:500]
    message = DIALECTS[case.dialect].message(response)
    assert message and case.says.lower() in message.lower(), message
    assert len(response.content) < 10_000  # the answer names the problem; it does not echo a huge input
    for secret in (server.settings.imagekit_private_key, server.settings.uploadcare_secret_key):
        assert secret.encode() not in response.content
    assert seeded.http.get("/healthz").status_code == 200
    assert seeded.details() == details
    assert stored(server) == before
