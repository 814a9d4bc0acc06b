"""Uploadcare webhooks through pyuploadcare: subscriptions, signed file.uploaded / stored / deleted / info_updated."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx
from pyuploadcare import File
from pyuploadcare.api.addon_entities import AddonLabels
from standardwebhooks import Webhook

from .conftest import CornerSegmenter, RunningServer, image_bytes, wait_for
from .receiver import Answer, Receiver
from .test_uploadcare_sdk import close_clients, sdk, simple_auth, write  # noqa: F401 (close_clients: autouse)

ALLOW_LOOPBACK = {"egress_allow": ("127.0.0.0/8",)}


def uc_signature(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def endpoint_secret(server: RunningServer, hook_id: int) -> str:
    shown = httpx.get(f"{server.url}/v1/webhooks/endpoints/{hook_id}", auth=server.auth())
    return str(shown.json()["secret"])


def test_file_uploaded_webhook_is_signed(make_server, receiver: Receiver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**ALLOW_LOOPBACK)
    client = sdk(server)
    hook = client.create_webhook(f"{receiver.url}/uc", signing_secret="top-secret")
    assert hook.event == "file.uploaded" and hook.is_active and hook.target_url == f"{receiver.url}/uc"
    assert [h.id for h in client.list_webhooks()] == [hook.id]

    with open(write(tmp_path, "a.png", image_bytes()), "rb") as fh:
        uploaded = client.upload(fh, store=True, metadata={"sku": "1"})
    [hit] = wait_for(lambda: receiver.on("/uc"))  # type: ignore[misc]
    assert hit.headers["x-uc-signature"] == uc_signature("top-secret", hit.body)
    Webhook(endpoint_secret(server, hook.id)).verify(hit.body, hit.headers)  # Standard Webhooks too
    payload = json.loads(hit.body)
    assert payload["hook"]["event"] == "file.uploaded" and payload["hook"]["id"] == hook.id
    assert payload["hook"]["target"] == f"{receiver.url}/uc"
    assert payload["data"]["uuid"] == str(uploaded.uuid) and payload["data"]["metadata"] == {"sku": "1"}
    assert "appdata" in payload["data"] and payload["initiator"]["type"] == "api"
    assert payload["file"].startswith(f"{server.url}/cdn/{uploaded.uuid}/")


def test_addon_result_fires_file_uploaded_with_its_initiator(make_server, receiver: Receiver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = make_server(segmenter=CornerSegmenter(), **ALLOW_LOOPBACK)
    client = sdk(server)
    with open(write(tmp_path, "a.png", image_bytes()), "rb") as fh:
        source = client.upload(fh, store=True)
    client.create_webhook(f"{receiver.url}/uc")
    execution = client.addons_api.execute(source.uuid, AddonLabels.REMOVE_BG)
    [hit] = wait_for(lambda: receiver.on("/uc"), timeout=30)  # type: ignore[misc]
    assert "x-uc-signature" not in hit.headers  # no signing secret was set
    payload = json.loads(hit.body)
    assert payload["initiator"] == {
        "type": "addon",
        "detail": {"addon_name": "remove_bg", "request_id": str(execution.request_id), "source_file_uuid": str(source.uuid)},
    }
    status = client.addons_api.status(execution.request_id, AddonLabels.REMOVE_BG)
    assert payload["data"]["uuid"] == status.result["file_id"]  # type: ignore[index]
    assert payload["data"]["appdata"]["remove_bg"]["version"] == "1.0"


def test_stored_deleted_and_info_updated_events(make_server, receiver: Receiver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**ALLOW_LOOPBACK)
    client = sdk(server)
    for event in ("file.stored", "file.deleted", "file.info_updated"):
        client.create_webhook(f"{receiver.url}/{event}", event=event)
    with open(write(tmp_path, "a.png", image_bytes()), "rb") as fh:
        uploaded = client.upload(fh, store=False)
    file: File = client.file(str(uploaded.uuid))
    file.store()
    client.metadata_api.update_or_create_key(file.uuid, "color", "red")
    file.delete()
    wait_for(lambda: all(receiver.on(f"/{e}") for e in ("file.stored", "file.deleted", "file.info_updated")))
    stored = json.loads(receiver.on("/file.stored")[0].body)
    assert stored["hook"]["event"] == "file.stored" and stored["data"]["datetime_stored"]
    updated = json.loads(receiver.on("/file.info_updated")[0].body)
    assert updated["data"]["metadata"] == {"color": "red"}
    deleted = json.loads(receiver.on("/file.deleted")[0].body)
    assert deleted["data"]["uuid"] == str(uploaded.uuid)


def test_webhook_crud_and_bad_requests(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**ALLOW_LOOPBACK)
    client = sdk(server)
    hook = client.create_webhook(f"{receiver.url}/a", event="file.stored", is_active=False)
    changed = client.update_webhook(hook.id, target_url=f"{receiver.url}/b", is_active=True, signing_secret="s2")
    assert changed.target_url == f"{receiver.url}/b" and changed.is_active and changed.signing_secret == "s2"
    headers = simple_auth(server)
    for data, words in [
        ({"target_url": "http://169.254.169.254/", "event": "file.uploaded"}, "target_url"),
        ({"target_url": f"{receiver.url}/c", "event": "file.exploded"}, "event"),
        ({"target_url": f"{receiver.url}/b", "event": "file.stored"}, "already subscribed"),
        ({"target_url": f"{receiver.url}/c", "signing_secret": "x" * 40}, "signing_secret"),
        ({"event": "file.uploaded"}, "target_url"),
    ]:
        response = httpx.post(f"{server.url}/webhooks/", headers=headers, data=data)
        assert response.status_code == 400 and words in response.json()["detail"], (data, response.text)
    assert httpx.get(f"{server.url}/webhooks/", headers={**headers, "Accept": "application/json"}).status_code == 406
    assert httpx.put(f"{server.url}/webhooks/999/", headers=headers, json={}).status_code == 404
    for bad_id in ["²", "9" * 40, "-1"]:
        assert httpx.delete(f"{server.url}/webhooks/{bad_id}/", headers=headers).status_code == 400, bad_id
    assert [h.id for h in client.list_webhooks()] == [hook.id]

    # The same subscription is visible to the native API, and unsubscribe removes it.
    native = httpx.get(f"{server.url}/v1/webhooks/endpoints", auth=server.auth()).json()
    assert [(e["id"], e["format"], e["events"]) for e in native] == [(hook.id, "uploadcare", ["file.stored"])]
    response = httpx.request(
        "DELETE", f"{server.url}/webhooks/unsubscribe/", headers=headers, json={"target_url": f"{receiver.url}/b"}
    )
    assert response.status_code == 204
    assert list(client.list_webhooks()) == []
    second = client.create_webhook(f"{receiver.url}/d")
    client.delete_webhook(second.id)
    assert list(client.list_webhooks()) == []


def test_a_retry_follows_a_changed_target_url(make_server, receiver: Receiver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = make_server(webhook_retry_schedule=(2.0, 2.0), **ALLOW_LOOPBACK)
    client = sdk(server)
    hook = client.create_webhook(f"{receiver.url}/old", signing_secret="first")
    receiver.answer(Answer(500))
    with open(write(tmp_path, "a.png", image_bytes()), "rb") as fh:
        client.upload(fh, store=True)
    [failed] = wait_for(lambda: receiver.on("/old"))  # type: ignore[misc]

    client.update_webhook(hook.id, target_url=f"{receiver.url}/new", signing_secret="second")
    [retried] = wait_for(lambda: receiver.on("/new"), timeout=30)  # type: ignore[misc]
    assert retried.headers["webhook-id"] == failed.headers["webhook-id"] and retried.body == failed.body
    assert retried.headers["x-uc-signature"] == uc_signature("second", retried.body)
    Webhook(endpoint_secret(server, hook.id)).verify(retried.body, retried.headers)
    assert len(receiver.on("/old")) == 1


def test_subscriptions_share_the_endpoint_limit(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_webhook_endpoints=2, **ALLOW_LOOPBACK)
    client = sdk(server)
    client.create_webhook(f"{receiver.url}/1")
    created = httpx.post(f"{server.url}/v1/webhooks/endpoints", auth=server.auth(), json={"url": f"{receiver.url}/2"})
    assert created.status_code == 201
    refused = httpx.post(f"{server.url}/webhooks/", headers=simple_auth(server), data={"target_url": f"{receiver.url}/3"})
    assert refused.status_code == 409, refused.text
    assert "2 webhook endpoints" in refused.json()["detail"]
    assert len(list(client.list_webhooks())) == 1


def test_the_same_subscription_sent_twice_at_once_is_made_once(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    """The uniqueness rule is checked inside the write that adds the hook, so two requests cannot both pass."""
    import asyncio
    import sqlite3

    server = make_server(**ALLOW_LOOPBACK)
    headers = simple_auth(server)
    # Another connection holds the write lock for a moment, so every request is inside its handler
    # (and past any check made before the write) while the first write waits.
    blocker = sqlite3.connect(server.data_dir / "cutout.db", isolation_level=None)

    async def both() -> list[int]:
        async with httpx.AsyncClient() as client:
            blocker.execute("BEGIN IMMEDIATE")
            sending = asyncio.gather(*(
                client.post(f"{server.url}/webhooks/", headers=headers, timeout=10,
                            data={"target_url": f"{receiver.url}/same", "event": "file.uploaded"})
                for _ in range(8)
            ))  # fmt: skip
            await asyncio.sleep(0.5)
            blocker.execute("COMMIT")
            answers = await sending
        return sorted(a.status_code for a in answers)

    assert asyncio.run(both()) == [201] + [400] * 7
    blocker.close()
    assert len(list(sdk(server).list_webhooks())) == 1
