"""The decode budget: a bound, shared by every decode in the process, on the memory decoded images hold.

A decode says beforehand what it will hold (engine.decode_cost, from the
image's header) and waits, on the event loop and in arrival order, until
that fits beside the decodes under way. An image bigger than the whole
budget runs alone. A caller that may not wait long gets TooManyRequests,
the same backpressure answer as a full job queue.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from anyio import to_thread

from . import memory
from .engine.cost import PILLOW_BYTES_PER_PIXEL
from .errors import TooManyRequests

T = TypeVar("T")
# After a decode of at least this many bytes, free heap pages go back to the system at once.
TRIM_FROM = 64 * 1024 * 1024


class DecodeBudget:
    """`megapixels` of decoded 4-byte pixels, held by at most what fits; `wait_seconds` for a bounded wait."""

    def __init__(self, megapixels: float, wait_seconds: float) -> None:
        self.capacity = int(megapixels * 1_000_000 * PILLOW_BYTES_PER_PIXEL)
        self.wait_seconds = wait_seconds
        self.held = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def run(self, cost: int, fn: Callable[..., T], *args: object, bounded: bool = True) -> T:
        """`fn(*args)` on a worker thread once `cost` bytes fit; a bounded wait that runs out is a 429."""
        await self._acquire(cost, self.wait_seconds if bounded else None)
        try:
            return await to_thread.run_sync(_call_then_give_back, cost, fn, args)
        finally:
            self._release(cost)

    def _fits(self, cost: int) -> bool:
        return self.held == 0 or self.held + cost <= self.capacity

    async def _acquire(self, cost: int, timeout: float | None) -> None:
        if not self._waiting and self._fits(cost):
            self.held += cost
            return
        entry = (cost, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await entry[1]
        except BaseException as exc:
            granted = entry[1].done() and not entry[1].cancelled()
            if granted and isinstance(exc, TimeoutError):
                return  # granted as the wait ran out: use it
            if granted:
                self._release(cost)
            else:
                if entry in self._waiting:
                    self._waiting.remove(entry)
                self._grant()  # the head may have been all that held the others back
            if isinstance(exc, TimeoutError):
                raise TooManyRequests(
                    "The server is decoding as many images as its memory allows "
                    "(CUTOUT_DECODE_BUDGET_MEGAPIXELS). Retry later.",
                    retry_after=max(1, math.ceil(self.wait_seconds)),
                ) from None
            raise

    def _release(self, cost: int) -> None:
        self.held -= cost
        self._grant()

    def _grant(self) -> None:
        # Strictly in arrival order, so that a large image is not passed over for ever by small ones.
        while self._waiting and self._fits(self._waiting[0][0]):
            cost, future = self._waiting.popleft()
            if future.cancelled():  # its waiter is leaving; it forgets itself
                continue
            self.held += cost
            future.set_result(None)


def _call_then_give_back(cost: int, fn: Callable[..., T], args: tuple[object, ...]) -> T:
    try:
        return fn(*args)
    finally:
        # fn's frame, and the pixels it held, are gone by now.
        if cost >= TRIM_FROM:
            memory.give_back()
