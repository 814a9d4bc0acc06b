"""Content-addressed, immutable byte storage with atomic writes. No SQL, no Pillow."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections import Counter
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
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

    def read(self, sha: str) -> bytes:
        """The blob's bytes; FileNotFoundError when it is gone (a delete got there first)."""
        return self.path(sha).read_bytes()

    def exists(self, sha: str) -> bool:
        return self.path(sha).exists()

    def delete(self, sha: str) -> None:
        """Remove the blob unless a writer has it pinned."""
        with self._lock:
            if sha not in self._pins:
                self.path(sha).unlink(missing_ok=True)
