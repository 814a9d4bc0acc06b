"""Content-addressed, immutable byte storage with atomic writes. No SQL, no Pillow."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
TEMP_PREFIX = ".tmp-"


class BlobStore:
    """Blobs live at `<root>/<sha[:2]>/<sha[2:4]>/<sha>`; names never come from clients.

    Two writers may store the same bytes at once, and one may give up (and delete what nobody
    references) while the other is about to record it. So `put` pins the blob until its writer
    calls `unpin`, and `delete` leaves pinned blobs alone.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._pins: Counter[str] = Counter()
        self._lock = threading.Lock()

    def path(self, sha: str) -> Path:
        if not _SHA256.match(sha):
            raise ValueError(f"not a blob address: {sha!r}")
        return self.root / sha[:2] / sha[2:4] / sha

    def put(self, data: bytes) -> str:
        """Store `data` (temp file, fsync, rename), pinned until `unpin`; return its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        with self._lock:
            self._pins[sha] += 1
        try:
            if not target.exists():  # checked after pinning: a delete can no longer slip in between
                self._write(target, data)
            else:  # fresh again, so a sweep that found these bytes unreferenced a moment ago leaves them
                os.utime(target)
        except BaseException:
            self.unpin(sha)
            raise
        return sha

    def unpin(self, sha: str) -> None:
        """The writer has recorded the blob (or given up): from now on only references keep it."""
        with self._lock:
            if self._pins[sha] > 1:
                self._pins[sha] -= 1
            else:
                self._pins.pop(sha, None)

    def _write(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data)

    def read(self, sha: str) -> bytes:
        """The blob's bytes; FileNotFoundError when it is gone (a delete got there first)."""
        return self.path(sha).read_bytes()

    def open(self, sha: str) -> BinaryIO:
        """The blob as a binary file object, for streaming; FileNotFoundError when it is absent."""
        return open(self.path(sha), "rb")

    def exists(self, sha: str) -> bool:
        return self.path(sha).exists()

    def url(self, sha: str) -> str | None:
        """A URL a client may fetch the blob from directly (an object store's presigned one); local blobs
        have none, so the service streams them itself."""
        return None

    def delete(self, sha: str) -> None:
        """Remove the blob unless a writer has it pinned."""
        with self._lock:
            if sha not in self._pins:
                self.path(sha).unlink(missing_ok=True)

    def older_than(self, cutoff: float) -> Iterator[Path]:
        """Blobs and temp files last written before `cutoff` (a Unix time), streamed from disk."""
        for first in _folders(self.root):
            for second in _folders(first):
                with os.scandir(second) as entries:
                    for entry in entries:
                        try:
                            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                                yield Path(entry.path)
                        except FileNotFoundError:  # deleted while listed
                            continue

    def remove_stale(self, paths: list[Path], cutoff: float) -> int:
        """Remove what `older_than` found, unless it was pinned or written again since; returns how many went.

        The caller has checked that nothing refers to these blobs; checking pin and age again under the
        lock keeps a blob whose bytes were just uploaded again, whatever the order of the two."""
        removed = 0
        with self._lock:
            for path in paths:
                if path.name in self._pins or path.parent.parent.parent != self.root:
                    continue
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed


def write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temp file beside it (named TEMP_PREFIX...), fsync and rename, then
    fsync the folder: a reader sees the old file or the new one, never half, and a crash leaves no torn file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _folders(parent: Path) -> Iterator[Path]:
    with os.scandir(parent) as entries:
        return iter(sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False) and len(e.name) == 2))
