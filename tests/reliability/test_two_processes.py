"""Two `python -m service` processes on one data directory share the webhook outbox: every delivery
arrives, and no attempt of any delivery is sent twice, though both dispatchers poll the same outbox
while a slow receiver keeps attempts in flight (and answers the first few with 503, so some retry).
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from ..conftest import ServiceProcess, image_bytes, wait_for
from ..receiver import Answer, Receiver
from ..test_dispatcher_leases import Slowly

UPLOADS = 40
RETRIED = 5  # the receiver's first answers are 503s


def service_for(data_dir: Path) -> ServiceProcess:
    return ServiceProcess(
        data_dir, CUTOUT_EGRESS_ALLOW="127.0.0.0/8", CUTOUT_WEBHOOK_RETRY_SCHEDULE="0.2,0.5,1",
        CUTOUT_JOB_LEASE_SECONDS="2", CUTOUT_WORKERS="1",
    )  # fmt: skip


def outbox(data_dir: Path) -> tuple[dict[str, str], dict[str, list[int]]]:
    """delivery id -> state, and delivery id -> its logged attempt numbers."""
    with sqlite3.connect(data_dir / "cutout.db") as conn:
        states = dict(conn.execute("SELECT id, state FROM deliveries").fetchall())
        numbers: dict[str, list[int]] = defaultdict(list)
        for delivery_id, number in conn.execute("SELECT delivery_id, number FROM delivery_attempts ORDER BY number"):
            numbers[delivery_id].append(number)
    return states, numbers


def test_two_processes_on_one_data_dir_send_each_attempt_once(tmp_path: Path, receiver: Receiver) -> None:
    receiver.default = Answer(hold=Slowly(0.2))  # type: ignore[arg-type]
    receiver.answer(*(Answer(status=503) for _ in range(RETRIED)))
    data_dir = tmp_path / "data"
    first = service_for(data_dir).start()  # migrations and generated keys first, then the second joins
    second = service_for(data_dir).start()
    try:
        created = httpx.post(f"{first.url}/v1/webhooks/endpoints", auth=first.auth,
                             json={"url": f"{receiver.url}/events"}, timeout=10)  # fmt: skip
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        for i in range(UPLOADS):
            service = (first, second)[i % 2]
            response = httpx.post(
                f"{service.url}/api/v1/files/upload", auth=service.auth, timeout=30,
                files={"file": (f"f{i}.png", image_bytes((16, 12), color=(i, 100, 200)))},
                data={"fileName": f"f{i}.png"},
            )  # fmt: skip
            assert response.status_code == 200, response.text

        def settled() -> bool:
            states, _ = outbox(data_dir)
            return len(states) >= UPLOADS and all(s != "pending" for s in states.values())

        wait_for(settled, timeout=90, interval=0.1)
        time.sleep(1.0)  # an attempt sent twice would still be arriving
    finally:
        first.stop()
        second.stop()

    states, numbers = outbox(data_dir)
    assert set(states.values()) == {"succeeded"}, Counter(states.values())
    hits = Counter()
    for hit in receiver.on("/events"):
        Webhook(secret).verify(hit.body, hit.headers)
        hits[hit.headers["webhook-id"]] += 1
    assert set(hits) == set(states)  # every delivery arrived
    # Each logged attempt was sent exactly once: as many arrivals per delivery as attempts, numbered 1..n.
    assert {i: hits[i] for i in states} == {i: len(numbers[i]) for i in states}
    assert all(numbers[i] == list(range(1, len(numbers[i]) + 1)) for i in states), dict(numbers)
    assert sum(len(n) for n in numbers.values()) == len(states) + RETRIED
