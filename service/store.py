"""The two storage seams the service is written against: metadata (SQL) and blobs (bytes).

`db.Database` (SQLite) and `blobs.BlobStore` (a local directory) implement them today; a Postgres
metadata store and an object-store blob store are meant to slot in behind the same shapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from .db import Statements

T = TypeVar("T")


@runtime_checkable
class MetaStore(Protocol):
    """Transactions over the service's metadata, run off the event loop."""

    async def write(self, fn: Callable[[Statements], T]) -> T:
        """`fn(tx)` as one write transaction, committed before this returns; rolled back if `fn` raises."""
        ...

    async def read(self, fn: Callable[[Statements], T]) -> T:
        """`fn(tx)` over one consistent snapshot."""
        ...

    def notify(self, channel: str) -> None:
        """Wake `channel`'s listeners; inside a transaction (`tx.notify`), once it has committed."""
        ...

    def listen(self, channel: str) -> asyncio.Event:
        """An event set on every notification of `channel` (Postgres: LISTEN/NOTIFY)."""
        ...

    async def check_writable(self) -> None:
        """Raise unless a write transaction can be taken now."""
        ...

    def close(self) -> None:
        """Finish the writes asked for, then release every connection."""
        ...


@runtime_checkable
class Blobs(Protocol):
    """Content-addressed, immutable bytes named by their sha256."""

    def put(self, data: bytes) -> str:
        """Store `data` durably, pinned until `unpin`; its sha256."""
        ...

    def unpin(self, sha: str) -> None: ...

    def open(self, sha: str) -> BinaryIO:
        """A binary file object for streaming; FileNotFoundError when absent."""
        ...

    def read(self, sha: str) -> bytes: ...

    def exists(self, sha: str) -> bool: ...

    def delete(self, sha: str) -> None:
        """Remove the blob unless a writer has it pinned."""
        ...

    def url(self, sha: str) -> str | None:
        """A presigned URL to fetch the blob directly, or None where the service streams it."""
        ...

    def older_than(self, cutoff: float) -> Iterator[Path]:
        """Blobs (and leftovers of interrupted writes) last written before `cutoff`, for the sweep."""
        ...

    def remove_stale(self, paths: list[Path], cutoff: float) -> int:
        """Remove what `older_than` found unless pinned or written again since; how many went."""
        ...
