"""Uploadcare's wire format at the origin root: Upload API, REST API v0.7 with add-ons, and the CDN."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...errors import APIError
from ...library import Library
from ...openapi import Description
from ...settings import Settings
from . import hooks, rest, upload
from .hooks import webhook_format
from .rest import addon_result_labels

routes = [*upload.routes, *rest.routes, *hooks.routes, *rest.cdn_routes]


def describe() -> Description:
    """The OpenAPI paths of the Upload API, the REST API with its webhooks, and the CDN."""
    parts = [upload.describe(), rest.describe(), hooks.describe()]
    return {
        "paths": {path: ops for part in parts for path, ops in part["paths"].items()},
        "components": parts[1]["components"],
    }


def _first_segments(table: list[Route]) -> frozenset[str]:
    return frozenset(route.path.split("/")[1] for route in table)


UPLOAD_SEGMENTS = _first_segments(upload.routes)
REST_SEGMENTS = _first_segments([*rest.routes, *hooks.routes])
CDN_SEGMENTS = _first_segments(rest.cdn_routes)


def render_error(request: Request, exc: APIError) -> Response | None:
    """An error raised outside an endpoint (routing, the body cap, a crash) on one of this dialect's paths,
    in the shape that part of Uploadcare answers in; None on the paths of other dialects."""
    segment = request.url.path.split("/")[1]
    if segment in UPLOAD_SEGMENTS:
        return upload.render_error(request, exc)
    if segment in REST_SEGMENTS:
        return rest.render_error(exc)
    if segment in CDN_SEGMENTS:
        return rest.render_cdn_error(exc)
    return None


@dataclass
class State:
    """What the dialect keeps between requests: the multipart part URLs' signer and bounds."""

    multipart: upload.MultipartUploads

    @classmethod
    def create(cls, settings: Settings) -> State:
        return cls(upload.MultipartUploads(settings.uploadcare_secret_key,
                                           max_open=settings.uploadcare_max_multipart_sessions))  # fmt: skip

    async def keep_house(self, library: Library) -> tuple[int, int]:
        """Uploadcare's lifetimes: abandoned multipart sessions go after a day, and the status of an upload
        from a URL an hour after it ended; returns how many of each went."""
        swept = await library.sweep_chunked(upload.SESSION_SECONDS)
        return swept, await library.expire_imports(upload.URL_STATUS_SECONDS)


__all__ = ["State", "addon_result_labels", "describe", "render_error", "routes", "webhook_format"]
