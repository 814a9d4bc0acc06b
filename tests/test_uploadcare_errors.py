"""Bad requests to the Uploadcare dialect: 4xx in Uploadcare's shapes, and nothing stored or queued."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pyuploadcare import Uploadcare
from pyuploadcare.exceptions import AuthenticationError

from service.app import open_library
from service.dialects.uploadcare.upload import FETCHES_AT_ONCE, URL_STATUS_SECONDS
from service.library import Library, NewFile
from service.models import JobKind, JobStatus

from .conftest import HeldSegmenter, RunningServer, image_bytes, make_settings, wait_for
from .receiver import Origin
from .test_uploadcare_sdk import REST, close_clients, sdk, simple_auth, write  # noqa: F401 (close_clients: autouse)

MISSING = "00000000-0000-4000-8000-000000000000"


def upload_form(server: RunningServer, **fields: str) -> dict[str, str]:
    return {"UPLOADCARE_PUB_KEY": server.settings.uploadcare_public_key, **fields}


def signed_headers(server: RunningServer, method: str, uri: str, date: str, body: bytes = b"", secret: str | None = None) -> dict[str, str]:
    content_type = "application/json"
    sign = "\n".join([method, hashlib.md5(body).hexdigest(), content_type, date, uri])
    key = (secret or server.settings.uploadcare_secret_key).encode()
    digest = hmac.new(key, sign.encode(), hashlib.sha1).hexdigest()
    return {
        **REST,
        "Content-Type": content_type,
        "Date": date,
        "Authorization": f"Uploadcare {server.settings.uploadcare_public_key}:{digest}",
    }


def uploaded(server: RunningServer, tmp_path: Path) -> str:
    with open(write(tmp_path, "a.png", image_bytes()), "rb") as fh:
        return sdk(server).upload(fh).uuid


# ---- REST API: Accept header and authentication ------------------------------------------


def test_rest_needs_the_version_accept_header(http: httpx.Client, server: RunningServer) -> None:
    for accept in (None, "application/json", "application/vnd.uploadcare-v0.6+json"):
        headers = {k: v for k, v in simple_auth(server).items() if k != "Accept"}
        if accept:
            headers["Accept"] = accept
        response = http.get("/files/", headers=headers)
        assert response.status_code == 406, accept
        assert "Accept" in response.json()["detail"]
    assert http.get("/files/", headers=simple_auth(server)).status_code == 200


@pytest.mark.parametrize(
    "authorization,detail",
    [
        (None, "Incorrect authentication credentials"),
        ("Basic abc", "Incorrect authentication credentials"),
        ("Uploadcare.Simple demopublickey0000000:wrong", "Incorrect authentication credentials"),
        ("Uploadcare.Simple otherkey:demosecretkey0000000", "Public key otherkey not found"),
        ("Uploadcare.Simple demopublickey0000000", "Incorrect authentication credentials"),
    ],
)
def test_simple_auth_failures(authorization: str | None, detail: str, http: httpx.Client) -> None:
    headers = {**REST, **({"Authorization": authorization} if authorization else {})}
    response = http.get("/files/", headers=headers)
    assert response.status_code == 401
    assert detail in response.json()["detail"]


def test_signed_requests(http: httpx.Client, server: RunningServer) -> None:
    uri = "/files/?limit=1&stored=true"
    now = time.time()
    rfc2822 = formatdate(now, usegmt=True)
    pyuploadcare_style = time.strftime("%a, %d %b %Y, %H:%M:%S GMT", time.gmtime(now))
    for date in (rfc2822, pyuploadcare_style):
        assert http.get(uri, headers=signed_headers(server, "GET", uri, date)).status_code == 200, date

    cases = {
        "wrong secret": signed_headers(server, "GET", uri, rfc2822, secret="not-the-secret"),
        "other uri signed": signed_headers(server, "GET", "/files/", rfc2822),
        "stale date": signed_headers(server, "GET", uri, formatdate(now - 16 * 60, usegmt=True)),
        "no date": {k: v for k, v in signed_headers(server, "GET", uri, rfc2822).items() if k != "Date"},
        "garbage date": signed_headers(server, "GET", uri, "yesterday"),
    }
    for case, headers in cases.items():
        response = http.get(uri, headers=headers)
        assert response.status_code == 401, case
        assert response.json()["detail"], case

    body = b'["' + MISSING.encode() + b'"]'
    put = http.put("/files/storage/", content=body, headers=signed_headers(server, "PUT", "/files/storage/", rfc2822, body))
    assert put.status_code == 200 and put.json()["problems"] == {MISSING: "Missing in the project"}
    tampered = http.put(
        "/files/storage/", content=b"[]", headers=signed_headers(server, "PUT", "/files/storage/", rfc2822, body)
    )
    assert tampered.status_code == 401


def test_sdk_with_a_wrong_secret_is_refused(server: RunningServer) -> None:
    client = Uploadcare(
        public_key=server.settings.uploadcare_public_key, secret_key="wrong", api_base=f"{server.url}/", retry_throttled=0
    )
    try:
        with pytest.raises(AuthenticationError, match="Invalid signature"):
            list(client.list_files())
    finally:
        client.rest_client.close()
        client.upload_client.close()
        client.cdn_client.close()


# ---- REST API: bad requests --------------------------------------------------------------


@pytest.mark.parametrize(
    "params,detail",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "9" * 5000}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"ordering": "size"}, "ordering"),
        ({"stored": "maybe"}, "stored"),
        ({"stored": " true"}, "stored"),
        ({"from": "last tuesday"}, "from"),
        ({"include": "everything"}, "include"),
        ({"sort": "x"}, "sort"),
    ],
)
def test_bad_list_parameters(params: dict[str, str], detail: str, http: httpx.Client, server: RunningServer) -> None:
    response = http.get("/files/", params=params, headers=simple_auth(server))
    assert response.status_code == 400
    assert detail in response.json()["detail"]


def test_unknown_and_malformed_files(http: httpx.Client, server: RunningServer) -> None:
    headers = simple_auth(server)
    assert http.get(f"/files/{MISSING}/", headers=headers).status_code == 404
    malformed = http.get("/files/not-a-uuid/", headers=headers)
    assert malformed.status_code == 400 and "uuid" in malformed.json()["detail"]
    assert http.put(f"/files/{MISSING}/storage/", headers=headers).status_code == 404
    assert http.delete(f"/files/{MISSING}/storage/", headers=headers).status_code == 404
    for body, detail in [({"a": 1}, "Expected list of UUIDs"), ([], "can not be empty"), ([MISSING] * 101, "limit is 100")]:
        response = http.put("/files/storage/", json=body, headers=headers)
        assert response.status_code == 400 and detail in response.json()["detail"]


@pytest.mark.parametrize(
    "key,value,detail",
    [
        ("bad key", "v", "metadata key 'bad key' is invalid"),
        ("k" * 65, "v", "is invalid"),
        ("ok", "x" * 513, "512"),
        ("ok", "", "1 to 512"),
        ("ok", 5, "JSON string"),
    ],
)
def test_bad_metadata_is_refused(key: str, value: object, detail: str, http: httpx.Client, server: RunningServer, tmp_path: Path) -> None:
    file_uuid = uploaded(server, tmp_path)
    response = http.put(f"/files/{file_uuid}/metadata/{key}/", json=value, headers=simple_auth(server))
    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]
    assert http.get(f"/files/{file_uuid}/metadata/", headers=simple_auth(server)).json() == {}


def test_metadata_key_limit(http: httpx.Client, server: RunningServer, tmp_path: Path) -> None:
    file_uuid = uploaded(server, tmp_path)
    for i in range(50):
        assert http.put(f"/files/{file_uuid}/metadata/k{i}/", json="v", headers=simple_auth(server)).status_code == 201
    response = http.put(f"/files/{file_uuid}/metadata/k50/", json="v", headers=simple_auth(server))
    assert response.status_code == 400 and "more than 50 metadata keys" in response.json()["detail"]
    assert len(http.get(f"/files/{file_uuid}/metadata/", headers=simple_auth(server)).json()) == 50


# ---- add-ons ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "addon,body,status,detail",
    [
        ("aws_rekognition_detect_labels", {"target": "{uuid}"}, 400, "not available"),
        ("uc_clamav_virus_scan", {"target": "{uuid}", "params": {"purge_infected": True}}, 400, "not available"),
        ("remove_bg", {"target": "{uuid}", "params": {"bg_color": "fff"}}, 400, "params.bg_color is not a remove_bg parameter"),
        ("remove_bg", {"target": "{uuid}", "params": {"scale": "200%"}}, 400, "params.scale"),
        ("remove_bg", {"target": "{uuid}", "params": {"crop_margin": "600px"}}, 400, "params.crop_margin"),
        ("remove_bg", {"target": "{uuid}", "params": {"type_level": "3"}}, 400, "params.type_level"),
        ("remove_bg", {"target": "{uuid}", "params": {"channels": "rgb"}}, 400, "params.channels"),
        ("remove_bg", {"target": "{uuid}", "params": {"roi": "1 2 3"}}, 400, "params.roi"),
        ("remove_bg", {"target": "{uuid}", "params": {"position": "left"}}, 400, "params.position"),
        ("remove_bg", {"target": "{uuid}", "params": {"crop": "perhaps"}}, 400, "params.crop"),
        ("remove_bg", {"target": "{uuid}", "params": "crop"}, 400, "params must be an object"),
        ("remove_bg", {"params": {}}, 400, "target is required"),
        ("remove_bg", {"target": "nope"}, 400, "target is invalid"),
        ("remove_bg", {"target": "{uuid}", "extra": 1}, 400, "extra"),
        ("remove_bg", {"target": MISSING}, 404, "does not exist"),
    ],
)
def test_bad_addon_requests_queue_nothing(
    addon: str, body: dict[str, object], status: int, detail: str, http: httpx.Client, server: RunningServer, tmp_path: Path
) -> None:
    file_uuid = uploaded(server, tmp_path)
    body = {k: (v.replace("{uuid}", file_uuid) if isinstance(v, str) else v) for k, v in body.items()}
    response = http.post(f"/addons/{addon}/execute/", json=body, headers=simple_auth(server))
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert server.jobs() == []
    assert server.file_count() == 1


def test_addon_status_of_unknown_and_bad_requests(http: httpx.Client, server: RunningServer) -> None:
    headers = simple_auth(server)
    unknown = http.get("/addons/remove_bg/execute/status/", params={"request_id": MISSING}, headers=headers)
    assert unknown.json() == {"status": "unknown"}
    assert http.get("/addons/remove_bg/execute/status/", headers=headers).status_code == 400
    other = http.get("/addons/uc_clamav_virus_scan/execute/status/", params={"request_id": MISSING}, headers=headers)
    assert other.status_code == 400 and "not available" in other.json()["detail"]



def test_full_queue_answers_429_and_queues_nothing(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    held = HeldSegmenter()
    server = make_server(segmenter=held, max_queue=1)
    file_uuid = uploaded(server, tmp_path)
    try:
        with server.http() as http:
            first = http.post("/addons/remove_bg/execute/", json={"target": file_uuid}, headers=simple_auth(server))
            assert first.status_code == 200
            refused = http.post("/addons/remove_bg/execute/", json={"target": file_uuid}, headers=simple_auth(server))
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0 and "queue is full" in refused.json()["detail"]
        assert [j["id"] for j in server.jobs()] == [first.json()["request_id"]]
    finally:
        held.release.set()


def test_addon_on_a_file_deleted_meanwhile_ends_in_error(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    held = HeldSegmenter()
    server = make_server(segmenter=held)
    file_uuid = uploaded(server, tmp_path)
    headers = simple_auth(server)
    try:
        with server.http() as http:
            request_id = http.post("/addons/remove_bg/execute/", json={"target": file_uuid}, headers=headers).json()["request_id"]
            status = http.get("/addons/remove_bg/execute/status/", params={"request_id": request_id}, headers=headers)
            assert status.json() == {"status": "in_progress"}
            assert http.delete(f"/files/{file_uuid}/storage/", headers=headers).status_code == 200
            held.release.set()
            [job] = server.wait_jobs_done()
            assert job["status"] == "failed" and job["error_reason"] == "file_deleted"
            final = http.get("/addons/remove_bg/execute/status/", params={"request_id": request_id}, headers=headers)
        assert final.json()["status"] == "error" and "deleted" in final.json()["error"]
        assert server.file_count() == 0 and server.blob_count() == 0
    finally:
        held.release.set()


# ---- Upload API -------------------------------------------------------------------------------


def test_upload_errors_are_text_unless_jsonerrors(http: httpx.Client, server: RunningServer) -> None:
    files = {"a.png": ("a.png", image_bytes())}
    wrong_key = http.post("/base/", data={"UPLOADCARE_PUB_KEY": "nope"}, files=files)
    assert wrong_key.status_code == 403
    assert wrong_key.headers["content-type"].startswith("text/plain")
    assert wrong_key.text == "UPLOADCARE_PUB_KEY is invalid."
    as_json = http.post("/base/?jsonerrors=1", data={"UPLOADCARE_PUB_KEY": "nope"}, files=files)
    assert as_json.status_code == 403
    assert as_json.json() == {
        "error": {"status_code": 403, "content": "UPLOADCARE_PUB_KEY is invalid.", "error_code": "UploadcarePublicKeyInvalidError"}
    }
    assert http.post("/base/", data={}, files=files).text == "UPLOADCARE_PUB_KEY is required."
    assert server.file_count() == 0 and server.blob_count() == 0


@pytest.mark.parametrize(
    "fields,status,text",
    [
        ({"signature": "00"}, 400, "`expire` is required."),
        ({"expire": "9999999999"}, 400, "`signature` is required."),
        ({"signature": "00", "expire": "soon"}, 400, "`expire` must be a UNIX timestamp."),
        ({"signature": "00", "expire": "9" * 5000}, 400, "`expire` must be a UNIX timestamp."),
        ({"signature": "00", "expire": "²"}, 400, "`expire` must be a UNIX timestamp."),
        ({"signature": "00", "expire": "9999999999"}, 403, "Invalid signature."),
        ({"signature": "{sig:1000}", "expire": "1000"}, 403, "Expired signature."),
        ({"UPLOADCARE_STORE": "yes"}, 400, "UPLOADCARE_STORE must be 0, 1 or auto"),
        ({"metadata[bad key]": "v"}, 400, "metadata key 'bad key' is invalid"),
        ({"metadata[ok]": "x" * 513}, 400, "metadata[ok] is longer than 512"),
        ({"metadata[ok]": ""}, 400, "metadata[ok] must be a non-empty string"),
        ({"surprise": "1"}, 400, "Unknown field 'surprise'"),
    ],
)
def test_bad_upload_fields_store_nothing(
    fields: dict[str, str], status: int, text: str, http: httpx.Client, server: RunningServer
) -> None:
    secret = server.settings.uploadcare_secret_key.encode()
    fields = {
        k: (hmac.new(secret, b"1000", hashlib.sha256).hexdigest() if v == "{sig:1000}" else v) for k, v in fields.items()
    }
    response = http.post("/base/", data=upload_form(server, **fields), files={"a.png": ("a.png", image_bytes())})
    assert response.status_code == status, response.text
    assert text in response.text
    assert server.file_count() == 0 and server.blob_count() == 0


def test_signed_upload_is_accepted(http: httpx.Client, server: RunningServer) -> None:
    expire = str(int(time.time()) + 60)
    signature = hmac.new(server.settings.uploadcare_secret_key.encode(), expire.encode(), hashlib.sha256).hexdigest()
    response = http.post(
        "/base/", data=upload_form(server, signature=signature, expire=expire), files={"pic": ("a.png", image_bytes())}
    )
    assert response.status_code == 200 and list(response.json()) == ["pic"]


def test_bad_images_and_batches_store_nothing(http: httpx.Client, server: RunningServer) -> None:
    corrupt = http.post("/base/", data=upload_form(server), files={"a.png": ("a.png", image_bytes()[:40])})
    assert corrupt.status_code == 400 and "file" in corrupt.text
    empty = http.post("/base/", data=upload_form(server))
    assert empty.status_code == 400 and empty.text == "Request does not contain files."
    batch = http.post(
        "/base/",
        data=upload_form(server),
        files=[("good", ("good.png", image_bytes())), ("bad", ("bad.png", b"not an image"))],
    )
    assert batch.status_code == 400
    assert server.file_count() == 0 and server.blob_count() == 0
    both = http.post(
        "/base/",
        data=upload_form(server),
        files=[("one", ("1.png", image_bytes())), ("two", ("2.png", image_bytes(color=(1, 2, 3))))],
    )
    assert both.status_code == 200 and set(both.json()) == {"one", "two"}


def test_info_and_from_url_errors(http: httpx.Client, server: RunningServer) -> None:
    key = server.settings.uploadcare_public_key
    assert http.get("/info/", params={"file_id": MISSING}).status_code == 403
    assert http.get("/info/", params={"pub_key": key}).text == "file_id is required."
    assert http.get("/info/", params={"pub_key": key, "file_id": MISSING}).status_code == 404
    assert http.get("/from_url/status/").text == "token is required."
    cases = [
        ({"pub_key": key}, "source_url is required."),
        ({"pub_key": key, "source_url": "ftp://example.com/a.png"}, "only http and https"),
        ({"pub_key": key, "source_url": "http://169.254.169.254/latest/"}, "non-public"),
        ({"pub_key": key, "source_url": "http://example.com/a.png", "check_URL_duplicates": "1"}, "check_URL_duplicates"),
        ({"pub_key": key, "source_url": "http://example.com/a.png", "store": "2"}, "store must be 0, 1 or auto"),
    ]
    for fields, text in cases:
        response = http.post("/from_url/", data=fields)
        assert response.status_code == 400 and text in response.text, fields
    assert http.post("/from_url/", data={"source_url": "http://example.com/a.png"}).status_code == 403
    assert server.file_count() == 0


def test_multipart_errors(http: httpx.Client, server: RunningServer) -> None:
    def start(**fields: str) -> httpx.Response:
        base = {"filename": "big.bmp", "size": str(11 * 1024 * 1024), "content_type": "image/bmp"}
        return http.post("/multipart/start/", data=upload_form(server, **{**base, **fields}))

    assert "direct upload" in start(size="1000").text
    assert "project limit" in start(size=str(30 * 1024 * 1024)).text
    assert start(size="big").status_code == 400
    assert start(size="1" * 5000).status_code == 400
    assert "content_type is required" in start(content_type="").text
    assert "Part Size" in start(part_size="1024").text

    started = start().json()
    assert len(started["parts"]) == 3
    first = started["parts"][0]
    assert http.put(first, content=b"short").status_code == 400
    assert http.put(first.replace("/part/", "/part/x"), content=b"x").status_code == 403
    incomplete = http.post("/multipart/complete/", data=upload_form(server, uuid=started["uuid"]))
    assert incomplete.status_code == 400 and incomplete.text == "File size mismatch. Not all parts uploaded?"
    unknown = http.post("/multipart/complete/", data=upload_form(server, uuid=MISSING))
    assert unknown.status_code == 404

    garbage = start().json()  # the right sizes, but not an image
    for i, url in enumerate(garbage["parts"]):
        size = 5 * 1024 * 1024 if i < 2 else 1024 * 1024
        assert http.put(url, content=b"\0" * size).status_code == 200
    refused = http.post("/multipart/complete/", data=upload_form(server, uuid=garbage["uuid"]))
    assert refused.status_code == 400 and "file" in refused.text
    again = http.post("/multipart/complete/", data=upload_form(server, uuid=garbage["uuid"]))
    assert again.status_code == 404
    assert server.file_count() == 0 and server.blob_count() == 0


def test_a_multipart_upload_completes_once_even_if_its_parts_were_left_behind(
    http: httpx.Client, server: RunningServer, tmp_path: Path
) -> None:
    """A crash between making the file and dropping its parts leaves the session: completing again is a 400."""
    out = io.BytesIO()
    Image.new("RGB", (1900, 1900), (30, 120, 200)).save(out, "BMP")
    data = out.getvalue()
    started = http.post("/multipart/start/", data=upload_form(
        server, filename="big.bmp", size=str(len(data)), content_type="image/bmp",
    )).json()  # fmt: skip
    for i, url in enumerate(started["parts"]):
        assert http.put(url, content=data[i * 5 * 1024 * 1024 : (i + 1) * 5 * 1024 * 1024]).status_code == 200
    db = server.data_dir / "cutout.db"
    with sqlite3.connect(db) as conn:
        left_behind = conn.execute("SELECT * FROM multipart_sessions WHERE uuid = ?", [started["uuid"]]).fetchone()
    assert http.post("/multipart/complete/", data=upload_form(server, uuid=started["uuid"])).status_code == 200
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO multipart_sessions VALUES (?,?,?,?)", left_behind)
    again = http.post("/multipart/complete/", data=upload_form(server, uuid=started["uuid"]))
    assert again.status_code == 400 and again.text == "File is already uploaded."
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM multipart_sessions").fetchone()[0] == 0
    assert server.file_count() == 1


# ---- errors from outside the endpoints: routing, the body cap, crashes ------------------------


def test_routing_errors_answer_in_uploadcare_shapes(http: httpx.Client, server: RunningServer) -> None:
    headers = simple_auth(server)
    unknown = http.get(f"/files/{MISSING}/metadata/k/extra/", headers=headers)
    assert unknown.status_code == 404 and unknown.json() == {"detail": "No such endpoint or file."}
    wrong_method = http.post(f"/files/{MISSING}/", headers=headers)
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET, HEAD"
    assert wrong_method.json() == {"detail": "POST is not allowed here."}
    # A literal path is not a value of its templated sibling: /files/storage/ is not the file "storage".
    for method, path, allow in [("GET", "/files/storage/", "DELETE, PUT"), ("PUT", "/webhooks/unsubscribe/", "DELETE")]:
        response = http.request(method, path, headers=headers, json={})
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["allow"] == allow and "not allowed" in response.json()["detail"]

    upload = http.get("/base/")
    assert upload.status_code == 405 and upload.headers["content-type"].startswith("text/plain")
    assert upload.text == "GET is not allowed here."
    as_json = http.get("/multipart/start/", params={"jsonerrors": "1"})
    assert as_json.json() == {"error": {"status_code": 405, "content": "GET is not allowed here."}}
    assert http.get("/multipart/nothing/").text == "No such endpoint or file."
    cdn = http.post(f"/cdn/{MISSING}/")
    assert cdn.status_code == 405 and cdn.headers["content-type"].startswith("text/plain")

    # Paths of no Uploadcare part keep the ImageKit shape.
    elsewhere = http.get("/nothing/here")
    assert elsewhere.status_code == 404 and elsewhere.json()["message"] == "No such endpoint or file."


def test_bodies_over_the_cap_answer_in_uploadcare_shapes(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_upload_bytes=1000)
    over = b"x" * (2 * 1024 * 1024)
    with server.http() as http:
        rest = http.put("/files/storage/", content=over, headers={**simple_auth(server), "Content-Type": "application/json"})
        assert rest.status_code == 413 and "larger than the limit" in rest.json()["detail"]
        upload = http.post("/base/", content=over, headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert upload.status_code == 413 and upload.headers["content-type"].startswith("text/plain")
        assert upload.text.startswith("The request body is larger than the limit")
        imagekit = http.post("/api/v1/files/upload", content=over, headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert imagekit.status_code == 413 and imagekit.json()["help"] == "See CUTOUT_MAX_UPLOAD_BYTES."

        def chunked() -> Iterator[bytes]:  # no Content-Length: the cap is met while the form is read
            yield b"--b\r\nContent-Disposition: form-data; name=target_url\r\n\r\n"
            yield from (b"x" * 65536 for _ in range(32))

        hooks = http.post("/webhooks/", content=chunked(), headers={
            **simple_auth(server), "Content-Type": "multipart/form-data; boundary=b",
        })  # fmt: skip
        assert hooks.status_code == 413 and "larger than the limit" in hooks.json()["detail"]
        assert http.get("/webhooks/", headers=simple_auth(server)).json() == []
    assert server.file_count() == 0


def test_crashes_answer_in_uploadcare_shapes(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(Library, "list_by_upload", crash)
    monkeypatch.setattr(Library, "get_by_uuid", crash)
    # A connection of its own for each: the server closes the connection of a request that crashed.
    rest = httpx.get(f"{server.url}/files/", headers=simple_auth(server))
    assert rest.status_code == 500 and rest.json() == {"detail": "The server failed to handle this request."}
    params = {"pub_key": server.settings.uploadcare_public_key, "file_id": MISSING}
    upload = httpx.get(f"{server.url}/info/", params=params)
    assert upload.status_code == 500 and upload.headers["content-type"].startswith("text/plain")
    assert upload.text == "The server failed to handle this request."
    assert "simulated bug" not in rest.text + upload.text


def test_forms_in_a_charset_other_than_utf_8_are_refused(http: httpx.Client, server: RunningServer) -> None:
    """unicode_escape or utf-7 would decode a field into lone surrogates, which nothing can store or sign."""
    body = (b"--b\r\nContent-Disposition: form-data; name=UPLOADCARE_PUB_KEY\r\n\r\n" + server.settings.uploadcare_public_key.encode()
            + b"\r\n--b\r\nContent-Disposition: form-data; name=metadata[k]\r\n\r\n\\ud800\r\n"
            + b'--b\r\nContent-Disposition: form-data; name=file; filename="a.png"\r\n\r\n' + image_bytes() + b"\r\n--b--\r\n")  # fmt: skip
    for charset in ("unicode_escape", "utf-7", "nonsense"):
        refused = http.post("/base/", content=body, headers={"Content-Type": f"multipart/form-data; boundary=b; charset={charset}"})
        assert refused.status_code == 400 and refused.text == "Content-Type: a form's charset must be utf-8."
    assert server.file_count() == 0
    accepted = http.post("/base/", content=body, headers={"Content-Type": "multipart/form-data; boundary=b; charset=UTF-8"})
    assert accepted.status_code == 200, accepted.text
    info = http.get(f"/files/{accepted.json()['file']}/", headers=simple_auth(server)).json()
    assert info["metadata"] == {"k": "\\ud800"}  # the six characters, as sent


def test_uploads_from_a_url_wait_their_turn_and_the_queue_is_bounded(make_server) -> None:  # type: ignore[no-untyped-def]
    origin = Origin(image_bytes())
    origin.hold = threading.Event()
    server = make_server(egress_allow=("127.0.0.0/8",), max_queue=6)
    form = {"pub_key": server.settings.uploadcare_public_key, "source_url": f"{origin.url}/a.png"}
    try:
        with server.http() as http:
            tokens = [http.post("/from_url/", data=form).json()["token"] for _ in range(6)]
            wait_for(lambda: len(origin.hits) == FETCHES_AT_ONCE)
            bodies = [http.get("/from_url/status/", params={"token": t}).json() for t in tokens]
            statuses = [body["status"] for body in bodies]
            assert sorted(statuses) == ["progress"] * FETCHES_AT_ONCE + ["waiting"] * (6 - FETCHES_AT_ONCE)
            # pyuploadcare's progress callback reads done and total from every status, waiting included.
            assert all((body["done"], body["total"]) == (0, None) for body in bodies if body["status"] == "waiting")
            full = http.post("/from_url/", data=form)
            assert full.status_code == 429 and full.headers["retry-after"] and "Retry later" in full.text
            origin.hold.set()

            def all_done() -> bool:
                return all(http.get("/from_url/status/", params={"token": t}).json()["status"] == "success"
                           for t in tokens)  # fmt: skip

            wait_for(all_done)
            assert len(origin.hits) == 6 and server.file_count() == 6
            assert http.post("/from_url/", data=form).status_code == 200  # room again
    finally:
        origin.close()


def test_a_url_upload_status_is_kept_an_hour_after_it_ends(tmp_path: Path) -> None:
    library = open_library(make_settings(tmp_path), tmp_path)
    now = time.time()
    for token, ended in [("just-ended", now - 60), ("ended-long-ago", now - 3700), ("long-running", None)]:
        asyncio.run(library.enqueue_import("http://example.com/a.png", NewFile(data=b"", file_name="a.png"), token,
                                           dialect="uploadcare"))  # fmt: skip
        if ended is not None:
            job = asyncio.run(library.claim_job("worker", 30, JobKind.IMPORT))
            assert job is not None and job.id == token
            assert asyncio.run(library.fail_job(job, "worker", "download_failed", "gone", retry_in=None)) is not None
            ended_at = datetime.fromtimestamp(ended, UTC).isoformat(timespec="milliseconds")
            asyncio.run(library.db.write(lambda tx: tx.conn.execute(
                "UPDATE jobs SET updated_at = ? WHERE id = ?", [ended_at.replace("+00:00", "Z"), token])))
    assert asyncio.run(library.expire_imports(URL_STATUS_SECONDS)) == 1
    assert library.import_job("ended-long-ago") is None and library.import_job("just-ended") is not None
    running = library.import_job("long-running")
    assert running is not None and running.status == JobStatus.QUEUED
