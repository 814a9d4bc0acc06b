"""remove-bg as an asynchronous extension: answered at once, cut out later, in the same process."""

from __future__ import annotations

import io
import time

import httpx
import numpy as np
import pytest
from imagekitio import ImageKit
from PIL import Image
from standardwebhooks import Webhook

from service.engine import U2NetSegmenter

from .conftest import CornerSegmenter, HeldSegmenter, RunningServer, image_bytes, photo_bytes, wait_for
from .receiver import Receiver


def sdk(server: RunningServer) -> ImageKit:
    return ImageKit(private_key=server.settings.imagekit_private_key, base_url=server.url, max_retries=0)


def rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def wait_for_version(client: ImageKit, file_id: str, name: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    return wait_for(lambda: (d := client.files.get(file_id)).version_info.name == name and d, timeout=timeout)


def test_upload_with_remove_bg_real_model(make_server, real_model: U2NetSegmenter, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(segmenter=real_model, egress_allow=("127.0.0.0/8",))
    client = sdk(server)
    started = time.monotonic()
    uploaded = client.files.upload(
        file=photo_bytes("coffee.png"), file_name="coffee.png", extensions=[{"name": "remove-bg"}],
        webhook_url=f"{receiver.url}/cutout",
    )
    assert time.monotonic() - started < 5  # answered before the model ran
    assert uploaded.extension_status.remove_bg == "pending"
    assert uploaded.version_info.name == "Version 1"

    details = wait_for_version(client, uploaded.file_id, "Version 2")
    assert details.file_id == uploaded.file_id and details.file_path == uploaded.file_path
    assert details.has_alpha is True and details.mime == "image/png"
    assert (details.width, details.height) == (600, 400)
    cutout = rgba(httpx.get(details.url).content)
    assert cutout[200, 300, 3] > 200  # the cup's centre is kept
    for corner in [(5, 5), (5, 594), (394, 5), (394, 594)]:
        assert cutout[corner][3] < 30, corner  # the table and wall are gone
    original = client.files.versions.get(uploaded.file_id, file_id=uploaded.file_id)
    assert original.has_alpha is False and original.mime == "image/png"
    assert [j["status"] for j in server.jobs()] == ["succeeded"]

    # The per-request webhook announces the new version, signed with the service's secret.
    [hit] = wait_for(lambda: receiver.on("/cutout"))  # type: ignore[misc]
    payload = Webhook(server.settings.webhook_secret).verify(hit.body, hit.headers)
    assert payload["service"] == "remove-bg" and payload["status"] == "SUCCESS"
    assert payload["fileObject"]["versionInfo"] == {"id": details.version_info.id, "name": "Version 2"}
    assert payload["fileObject"]["hasAlpha"] is True and payload["fileObject"]["url"] == details.url


def test_patch_with_remove_bg_real_model(make_server, real_model: U2NetSegmenter) -> None:  # type: ignore[no-untyped-def]
    server = make_server(segmenter=real_model)
    client = sdk(server)
    uploaded = client.files.upload(file=photo_bytes("chelsea.png"), file_name="cat.png", tags=["cat"])
    updated = client.files.update(uploaded.file_id, extensions=[{"name": "remove-bg"}], tags=["cat", "cutout"])
    assert updated.extension_status.remove_bg == "pending"  # type: ignore[union-attr]
    details = wait_for_version(client, uploaded.file_id, "Version 2")
    assert details.has_alpha and details.tags == ["cat", "cutout"]
    cutout = rgba(httpx.get(details.url).content)
    assert cutout[150, 225, 3] > 200  # the cat's face
    assert cutout[5, 5, 3] < 30


def scene() -> bytes:
    """A 100x80 grey backdrop with a red 40x30 subject at (30, 20)."""
    image = Image.new("RGB", (100, 80), (128, 128, 128))
    image.paste((220, 20, 20), (30, 20, 70, 50))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


OPTION_CASES = {
    "bg_color": ({"bg_color": "0000ff"}, lambda d, img: img[2, 2].tolist() == [0, 0, 255, 255]),
    "camelCase bgColor": ({"bgColor": "green"}, lambda d, img: img[2, 2].tolist() == [0, 128, 0, 255]),
    "channels alpha": ({"channels": "alpha"}, lambda d, img: Image.open(io.BytesIO(d)).mode in ("L", "LA")),
    "format webp": ({"format": "webp"}, lambda d, img: d[:4] == b"RIFF" and d[8:12] == b"WEBP"),
    "format jpg on colour": ({"format": "jpg", "bg_color": "fff"}, lambda d, img: d[:3] == b"\xff\xd8\xff"),
    "crop": ({"crop": True}, lambda d, img: img.shape[:2] == (30, 40)),
    "crop with margin": ({"crop": True, "crop_margin": "5px"}, lambda d, img: img.shape[:2] == (40, 50)),
    "roi excludes subject": ({"roi": "0 0 20 20"}, lambda d, img: img[35, 50, 3] == 0),
    "scale": ({"scale": "50%"}, lambda d, img: img.shape[:2] == (80, 100) and img[40, 50, 3] > 200),
}


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_each_option_reaches_the_engine(case: str, make_server) -> None:  # type: ignore[no-untyped-def]
    options, check = OPTION_CASES[case]
    server = make_server()
    client = sdk(server)
    uploaded = client.files.upload(file=scene(), file_name="s.png", extensions=[{"name": "remove-bg", "options": options}])
    details = wait_for_version(client, uploaded.file_id, "Version 2")
    data = httpx.get(details.url).content
    assert check(data, rgba(data)), case


def test_failing_job_keeps_the_old_version(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    client = sdk(server)
    uploaded = client.files.upload(
        file=scene(),
        file_name="s.png",
        extensions=[{"name": "remove-bg", "options": {"bg_image_url": "http://no-such-host.invalid/bg.png"}}],
    )
    assert uploaded.extension_status.remove_bg == "pending"
    [job] = server.wait_jobs_done()
    assert job["status"] == "failed"
    assert job["error_reason"] == "bg_image_url_unavailable"
    assert "does not resolve" in str(job["error_message"])
    details = client.files.get(uploaded.file_id)
    assert details.version_info.name == "Version 1" and details.has_alpha is False


def test_transient_failure_is_retried(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(segmenter=CornerSegmenter(fail_times=1))
    client = sdk(server)
    uploaded = client.files.upload(file=scene(), file_name="s.png", extensions=[{"name": "remove-bg"}])
    [job] = server.wait_jobs_done()
    assert job["status"] == "succeeded" and job["attempts"] == 2
    assert client.files.get(uploaded.file_id).version_info.name == "Version 2"



def test_full_queue_answers_429_and_stores_nothing(make_server) -> None:  # type: ignore[no-untyped-def]
    segmenter = HeldSegmenter()
    server = make_server(segmenter=segmenter, max_queue=2)
    try:
        with server.http() as http:
            for i in range(2):
                ok = http.post(
                    "/api/v1/files/upload",
                    auth=server.auth(),
                    files={"file": ("s.png", scene())},
                    data={"fileName": f"{i}.png", "extensions": '[{"name": "remove-bg"}]'},
                )
                assert ok.status_code == 200
            files, blobs = server.file_count(), server.blob_count()
            full = http.post(
                "/api/v1/files/upload",
                auth=server.auth(),
                files={"file": ("s.png", image_bytes(color=(1, 2, 3)))},
                data={"fileName": "late.png", "extensions": '[{"name": "remove-bg"}]'},
            )
            assert full.status_code == 429
            assert int(full.headers["Retry-After"]) > 0
            assert "queue is full" in full.json()["message"]
            assert (server.file_count(), server.blob_count()) == (files, blobs)
            file_id = http.get("/v1/files", auth=server.auth()).json()[0]["fileId"]
            patch = http.patch(
                f"/v1/files/{file_id}/details", auth=server.auth(), json={"extensions": [{"name": "remove-bg"}], "tags": ["x"]}
            )
            assert patch.status_code == 429
            assert http.get(f"/v1/files/{file_id}/details", auth=server.auth()).json()["tags"] is None
            plain = http.post(
                "/api/v1/files/upload", auth=server.auth(), files={"file": ("p.png", image_bytes())}, data={"fileName": "p.png"}
            )
            assert plain.status_code == 200  # uploads without extensions are not held back
    finally:
        segmenter.release.set()
    assert all(j["status"] == "succeeded" for j in server.wait_jobs_done())


def test_readyz_and_metrics(make_server, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    server = make_server(egress_allow=("127.0.0.0/8",))
    client = sdk(server)
    client.files.upload(
        file=scene(), file_name="s.png", extensions=[{"name": "remove-bg"}], webhook_url=f"{receiver.url}/done"
    )
    server.wait_jobs_done()
    wait_for(lambda: receiver.on("/done"))
    with server.http() as http:
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"model": True, "database": True}
        text = http.get("/metrics").text
    assert 'cutout_jobs{state="succeeded"} 1.0' in text
    assert "cutout_queue_depth 0.0" in text
    assert 'cutout_job_duration_seconds_count{outcome="succeeded"} 1.0' in text
    assert "cutout_model_duration_seconds_count 1.0" in text
    assert wait_for(lambda: 'cutout_webhook_deliveries{state="succeeded"} 1.0' in httpx.get(f"{server.url}/metrics").text)
    assert 'cutout_http_request_duration_seconds_count{method="POST",route="/api/v1/files/upload",status="200"} 1.0' in text


def test_graceful_shutdown_hands_back_running_jobs(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from .conftest import make_settings, run_server

    segmenter = HeldSegmenter()
    settings = make_settings(tmp_path / "data")
    running = run_server(settings, segmenter)
    server = next(running)
    client = sdk(server)
    uploaded = client.files.upload(file=scene(), file_name="s.png", extensions=[{"name": "remove-bg"}])
    wait_for(lambda: [j["status"] for j in server.jobs()] == ["running"])
    monkeypatch.setattr("service.jobs.SHUTDOWN_GRACE_SECONDS", 0.2)
    try:
        next(running, None)  # stop the server while the job is still inside the model
    finally:
        segmenter.release.set()
    [job] = server.jobs()
    assert job["status"] == "queued" and job["lease_owner"] is None and job["attempts"] == 0

    restarted = run_server(settings, CornerSegmenter())
    again = next(restarted)
    try:
        [job] = again.wait_jobs_done()
        assert job["status"] == "succeeded"
        assert sdk(again).files.get(uploaded.file_id).version_info.name == "Version 2"
        assert [v.version_info.name for v in sdk(again).files.versions.list(uploaded.file_id)] == ["Version 1", "Version 2"]
    finally:
        next(restarted, None)
