"""What the dialects share: every route declares who may call it, the declaration is enforced, and a
version's bytes are streamed with ETag, 304 and single byte ranges on ImageKit's media and Uploadcare's CDN."""

from __future__ import annotations

import ast
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from service.app import create_app
from service.dialects import common
from service.dialects.common import Public, byte_range, declared_auth, endpoint, public, require_declared, undeclared
from service.errors import APIError, Unauthorized

from .conftest import CornerSegmenter, RunningServer, free_port, make_settings, wait_for

DIALECTS = Path(__file__).resolve().parent.parent / "service" / "dialects"
# What anyone may call, and what protects it instead; a new public route is a decision made here too.
PUBLIC = {
    "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json",
    "POST /api/v1/files/upload", "POST /api/v2/files/upload",  # a signature, a JWT or the key in the request
    "GET /media/{path:path}",  # the library's read policy, with ImageKit's signed URLs
    "POST /base/", "POST /from_url/", "POST /multipart/start/", "POST /multipart/complete/",  # key in the form
    "GET /from_url/status/",  # the token
    "PUT /multipart/part/{token}/",  # the signed part URL
    "GET /cdn/{uuid}/", "GET /cdn/{uuid}/{rest:path}",  # the library's read policy
    "GET /web-folders/{token}/{key:path}",  # the web folder's random token
    "GET /v1/image/results/{token}/{name}",  # a Claid temporary result: its random token
}  # fmt: skip


def described(route: Route) -> str:
    return f"{','.join(sorted((route.methods or set()) - {'HEAD'}))} {route.path}"


def test_every_route_declares_its_auth(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), segmenter=CornerSegmenter())
    assert undeclared(app.routes) == []
    public_routes = {described(r) for r in app.routes if isinstance(r, Route) and isinstance(declared_auth(r.endpoint), Public)}
    assert public_routes == PUBLIC
    for route in app.routes:
        auth = declared_auth(route.endpoint)  # type: ignore[attr-defined]
        if isinstance(auth, Public):
            assert len(auth.reason) > 10, described(route)  # type: ignore[arg-type]


async def plain(request: Request) -> Response:
    return PlainTextResponse("open")


def test_a_route_without_a_declaration_is_refused() -> None:
    render = lambda request, exc: PlainTextResponse(exc.message, exc.status)  # noqa: E731
    declared = endpoint(render=render, auth=public("a test route"))(plain)
    routes = [
        Route("/declared", declared),
        Route("/forgotten", plain, methods=["POST"]),
        Mount("/inner", routes=[Route("/declared", declared), Route("/forgotten", plain)]),
    ]
    assert undeclared(Starlette(routes=routes).routes) == ["POST /forgotten", "GET,HEAD /inner/forgotten"]
    with pytest.raises(RuntimeError, match="/inner/forgotten"):
        require_declared(routes)
    require_declared(routes[:1])


@pytest.fixture
def tiny_server() -> Iterator[tuple[str, list[str]]]:
    """A real server over a two-route app: one behind an auth function, one public; `calls` records handlers run."""
    calls: list[str] = []

    async def needs_token(request: Request) -> None:
        if request.headers.get("x-token") != "open sesame":
            raise Unauthorized("no token")

    def render(request: Request, exc: APIError) -> Response:
        return PlainTextResponse(f"refused: {exc.message}", exc.status)

    async def secret(request: Request) -> Response:
        calls.append("secret")
        return PlainTextResponse("the secret")

    app = Starlette(routes=[
        Route("/secret", endpoint(render=render, auth=needs_token)(secret)),
        Route("/open", endpoint(render=render, auth=public("a test route"))(plain)),
    ])  # fmt: skip
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started)
    try:
        yield f"http://127.0.0.1:{server.config.port}", calls
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_the_declared_auth_runs_before_the_handler(tiny_server: tuple[str, list[str]]) -> None:
    url, calls = tiny_server
    refused = httpx.get(f"{url}/secret")
    assert (refused.status_code, refused.text, calls) == (401, "refused: no token", [])
    allowed = httpx.get(f"{url}/secret", headers={"x-token": "open sesame"})
    assert (allowed.status_code, allowed.text, calls) == (200, "the secret", ["secret"])
    assert httpx.get(f"{url}/open").text == "open"


