"""Two `python -m service` processes on one data directory share the webhook outbox: every delivery
arrives, and no attempt of any delivery is sent twice, though both dispatchers poll the same outbox
while a slow receiver keeps attempts in flight (and answers the first few with 503, so some retry).
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from service.db import Database

from ..conftest import ServiceProcess, image_bytes, wait_for
from ..receiver import Answer, Receiver
from ..test_dispatcher_leases import Slowly, assert_each_attempt_sent_once

UPLOADS = 40
RETRIED = 5  # the receiver's first answers are 503s


def service_for(data_dir: Path) -> ServiceProcess:
    return ServiceProcess(
        data_dir, CUTOUT_EGRESS_ALLOW="127.0.0.0/8", CUTOUT_WEBHOOK_RETRY_SCHEDULE="0.2,0.5,1",
        CUTOUT_JOB_LEASE_SECONDS="2", CUTOUT_WORKERS="1",
    )  # fmt: skip


def states(data_dir: Path) -> dict[str, str]:
    """delivery id -> state."""
    with sqlite3.connect(data_dir / "cutout.db") as conn:
        return dict(conn.execute("SELECT id, state FROM deliveries").fetchall())


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
            now = states(data_dir)
            return len(now) >= UPLOADS and all(s != "pending" for s in now.values())

        wait_for(settled, timeout=90, interval=0.1)
        time.sleep(1.0)  # an attempt sent twice would still be arriving
    finally:
        first.stop()
        second.stop()

    final = states(data_dir)
    assert set(final.values()) == {"succeeded"}, Counter(final.values())
    hits: Counter[str] = Counter()
    for hit in receiver.on("/events"):
        Webhook(secret).verify(hit.body, hit.headers)
        hits[hit.headers["webhook-id"]] += 1
    db = Database(data_dir / "cutout.db")
    try:
        attempts = {i: db.webhooks.attempts(i) for i in final}
    finally:
        db.close()
    assert_each_attempt_sent_once(hits, attempts)
    assert sum(len(a) for a in attempts.values()) >= len(final) + RETRIED  # the 503s were retried
