"""Synchronous cut-outs: a caller waits for the answer, so it goes ahead of the queue's jobs, for a bounded time.

The cut-out slots are shared by the job runner and every synchronous
dialect (remove.bg, Photoroom): `settings.workers` model runs at once,
whoever asks. A waiting caller is let in before any queued job that waits
for a slot; a caller that cannot start within `wait_seconds` gets a 429 with
Retry-After. Nothing is stored: the bytes in and the result out live only
as long as the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from anyio import to_thread

from . import engine
from .budget import DecodeBudget
from .errors import APIError, TooManyRequests

BUSY = "The server is removing as many backgrounds as it has workers for (CUTOUT_WORKERS). Retry later."


class ClientGone(APIError):
    """The caller went away before its cut-out started: the work was dropped (nobody reads the answer)."""

    status = 499


class CutSlots:
    """`count` cut-outs at once; urgent callers (someone waits for the answer) are granted before the others.

    Within each class, arrival order. A grant that races a waiter's timeout
    or cancellation is handed back, never lost.
    """

    def __init__(self, count: int) -> None:
        self.free = count
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    @contextlib.asynccontextmanager
    async def take(self, *, urgent: bool, timeout: float | None = None) -> AsyncIterator[None]:
        """Hold a slot for the block; TooManyRequests when `timeout` runs out first."""
        await self._acquire(urgent, timeout)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool, timeout: float | None) -> None:
        ahead = self._waiting[True] if urgent else self._waiting[True] or self._waiting[False]
        if self.free > 0 and not ahead:
            self.free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[urgent].append(future)
        try:
            async with asyncio.timeout(timeout):
                await future
        except BaseException as exc:
            granted = future.done() and not future.cancelled()
            if granted and isinstance(exc, TimeoutError):
                return  # granted as the wait ran out: use it
            if granted:
                self._release()
            elif future in self._waiting[urgent]:
                self._waiting[urgent].remove(future)
            if isinstance(exc, TimeoutError):
                raise TooManyRequests(BUSY, retry_after=max(1, math.ceil(timeout or 1))) from None
            raise

    def _release(self) -> None:
        self.free += 1
        for urgent in (True, False):
            queue = self._waiting[urgent]
            while self.free > 0 and queue:
                future = queue.popleft()
                if future.done():  # its waiter is leaving
                    continue
                self.free -= 1
                future.set_result(None)


class SyncLane:
    """One synchronous cut-out: a slot ahead of the queue, then the decode budget, then the engine."""

    def __init__(
        self,
        slots: CutSlots,
        budget: DecodeBudget,
        segmenter: engine.Segmenter,
        limits: engine.Limits,
        wait_seconds: float,
        profiles: engine.IccProfiles | None = None,
    ) -> None:
        self.slots = slots
        self.budget = budget
        self.segmenter = segmenter
        self.limits = limits
        self.wait_seconds = wait_seconds
        self.profiles = profiles

    async def run(
        self,
        edit: engine.Edit,
        data: bytes,
        *,
        background: bytes | None = None,
        gone: Callable[[], Awaitable[None]] | None = None,
    ) -> engine.Result:
        """The edit's result; 429 when it cannot start within the wait, ClientGone when `gone()` returns first.

        EngineError (bad image, bad option met late) passes through for the
        dialect to render. Work that has started runs to its end (a model run
        cannot be interrupted), then its result is dropped.
        """
        work = asyncio.ensure_future(self._cut(edit, data, background))
        if gone is None:
            return await work
        watcher = asyncio.ensure_future(gone())
        try:
            await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
        if work.done():
            return work.result()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        raise ClientGone("The client closed the connection before the cut-out started.")

    def engine_run(self, edit: engine.Edit, data: bytes, background: bytes | None) -> engine.Result:
        """The engine's run with this lane's segmenter, limits and CMYK profiles, on the calling thread."""
        return engine.run(
            edit, data, segmenter=self.segmenter, background=background, limits=self.limits, profiles=self.profiles
        )

    async def _cut(self, edit: engine.Edit, data: bytes, background: bytes | None) -> engine.Result:
        cost = await to_thread.run_sync(engine.cut_out_cost, data, background, self.limits, edit.output)
        async with self.slots.take(urgent=True, timeout=self.wait_seconds):
            return await self.budget.run(
                cost,
                functools.partial(self.engine_run, edit, data, background),
                bounded=True,
            )
