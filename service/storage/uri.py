"""`storage://name/path`: the storage's name, then a path relative to its prefix; a trailing `/` is a folder."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import StorageInvalid

SCHEME = "storage://"
MAX_NAME = 50
MAX_KEY_BYTES = 1024  # S3's and GCS's limit on a whole object name, prefix included
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_storage_uri(value: str) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


def name_problems(name: object) -> list[str]:
    """What is wrong with a storage name (nothing: an empty list)."""
    if not isinstance(name, str):
        return ["str type expected"]
    if not name:
        return ["ensure this value has at least 1 characters"]
    if len(name) > MAX_NAME:
        return [f"ensure this value has at most {MAX_NAME} characters"]
    if not NAME.fullmatch(name):
        return ["use letters, digits, '.', '_' and '-', starting with a letter or a digit"]
    return []


def path_problems(path: str, *, folder_allowed: bool = True) -> list[str]:
    """What is wrong with a relative object path or prefix: no `.` or `..` segment, no empty segment inside
    it, no control character, no leading `/` (the prefix is the root)."""
    if CONTROL.search(path):
        return ["must not contain control characters"]
    if "\\" in path:
        return ["must not contain backslashes"]
    segments = path.split("/")
    if path.endswith("/"):
        if not folder_allowed:
            return ["names a folder (it ends with '/'); name an object"]
        segments = segments[:-1]
    if path and any(segment in ("", ".", "..") for segment in segments):
        return ["must not contain empty, '.' or '..' segments"]
    if len(path.encode()) > MAX_KEY_BYTES:
        return [f"must be at most {MAX_KEY_BYTES} bytes"]
    return []


def normal_prefix(raw: str) -> str:
    """A storage's `path` parameter as a key prefix: no leading `/`, a trailing one unless empty."""
    prefix = raw.strip("/")
    return f"{prefix}/" if prefix else ""


@dataclass(frozen=True)
class StorageURI:
    name: str
    path: str  # relative to the storage's prefix; "" or ending in "/" for a folder

    @property
    def is_folder(self) -> bool:
        return self.path == "" or self.path.endswith("/")

    def child(self, relative: str) -> str:
        """The URI of `relative` (a path relative to this folder)."""
        return f"{SCHEME}{self.name}/{self.path}{relative}"

    def __str__(self) -> str:
        return f"{SCHEME}{self.name}/{self.path}"


def parse(uri: str, *, folder: bool | None = None) -> StorageURI:
    """Split a storage URI; `folder` True/False insists on a folder or an object (None: either)."""
    if not is_storage_uri(uri):
        raise StorageInvalid({"uri": [f"must start with {SCHEME}"]})
    name, _, path = uri[len(SCHEME) :].partition("/")
    if problems := name_problems(name):
        raise StorageInvalid({"uri": [f"the storage name {problems[0]}"]})
    if problems := path_problems(path):
        raise StorageInvalid({"uri": [f"the path {problems[0]}"]})
    parsed = StorageURI(name, path)
    if folder is True and not parsed.is_folder:
        raise StorageInvalid({"uri": ["names an object; a folder ends with '/'"]})
    if folder is False and parsed.is_folder:
        raise StorageInvalid({"uri": ["names a folder (it ends with '/'); name an object"]})
    return parsed
