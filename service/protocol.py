"""uvicorn's h11 HTTP protocol with a deadline for each request's head.

uvicorn bounds a head's size (h11's 16 KiB) and the idle time after a response (`timeout_keep_alive`),
but not the time a head takes: a connection that never sends one, or trickles it a byte at a time
(which also restarts the keep-alive timer), stays open for ever. Each such slow-loris connection
holds a file descriptor, and enough of them leave none for real clients. The request body has its own
deadline, in the middleware (`RequestContext`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadDeadline(H11Protocol):
    """Closes a connection whose next request head is not complete `head_seconds` after the
    connection opened or the previous response ended."""

    head_seconds = 20.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a whole head arrived and its request began
            self._disarm()

    def on_response_complete(self) -> None:
        self._arm()  # before uvicorn handles a pipelined request, whose head then disarms it
        super().on_response_complete()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        self.timeout_keep_alive_handler()  # closes the connection unless it is closing already


def with_head_deadline(seconds: float) -> type[HeadDeadline]:
    """The protocol class for uvicorn's `http` option, with the deadline set."""
    return type("HeadDeadline", (HeadDeadline,), {"head_seconds": seconds})
