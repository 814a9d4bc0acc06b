"""A web folder: a folder in Cutout's data directory whose objects anyone holding its URL may read.

Each web folder has a random token (its "bucket"); its objects live under `<root>/<token>/` and are served
at `<base URL>/web-folders/<token>/<key>`, so the URL is the capability. Keys come from storage URIs, which
`uri.path_problems` has checked (no `..`, no empty segment); the resolved path is checked again to stay
inside the folder.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from urllib.parse import quote

from ..blobs import TEMP_PREFIX, write_atomically
from .errors import ObjectNotFound, ObjectTooLarge, StorageUnavailable

TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
ROUTE = "/web-folders"


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 32 characters, 192 random bits


def folder_url(base_url: str, token: str) -> str:
    return f"{base_url}{ROUTE}/{token}/"


class WebFolder:
    def __init__(self, root: Path, token: str, base_url: str):
        if not TOKEN.fullmatch(token):
            raise ValueError("not a web folder token")
        self.bucket = token
        self.root = Path(root) / token
        self.base_url = base_url

    def path(self, key: str) -> Path:
        """Where `key` lives; ObjectNotFound for a key that would leave the folder or name a temp file."""
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root.resolve()) or target.name.startswith(TEMP_PREFIX):
            raise ObjectNotFound(f"there is no object {key!r} in this web folder")
        return target

    def endpoints(self) -> tuple[str, ...]:
        return ()  # nothing leaves the machine

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def check(self) -> None:
        if not self.root.is_dir():
            raise StorageUnavailable("the web folder's directory is gone from the data directory")

    def get(self, key: str, *, max_bytes: int) -> tuple[bytes, str | None]:
        self.check()
        target = self.path(key)
        try:
            with open(target, "rb") as stream:
                if os.fstat(stream.fileno()).st_size > max_bytes:
                    raise ObjectTooLarge(f"the object {key!r} is larger than {max_bytes} bytes")
                return stream.read(), None
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"there is no object {key!r} in this web folder") from None

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Atomic: a reader sees the old object or the new one, never half."""
        self.check()
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise StorageUnavailable(f"cannot write {key!r}: a part of its path is an object") from None
        if target.is_dir():
            raise StorageUnavailable(f"cannot write {key!r}: it is a folder")
        write_atomically(target, data)

    def list(self, prefix: str, *, recursive: bool) -> list[str]:
        self.check()
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        found = base.rglob("*") if recursive else base.iterdir()
        keys = [
            p.relative_to(self.root).as_posix() for p in found if p.is_file() and not p.name.startswith(TEMP_PREFIX)
        ]
        return sorted(keys)

    def url(self, key: str) -> str | None:
        return f"{folder_url(self.base_url, self.bucket)}{quote(key)}"

    def remove(self) -> None:
        """Delete the folder and everything in it (the storage is being deleted)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def close(self) -> None:
        pass