def imported_modules(path: Path) -> set[str]:
    """What a dialect module imports, as absolute names under `service`."""
    package = ["service", *path.relative_to(DIALECTS.parent.parent).with_suffix("").parts[1:-1]]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found |= {module} if node.module else {f"{module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


# Uploadcare's durable uploads from a URL use their own store until they move behind the library.


@pytest.mark.parametrize("path", sorted(DIALECTS.rglob("*.py")), ids=lambda p: str(p.relative_to(DIALECTS)))
def test_dialects_import_no_other_dialect_and_no_store(path: Path) -> None:
    name = str(path.relative_to(DIALECTS.parent.parent))
    parts = path.relative_to(DIALECTS).parts  # a dialect is a module, or a package of them
    own = f"service.dialects.{parts[0]}" if len(parts) > 1 else f"service.dialects.{path.stem}"
    for module in imported_modules(path):
        if module.startswith("service.dialects.") and module != "service.dialects.common":
            assert module.startswith(own), f"{name} imports {module}"
        if module in ("service.db", "service.blobs"):
            raise AssertionError(f"{name} imports {module}")


def test_native_api_uses_only_the_common_helpers() -> None:
    dialect_imports = {m for m in imported_modules(DIALECTS / "native.py") if m.startswith("service.dialects")}
    assert dialect_imports == {"service.dialects.common"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-5", (95, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=99-99", (99, 99)),
        ("bytes=0-1,5-9", None),  # several ranges: all of it (a server may)
        ("bytes=9-0", None),  # not a range: ignored
        ("bytes=a-9", None),
        ("bytes=5", None),
        ("items=0-9", None),
        (" BYTES = 3-4", (3, 4)),
    ],
)
def test_byte_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_byte_range_past_the_end(header: str) -> None:
    with pytest.raises(ValueError):
        byte_range(header, 100)


def noise_png() -> bytes:
    """An image several stream chunks long (random pixels do not compress)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)).save(out, "PNG")
    assert len(out.getvalue()) > 3 * common.CHUNK
    return out.getvalue()


@pytest.fixture
def uploaded(server: RunningServer, http: httpx.Client) -> tuple[bytes, dict[str, str]]:
    data = noise_png()
    response = http.post(
        "/api/v1/files/upload", auth=server.auth(), files={"file": ("noise.png", data)},
        data={"fileName": "noise.png", "useUniqueFileName": "false"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    uuid = http.get(
        "/files/", headers={"Accept": "application/vnd.uploadcare-v0.7+json", "Authorization":
                            f"Uploadcare.Simple {server.settings.uploadcare_public_key}:"
                            f"{server.settings.uploadcare_secret_key}"},
    ).json()["results"][0]["uuid"]  # fmt: skip
    return data, {"media": "/media/noise.png", "cdn": f"/cdn/{uuid}/"}


@pytest.mark.parametrize("where", ["media", "cdn"])
def test_bytes_are_served_whole_in_ranges_and_not_again(
    http: httpx.Client, uploaded: tuple[bytes, dict[str, str]], where: str
) -> None:
    data, paths = uploaded
    path, size = paths[where], len(data)
    whole = http.get(path)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-length"] == str(size) and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "image/png" and whole.headers["x-content-type-options"] == "nosniff"
    etag = whole.headers["etag"]

    cases = {"bytes=0-9": (0, 9), f"bytes={size - 100}-": (size - 100, size - 1), "bytes=-7": (size - 7, size - 1),
             f"bytes=1000-{common.CHUNK * 2}": (1000, common.CHUNK * 2)}  # fmt: skip
    for header, (first, last) in cases.items():
        part = http.get(path, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == data[first : last + 1], header
        assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert part.headers["content-length"] == str(last - first + 1) and part.headers["etag"] == etag

    past = http.get(path, headers={"Range": f"bytes={size}-"})
    assert (past.status_code, past.headers["content-range"], past.content) == (416, f"bytes */{size}", b"")
    several = http.get(path, headers={"Range": "bytes=0-1,5-9"})
    assert several.status_code == 200 and several.content == data
    if_range = http.get(path, headers={"Range": "bytes=0-9", "If-Range": '"another-version"'})
    assert if_range.status_code == 200 and if_range.content == data
    same = http.get(path, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.content == data[:10]
    again = http.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag


def test_a_private_file_is_refused_by_both_in_their_own_words(server: RunningServer, http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/files/upload", auth=server.auth(), files={"file": ("p.png", noise_png())},
        data={"fileName": "p.png", "useUniqueFileName": "false", "isPrivateFile": "true"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    media = http.get("/media/p.png", headers={"Range": "bytes=0-9"})
    assert media.status_code == 401 and "signed URL" in media.json()["message"]
    uuid = http.get(
        "/files/", headers={"Accept": "application/vnd.uploadcare-v0.7+json", "Authorization":
                            f"Uploadcare.Simple {server.settings.uploadcare_public_key}:"
                            f"{server.settings.uploadcare_secret_key}"},
    ).json()["results"][0]["uuid"]  # fmt: skip
    cdn = http.get(f"/cdn/{uuid}/", headers={"Range": "bytes=0-9"})
    assert cdn.status_code == 403 and cdn.text == "This file is private: open it with an ImageKit signed URL."
