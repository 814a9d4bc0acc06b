"""Webhooks: signed, retried on schedule, logged, replayable, and never sent where egress forbids."""

from __future__ import annotations

import json
import random
import threading
import time

import httpx
import pytest
from imagekitio import ImageKit
from standardwebhooks import Webhook

from service.dispatcher import DISABLE_AFTER_SECONDS, plan_next, retry_after_seconds
from service.signing import imagekit_signature, new_secret, standard_headers, uploadcare_signature

from .conftest import RunningServer, ServiceProcess, image_bytes, wait_for
from .receiver import Answer, Receiver

ALLOW_LOOPBACK = {"egress_allow": ("127.0.0.0/8",)}

# ---- pure signing, against fixed vectors ----------------------------------------

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'


def test_standard_signature_matches_the_published_vector() -> None:
    headers = standard_headers((VECTOR_SECRET,), VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    assert headers["webhook-id"] == VECTOR_ID and headers["webhook-timestamp"] == "1614265330"
    # The Standard Webhooks specification's own example signature comes first ...
    first, second = headers["webhook-signature"].split(" ")
    assert first == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    # ... then the one keyed with the secret's raw bytes, as imagekitio's unwrap derives it.
    assert second == "v1,TcxlhK9b6UD6iVI1ZU2tTqp8PEVfYRseNNfa6b+LcUg="


def test_dialect_signatures_match_fixed_vectors() -> None:
    # Both values agree with `openssl dgst -sha256 -hmac`.
    assert imagekit_signature(VECTOR_SECRET, VECTOR_TS * 1000, VECTOR_BODY) == (
        "t=1614265330000,v1=38dcd345d12a163975f2a8484af858926bb995e425f50d05a5aaeaacf2178698"
    )
    assert uploadcare_signature("uc-signing-secret", VECTOR_BODY) == (
        "v1=c319a4a559a1afc4ddef200966af2d0f14085014756ef5083150918ecc0a6f11"
    )


def test_new_secrets_verify_with_both_libraries() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and secret != new_secret()
    now = int(time.time())
    headers = standard_headers((secret,), "msg_1", now, b'{"a":1}')
    assert Webhook(secret).verify(b'{"a":1}', headers) == {"a": 1}
    client = ImageKit(private_key="unused", webhook_secret=secret, base_url="http://127.0.0.1:9", max_retries=0)
    client.webhooks.unwrap('{"a":1}', headers=headers)  # raises when no signature matches
    with pytest.raises(Exception):
        Webhook(new_secret()).verify(b'{"a":1}', headers)


# ---- the retry policy ----------------------------------------------------------------


def plan(**overrides: object) -> tuple[float | None, str | None]:
    args: dict[str, object] = {
        "attempt": 1, "status": 500, "transient": True, "retry_after": None, "schedule": (5.0, 300.0),
        "failing_since": None, "now": 1000.0, "rng": random.Random(7),
    }
    args.update(overrides)
    return plan_next(**args)  # type: ignore[arg-type]


def test_retry_schedule_with_jitter() -> None:
    for seed in range(50):
        at, disable = plan(rng=random.Random(seed))
        assert disable is None and at is not None and 1004.0 <= at <= 1006.0
    at, _ = plan(attempt=2)
    assert at is not None and 1240.0 <= at <= 1360.0
    assert plan(attempt=3) == (None, None)  # the schedule is used up


def test_retry_after_is_honoured_on_429_and_503_only() -> None:
    assert plan(status=429, retry_after=42.0)[0] == 1042.0
    assert plan(status=503, retry_after=0.0)[0] == 1000.0
    at, _ = plan(status=500, retry_after=42.0)
    assert at is not None and at < 1010
    assert retry_after_seconds("120", 0.0) == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0
    assert retry_after_seconds("soon", 0.0) is None
    assert retry_after_seconds("\u00b2", 0.0) is None  # a digit to str.isdigit, not to float()
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 +99999999999999999999", 0.0) is None  # no C int holds it
    assert retry_after_seconds("99999999", 0.0) == 24 * 3600


def test_gone_disables_and_blocked_gives_up() -> None:
    assert plan(status=410) == (None, "the endpoint answered 410 Gone")
    assert plan(status=None, transient=False) == (None, None)
    assert plan(status=None, transient=True)[0] is not None
    assert plan(failing_since=1000.0 - DISABLE_AFTER_SECONDS) == (None, "every delivery failed for 5 days")
    assert plan(failing_since=1000.0 - DISABLE_AFTER_SECONDS + 60)[0] is not None


# ---- helpers --------------------------------------------------------------------------


def sdk(server: RunningServer) -> ImageKit:
    return ImageKit(
        private_key=server.settings.imagekit_private_key, base_url=server.url, max_retries=0,
        webhook_secret=server.settings.webhook_secret,
    )  # fmt: skip


def upload(server: RunningServer, **fields: object) -> dict[str, object]:
    data = {"fileName": "a.png", **{k: (v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()}}
    response = httpx.post(
        f"{server.url}/api/v1/files/upload", auth=server.auth(), files={"file": ("a.png", image_bytes())}, data=data
    )
    assert response.status_code == 200, response.text
    return response.json()


def create_endpoint(server: RunningServer, url: str, **fields: object) -> dict[str, object]:
    response = httpx.post(f"{server.url}/v1/webhooks/endpoints", auth=server.auth(), json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def deliveries(server: RunningServer, **params: object) -> list[dict[str, object]]:
    response = httpx.get(f"{server.url}/v1/webhooks/deliveries", auth=server.auth(), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def settled(server: RunningServer, count: int, **params: object) -> list[dict[str, object]]:
    """Wait until `count` deliveries exist and none is pending."""

    def check() -> list[dict[str, object]] | None:
        found = deliveries(server, **params)
        return found if len(found) == count and all(d["state"] != "pending" for d in found) else None

    return wait_for(check, timeout=30)  # type: ignore[return-value]


# ---- per-request webhookUrl -----------------------------------------------------------


def test_retries_until_success_with_one_webhook_id(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(webhook_retry_schedule=(0.5, 1.0), **ALLOW_LOOPBACK)
    receiver.answer(Answer(500), Answer(503))
    uploaded = upload(server, extensions=[{"name": "remove-bg"}], webhookUrl=f"{receiver.url}/hook")
    wait_for(lambda: len(receiver.on("/hook")) == 3, timeout=30)
    first, second, third = receiver.on("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    assert 0.4 <= second.at - first.at <= 1.5  # 0.5 s +-20%, plus the time to answer
    assert 0.8 <= third.at - second.at <= 2.0  # 1.0 s +-20%

    # The final body verifies with the Standard Webhooks library and with the ImageKit SDK.
    payload = Webhook(server.settings.webhook_secret).verify(third.body, third.headers)
    sdk(server).webhooks.unwrap(third.body.decode(), headers=third.headers)
    assert payload["service"] == "remove-bg" and payload["status"] == "SUCCESS"
    assert payload["fileObject"]["fileId"] == uploaded["fileId"]
    assert payload["fileObject"]["versionInfo"]["name"] == "Version 2"
    assert payload["fileObject"]["hasAlpha"] is True

    [logged] = settled(server, 1)
    assert logged["state"] == "succeeded" and logged["id"] == third.headers["webhook-id"]
    assert [a["statusCode"] for a in logged["attempts"]] == [500, 503, 200]  # type: ignore[index]


def test_failure_payload_for_a_failing_job(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**ALLOW_LOOPBACK)
    uploaded = upload(
        server,
        extensions=[{"name": "remove-bg", "options": {"bg_image_url": "http://no-such-host.invalid/bg.png"}}],
        webhookUrl=f"{receiver.url}/hook",
    )
    [hit] = wait_for(lambda: receiver.on("/hook"), timeout=30)  # type: ignore[misc]
    payload = Webhook(server.settings.webhook_secret).verify(hit.body, hit.headers)
    assert payload["status"] == "FAILURE" and payload["service"] == "remove-bg"
    assert payload["fileId"] == uploaded["fileId"]
    assert payload["error"]["reason"] and "does not resolve" in payload["error"]["message"]


def test_retry_after_is_honoured(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(webhook_retry_schedule=(0.05, 0.05), **ALLOW_LOOPBACK)
    receiver.answer(Answer(429, {"Retry-After": "1"}))
    upload(server, extensions=[{"name": "remove-bg"}], webhookUrl=f"{receiver.url}/hook")
    first, second = wait_for(lambda: len(r := receiver.on("/hook")) == 2 and r, timeout=30)  # type: ignore[misc]
    assert second.at - first.at >= 0.95  # waited Retry-After, not the 0.05 s schedule


def test_redirects_are_not_followed(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(webhook_retry_schedule=(0.05,), **ALLOW_LOOPBACK)
    receiver.default = Answer(302, {"Location": f"{receiver.url}/elsewhere"})
    upload(server, extensions=[{"name": "remove-bg"}], webhookUrl=f"{receiver.url}/hook")
    [logged] = settled(server, 1)
    assert logged["state"] == "failed"
    assert [a["statusCode"] for a in logged["attempts"]] == [302, 302]  # type: ignore[index]
    assert receiver.on("/elsewhere") == []


def test_attempt_log_keeps_the_first_2_kb_and_redelivers(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(webhook_retry_schedule=(), **ALLOW_LOOPBACK)
    receiver.answer(Answer(500, body=b"x" * 5000))
    uploaded = upload(server, extensions=[{"name": "remove-bg"}], webhookUrl=f"{receiver.url}/hook")
    [logged] = settled(server, 1, fileId=uploaded["fileId"])
    assert logged["state"] == "failed" and logged["lastStatus"] == 500
    [attempt] = logged["attempts"]  # type: ignore[misc]
    assert attempt["response"] == "x" * 2048 and attempt["latencyMs"] >= 0

    response = httpx.post(f"{server.url}/v1/webhooks/deliveries/{logged['id']}/redeliver", auth=server.auth())
    assert response.status_code == 202
    [again] = settled(server, 1)
    assert again["state"] == "succeeded" and [a["number"] for a in again["attempts"]] == [1, 2]  # type: ignore[index]
    first, second = receiver.on("/hook")
    assert first.body == second.body and first.headers["webhook-id"] == second.headers["webhook-id"]
    assert httpx.post(f"{server.url}/v1/webhooks/deliveries/msg_nope/redeliver", auth=server.auth()).status_code == 404


# ---- registered endpoints --------------------------------------------------------------


def test_endpoint_receives_file_events_signed_with_its_secret(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**ALLOW_LOOPBACK)
    endpoint = create_endpoint(server, f"{receiver.url}/events")
    assert endpoint["events"] == ["*"] and endpoint["active"] is True
    secret = str(endpoint["secret"])
    client = sdk(server)
    uploaded = client.files.upload(file=image_bytes(), file_name="e.png", extensions=[{"name": "remove-bg"}])
    client.files.update(uploaded.file_id, tags=["t"])
    wait_for(lambda: len(receiver.on("/events")) == 4, timeout=30)
    client.files.delete(uploaded.file_id)
    wait_for(lambda: len(receiver.on("/events")) == 5, timeout=30)

    events = {}
    for hit in receiver.on("/events"):
        envelope = Webhook(secret).verify(hit.body, hit.headers)
        client.webhooks.unwrap(hit.body.decode(), headers=hit.headers, key=secret)
        stamp, signature = hit.headers["x-ik-signature"].split(",")
        assert signature == imagekit_signature(secret, int(stamp[2:]), hit.body).split(",")[1]
        assert set(envelope) == {"type", "id", "created_at", "data"}
        events[envelope["type"]] = envelope["data"]
    assert set(events) == {
        "file.created", "file.updated", "file-version.created", "extension.succeeded", "file.deleted",
    }  # fmt: skip
    assert events["file.created"]["fileId"] == uploaded.file_id
    assert events["file.updated"]["tags"] == ["t"]
    assert events["file-version.created"]["versionInfo"]["name"] == "Version 2"
    assert events["extension.succeeded"]["status"] == "SUCCESS"

    # The log filters by event, endpoint and file.
    [deleted] = settled(server, 1, event="file.deleted")
    assert deleted["state"] == "succeeded" and deleted["attempts"][0]["statusCode"] == 200  # type: ignore[index]
    assert len(deliveries(server, endpointId=endpoint["id"])) == 5
    assert len(deliveries(server, fileId=uploaded.file_id)) == 5
    assert deliveries(server, endpointId=int(endpoint["id"]) + 1) == []  # type: ignore[call-overload]


def test_endpoint_event_filter_crud_and_rotation(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(webhook_secret_overlap_seconds=0, **ALLOW_LOOPBACK)  # no overlap: the old secret stops at once
    endpoint = create_endpoint(server, f"{receiver.url}/only-deletes", events=["file.deleted"], description="d")
    url = f"{server.url}/v1/webhooks/endpoints/{endpoint['id']}"
    assert httpx.get(url, auth=server.auth()).json()["events"] == ["file.deleted"]
    rotated = httpx.post(f"{url}/rotate-secret", auth=server.auth()).json()
    assert rotated["secret"] != endpoint["secret"]

    file_id = upload(server)["fileId"]
    httpx.delete(f"{server.url}/v1/files/{file_id}", auth=server.auth())
    [hit] = wait_for(lambda: receiver.on("/only-deletes"), timeout=30)  # type: ignore[misc]
    assert Webhook(rotated["secret"]).verify(hit.body, hit.headers)["type"] == "file.deleted"
    with pytest.raises(Exception):
        Webhook(str(endpoint["secret"])).verify(hit.body, hit.headers)

    patched = httpx.patch(url, auth=server.auth(), json={"active": False, "events": ["*"]})
    assert patched.status_code == 200 and patched.json()["active"] is False and patched.json()["events"] == ["*"]
    upload(server)
    assert len(deliveries(server)) == 1  # nothing new for an inactive endpoint
    listed = httpx.get(f"{server.url}/v1/webhooks/endpoints", auth=server.auth()).json()
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert httpx.delete(url, auth=server.auth()).status_code == 204
    assert httpx.get(url, auth=server.auth()).status_code == 404


def test_retries_and_redeliveries_follow_the_endpoints_current_url(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(webhook_retry_schedule=(2.0, 2.0), **ALLOW_LOOPBACK)
    endpoint = create_endpoint(server, f"{receiver.url}/a", events=["file.created"])
    url = f"{server.url}/v1/webhooks/endpoints/{endpoint['id']}"
    receiver.answer(Answer(500))
    upload(server)
    [failed] = wait_for(lambda: receiver.on("/a"), timeout=30)  # type: ignore[misc]
    [pending] = deliveries(server)
    assert pending["state"] == "pending" and pending["attemptCount"] == 1  # its retry is due in ~2 s

    moved = httpx.patch(url, auth=server.auth(), json={"url": f"{receiver.url}/b"})
    assert moved.status_code == 200 and moved.json()["url"] == f"{receiver.url}/b"
    [retried] = wait_for(lambda: receiver.on("/b"), timeout=30)  # type: ignore[misc]
    assert retried.headers["webhook-id"] == failed.headers["webhook-id"] == pending["id"]
    assert Webhook(str(endpoint["secret"])).verify(retried.body, retried.headers)["type"] == "file.created"
    [logged] = settled(server, 1)
    assert logged["state"] == "succeeded" and logged["url"] == f"{receiver.url}/b"

    # A redelivery after the next change goes to the newest URL, signed with the newest secret.
    httpx.patch(url, auth=server.auth(), json={"url": f"{receiver.url}/c"})
    secret = httpx.post(f"{url}/rotate-secret", auth=server.auth()).json()["secret"]
    assert httpx.post(f"{server.url}/v1/webhooks/deliveries/{logged['id']}/redeliver", auth=server.auth()).status_code == 202
    [again] = wait_for(lambda: receiver.on("/c"), timeout=30)  # type: ignore[misc]
    assert again.headers["webhook-id"] == logged["id"] and again.body == retried.body
    assert Webhook(secret).verify(again.body, again.headers)["type"] == "file.created"
    sdk(server).webhooks.unwrap(again.body.decode(), headers=again.headers, key=secret)
    stamp, signature = again.headers["x-ik-signature"].split(",")
    assert signature == imagekit_signature(secret, int(stamp[2:]), again.body).split(",")[1]
    assert len(receiver.on("/a")) == 1 and len(receiver.on("/b")) == 1 and len(receiver.on("/c")) == 1


def test_a_rotated_secret_keeps_signing_through_its_overlap_window(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(webhook_secret_overlap_seconds=3.0, **ALLOW_LOOPBACK)
    endpoint = create_endpoint(server, f"{receiver.url}/rolling", events=["file.created"])
    old = str(endpoint["secret"])
    assert endpoint["previousSecretExpiresAt"] is None
    rotated = httpx.post(f"{server.url}/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret", auth=server.auth())
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previousSecretExpiresAt"] is not None

    upload(server)
    [during] = wait_for(lambda: receiver.on("/rolling"), timeout=30)  # type: ignore[misc]
    for secret in (old, new):  # either verifies, with both libraries
        assert Webhook(secret).verify(during.body, during.headers)["type"] == "file.created"
        sdk(server).webhooks.unwrap(during.body.decode(), headers=during.headers, key=secret)
    with pytest.raises(Exception):
        Webhook(new_secret()).verify(during.body, during.headers)
    # x-ik-signature holds one signature: the new secret's.
    stamp, signature = during.headers["x-ik-signature"].split(",")
    assert signature == imagekit_signature(new, int(stamp[2:]), during.body).split(",")[1]

    wait_for(lambda: time.monotonic() > during.at + 3.2, timeout=10)  # the window opened before `during`
    upload(server)
    _, after = wait_for(lambda: len(r := receiver.on("/rolling")) == 2 and r, timeout=30)  # type: ignore[misc]
    assert Webhook(new).verify(after.body, after.headers)["type"] == "file.created"
    with pytest.raises(Exception):
        Webhook(old).verify(after.body, after.headers)
    with pytest.raises(Exception):
        sdk(server).webhooks.unwrap(after.body.decode(), headers=after.headers, key=old)


def test_endpoints_are_limited_in_number(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_webhook_endpoints=2, **ALLOW_LOOPBACK)
    first = create_endpoint(server, f"{receiver.url}/1")
    create_endpoint(server, f"{receiver.url}/2")
    refused = httpx.post(f"{server.url}/v1/webhooks/endpoints", auth=server.auth(), json={"url": f"{receiver.url}/3"})
    assert refused.status_code == 409, refused.text
    assert "2 webhook endpoints" in refused.json()["message"] and "CUTOUT_MAX_WEBHOOK_ENDPOINTS" in refused.json()["help"]
    assert len(httpx.get(f"{server.url}/v1/webhooks/endpoints", auth=server.auth()).json()) == 2
    assert httpx.delete(f"{server.url}/v1/webhooks/endpoints/{first['id']}", auth=server.auth()).status_code == 204
    create_endpoint(server, f"{receiver.url}/3")  # room again


def test_gone_disables_the_endpoint(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**ALLOW_LOOPBACK)
    endpoint = create_endpoint(server, f"{receiver.url}/gone")
    receiver.default = Answer(410)
    upload(server)
    wait_for(
        lambda: httpx.get(f"{server.url}/v1/webhooks/endpoints/{endpoint['id']}", auth=server.auth()).json()["active"]
        is False
    )
    shown = httpx.get(f"{server.url}/v1/webhooks/endpoints/{endpoint['id']}", auth=server.auth()).json()
    assert "410" in shown["disabledReason"]
    assert [d["state"] for d in deliveries(server)] == ["failed"]
    upload(server)
    assert len(receiver.on("/gone")) == 1 and len(deliveries(server)) == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"url": "ftp://example.com/"}, "url"),
        ({"url": "http://169.254.169.254/latest/"}, "url"),
        ({"url": "https://example.com/", "events": ["file.exploded"]}, "events"),
        ({"url": "https://example.com/", "events": "file.created"}, "events"),
        ({"url": "https://example.com/", "active": "yes"}, "active"),
        ({"url": "https://example.com/", "format": "smtp"}, "format"),
        ({"url": "https://example.com/", "secret": "mine"}, "secret"),
        ({}, "url"),
    ],
)
def test_bad_endpoint_requests_are_refused(server: RunningServer, body: dict[str, object], field: str) -> None:
    response = httpx.post(f"{server.url}/v1/webhooks/endpoints", auth=server.auth(), json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert httpx.get(f"{server.url}/v1/webhooks/endpoints", auth=server.auth()).json() == []


def test_webhook_api_needs_the_private_key(server: RunningServer) -> None:
    for method, path in [("GET", "/v1/webhooks/endpoints"), ("GET", "/v1/webhooks/deliveries"),
                         ("POST", "/v1/webhooks/endpoints")]:  # fmt: skip
        assert httpx.request(method, server.url + path).status_code == 401
    assert httpx.get(f"{server.url}/v1/webhooks/endpoints/99999999999999999999999", auth=server.auth()).status_code == 404
    assert httpx.get(f"{server.url}/v1/webhooks/deliveries", auth=server.auth(), params={"state": "x"}).status_code == 400


# ---- safe egress ----------------------------------------------------------------------


def test_no_delivery_reaches_loopback_without_the_allow_list(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    import socket

    server = make_server()
    for url in [
        f"{receiver.url}/hook",
        f"http://localhost:{receiver.port}/hook",
        f"http://[::ffff:127.0.0.1]:{receiver.port}/hook",
        f"http://[64:ff9b::7f00:1]:{receiver.port}/hook",
        f"http://[::1]:{receiver.port}/hook",
        "http://169.254.169.254/latest/meta-data/",
    ]:
        response = httpx.post(
            f"{server.url}/api/v1/files/upload", auth=server.auth(), files={"file": ("a.png", image_bytes())},
            data={"fileName": "a.png", "extensions": '[{"name":"remove-bg"}]', "webhookUrl": url},
        )  # fmt: skip
        assert response.status_code == 400 and "webhookUrl" in response.json()["message"], url
        create = httpx.post(f"{server.url}/v1/webhooks/endpoints", auth=server.auth(), json={"url": url})
        assert create.status_code == 400, url
    assert server.file_count() == 0

    # A DNS name that resolves to loopback passes the request-time check; the dispatcher refuses it.
    # (On port 80: another port is refused at once when nothing is allow-listed.)
    host = socket.gethostname()
    if not any(info[4][0].startswith("127.") for info in socket.getaddrinfo(host, 80)):
        pytest.skip(f"{host} does not resolve to loopback here")
    create_endpoint(server, f"http://{host}/by-name")
    upload(server)
    [logged] = settled(server, 1)
    assert logged["state"] == "failed" and "non-public" in str(logged["lastError"])
    assert receiver.received == []


def test_pending_deliveries_survive_a_crash(tmp_path, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL while an attempt hangs: after restart the delivery is sent again, with the same id."""
    hold = threading.Event()
    receiver.answer(Answer(200, hold=hold))
    service = ServiceProcess(
        tmp_path / "data", CUTOUT_EGRESS_ALLOW="127.0.0.0/8", CUTOUT_WEBHOOK_RETRY_SCHEDULE="0.2"
    ).start()
    try:
        created = httpx.post(f"{service.url}/v1/webhooks/endpoints", auth=service.auth,
                             json={"url": f"{receiver.url}/crash"})  # fmt: skip
        assert created.status_code == 201, created.text
        response = httpx.post(
            f"{service.url}/api/v1/files/upload", auth=service.auth, files={"file": ("a.png", image_bytes())},
            data={"fileName": "a.png"},
        )  # fmt: skip
        assert response.status_code == 200
        wait_for(lambda: receiver.on("/crash"), timeout=30)  # the attempt is in flight, unanswered
        service.kill()
    finally:
        hold.set()
    service.start()
    try:
        wait_for(lambda: len(receiver.on("/crash")) == 2, timeout=30)
        first, second = receiver.on("/crash")
        assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body

        def succeeded() -> list[dict[str, object]]:
            listed = httpx.get(f"{service.url}/v1/webhooks/deliveries", auth=service.auth).json()
            return [d for d in listed if d["state"] == "succeeded"]

        [logged] = wait_for(succeeded, timeout=30)  # type: ignore[misc]
        assert logged["event"] == "file.created" and logged["id"] == first.headers["webhook-id"]
    finally:
        service.stop()


def test_openapi_describes_the_webhook_api(server: RunningServer) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in ["/v1/webhooks/endpoints", "/v1/webhooks/endpoints/{id}", "/v1/webhooks/endpoints/{id}/rotate-secret",
                 "/v1/webhooks/deliveries", "/v1/webhooks/deliveries/{id}/redeliver", "/api/v1/files/upload"]:  # fmt: skip
        assert path in paths, path
    assert set(paths["/v1/webhooks/endpoints/{id}"]) == {"get", "patch", "delete"}
