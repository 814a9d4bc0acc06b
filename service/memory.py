"""Giving decoded images' memory back to the system (glibc's allocator; a no-op elsewhere)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt parameters, from glibc's malloc.h.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Blocks of this size or more are mapped on their own and unmapped when freed. Fixing the threshold
# also stops glibc from raising it after each large free, which lets Pillow's 16 MB image blocks land
# in arenas that are then kept, fragmented, long after the image is gone.
MMAP_THRESHOLD = 1 << 20
# One arena per thread (glibc's default, up to 8 per core) multiplies that fragmentation by the
# thread pool's 40 threads.
ARENA_MAX = 2


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def tune_allocator() -> bool:
    """Set the allocator up for large, short-lived images; False when it is not glibc's. Call at start-up."""
    libc = _libc()
    if libc is None:
        return False
    libc.mallopt(_M_ARENA_MAX, ARENA_MAX)
    libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    return True


def give_back() -> None:
    """Return free heap pages to the system (after a large decode was released)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
