"""The webhook dispatcher: leases due deliveries from the outbox, signs each attempt, schedules retries.

Deliveries are leased like jobs, so any number of dispatchers (in one process or several on one data
directory) share an outbox: a claim leases a delivery to one owner for one numbered attempt, the owner
renews its leases while it sends, and the lease of an owner that died runs out, handing the delivery on.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import replace

from .egress import Egress, EgressBlocked
from .metrics import Metrics
from .models import Attempt, Delivery, now_iso
from .settings import Settings
from .signing import imagekit_signature, standard_headers, uploadcare_signature
from .webhooks import Target, Webhooks

log = logging.getLogger("cutout.webhooks")

ATTEMPT_TIMEOUT_SECONDS = 15.0
DISABLE_AFTER_SECONDS = 5 * 24 * 3600  # an endpoint failing everything this long is turned off
MAX_RETRY_AFTER_SECONDS = 24 * 3600
CONCURRENCY = 8
JITTER = 0.2
IDLE_POLL_SECONDS = 5.0


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now, capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, OverflowError):  # OverflowError: a day or offset no C int holds
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def plan_next(
    *,
    attempt: int,
    status: int | None,
    transient: bool,
    retry_after: float | None,
    schedule: Sequence[float],
    failing_since: float | None,
    now: float,
    rng: random.Random | None = None,  # tests pass a seeded one
) -> tuple[float | None, str | None]:
    """After failed attempt number `attempt`: (when to try again or None to give up, reason to disable the endpoint).

    `status` None means no HTTP answer; `transient` says whether that failure may pass.
    """
    if status == 410:
        return None, "the endpoint answered 410 Gone"
    if failing_since is not None and now - failing_since >= DISABLE_AFTER_SECONDS:
        return None, "every delivery failed for 5 days"
    if status is None and not transient:
        return None, None
    if attempt > len(schedule):
        return None, None
    delay = schedule[attempt - 1] * (rng or random).uniform(1 - JITTER, 1 + JITTER)
    if status in (429, 503) and retry_after is not None:
        delay = retry_after
    return now + delay, None


def signed_headers(delivery: Delivery, target: Target, now: float) -> dict[str, str]:
    """The headers of one attempt: Standard Webhooks on every delivery (one `v1,` entry per secret, so a
    rotation's old secret verifies through its overlap window), plus the dialect's own signature. Those
    formats hold a single signature, so they carry the current secret's only."""
    headers = {"content-type": "application/json", "user-agent": "Cutout-Webhooks/1.0"}
    headers.update(standard_headers(target.secrets, delivery.id, int(now), delivery.body))
    endpoint = target.endpoint
    if delivery.format == "imagekit":
        headers["x-ik-signature"] = imagekit_signature(target.secrets[0], int(now * 1000), delivery.body)
    elif delivery.format == "uploadcare" and endpoint is not None and endpoint.signing_secret:
        headers["x-uc-signature"] = uploadcare_signature(endpoint.signing_secret, delivery.body)
    return headers


class Dispatcher:
    """Sends up to CONCURRENCY deliveries at once, each under a lease renewed while it is sent; a crash
    leaves them pending, so they are sent once the lease runs out (after a restart, or by another process)."""

    def __init__(self, webhooks: Webhooks, egress: Egress, settings: Settings, metrics: Metrics):
        self.webhooks = webhooks
        self.egress = egress
        self.schedule = settings.webhook_retry_schedule
        self.metrics = metrics
        # The job lease setting bounds how long a dead process holds work, deliveries included.
        self.lease = settings.job_lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = webhooks.wakeup()
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(), name="cutout-dispatcher"),
            asyncio.create_task(self._renew(), name="cutout-dispatcher-leases"),
        ]

    async def stop(self) -> None:
        """Stop sending; attempts in flight are abandoned and stay pending, their leases handed back, so they
        are sent again (as the next attempt: an abandoned one may have reached the receiver)."""
        tasks = [*self._tasks, *self._inflight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self.webhooks.release(self.owner)
        except Exception:  # the leases run out by themselves
            log.exception("handing back delivery leases failed")

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            free = CONCURRENCY - len(self._inflight)
            if free > 0:
                try:
                    claimed = await self.webhooks.claim(self.owner, free, self.lease)
                except Exception:
                    log.exception("claiming due deliveries failed")
                    claimed = []
                for delivery, number in claimed:
                    task = asyncio.create_task(self._deliver(delivery, number))
                    self._inflight[delivery.id] = task
                    task.add_done_callback(functools.partial(self._done, delivery.id))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=await self._sleep_seconds())
            except TimeoutError:
                pass

    async def _renew(self) -> None:
        """Keep the leases of attempts in flight; an attempt is bounded, so this only bridges its timeout."""
        while True:
            await asyncio.sleep(self.lease / 3)
            if self._inflight:
                try:
                    await self.webhooks.renew(self.owner, self.lease)
                except Exception:
                    log.exception("renewing delivery leases failed")

    def _done(self, delivery_id: str, _task: object = None) -> None:
        self._inflight.pop(delivery_id, None)
        self._wake.set()

    async def _sleep_seconds(self) -> float:
        try:
            due = await self.webhooks.next_due()
        except Exception:  # noqa: BLE001 - the store is busy or closing: poll again later
            return IDLE_POLL_SECONDS
        if due is None:
            return IDLE_POLL_SECONDS
        return min(max(due - time.time(), 0.01), IDLE_POLL_SECONDS)

    async def _deliver(self, delivery: Delivery, number: int) -> None:
        try:
            await self._attempt(delivery, number)
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad delivery must never stop the others
            log.exception("delivery %s failed unexpectedly", delivery.id)

    async def _attempt(self, delivery: Delivery, number: int) -> None:
        target = await self.webhooks.target(delivery)
        endpoint = target.endpoint if target else None
        now = time.time()
        started = time.perf_counter()
        status: int | None = None
        excerpt, error, transient, retry_after = "", None, True, None
        if target is None:
            error, transient = "the endpoint was deleted", False
        else:
            delivery = replace(delivery, url=target.url)  # the log shows where the attempt went
            try:
                reply = await self.egress.post(
                    target.url, body=delivery.body, headers=signed_headers(delivery, target, now),
                    timeout=ATTEMPT_TIMEOUT_SECONDS,
                )  # fmt: skip
                status = reply.status
                excerpt = reply.excerpt.decode("utf-8", "replace")
                retry_after = retry_after_seconds(reply.headers.get("retry-after"), time.time())
                if not 200 <= status < 300:
                    error = f"the receiver answered HTTP {status}"
            except EgressBlocked as exc:
                error, transient = exc.message, exc.transient
        latency_ms = int((time.perf_counter() - started) * 1000)
        attempt = Attempt(
            number=number, at=now_iso(), status_code=status, latency_ms=latency_ms,
            response=excerpt, error=error,
        )  # fmt: skip
        next_at, disable = (None, None)
        if error is not None:
            next_at, disable = plan_next(
                attempt=attempt.number, status=status, transient=transient, retry_after=retry_after,
                schedule=self.schedule, failing_since=endpoint.failing_since if endpoint else None, now=time.time(),
            )  # fmt: skip
        updated = await self.webhooks.attempted(
            delivery, attempt, self.owner, next_attempt_at=next_at, disable_reason=disable
        )
        self.metrics.observe_delivery(updated.state.value if error is None or next_at is None else "retry")
        log.info(
            "webhook %s %s to %s: attempt %d, %s",
            delivery.id, delivery.event, delivery.url, attempt.number, error or f"HTTP {status}",
        )  # fmt: skip
