"""/openapi.json describes every route the service answers, of both dialects and the native API."""

from __future__ import annotations

import re

import httpx
from starlette.routing import Route

from service.app import create_app

from .conftest import CornerSegmenter, RunningServer, make_settings


def shape(path: str) -> str:
    """'/v1/files/{file_id}/details' and '/v1/files/{fileId}/details' alike; a catch-all path is one segment."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_route_is_described(server: RunningServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    document = httpx.get(f"{server.url}/openapi.json").json()
    described = {(shape(path), method.upper()) for path, ops in document["paths"].items() for method in ops}
    app = create_app(make_settings(tmp_path / "routes"), segmenter=CornerSegmenter())
    served = {
        (shape(route.path), method)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert served - described == set()
    assert described - served == set()
    assert document["openapi"] == "3.1.0" and {"basic", "uploadcare"} <= set(document["components"]["securitySchemes"])
