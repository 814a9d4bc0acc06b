"""Dispatchers lease deliveries: several on one outbox never send the same attempt twice, and a dead
one's leases run out so another sends its deliveries (as the next attempt)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from service.db import Database, Statements
from service.dialects import imagekit
from service.dispatcher import Dispatcher
from service.egress import Egress
from service.metrics import Metrics
from service.models import Attempt, Delivery, Endpoint, now_iso
from service.signing import new_secret
from service.webhooks import Webhooks

from .conftest import make_settings
from .receiver import Answer, Receiver

DELIVERIES = 24


class Slowly:
    """An answer's `hold` that only delays it: attempts stay in flight while every dispatcher polls."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def wait(self, timeout: float | None = None) -> bool:
        time.sleep(self.seconds)
        return True


def assert_each_attempt_sent_once(hits: Counter[str], attempts: dict[str, list[Attempt]], first: int = 1) -> None:
    """Every delivery arrived, its attempts are numbered on from `first` without a gap and the last one
    succeeded, and it arrived exactly as often as its attempts got an answer (one that failed to connect
    never reached the receiver): no attempt was sent twice."""
    assert set(hits) == set(attempts)
    for delivery_id, tried in attempts.items():
        assert [a.number for a in tried] == list(range(first, first + len(tried))), (delivery_id, tried)
        assert tried[-1].status_code == 200, (delivery_id, tried)
        assert hits[delivery_id] == sum(a.status_code is not None for a in tried), (delivery_id, tried)


def outbox(tmp_path: Path, receiver: Receiver) -> tuple[Database, Webhooks, list[str]]:
    settings = make_settings(tmp_path, egress_allow=("127.0.0.0/8",))
    db = Database(tmp_path / "cutout.db")
    now = now_iso()
    ids = [f"msg_{i:04d}" for i in range(DELIVERIES)]

    def fill(tx: Statements) -> None:
        endpoint = tx.webhooks.insert_endpoint(
            Endpoint(id=0, url=f"{receiver.url}/events", events=(), secret=new_secret(), created_at=now, updated_at=now)
        )
        for i, delivery_id in enumerate(ids):
            tx.webhooks.insert_delivery(
                Delivery(
                    id=delivery_id, event="file.created", url=endpoint.url, body=b'{"n":%d}' % i, format="imagekit",
                    endpoint_id=endpoint.id, next_attempt_at=time.time(), created_at=now, updated_at=now,
                )  # fmt: skip
            )

    asyncio.run(db.write(fill))
    return db, Webhooks(settings, db, {"imagekit": imagekit.webhook_format(settings.base_url)}), ids


async def run_dispatchers(db: Database, webhooks: Webhooks, count: int, timeout: float = 30.0) -> None:
    settings = webhooks.settings
    egress = Egress(settings.egress_allow)
    dispatchers = [Dispatcher(webhooks, egress, settings, Metrics()) for _ in range(count)]
    for dispatcher in dispatchers:
        dispatcher.start()
    try:
        deadline = time.monotonic() + timeout
        while db.webhooks.counts().get("succeeded", 0) < DELIVERIES:
            assert time.monotonic() < deadline, db.webhooks.counts()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a doubled attempt still in flight would arrive meanwhile
    finally:
        for dispatcher in dispatchers:
            await dispatcher.stop()
        await egress.aclose()


def test_two_dispatchers_on_one_outbox_never_send_the_same_attempt_twice(tmp_path: Path, receiver: Receiver) -> None:
    receiver.default = Answer(hold=Slowly(0.3))  # type: ignore[arg-type]
    db, webhooks, ids = outbox(tmp_path, receiver)
    asyncio.run(run_dispatchers(db, webhooks, 2))

    hits = Counter(hit.headers["webhook-id"] for hit in receiver.received)
    assert sorted(hits) == ids
    assert_each_attempt_sent_once(hits, {i: db.webhooks.attempts(i) for i in ids})
    db.close()


def test_a_dead_dispatchers_leases_run_out_and_its_attempts_are_not_reused(tmp_path: Path, receiver: Receiver) -> None:
    db, webhooks, ids = outbox(tmp_path, receiver)

    async def main() -> None:
        dead = await webhooks.claim("dead-owner", DELIVERIES, lease=0.5)  # claimed, then the owner died
        assert sorted((d.id, n) for d, n in dead) == [(i, 1) for i in ids]
        assert await webhooks.claim("other-owner", DELIVERIES, lease=0.5) == []  # leased: nobody else takes them
        started = time.monotonic()
        await run_dispatchers(db, webhooks, 1)
        assert time.monotonic() - started >= 0.4  # sent only once the dead owner's leases ran out

    asyncio.run(main())
    hits = Counter(hit.headers["webhook-id"] for hit in receiver.received)
    assert sorted(hits) == ids
    # Attempt 1 may have reached the receiver before its sender died: the first sent now is attempt 2.
    assert_each_attempt_sent_once(hits, {i: db.webhooks.attempts(i) for i in ids}, first=2)
    db.close()


def test_a_graceful_stop_hands_its_leases_back(tmp_path: Path, receiver: Receiver) -> None:
    db, webhooks, ids = outbox(tmp_path, receiver)

    async def main() -> None:
        await webhooks.claim("stopping-owner", DELIVERIES, lease=60)
        assert await webhooks.release("stopping-owner") == DELIVERIES
        claimed = await webhooks.claim("next-owner", DELIVERIES, lease=60)
        assert sorted((d.id, n) for d, n in claimed) == [(i, 2) for i in ids]

    asyncio.run(main())
    db.close()
