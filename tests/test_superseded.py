"""A cut-out that finishes after the file moved on (a newer upload, a restore) never becomes current:
the job fails with reason `superseded`, the current version stays, and the webhooks say so."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from standardwebhooks import Webhook

from .conftest import HeldSegmenter, RunningServer, image_bytes, wait_for
from .receiver import Receiver


def put(server: RunningServer, color: object, **fields: str) -> dict:
    response = httpx.post(
        f"{server.url}/api/v1/files/upload", auth=server.auth(),
        files={"file": ("a.png", image_bytes(color=color))},
        data={"fileName": "a.png", "useUniqueFileName": "false", **fields},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def overwrite(server: RunningServer, file: dict) -> str:
    return put(server, (10, 200, 10))["versionInfo"]["id"]


def restore_first(server: RunningServer, file: dict) -> str:
    first = file["versionInfo"]["id"]
    response = httpx.put(f"{server.url}/v1/files/{file['fileId']}/versions/{first}/restore", auth=server.auth())
    assert response.status_code == 200, response.text
    return first


@pytest.mark.parametrize("move_on", [overwrite, restore_first], ids=["newer upload", "restore"])
def test_a_result_finishing_after_the_file_moved_on_is_superseded(
    make_server, receiver: Receiver, move_on: Callable[[RunningServer, dict], str]  # type: ignore[no-untyped-def]
) -> None:
    model = HeldSegmenter()
    server = make_server(segmenter=model, egress_allow=("127.0.0.0/8",))
    endpoint = httpx.post(f"{server.url}/v1/webhooks/endpoints", auth=server.auth(), json={"url": f"{receiver.url}/events"}).json()
    first = put(server, (200, 30, 30))
    if move_on is restore_first:  # the job then runs on Version 2, and the restore goes back to Version 1
        put(server, (30, 30, 200))
    response = httpx.patch(
        f"{server.url}/v1/files/{first['fileId']}/details", auth=server.auth(),
        json={"extensions": [{"name": "remove-bg"}], "webhookUrl": f"{receiver.url}/request"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    ran_on = response.json()["versionInfo"]["id"]
    assert model.started.wait(30)

    current = move_on(server, first)  # while the cut-out is running
    assert current != ran_on
    model.release.set()
    [job] = server.wait_jobs_done()
    assert (job["status"], job["error_reason"]) == ("failed", "superseded")

    details = httpx.get(f"{server.url}/v1/files/{first['fileId']}/details", auth=server.auth()).json()
    assert details["versionInfo"]["id"] == current and details["hasAlpha"] is False
    versions = httpx.get(f"{server.url}/v1/files/{first['fileId']}/versions", auth=server.auth()).json()
    assert len(versions) == 2  # no version was added for the result

    [hit] = wait_for(lambda: receiver.on("/request"))  # type: ignore[misc]
    payload = Webhook(server.settings.webhook_secret).verify(hit.body, hit.headers)
    assert payload["status"] == "FAILURE" and payload["error"]["reason"] == "superseded"

    def kinds() -> list[str]:
        return [Webhook(endpoint["secret"]).verify(h.body, h.headers)["type"] for h in receiver.on("/events")]

    wait_for(lambda: "extension.failed" in kinds())
    assert "extension.succeeded" not in kinds()
    assert kinds().count("file-version.created") == 1  # the second upload's; none for the result
    blobs = {p.name for p in (server.data_dir / "blobs").rglob("*") if p.is_file()}
    assert len(blobs) == 2  # the two uploads; the dropped result is not kept


def test_a_result_on_the_still_current_version_becomes_current(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(egress_allow=("127.0.0.0/8",))
    first = put(server, (200, 30, 30), extensions='[{"name":"remove-bg"}]', webhookUrl=f"{receiver.url}/request")
    [job] = server.wait_jobs_done()
    assert job["status"] == "succeeded"
    [hit] = wait_for(lambda: receiver.on("/request"))  # type: ignore[misc]
    payload = Webhook(server.settings.webhook_secret).verify(hit.body, hit.headers)
    assert payload["status"] == "SUCCESS" and payload["fileObject"]["versionInfo"]["name"] == "Version 2"
    details = httpx.get(f"{server.url}/v1/files/{first['fileId']}/details", auth=server.auth()).json()
    assert details["versionInfo"] == payload["fileObject"]["versionInfo"]
