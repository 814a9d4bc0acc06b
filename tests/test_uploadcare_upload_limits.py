"""What the Upload API lets a public-key holder do: signed uploads when required, and bounded unstored files
and multipart sessions."""

from __future__ import annotations

import hashlib
import hmac
import io
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pyuploadcare.exceptions import InvalidRequestError

from service.settings import Settings, SettingsError

from .conftest import RunningServer, image_bytes
from .test_uploadcare_sdk import sdk, simple_auth, write

PUB = "demopublickey0000000"
BIG = 11 * 1024 * 1024  # over the multipart minimum


def signature(server: RunningServer, expire: int) -> dict[str, str]:
    secret = server.settings.uploadcare_secret_key.encode()
    return {"signature": hmac.new(secret, str(expire).encode(), hashlib.sha256).hexdigest(), "expire": str(expire)}


def base(server: RunningServer, store: str = "auto", **fields: str) -> httpx.Response:
    return httpx.post(f"{server.url}/base/", params={"jsonerrors": "1"}, files={"file": ("a.png", image_bytes())},
                      data={"UPLOADCARE_PUB_KEY": PUB, "UPLOADCARE_STORE": store, **fields})  # fmt: skip


def from_url(server: RunningServer, store: str = "1", **fields: str) -> httpx.Response:
    fields = {"pub_key": PUB, "source_url": "https://example.invalid/a.png", "store": store, **fields}
    return httpx.post(f"{server.url}/from_url/", params={"jsonerrors": "1"}, data=fields)


def start(server: RunningServer, store: str = "1", **fields: str) -> httpx.Response:
    return httpx.post(f"{server.url}/multipart/start/", params={"jsonerrors": "1"},
                      data={"UPLOADCARE_PUB_KEY": PUB, "filename": "big.bmp", "size": str(BIG),
                            "content_type": "image/bmp", "UPLOADCARE_STORE": store, **fields})  # fmt: skip


def error(response: httpx.Response) -> dict[str, object]:
    return response.json()["error"]


def test_signed_uploads_are_optional_by_default(server: RunningServer) -> None:
    assert server.settings.uploadcare_signed_uploads == "optional"
    assert base(server).status_code == 200
    assert start(server).status_code == 200


@pytest.mark.parametrize("send", [base, from_url, start])
def test_required_signed_uploads_refuse_unsigned_requests(make_server: Callable[..., RunningServer],
                                                           send: Callable[..., httpx.Response]) -> None:  # fmt: skip
    server = make_server(uploadcare_signed_uploads="required")
    unsigned = send(server)
    assert unsigned.status_code == 400, unsigned.text
    assert error(unsigned) == {"status_code": 400, "content": "`signature` is required.",
                               "error_code": "SignatureRequiredError"}  # fmt: skip
    expire_only = send(server, expire=str(int(time.time()) + 600))
    assert error(expire_only)["error_code"] == "SignatureRequiredError"
    forged = send(server, signature="0" * 64, expire=str(int(time.time()) + 600))
    assert forged.status_code == 403 and error(forged)["error_code"] == "SignatureInvalidError"
    plain = httpx.post(f"{server.url}{unsigned.request.url.path}", data={"pub_key": PUB, "UPLOADCARE_PUB_KEY": PUB})
    assert plain.status_code == 400 and plain.text == "`signature` is required."  # the text shape, too
    assert server.file_count() == 0
    assert open_sessions(server) == 0
    signed = send(server, **signature(server, int(time.time()) + 600))
    assert signed.status_code == 200, signed.text


