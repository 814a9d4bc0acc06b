"""Who may read a file: derived files inherit their source's rules, and public-key callers learn
nothing about private files or about what internal names resolve to."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import time
import uuid
from typing import Any

import httpx
import pytest

from .conftest import RunningServer, image_bytes, photo_bytes, wait_for
from .test_uploadcare_sdk import close_clients, sdk  # noqa: F401 (close_clients: autouse)

INTERNAL_HOST, INTERNAL_ADDRESS = "files.corp.internal", "10.20.30.40"


def signed(server: RunningServer, path: str) -> str:
    """An ImageKit signed URL for /media/<path>, valid for ten minutes."""
    expiry = int(time.time()) + 600
    relative = path.lstrip("/")
    signature = hmac.new(
        server.settings.imagekit_private_key.encode(), f"{relative}{expiry}".encode(), hashlib.sha1
    ).hexdigest()
    return f"{server.url}/media/{relative}?ik-t={expiry}&ik-s={signature}"


def upload_restricted(server: RunningServer, http: httpx.Client, field: str, value: str) -> dict[str, Any]:
    response = http.post(
        "/api/v1/files/upload", auth=server.auth(),
        files={"file": ("mug.png", photo_bytes("coffee.png"))}, data={"fileName": "mug.png", field: value},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def _simple(server: RunningServer) -> dict[str, str]:
    s = server.settings
    return {"Accept": "application/vnd.uploadcare-v0.7+json",
            "Authorization": f"Uploadcare.Simple {s.uploadcare_public_key}:{s.uploadcare_secret_key}"}  # fmt: skip


@pytest.mark.parametrize("field, value", [("isPrivateFile", "true"), ("isPublished", "false")])
def test_addon_result_of_a_restricted_file_is_as_restricted(server: RunningServer, http: httpx.Client, field: str, value: str) -> None:
    source = upload_restricted(server, http, field, value)
    [listed] = http.get("/files/", headers=_simple(server)).json()["results"]
    client = sdk(server)
    request_id = client.addons_api.execute(listed["uuid"], "remove_bg", {}).request_id
    status = wait_for(lambda: (s := client.addons_api.status(request_id, "remove_bg")).status.value == "done" and s)
    result_uuid = status.result["file_id"]  # type: ignore[union-attr]

    [result] = [f for f in http.get("/v1/files", auth=server.auth()).json() if f["fileId"] != source["fileId"]]
    details = http.get(f"/v1/files/{source['fileId']}/details", auth=server.auth()).json()
    assert (details["isPrivateFile"], details["isPublished"]) == ((True, True) if field == "isPrivateFile" else (False, False))
    assert (result["isPrivateFile"], result["isPublished"]) == (details["isPrivateFile"], details["isPublished"])
    cdn = httpx.get(f"{server.url}/cdn/{result_uuid}/")
    assert cdn.status_code == 403 and "private" in cdn.text
    media = httpx.get(f"{server.url}/media{result['filePath']}")
    assert media.status_code == 401 and "signed URL" in media.json()["message"]
    assert httpx.get(signed(server, result["filePath"])).status_code == 200  # the owner still reaches it

    # The public key alone learns nothing about either file: the answer for an unknown file.
    for file_uuid in (listed["uuid"], result_uuid):
        info = httpx.get(f"{server.url}/info/", params={"pub_key": server.settings.uploadcare_public_key, "file_id": file_uuid})
        assert info.status_code == 404 and info.text == "File is not found.", info.text


@pytest.mark.parametrize("field, value", [("isPrivateFile", "true"), ("isPublished", "false")])
def test_info_with_the_public_key_hides_restricted_files(server: RunningServer, http: httpx.Client, field: str, value: str) -> None:
    upload_restricted(server, http, field, value)
    [listed] = http.get("/files/", headers=_simple(server)).json()["results"]
    info = httpx.get(f"{server.url}/info/", params={"pub_key": server.settings.uploadcare_public_key, "file_id": listed["uuid"]})
    assert info.status_code == 404 and info.text == "File is not found.", info.text


def test_info_with_the_public_key_shows_public_files(server: RunningServer, http: httpx.Client) -> None:
    uploaded = httpx.post(
        f"{server.url}/base/", data={"UPLOADCARE_PUB_KEY": server.settings.uploadcare_public_key},
        files={"file": ("a.png", image_bytes())},
    ).json()  # fmt: skip
    info = httpx.get(f"{server.url}/info/", params={"pub_key": server.settings.uploadcare_public_key, "file_id": uploaded["file"]})
    assert info.status_code == 200 and info.json()["uuid"] == uploaded["file"]
    unknown = httpx.get(f"{server.url}/info/", params={"pub_key": server.settings.uploadcare_public_key, "file_id": str(uuid.uuid4())})
    assert unknown.status_code == 404 and unknown.text == "File is not found."


@pytest.fixture
def internal_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that resolves to a private address, as an intranet's names do."""
    real = asyncio.base_events.BaseEventLoop.getaddrinfo

    async def getaddrinfo(self, host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == INTERNAL_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (INTERNAL_ADDRESS, port))]
        return await real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", getaddrinfo)


def test_uploadcare_from_url_error_does_not_reveal_internal_addresses(server: RunningServer, internal_dns: None) -> None:
    key = server.settings.uploadcare_public_key
    token = httpx.post(
        f"{server.url}/from_url/", data={"pub_key": key, "source_url": f"http://{INTERNAL_HOST}/a.png"}
    ).json()["token"]
    status = wait_for(lambda: (s := httpx.get(f"{server.url}/from_url/status/", params={"token": token}).json())["status"] == "error" and s)
    assert INTERNAL_ADDRESS not in status["error"]  # type: ignore[index]
    assert "non-public address, which this server may not reach" in status["error"]  # type: ignore[index]


def test_imagekit_url_upload_error_does_not_reveal_internal_addresses(server: RunningServer, internal_dns: None) -> None:
    token, expire = str(uuid.uuid4()), int(time.time()) + 600
    signature = hmac.new(server.settings.imagekit_private_key.encode(), f"{token}{expire}".encode(), hashlib.sha1).hexdigest()
    response = httpx.post(
        f"{server.url}/api/v1/files/upload",
        data={"file": f"http://{INTERNAL_HOST}/a.png", "fileName": "a.png", "publicKey": server.settings.imagekit_public_key,
              "token": token, "expire": str(expire), "signature": signature},
    )  # fmt: skip
    assert response.status_code == 400
    message = response.json()["message"]
    assert INTERNAL_ADDRESS not in message and "non-public address, which this server may not reach" in message
