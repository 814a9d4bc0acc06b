"""One library behind both dialects: files cross over, unstored files expire, add-on results are recorded once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from imagekitio import ImageKit

from service import engine
from service.app import open_library
from service.dialects.uploadcare.upload import SESSION_SECONDS
from service.library import ExtensionRequest, Library, NewFile
from service.models import ResultTo

from .conftest import RunningServer, image_bytes, make_settings, photo_bytes, plain_cutout, wait_for
from .test_uploadcare_sdk import close_clients, sdk, write  # noqa: F401 (close_clients: autouse)

DAY = 24 * 3600


def imagekit(server: RunningServer) -> ImageKit:
    return ImageKit(private_key=server.settings.imagekit_private_key, base_url=server.url, max_retries=0)


def test_imagekit_upload_is_listed_and_processed_through_uploadcare(server: RunningServer) -> None:
    ik = imagekit(server)
    uploaded = ik.files.upload(
        file=photo_bytes("coffee.png"), file_name="mug.png", folder="/shop", custom_metadata={"price": 12.5, "sku": "m1"}
    )
    client = sdk(server)
    [listed] = list(client.list_files())
    info = listed.info
    assert info["original_filename"] == "mug.png" and info["size"] == uploaded.size
    assert info["metadata"] == {"price": "12.5", "sku": "m1"}  # Uploadcare metadata values are strings
    assert info["datetime_stored"] is not None

    request_id = client.addons_api.execute(listed.uuid, "remove_bg", {"crop": True}).request_id
    status = wait_for(lambda: (s := client.addons_api.status(request_id, "remove_bg")).status.value == "done" and s)
    result_uuid = status.result["file_id"]  # type: ignore[union-attr]

    files = ik.assets.list(path="/shop")
    assert len(files) == 2
    source = ik.files.get(uploaded.file_id)
    assert source.version_info.name == "Version 1" and source.has_alpha is False  # untouched
    [cutout] = [f for f in files if f.file_id != uploaded.file_id]
    assert cutout.has_alpha is True and cutout.mime == "image/png"
    assert httpx.get(cutout.url).content == httpx.get(f"{server.url}/cdn/{result_uuid}/").content


def test_uploadcare_upload_is_listed_and_processed_through_imagekit(server: RunningServer, tmp_path: Path) -> None:
    client = sdk(server)
    with open(write(tmp_path, "cat.png", photo_bytes("chelsea.png")), "rb") as fh:
        uploaded = client.upload(fh, metadata={"pet": "cat"})
    ik = imagekit(server)
    [listed] = ik.assets.list()
    assert listed.name.startswith("cat_") and listed.custom_metadata == {"pet": "cat"}

    updated = ik.files.update(listed.file_id, extensions=[{"name": "remove-bg"}], tags=["cat"])
    assert updated.extension_status.remove_bg == "pending"  # type: ignore[union-attr]
    wait_for(lambda: ik.files.get(listed.file_id).version_info.name == "Version 2")
    info = uploaded.update_info()
    assert info["content_info"]["image"]["color_mode"] == "RGBA" and info["tags"] == ["cat"]
    assert httpx.get(uploaded.cdn_url).content == httpx.get(ik.files.get(listed.file_id).url).content

    ik.files.delete(listed.file_id)
    [removed] = list(client.list_files(removed=True))
    assert removed.uuid == uploaded.uuid and removed.info["datetime_removed"] is not None
    assert list(client.list_files()) == []


def library_at(tmp_path: Path) -> Library:
    settings = make_settings(tmp_path)
    return open_library(settings, tmp_path)


def test_unstored_files_expire_after_a_day(tmp_path: Path) -> None:
    library = library_at(tmp_path)
    kept, _ = asyncio.run(library.upload(NewFile(data=image_bytes(), file_name="kept.png", stored=False)))
    lost, _ = asyncio.run(library.upload(NewFile(data=image_bytes(color=(1, 2, 3)), file_name="lost.png", stored=False)))
    stored, _ = asyncio.run(library.upload(NewFile(data=image_bytes(color=(4, 5, 6)), file_name="s.png")))
    asyncio.run(library.store(kept.uuid))

    assert asyncio.run(library.expire_unstored(now=time.time() + DAY - 60)) == 0
    assert asyncio.run(library.expire_unstored(now=time.time() + DAY + 60)) == 1
    removed = library.get_live_or_removed(lost.uuid)
    assert removed.removed_at is not None and removed.original_filename == "lost.png"
    assert not library.blobs.exists(lost.version.blob)
    assert library.get_by_uuid(kept.uuid).stored_at is not None
    assert library.get_by_uuid(stored.uuid).removed_at is None


def test_abandoned_multipart_sessions_are_swept(tmp_path: Path) -> None:
    library = library_at(tmp_path)
    session = "6a1f0c2e-0000-4000-8000-000000000000"
    asyncio.run(library.open_chunked(session, {"size": 1}, 1, max_open=10, open_seconds=DAY))
    assert asyncio.run(library.sweep_chunked(SESSION_SECONDS, now=time.time() + 60)) == 0
    assert asyncio.run(library.sweep_chunked(SESSION_SECONDS, now=time.time() + DAY + 60)) == 1
    assert library.chunked("6a1f0c2e-0000-4000-8000-000000000000") is None


def test_a_multipart_upload_keeps_its_parts_as_blobs_that_the_orphan_sweep_spares(tmp_path: Path) -> None:
    library = open_library(make_settings(tmp_path, orphan_grace_seconds=0), tmp_path)
    upload = "6a1f0c2e-0000-4000-8000-000000000001"
    asyncio.run(library.open_chunked(upload, {"size": 6}, 2, max_open=10, open_seconds=DAY))
    assert asyncio.run(library.put_chunk(upload, 0, b"abc"))
    assert asyncio.run(library.put_chunk(upload, 1, b"def"))
    _, parts = library.chunked(upload) or ({}, [])
    assert all(parts) and all(library.blobs.exists(sha) for sha in parts if sha)
    time.sleep(0.01)  # older than the (zero) grace period
    assert asyncio.run(library.sweep_orphans()) == 0  # an open session's parts are referenced
    assert all(library.blobs.exists(sha) for sha in parts if sha)
    assert asyncio.run(library.join_chunks(parts)) == b"abcdef"
    assert not (tmp_path / "multipart").exists()
    assert asyncio.run(library.sweep_chunked(SESSION_SECONDS, now=time.time() + DAY + 60)) == 1
    assert not any(library.blobs.exists(sha) for sha in parts if sha)  # expired: its parts went with it


def test_addon_result_file_is_recorded_once_and_fenced(tmp_path: Path) -> None:
    library = library_at(tmp_path)
    source, _ = asyncio.run(library.upload(NewFile(data=photo_bytes("coffee.png"), file_name="c.png")))
    request_id = "9b2e6f1a-0000-4000-8000-000000000000"
    ext = ExtensionRequest("remove-bg", plain_cutout(), dialect="uploadcare", job_id=request_id, result_to=ResultTo.FILE)
    job = asyncio.run(library.run_addon(source.uuid, ext))
    assert job.id == request_id

    first = asyncio.run(library.claim_job("worker-a", lease=-1))  # already expired: as if worker-a hung or died
    second = asyncio.run(library.claim_job("worker-b", lease=30))
    assert first is not None and second is not None and second.id == request_id
    result = engine.Result(data=image_bytes(mode="RGBA", color=(1, 2, 3, 0)), mime="image/png", width=64, height=48, has_alpha=True, format="png")
    sha = library.blobs.put(result.data)
    assert asyncio.run(library.complete_job(first, "worker-a", result, sha)) is None
    made = asyncio.run(library.complete_job(second, "worker-b", result, sha))
    assert made is not None and made.uuid != source.uuid
    assert asyncio.run(library.complete_job(second, "worker-b", result, sha)) is None

    assert library.db.count_by_upload(removed=False, stored=None) == 2
    found = library.addon_job(request_id)
    assert found is not None and found[1] == made.uuid
    appdata = library.get_by_uuid(made.uuid).appdata["remove_bg"]
    assert appdata["version"] == "1.0" and appdata["data"] == {}
    assert appdata["datetime_created"] == appdata["datetime_updated"] == made.created_at
    assert library.get_by_uuid(source.uuid).version.number == 1  # the source is untouched