def test_the_sdk_signs_uploads_when_required(make_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    server = make_server(uploadcare_signed_uploads="required")
    with open(write(tmp_path, "a.png", image_bytes()), "rb") as fh:
        with pytest.raises(InvalidRequestError, match="`signature` is required"):
            sdk(server, signed_uploads=False).upload(fh)
    client = sdk(server)  # pyuploadcare signs uploads unless told not to
    with open(write(tmp_path, "a.png", image_bytes()), "rb") as fh:
        small = client.upload(fh)
    out = io.BytesIO()
    Image.new("RGB", (1900, 1900), (30, 120, 200)).save(out, "BMP")  # 10.8 MB: a multipart upload
    with open(write(tmp_path, "big.bmp", out.getvalue()), "rb") as fh:
        big = client.upload(fh)
    assert small.info["size"] == len(image_bytes()) and big.info["size"] == len(out.getvalue())


def test_signed_uploads_setting() -> None:
    assert Settings.from_env({}).uploadcare_signed_uploads == "optional"
    assert Settings.from_env({"CUTOUT_UPLOADCARE_SIGNED_UPLOADS": "Required"}).uploadcare_signed_uploads == "required"
    with pytest.raises(SettingsError, match="CUTOUT_UPLOADCARE_SIGNED_UPLOADS must be optional or required"):
        Settings.from_env({"CUTOUT_UPLOADCARE_SIGNED_UPLOADS": "yes"})
    bounded = Settings.from_env({"CUTOUT_UPLOADCARE_MAX_UNSTORED_FILES": "7",
                                 "CUTOUT_UPLOADCARE_MAX_MULTIPART_SESSIONS": "3"})  # fmt: skip
    assert (bounded.uploadcare_max_unstored_files, bounded.uploadcare_max_multipart_sessions) == (7, 3)
    with pytest.raises(SettingsError, match="CUTOUT_UPLOADCARE_MAX_MULTIPART_SESSIONS"):
        Settings.from_env({"CUTOUT_UPLOADCARE_MAX_MULTIPART_SESSIONS": "0"})


def test_unstored_files_are_bounded(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(uploadcare_max_unstored_files=2)
    three = httpx.post(f"{server.url}/base/", files=[(name, (f"{name}.png", image_bytes())) for name in "abc"],
                       data={"UPLOADCARE_PUB_KEY": PUB, "UPLOADCARE_STORE": "0"})  # fmt: skip
    assert three.status_code == 429 and server.file_count() == 0  # the whole request, not its first two files
    first = base(server, store="0")
    assert first.status_code == 200 and base(server, store="0").status_code == 200
    for over in (base(server, store="0"), from_url(server, store="0"), start(server, store="0")):
        assert over.status_code == 429, over.text
        assert over.headers["retry-after"] == str(server.settings.queue_retry_after)
        assert error(over)["status_code"] == 429 and "Too many unstored files (2)" in str(error(over)["content"])
    assert server.file_count() == 2
    assert base(server, store="1").status_code == 200  # stored uploads are not what the bound counts
    stored = httpx.put(f"{server.url}/files/{first.json()['file']}/storage/", headers=simple_auth(server))
    assert stored.status_code == 200, stored.text
    assert base(server, store="0").status_code == 200  # storing one made room


def open_sessions(server: RunningServer) -> int:
    with sqlite3.connect(server.data_dir / "cutout.db") as conn:
        return conn.execute("SELECT count(*) FROM multipart_sessions").fetchone()[0]  # type: ignore[no-any-return]


def test_open_multipart_sessions_are_bounded(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(uploadcare_max_multipart_sessions=2)
    assert start(server).status_code == 200 and start(server).status_code == 200
    over = start(server)
    assert over.status_code == 429, over.text
    assert over.headers["retry-after"] == str(server.settings.queue_retry_after)
    assert "Too many multipart uploads are open (2)" in str(error(over)["content"])
    assert open_sessions(server) == 2
    # A session older than a day no longer counts (its part URLs expired); housekeeping removes it.
    day_ago = time.time() - 25 * 3600
    with sqlite3.connect(server.data_dir / "cutout.db") as conn:
        conn.execute("UPDATE multipart_sessions SET touched_at = ? WHERE rowid = (SELECT min(rowid) "
                     "FROM multipart_sessions)", [day_ago])  # fmt: skip
    assert start(server).status_code == 200
