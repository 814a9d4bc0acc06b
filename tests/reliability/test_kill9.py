"""kill -9 at seeded random moments during a run of jobs with webhooks: nothing is lost or doubled.

A real `python -m service` process with the real model, a registered endpoint and a per-request
webhookUrl on a real receiver. Each round uploads a batch with remove-bg and is killed with SIGKILL at
a moment drawn from a seeded random generator: after the n-th accepted upload, after the n-th
finished job, or after the n-th webhook arrived. After the last restart every job has succeeded,
every file has exactly Version 1 and Version 2, and the receiver saw every expected event for every
file, a repeat always with the webhook-id of the first.
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
import time
from collections import defaultdict
from pathlib import Path

import httpx
from PIL import Image
from standardwebhooks import Webhook

from ..conftest import PHOTOS, ServiceProcess, wait_for
from ..receiver import Receiver

SEED = 7
ROUNDS = 5
UPLOADS_PER_ROUND = 12
ENDPOINT_EVENTS = {"file.created", "file-version.created", "extension.succeeded"}
SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWN1dG91dA=="


def small_photos() -> list[bytes]:
    """The sample photos at about 200 px, so that the real model takes a fraction of a second each."""
    photos = []
    for path in sorted(PHOTOS.glob("*.png")) + sorted(PHOTOS.glob("*.jpg")):
        image = Image.open(path).convert("RGB")
        image.thumbnail((200, 200))
        out = io.BytesIO()
        image.save(out, "PNG")
        photos.append(out.getvalue())
    return photos


def job_states(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "cutout.db") as conn:
        return [row[0] for row in conn.execute("SELECT status FROM jobs")]


def in_flight(data_dir: Path) -> tuple[int, int, int]:
    """(jobs running under a live lease, jobs queued, deliveries pending) right now."""
    with sqlite3.connect(data_dir / "cutout.db") as conn:
        running = conn.execute("SELECT count(*) FROM jobs WHERE status = 'running' AND lease_expires > ?",
                               [time.time()]).fetchone()[0]  # fmt: skip
        queued = conn.execute("SELECT count(*) FROM jobs WHERE status = 'queued'").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM deliveries WHERE state = 'pending'").fetchone()[0]
    return running, queued, pending


def service_for(data_dir: Path, **env: str) -> ServiceProcess:
    return ServiceProcess(
        data_dir,
        CUTOUT_EGRESS_ALLOW="127.0.0.0/8",
        CUTOUT_WEBHOOK_RETRY_SCHEDULE="0.2,0.5,1,1,2,2,2,2",
        CUTOUT_JOB_LEASE_SECONDS="1",
        CUTOUT_WORKERS="2",
        CUTOUT_WEBHOOK_SECRET=SECRET,
        **env,
    )


def events_by_file(receiver: Receiver, endpoint_secret: str) -> tuple[dict[str, dict[str, set[str]]], int]:
    """file id -> event name -> the webhook-ids it arrived with (every body verified); and the total seen."""
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    total = 0
    for hit in receiver.on("/events"):
        envelope = Webhook(endpoint_secret).verify(hit.body, hit.headers)
        file_id = envelope["data"].get("fileId") or envelope["data"].get("fileObject", {}).get("fileId")
        seen[file_id][envelope["type"]].add(hit.headers["webhook-id"])
        total += 1
    for hit in receiver.on("/hook"):
        payload = Webhook(SECRET).verify(hit.body, hit.headers)
        assert payload["status"] == "SUCCESS", payload
        seen[payload["fileObject"]["fileId"]]["webhookUrl"].add(hit.headers["webhook-id"])
        total += 1
    return seen, total


def test_kill_9_at_random_moments_loses_and_doubles_nothing(tmp_path: Path, receiver: Receiver) -> None:
    rng = random.Random(SEED)
    photos = small_photos()
    service = service_for(tmp_path / "data")
    accepted: list[str] = []
    kills: list[tuple[str, int, int, int, int]] = []  # (moment, n, running, queued, pending deliveries)
    started = time.monotonic()
    service.start()
    try:
        created = httpx.post(f"{service.url}/v1/webhooks/endpoints", auth=service.auth,
                             json={"url": f"{receiver.url}/events"}, timeout=10)  # fmt: skip
        assert created.status_code == 201, created.text
        endpoint_secret = created.json()["secret"]

        for round_number in range(ROUNDS):
            moment, n = rng.choice(["upload", "job", "webhook"]), rng.randrange(1, UPLOADS_PER_ROUND)
            jobs_before, hooks_before = job_states(service.data_dir).count("succeeded"), len(receiver.received)
            for i in range(UPLOADS_PER_ROUND):
                response = httpx.post(
                    f"{service.url}/api/v1/files/upload", auth=service.auth, timeout=30,
                    files={"file": (f"r{round_number}-{i}.png", photos[i % len(photos)])},
                    data={"fileName": f"r{round_number}-{i}.png", "extensions": json.dumps([{"name": "remove-bg"}]),
                          "webhookUrl": f"{receiver.url}/hook"},
                )  # fmt: skip
                assert response.status_code == 200, response.text
                accepted.append(response.json()["fileId"])
                if moment == "upload" and i + 1 == n:
                    break
            if moment == "job":
                wait_for(lambda: job_states(service.data_dir).count("succeeded") >= jobs_before + n,
                         timeout=120, interval=0.005)  # fmt: skip
            elif moment == "webhook":
                wait_for(lambda: len(receiver.received) >= hooks_before + n, timeout=120, interval=0.005)
            kills.append((moment, n, *in_flight(service.data_dir)))
            service.kill()
            service.start()

        def all_jobs_succeeded() -> bool:
            states = job_states(service.data_dir)
            return len(states) == len(accepted) and all(s == "succeeded" for s in states)

        assert len(accepted) >= 50
        # The kills hit work in flight: jobs under a live lease, and deliveries not yet sent.
        assert sum(k[2] for k in kills) > 0 and sum(k[4] for k in kills) > 0, kills
        wait_for(all_jobs_succeeded, timeout=180)

        def all_delivered() -> list[dict[str, object]] | None:
            log = httpx.get(f"{service.url}/v1/webhooks/deliveries", auth=service.auth, params={"limit": 1000}).json()
            expected = len(accepted) * (len(ENDPOINT_EVENTS) + 1)
            return log if len(log) == expected and all(d["state"] == "succeeded" for d in log) else None

        wait_for(all_delivered, timeout=120)

        # Zero duplicate versions.
        for file_id in accepted:
            versions = httpx.get(f"{service.url}/v1/files/{file_id}/versions", auth=service.auth, timeout=10).json()
            assert [v["versionInfo"]["name"] for v in versions] == ["Version 1", "Version 2"], file_id

        # Every expected webhook arrived at least once; a repeat carries the webhook-id of the first.
        seen, total = events_by_file(receiver, endpoint_secret)
        assert set(seen) == set(accepted)
        for file_id in accepted:
            assert set(seen[file_id]) == ENDPOINT_EVENTS | {"webhookUrl"}, (file_id, dict(seen[file_id]))
            for event, ids in seen[file_id].items():
                assert len(ids) == 1, (file_id, event, ids)
        expected = len(accepted) * (len(ENDPOINT_EVENTS) + 1)
        print(
            f"\nkill -9: {ROUNDS} rounds, {len(accepted)} jobs, 0 lost, 0 duplicate versions, "
            f"{expected} webhooks delivered ({total - expected} repeats), {time.monotonic() - started:.1f} s; "
            f"kills (moment, n, running, queued, pending deliveries): {kills}"
        )
    finally:
        service.stop()
