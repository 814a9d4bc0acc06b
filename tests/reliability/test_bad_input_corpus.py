"""A corpus of hostile and broken requests: each is a 4xx with a message, the server stays up, nothing is stored.

Table-driven: each dialect contributes `Bad` rows (append another dialect's rows to CORPUS, with its
own entry in DIALECTS for auth and error shape). After every row the test checks /healthz and that
the counts of files, versions, folders, blobs, jobs, deliveries, endpoints and upload tokens, and the
seeded file's details, are exactly what they were before.
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
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import CornerSegmenter, RunningServer, image_bytes, make_settings, photo_bytes, run_server

MAX_UPLOAD = 2_000_000
FILE = "{file}"  # stands for the seeded file's id in a path


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


PNG = image_bytes()
JPEG = photo_bytes("rocket.jpg")
HUGE = 100_000  # characters in a "huge string"


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
    headers: dict[str, Any] = field(default_factory=dict)  # sent as given (may set Authorization)
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
    message: Callable[[dict[str, Any]], str]


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def imagekit_message(body: dict[str, Any]) -> str:
    assert body.get("help"), body
    return str(body["message"])


DIALECTS = {
    "imagekit": Dialect(lambda s: basic(s.settings.imagekit_private_key), imagekit_message),
    "native": Dialect(lambda s: basic(s.settings.imagekit_private_key), imagekit_message),
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
]  # fmt: skip

IMAGEKIT: list[Bad] = [
    # -- broken and hostile files
    upload("file-empty", "empty", file=b""),
    upload("file-truncated-png", "truncated", file=photo_bytes("coffee.png")[:5000]),
    upload("file-truncated-jpeg", "truncated", file=JPEG[: len(JPEG) // 2]),
    upload("file-jpeg-magic-then-junk", "corrupt", file=b"\xff\xd8\xff\xe0" + b"\x13" * 4000),
    upload("file-png-garbage-pixels", "corrupt", file=png_with_garbage_pixels()),
    upload("file-text", "not a supported image", file=b"hello, I am a text file pretending to be a picture" * 10),
    upload("file-svg-script", "not a supported image", filename="x.svg", mime="image/svg+xml",
           file=b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    upload("file-html-as-png", "not a supported image", file=b"<html><script>alert(1)</script></html>"),
    upload("file-text-lying-as-jpeg", "not a supported image", file=b"GIF? no. " * 100, filename="x.jpg",
           mime="image/jpeg"),
    upload("bomb-png-60000", "bomb", file=png_with_header(60000, 60000)),
    upload("bomb-gif-65535", "bomb", file=gif_with_screen(65535, 65535)),
    upload("too-many-megapixels", "megapixels", file=png_with_header(8000, 8000)),
    upload("too-wide", "per side", file=png_with_header(20000, 10)),
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
    upload("signature-other-key", "signature", status=401, auth=None, **signed("tok-3", SOON, key="private_wrong_key")),
    upload("signature-expired", "expire", auth=None, **signed("tok-4", int(time.time()) - 10)),
    upload("signature-expire-far", "expire", auth=None, **signed("tok-5", int(time.time()) + 7200)),
    upload("signature-expire-text", "expire", auth=None, **{**signed("tok-6", SOON), "expire": "soon"}),
    upload("signature-missing", "signature", auth=None,
           **{k: v for k, v in signed("tok-7", SOON).items() if k != "signature"}),
    upload("signature-token-huge", "token", auth=None, **signed("t" * 1000, SOON)),
    upload_v2("jwt-not-a-jwt", "token", "not-a-jwt"),
    upload_v2("jwt-alg-none", "HS256", jwt({"alg": "none", "kid": "public_test_key"}, CLAIMS, "")),
    upload_v2("jwt-wrong-kid", "publicKey", jwt({**JWT, "kid": "nope"}, CLAIMS), status=401),
    upload_v2("jwt-wrong-key", "signature", jwt(JWT, CLAIMS, "private_wrong_key"), status=401),
    upload_v2("jwt-claims-mismatch", "fileName", jwt(JWT, {**CLAIMS, "fileName": "other.png"})),
    upload_v2("jwt-expired", "exp", jwt(JWT, {**CLAIMS, "exp": 1000})),
    upload_v2("jwt-deep", "token", base64.urlsafe_b64encode(b"[" * 50_000).decode() + ".e30.x"),
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
    patch("patch-extensions-unsupported", "ai-auto-description", {"extensions": [{"name": "ai-auto-description"}]}),
    patch("patch-webhookUrl-number", "webhookUrl", {"extensions": [{"name": "remove-bg"}], "webhookUrl": 5}),
    *[patch(f"patch-webhookUrl-{name}", "webhookUrl", {"extensions": [{"name": "remove-bg"}], "webhookUrl": url})
      for name, url in HOSTILE_URLS[:6]],
    Bad("patch-body-not-json", "PATCH", f"/v1/files/{FILE}/details", "JSON object", content=b"{not json"),
    Bad("patch-body-array", "PATCH", f"/v1/files/{FILE}/details", "JSON object", json=[1, 2]),
    Bad("patch-body-deep", "PATCH", f"/v1/files/{FILE}/details", "nested too deeply",
        content=b"[" * 100_000 + b"]" * 100_000),
    Bad("patch-body-not-utf8", "PATCH", f"/v1/files/{FILE}/details", "JSON", content=b'{"tags": ["\xff\xfe"]}'),
    # -- listing and other reads
    listing("list-type", "type", type="nope"),
    listing("list-sort", "sort", sort="SIDEWAYS"),
    listing("list-limit-zero", "limit", limit="0"),
    listing("list-limit-text", "limit", limit="abc"),
    listing("list-limit-float", "limit", limit="1.5"),
    listing("list-limit-huge", "limit", limit="9" * 50),
    listing("list-skip-negative", "skip", skip="-1"),
    listing("list-fileType", "fileType", fileType="video"),
    listing("list-search-unquoted", "searchQuery", searchQuery="name = unquoted"),
    listing("list-search-unknown-field", "searchQuery", searchQuery='password = "x"'),
    listing("list-search-unbalanced", "searchQuery", searchQuery='(name = "x"'),
    listing("list-search-type", "searchQuery", searchQuery='size > "big"'),
    listing("list-search-deep", "searchQuery", searchQuery="(" * 5000 + 'name = "x"' + ")" * 5000),
    listing("list-search-long", "searchQuery", searchQuery=" OR ".join(['name = "x"'] * 600) + " AND"),
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
        content=b"[" * 100_000 + b"]" * 100_000),
    Bad("endpoint-body-truncated", "POST", "/v1/webhooks/endpoints", "JSON object", dialect="native",
        content=b'{"url": "https://a.example/'),
    Bad("endpoint-missing", "GET", "/v1/webhooks/endpoints/999999", "", 404, dialect="native"),
    Bad("endpoint-id-huge", "GET", "/v1/webhooks/endpoints/" + "9" * 40, "", 404, dialect="native"),
    Bad("endpoint-id-text", "GET", "/v1/webhooks/endpoints/abc", "", 404, dialect="native"),
    Bad("deliveries-state", "GET", "/v1/webhooks/deliveries", "state", dialect="native", params={"state": "x"}),
    Bad("deliveries-limit", "GET", "/v1/webhooks/deliveries", "limit", dialect="native", params={"limit": "0"}),
    Bad("deliveries-endpointId", "GET", "/v1/webhooks/deliveries", "endpointId", dialect="native",
        params={"endpointId": "-1"}),
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
]  # fmt: skip

CORPUS = IMAGEKIT + NATIVE


# ---- the server and what "nothing stored" means ---------------------------------------------


@dataclass
class Seeded:
    server: RunningServer
    file_id: str


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A server holding one file and one endpoint (so any stray change would also leave a delivery)."""
    settings = make_settings(Path(tmp_path_factory.mktemp("corpus")) / "data", max_upload_bytes=MAX_UPLOAD)
    for server in run_server(settings, CornerSegmenter()):
        with server.http() as http:
            # .invalid never resolves (RFC 2606): deliveries fail without leaving the machine.
            made = http.post("/v1/webhooks/endpoints", auth=server.auth(), json={"url": "https://hooks.invalid/c"})
            assert made.status_code == 201, made.text
            uploaded = http.post("/api/v1/files/upload", auth=server.auth(), files={"file": ("s.png", PNG)},
                                 data={"fileName": "s.png", "tags": "seed"})  # fmt: skip
            assert uploaded.status_code == 200, uploaded.text
        yield Seeded(server, uploaded.json()["fileId"])


