"""A receiver that refuses connections for several retry intervals gets every delivery once it is back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from ..conftest import RunningServer, image_bytes, wait_for
from ..receiver import Receiver

SCHEDULE = (0.3, 0.6, 1.2, 2.4, 4.8, 9.6)  # the default schedule, compressed: 7 attempts over ~23 s
FILES = 6
ENDPOINT_EVENTS = {"file.created", "file-version.created", "extension.succeeded"}


def test_deliveries_arrive_after_the_receiver_comes_back(
    make_server: Callable[..., RunningServer], receiver: Receiver
) -> None:
    server = make_server(webhook_retry_schedule=SCHEDULE, egress_allow=("127.0.0.0/8",), workers=2)
    with server.http() as http:
        made = http.post("/v1/webhooks/endpoints", auth=server.auth(), json={"url": f"{receiver.url}/events"})
        assert made.status_code == 201, made.text
        receiver.go_down()
        file_ids = []
        for i in range(FILES):
            response = http.post(
                "/api/v1/files/upload", auth=server.auth(), files={"file": (f"o{i}.png", image_bytes((30 + i, 20)))},
                data={"fileName": f"o{i}.png", "extensions": json.dumps([{"name": "remove-bg"}]),
                      "webhookUrl": f"{receiver.url}/hook"},
            )  # fmt: skip
            assert response.status_code == 200, response.text
            file_ids.append(response.json()["fileId"])
        expected = FILES * (len(ENDPOINT_EVENTS) + 1)

        def log() -> list[dict[str, object]]:
            return http.get("/v1/webhooks/deliveries", auth=server.auth(), params={"limit": 1000}).json()

        # Down for several retry intervals: every delivery has failed four times, none has given up.
        def failed_four_times() -> list[dict[str, object]] | None:
            found = log()
            return found if len(found) == expected and all(d["attemptCount"] >= 4 for d in found) else None

        failing = wait_for(failed_four_times, timeout=30)
        assert all(d["state"] == "pending" and d["lastStatus"] is None for d in failing), failing  # type: ignore
        assert receiver.received == []
        back_at = time.monotonic()
        receiver.come_back()

        delivered = wait_for(
            lambda: (found := log()) and all(d["state"] == "succeeded" for d in found) and found, timeout=30
        )
    for delivery in delivered:  # type: ignore[union-attr]
        statuses = [a["statusCode"] for a in delivery["attempts"]]
        assert statuses[:4] == [None] * 4 and statuses[-1] == 200, statuses
        assert all(a["error"] for a in delivery["attempts"][:-1])
    # Everything arrived after the receiver came back, each event for each file.
    assert all(hit.at >= back_at for hit in receiver.received)
    arrived = {(json.loads(hit.body)["type"], json.loads(hit.body)["data"].get("fileId")
                or json.loads(hit.body)["data"]["fileObject"]["fileId"]) for hit in receiver.on("/events")}  # fmt: skip
    assert arrived == {(event, file_id) for event in ENDPOINT_EVENTS for file_id in file_ids}
    assert {json.loads(hit.body)["fileObject"]["fileId"] for hit in receiver.on("/hook")} == set(file_ids)
    assert len(receiver.received) == expected  # one arrival each: nothing was sent twice
