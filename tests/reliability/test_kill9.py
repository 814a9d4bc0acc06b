"""kill -9 at seeded random moments during a run of jobs with webhooks: nothing is lost or doubled.

A real `python -m service` process with the real model, a registered endpoint and a per-request
webhookUrl on a real receiver. Each round uploads a batch with remove-bg and is killed with SIGKILL at
a moment drawn from a seeded random generator: after the n-th accepted upload, after the n-th
finished job, or after the n-th webhook arrived. After the last restart every job has succeeded,
every file has exactly Version 1 and Version 2, and the receiver saw every expected event for every
file, a repeat always with the webhook-id of the first. The Uploadcare dialect gets the same: its
remove_bg add-on makes exactly one result file per request, and an accepted upload from a URL is
finished after a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import random
import sqlite3
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
from PIL import Image
from standardwebhooks import Webhook

from ..conftest import PHOTOS, ServiceProcess, image_bytes, wait_for
from ..receiver import Origin, Receiver

SEED = 7
ROUNDS = 5
UPLOADS_PER_ROUND = 12
ENDPOINT_EVENTS = {"file.created", "file-version.created", "extension.succeeded"}
SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWN1dG91dA=="
UC_PUBLIC, UC_SECRET, UC_SIGNING = "uc_kill9_public", "uc_kill9_secret", "uc-signing-secret"
UC_REST = {"Authorization": f"Uploadcare.Simple {UC_PUBLIC}:{UC_SECRET}", "Accept": "application/vnd.uploadcare-v0.7+json"}


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
        CUTOUT_UPLOADCARE_PUBLIC_KEY=UC_PUBLIC,
        CUTOUT_UPLOADCARE_SECRET_KEY=UC_SECRET,
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


def test_kill_9_during_uploadcare_add_on_runs_makes_one_result_per_request(tmp_path: Path, receiver: Receiver) -> None:
    rng = random.Random(SEED + 1)
    photos = small_photos()
    service = service_for(tmp_path / "data")
    requests: dict[str, str] = {}  # request_id -> source uuid
    kills: list[tuple[str, int]] = []
    service.start()
    try:
        hook = httpx.post(f"{service.url}/webhooks/", headers=UC_REST, timeout=10, json={
            "target_url": f"{receiver.url}/uc", "event": "file.uploaded", "signing_secret": UC_SIGNING,
        })  # fmt: skip
        assert hook.status_code == 201, hook.text
        for round_number in range(3):
            moment, n = rng.choice(["execute", "job"]), rng.randrange(1, 8)
            done_before = job_states(service.data_dir).count("succeeded")
            for i in range(8):
                uploaded = httpx.post(f"{service.url}/base/", timeout=30, data={"UPLOADCARE_PUB_KEY": UC_PUBLIC},
                                      files={"file": (f"u{round_number}-{i}.png", photos[i % len(photos)])})  # fmt: skip
                assert uploaded.status_code == 200, uploaded.text
                source = uploaded.json()["file"]
                executed = httpx.post(f"{service.url}/addons/remove_bg/execute/", headers=UC_REST, timeout=30,
                                      json={"target": source})  # fmt: skip
                assert executed.status_code == 200, executed.text
                requests[executed.json()["request_id"]] = source
                if moment == "execute" and i + 1 == n:
                    break
            if moment == "job":
                wait_for(lambda: job_states(service.data_dir).count("succeeded") >= done_before + n,
                         timeout=120, interval=0.005)  # fmt: skip
            kills.append((moment, n))
            service.kill()
            service.start()

        def result_of(request_id: str) -> str | None:
            status = httpx.get(f"{service.url}/addons/remove_bg/execute/status/", headers=UC_REST, timeout=10,
                               params={"request_id": request_id}).json()  # fmt: skip
            assert status["status"] in ("in_progress", "done"), status
            return status["result"]["file_id"] if status["status"] == "done" else None

        wait_for(lambda: all(result_of(r) for r in requests), timeout=180)
        results = {r: result_of(r) for r in requests}
        assert len(set(results.values())) == len(requests)  # one result file per request, none shared

        # Zero extra result files: the library holds the sources and one result each, nothing else.
        listing = httpx.get(f"{service.url}/files/", headers=UC_REST, params={"limit": 1000}, timeout=10).json()
        assert {f["uuid"] for f in listing["results"]} == set(requests.values()) | set(results.values())
        for result in results.values():
            info = httpx.get(f"{service.url}/files/{result}/", headers=UC_REST, params={"include": "appdata"},
                             timeout=10).json()  # fmt: skip
            assert info["appdata"]["remove_bg"]["datetime_created"] and info["mime_type"] == "image/png", info

        # Every file.uploaded webhook arrived, signed; a repeat carries the webhook-id of the first.
        def uploaded_events() -> dict[str, set[str]] | None:
            seen: dict[str, set[str]] = defaultdict(set)
            for hit in receiver.on("/uc"):
                expected = "v1=" + hmac.new(UC_SIGNING.encode(), hit.body, hashlib.sha256).hexdigest()
                assert hit.headers["x-uc-signature"] == expected
                seen[json.loads(hit.body)["data"]["uuid"]].add(hit.headers["webhook-id"])
            return seen if set(seen) == set(requests.values()) | set(results.values()) else None

        seen = wait_for(uploaded_events, timeout=120)
        assert all(len(ids) == 1 for ids in seen.values()), seen  # type: ignore[union-attr]
        print(f"\nkill -9 (Uploadcare add-on): {len(requests)} requests, {len(requests)} result files, kills {kills}")
    finally:
        service.stop()


def test_an_accepted_upload_from_a_url_survives_kill_9(tmp_path: Path) -> None:
    origin = Origin(image_bytes((90, 60)))
    origin.hold = threading.Event()  # the fetch is under way when the process dies
    service = service_for(tmp_path / "data")
    service.start()

    def status(token: str) -> dict[str, object]:
        answer = httpx.get(f"{service.url}/from_url/status/", params={"token": token}, timeout=10)
        return answer.json()  # type: ignore[no-any-return]

    try:
        accepted = httpx.post(f"{service.url}/from_url/", timeout=10, data={
            "pub_key": UC_PUBLIC, "source_url": f"{origin.url}/shop/red.png", "store": "1", "metadata[from]": "url",
        })  # fmt: skip
        assert accepted.status_code == 200, accepted.text
        token = accepted.json()["token"]
        wait_for(lambda: origin.hits)
        assert status(token)["status"] == "progress"
        service.kill()
        origin.hold.set()
        service.start()
        done = wait_for(lambda: (s := status(token))["status"] != "progress" and s, timeout=30)
        assert done["status"] == "success", done  # type: ignore[index]
        assert done["original_filename"] == "red.png" and done["metadata"] == {"from": "url"}  # type: ignore[index]
        assert origin.hits == ["/shop/red.png"] * 2

        # Killed after its file was made but before its status said so: the restart finds the file.
        service.stop()
        with sqlite3.connect(service.data_dir / "cutout.db") as conn:
            conn.execute("UPDATE jobs SET status = 'running', lease_owner = 'killed', lease_expires = 0, "
                         "progress = ?, result_file = NULL WHERE kind = 'import'",
                         [json.dumps({"done": 0, "total": None})])  # fmt: skip
        service.start()
        again = wait_for(lambda: (s := status(token))["status"] == "success" and s, timeout=30)
        assert again["uuid"] == done["uuid"]  # type: ignore[index]
        assert origin.hits == ["/shop/red.png"] * 2  # not fetched again
        listing = httpx.get(f"{service.url}/files/", headers=UC_REST, timeout=10).json()
        assert [f["uuid"] for f in listing["results"]] == [done["uuid"]]  # type: ignore[index]
    finally:
        service.stop()
        origin.close()
