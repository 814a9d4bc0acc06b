"""The official pyuploadcare SDK, pointed at a real Cutout server, uses uploads, files, metadata and remove_bg unchanged."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from pyuploadcare import Uploadcare
from pyuploadcare.api.addon_entities import AddonLabels, AddonRemoveBGExecutionParams
from pyuploadcare.api.auth import UploadcareSimpleAuth
from pyuploadcare.exceptions import InvalidRequestError, UploadError
from pyuploadcare.resources.file import UploadProgress

from service.engine import U2NetSegmenter

from .conftest import RunningServer, image_bytes, photo_bytes, wait_for
from .receiver import Origin

REST = {"Accept": "application/vnd.uploadcare-v0.7+json"}


_clients: list[Uploadcare] = []


def sdk(server: RunningServer, **options: object) -> Uploadcare:
    """pyuploadcare switched over to Cutout by its three base URLs (closed after the test)."""
    client = Uploadcare(
        public_key=server.settings.uploadcare_public_key,
        secret_key=server.settings.uploadcare_secret_key,
        api_base=f"{server.url}/",
        upload_base=f"{server.url}/",
        cdn_base=f"{server.url}/cdn/",
        retry_throttled=0,
        **options,  # type: ignore[arg-type]
    )
    _clients.append(client)
    return client


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _clients:
        client = _clients.pop()
        for http in (client.rest_client, client.upload_client, client.cdn_client):
            http.close()


def simple_auth(server: RunningServer) -> dict[str, str]:
    settings = server.settings
    return {**REST, "Authorization": f"Uploadcare.Simple {settings.uploadcare_public_key}:{settings.uploadcare_secret_key}"}


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin(image_bytes())
    yield server
    server.close()


def test_upload_info_cdn_and_list(server: RunningServer, tmp_path: Path) -> None:
    client = sdk(server)
    data = photo_bytes("coffee.png")
    with open(write(tmp_path, "coffee cup.png", data), "rb") as fh:
        uploaded = client.upload(fh, metadata={"subsystem": "shop", "pet": "cat"}, tags=["mug"])

    info = uploaded.info
    assert str(info["uuid"]) == uploaded.uuid and uploaded.uuid == uploaded.uuid.lower()
    assert info["original_filename"] == "coffee cup.png"
    assert info["mime_type"] == "image/png" and info["size"] == len(data)
    assert info["is_image"] and info["is_ready"]
    assert info["metadata"] == {"subsystem": "shop", "pet": "cat"}
    assert info["tags"] == ["mug"]
    assert info["datetime_stored"] is not None and info["datetime_removed"] is None  # store=auto keeps it
    image = info["content_info"]["image"]
    assert (image["width"], image["height"], image["format"]) == (600, 400, "PNG")
    assert uploaded.cdn_url == f"{server.url}/cdn/{uploaded.uuid}/"

    served = httpx.get(uploaded.cdn_url)
    assert served.status_code == 200 and served.content == data
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(info["original_file_url"]).content == data
    assert httpx.get(f"{uploaded.cdn_url}-/resize/100x/").status_code == 400

    listed = list(client.list_files())
    assert [f.uuid for f in listed] == [uploaded.uuid]
    assert client.list_files().count() == 1

    upload_api = httpx.get(
        f"{server.url}/info/", params={"pub_key": server.settings.uploadcare_public_key, "file_id": uploaded.uuid}
    ).json()
    assert upload_api["uuid"] == upload_api["file_id"] == uploaded.uuid
    assert upload_api["is_stored"] is True and upload_api["size"] == len(data)
    assert upload_api["metadata"] == {"subsystem": "shop", "pet": "cat"}


def test_store_delete_and_removed_listing(server: RunningServer, tmp_path: Path) -> None:
    client = sdk(server)
    files = []
    for i in range(3):
        with open(write(tmp_path, f"{i}.png", image_bytes(color=(i, 40, 80))), "rb") as fh:
            files.append(client.upload(fh, store=False))
    assert all(f.info["datetime_stored"] is None for f in files)
    assert len(list(client.list_files(stored=False))) == 3

    files[0].store()
    assert files[0].info["datetime_stored"] is not None
    assert [f.uuid for f in client.list_files(stored=True)] == [files[0].uuid]
    client.store_files([files[1], files[2]])
    assert list(client.list_files(stored=False)) == []

    blobs = server.blob_count()
    files[0].delete()
    assert files[0].info["datetime_removed"] is not None and files[0].info["datetime_stored"] is None
    assert server.blob_count() == blobs - 1  # the bytes went with the file
    assert httpx.get(files[0].cdn_url).status_code == 404
    assert [f.uuid for f in client.list_files(removed=True)] == [files[0].uuid]
    assert list(client.list_files(removed=True, stored=True)) == []
    assert sdk(server).file(files[0].uuid).update_info()["datetime_removed"] is not None

    missing = "00000000-0000-4000-8000-000000000000"
    batch = httpx.request(
        "DELETE", f"{server.url}/files/storage/", headers=simple_auth(server), json=[files[1].uuid, missing, "nope"]
    ).json()
    assert [r["uuid"] for r in batch["result"]] == [files[1].uuid]
    assert batch["problems"] == {missing: "Missing in the project", "nope": "Invalid"}
    client.delete_files([files[2]])
    assert list(client.list_files()) == []
    assert len(list(client.list_files(removed=True))) == 3
    assert server.file_count() == 0 and server.blob_count() == 0


def test_multipart_upload_of_a_large_file(server: RunningServer, tmp_path: Path) -> None:
    client = sdk(server)
    out = io.BytesIO()
    Image.new("RGB", (1900, 1900), (30, 120, 200)).save(out, "BMP")  # uncompressed: 10.8 MB
    data = out.getvalue()
    assert len(data) >= client.multipart_min_file_size
    progress: list[UploadProgress] = []
    with open(write(tmp_path, "big.bmp", data), "rb") as fh:
        uploaded = client.upload(fh, callback=progress.append, metadata={"kind": "big"})
    assert [p.done for p in progress] == [5 * 1024 * 1024, 10 * 1024 * 1024, len(data)]
    info = uploaded.update_info()
    assert info["size"] == len(data) and info["mime_type"] == "image/bmp"
    assert info["metadata"] == {"kind": "big"} and info["original_filename"] == "big.bmp"
    assert httpx.get(uploaded.cdn_url).content == data
    assert not (server.data_dir / "multipart").exists()  # the parts were blobs, not a folder of their own
    with sqlite3.connect(server.data_dir / "cutout.db") as conn:
        assert conn.execute("SELECT count(*) FROM multipart_sessions").fetchone()[0] == 0  # cleaned up
    assert server.blob_count() == 1  # the parts went: only the file's bytes are left


def test_upload_from_url(make_server, origin: Origin) -> None:  # type: ignore[no-untyped-def]
    server = make_server(egress_allow=("127.0.0.0/8",))
    client = sdk(server)
    progress: list[UploadProgress] = []
    uploaded = client.upload(f"{origin.url}/shop/red.png", metadata={"from": "url"}, callback=progress.append)
    info = uploaded.info
    assert info["original_filename"] == "red.png" and info["size"] == len(image_bytes())
    assert info["metadata"] == {"from": "url"}
    assert progress[-1] == UploadProgress(total=len(image_bytes()), done=len(image_bytes()))
    assert origin.hits == ["/shop/red.png"]

    named = client.upload_from_url_sync(f"{origin.url}/x", filename="named.png", store=False)
    assert named.info["original_filename"] == "named.png" and named.info["datetime_stored"] is None

    origin.redirect_to = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(UploadError, match="non-public"):
        client.upload(f"{origin.url}/redirect")
    assert client.list_files().count() == 2
    assert client.upload_api.get_upload_from_url_status("3f1d2c4b-0000-4000-8000-000000000000") == {"status": "unknown"}


def test_upload_from_url_never_reaches_loopback_by_default(server: RunningServer, origin: Origin) -> None:
    with pytest.raises(InvalidRequestError, match="source_url is not allowed"):
        sdk(server).upload(f"{origin.url}/a.png")
    assert origin.hits == [] and server.file_count() == 0


def test_metadata(server: RunningServer, tmp_path: Path) -> None:
    client = sdk(server)
    with open(write(tmp_path, "m.png", image_bytes()), "rb") as fh:
        uploaded = client.upload(fh, metadata={"pet": "cat"})
    api = client.metadata_api
    assert api.update_or_create_key(uploaded.uuid, "owner", "ann") == "ann"
    assert api.update_or_create_key(uploaded.uuid, "pet", "dog") == "dog"
    assert api.get_key(uploaded.uuid, "owner") == "ann"
    assert api.get_all_metadata(uploaded.uuid) == {"pet": "dog", "owner": "ann"}
    api.delete_key(uploaded.uuid, "pet")
    assert api.get_all_metadata(uploaded.uuid) == {"owner": "ann"}
    with pytest.raises(InvalidRequestError):
        api.get_key(uploaded.uuid, "pet")

    url = f"{server.url}/files/{uploaded.uuid}/metadata/new.key:1/"
    created = httpx.put(url, headers=simple_auth(server), json="v")
    updated = httpx.put(url, headers=simple_auth(server), json="w")
    assert (created.status_code, updated.status_code, updated.json()) == (201, 200, "w")


def test_list_pages_orders_and_totals(server: RunningServer, tmp_path: Path) -> None:
    client = sdk(server)
    uuids = []
    for i in range(5):
        with open(write(tmp_path, f"{i}.png", image_bytes(color=(i, i, i))), "rb") as fh:
            uuids.append(client.upload(fh, store=i % 2 == 0).uuid)

    assert [f.uuid for f in client.list_files(request_limit=2)] == uuids
    assert [f.uuid for f in client.list_files(ordering="-datetime_uploaded", request_limit=2)] == uuids[::-1]
    assert [f.uuid for f in client.list_files(limit=3, request_limit=2)] == uuids[:3]
    assert [f.uuid for f in client.list_files(stored=True, request_limit=1)] == uuids[0::2]

    first = httpx.get(f"{server.url}/files/", params={"limit": 2}, headers=simple_auth(server)).json()
    assert first["total"] == 5 and first["per_page"] == 2 and first["previous"] is None
    assert first["totals"] == {"removed": 0, "stored": 3, "unstored": 2}
    second = httpx.get(first["next"], headers=simple_auth(server)).json()
    assert [f["uuid"] for f in second["results"]] == uuids[2:4]
    back = httpx.get(second["previous"], headers=simple_auth(server)).json()
    assert [f["uuid"] for f in back["results"]] == uuids[:2]

    third = client.file(uuids[2]).info["datetime_uploaded"]
    since = [f.uuid for f in client.list_files(starting_point=third, ordering="datetime_uploaded")]
    assert since == uuids[2:]
    before = datetime(2000, 1, 1, tzinfo=UTC)
    assert [f.uuid for f in client.list_files(starting_point=before, ordering="-datetime_uploaded")] == []


def test_simple_auth_scheme(server: RunningServer, tmp_path: Path) -> None:
    client = sdk(server, auth_class=UploadcareSimpleAuth)
    with open(write(tmp_path, "s.png", image_bytes()), "rb") as fh:
        uploaded = client.upload(fh)
    assert [f.uuid for f in client.list_files()] == [uploaded.uuid]


def test_remove_bg_addon_real_model(make_server, real_model: U2NetSegmenter, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = make_server(segmenter=real_model)
    client = sdk(server)
    data = photo_bytes("coffee.png")
    with open(write(tmp_path, "coffee.png", data), "rb") as fh:
        source = client.upload(fh, metadata={"sku": "mug-1"})
    before = source.update_info(include_appdata=True)

    execution = client.addons_api.execute(source.uuid, AddonLabels.REMOVE_BG, AddonRemoveBGExecutionParams(semitransparency=True))
    status = wait_for(
        lambda: (s := client.addons_api.status(execution.request_id, AddonLabels.REMOVE_BG)).status.value == "done" and s,
        timeout=60,
    )
    result = client.file(status.result["file_id"])  # type: ignore[union-attr]
    assert result.uuid != source.uuid
    info = result.update_info(include_appdata=True)
    remove_bg = info["appdata"]["remove_bg"]
    assert remove_bg["version"] == "1.0" and remove_bg["data"] == {"foreground_type": None}
    assert remove_bg["datetime_created"] == remove_bg["datetime_updated"]
    assert info["mime_type"] == "image/png" and info["content_info"]["image"]["color_mode"] == "RGBA"
    assert (info["content_info"]["image"]["width"], info["content_info"]["image"]["height"]) == (600, 400)

    cutout = rgba(httpx.get(result.cdn_url).content)
    assert cutout[200, 300, 3] > 200  # the cup's centre is kept
    for corner in [(5, 5), (5, 594), (394, 5), (394, 594)]:
        assert cutout[corner][3] < 30, corner  # the table and wall are gone

    after = source.update_info(include_appdata=True)
    assert after == before  # the source is untouched
    assert httpx.get(source.cdn_url).content == data
    assert {f.uuid for f in client.list_files()} == {source.uuid, result.uuid}
