"""Uploadcare's wire format at the origin root: Upload API, REST API v0.7 with add-ons, and the CDN."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...db import Database
from . import hooks, rest, upload
from .hooks import webhook_format

routes = [*upload.routes, *rest.routes, *hooks.routes]


@dataclass
class State:
    """What the dialect keeps between requests: from-URL tasks and multipart sessions."""

    url_uploads: upload.UrlUploads
    multipart: upload.MultipartUploads

    @classmethod
    def create(cls, data_dir: Path, secret_key: str, db: Database) -> State:
        return cls(upload.UrlUploads(db.url_uploads), upload.MultipartUploads(Path(data_dir) / "multipart", secret_key))

    async def aclose(self) -> None:
        await self.url_uploads.aclose()


__all__ = ["State", "routes", "webhook_format"]