def stored(server: RunningServer) -> dict[str, int]:
    with sqlite3.connect(server.data_dir / "cutout.db") as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("files", "versions", "folders", "jobs", "deliveries", "webhook_endpoints", "upload_tokens")
        }
    return {**counts, "blobs": server.blob_count()}


def send(server: RunningServer, case: Bad, file_id: str) -> httpx.Response:
    path = case.path.replace(FILE, file_id)
    if case.raw is not None:
        return send_raw(server, case.raw)
    headers = {**(DIALECTS[case.dialect].credentials(server) if case.auth == "key" else {}), **case.headers}
    body = json.loads(json.dumps(case.json).replace(FILE, file_id)) if case.json is not None else None
    with server.http() as http:
        return http.request(
            case.method, path, headers=headers, params=case.params, files=case.files, data=case.data,
            json=body, content=case.content,
        )  # fmt: skip


def send_raw(server: RunningServer, raw: bytes) -> httpx.Response:
    with socket.create_connection((server.settings.host, server.settings.port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return httpx.Response(status, content=body, headers={"content-type": "application/json"})


def test_the_corpus_is_large_and_its_names_unique() -> None:
    names = [case.name for case in CORPUS]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    assert len(CORPUS) >= 40


UNCLOSED_PART = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.name, marks=[UNCLOSED_PART] if c.leaves_unclosed_part else []) for c in CORPUS]
)
def test_bad_input_is_refused_and_stores_nothing(case: Bad, seeded: Seeded) -> None:
    server = seeded.server
    before = stored(server)
    with server.http() as http:
        details = http.get(f"/v1/files/{seeded.file_id}/details", auth=server.auth()).json()
    response = send(server, case, seeded.file_id)
    expected = case.status if isinstance(case.status, tuple) else (case.status,)
    assert response.status_code in expected, response.text[:500]
    message = DIALECTS[case.dialect].message(response.json())
    assert message and case.says.lower() in message.lower(), message
    assert len(response.content) < 10_000  # the answer names the problem; it does not echo a huge input
    assert server.settings.imagekit_private_key.encode() not in response.content
    with server.http() as http:
        assert http.get("/healthz").status_code == 200
        assert http.get(f"/v1/files/{seeded.file_id}/details", auth=server.auth()).json() == details
    assert stored(server) == before
