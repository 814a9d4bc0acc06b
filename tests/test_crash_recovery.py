"""Nothing accepted is lost: a server killed with SIGKILL mid-run finishes every job after restart."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx

from service import engine
from service.app import open_library
from service.library import ExtensionRequest, NewFile

from .conftest import ServiceProcess, make_settings, photo_bytes, plain_cutout, wait_for
from .receiver import Origin, Receiver

PHOTOS = ["coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg"]


def jobs(data_dir: Path) -> list[dict[str, object]]:
    with sqlite3.connect(data_dir / "cutout.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM jobs")]


def test_sigkill_with_jobs_queued_and_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    service = ServiceProcess(data_dir, CUTOUT_WORKERS="2", CUTOUT_JOB_LEASE_SECONDS="2")
    service.start()
    try:
        file_ids = []
        for i in range(8):
            name = PHOTOS[i % len(PHOTOS)]
            response = httpx.post(
                f"{service.url}/api/v1/files/upload",
                auth=service.auth,
                files={"file": (name, photo_bytes(name))},
                data={"fileName": name, "extensions": json.dumps([{"name": "remove-bg"}])},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            assert response.json()["extensionStatus"] == {"remove-bg": "pending"}
            file_ids.append(response.json()["fileId"])
        # Kill while at least one job is running and others are still queued.
        wait_for(lambda: any(j["status"] == "running" for j in jobs(data_dir)), timeout=60, interval=0.005)
        states = [j["status"] for j in jobs(data_dir)]
        assert "queued" in states
    finally:
        service.kill()

    service.start()
    try:
        wait_for(lambda: all(j["status"] == "succeeded" for j in jobs(data_dir)), timeout=180)
        for file_id in file_ids:
            versions = httpx.get(f"{service.url}/v1/files/{file_id}/versions", auth=service.auth, timeout=10).json()
            assert [v["versionInfo"]["name"] for v in versions] == ["Version 1", "Version 2"], file_id
            assert versions[1]["hasAlpha"] is True
    finally:
        service.stop()


def test_completion_is_fenced_on_the_lease_owner(tmp_path: Path) -> None:
    """A worker whose lease expired and was re-claimed cannot add a second version."""
    import asyncio

    settings = make_settings(tmp_path)
    library = open_library(settings, tmp_path)
    webhooks = library.webhooks
    asyncio.run(webhooks.create_endpoint("https://hooks.example.com/cutout", events=("extension.succeeded",)))
    new = NewFile(data=photo_bytes("coffee.png"), file_name="c.png")
    file, [job] = asyncio.run(library.upload(new, [ExtensionRequest("remove-bg", plain_cutout())]))

    first = asyncio.run(library.claim_job("worker-a", lease=-1))  # already expired: as if worker-a hung or died
    assert first is not None and first.attempts == 1
    second = asyncio.run(library.claim_job("worker-b", lease=30))
    assert second is not None and second.id == job.id and second.attempts == 2
    assert asyncio.run(library.claim_job("worker-c", lease=30)) is None

    result = engine.Result(data=photo_bytes("coffee.png"), mime="image/png", width=600, height=400, has_alpha=True, format="png")
    sha = library.blobs.put(result.data)
    assert asyncio.run(library.complete_job(first, "worker-a", result, sha)) is None
    assert asyncio.run(library.complete_job(second, "worker-b", result, sha)) is not None
    assert asyncio.run(library.complete_job(second, "worker-b", result, sha)) is None
    _, versions = library.versions(file.id)
    assert [v.number for v in versions] == [1, 2]
    assert library.job_counts() == {"succeeded": 1}
    assert [d.event for d in webhooks.deliveries()] == ["extension.succeeded"]  # one event, not one per run


def test_sigkill_during_a_claid_batch_ends_every_item_once(tmp_path: Path, receiver: Receiver) -> None:
    """Killed with items running and queued, the batch resumes: each item ends succeeded or failed exactly
    once, the batch's GET lists each once, and its webhook is sent once."""
    data_dir = tmp_path / "data"
    service = ServiceProcess(data_dir, CUTOUT_WORKERS="1", CUTOUT_JOB_LEASE_SECONDS="2",
                             CUTOUT_CLAID_API_KEY="claid_process_key", CUTOUT_EGRESS_ALLOW="127.0.0.0/8")  # fmt: skip
    photos = {name: Origin(photo_bytes(name)) for name in PHOTOS}
    junk = Origin(b"no image here")
    key = {"Authorization": "Bearer claid_process_key"}
    inputs = [f"{photos[PHOTOS[i % len(PHOTOS)]].url}/{i}.png" for i in range(8)]
    inputs.insert(3, f"{junk.url}/broken.png")
    try:
        service.start()
        try:
            body = {"input": inputs, "operations": {"background": {"remove": True}}, "output": {"format": "png"},
                    "webhook_url": f"{receiver.url}/batch"}  # fmt: skip
            submitted = httpx.post(f"{service.url}/v1/image/edit/batch", json=body, headers=key, timeout=30)
            assert submitted.status_code == 200, submitted.text
            task_id = submitted.json()["data"]["id"]
            wait_for(lambda: any(j["status"] == "running" for j in jobs(data_dir)), timeout=60, interval=0.005)
            assert "queued" in [j["status"] for j in jobs(data_dir)]
        finally:
            service.kill()
        service.start()
        try:
            def ended() -> dict[str, object] | None:
                got = httpx.get(f"{service.url}/v1/image/edit/batch/{task_id}", headers=key, timeout=10).json()
                return got["data"] if got["data"]["status"] in ("DONE", "ERROR") else None

            done = wait_for(ended, timeout=240)
            assert isinstance(done, dict) and done["status"] == "DONE"
            listed = [r["input_object"]["uri"] for r in done["results"]] + [e["input"] for e in done["errors"]]
            assert sorted(listed) == sorted(inputs)  # every item once, in one list or the other
            assert [e["input"] for e in done["errors"]] == [inputs[3]]
            items = [j for j in jobs(data_dir) if j["kind"] == "task"]
            assert len(items) == len(inputs)
            assert all(j["status"] in ("succeeded", "failed") for j in items)
            wait_for(lambda: receiver.on("/batch"), timeout=30)
            assert len(receiver.on("/batch")) == 1
        finally:
            service.stop()
    finally:
        for origin in (*photos.values(), junk):
            origin.close()
