"""Storage connectors against real stores on 127.0.0.1 (moto's S3 server with signature checks, the GCS
emulator), through the Storages API and Claid's storage endpoints."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from cryptography.fernet import Fernet
from PIL import Image

from service.db import Database
from service.egress import Egress
from service.keys import resolve_keys
from service.settings import Settings, SettingsError
from service.storage import (
    ObjectNotFound,
    ObjectTooLarge,
    S3Objects,
    StorageInvalid,
    StorageNotFound,
    Storages,
    StorageUnavailable,
    quiet_store_clients,
)

from .conftest import ROOT, RunningServer, free_port, image_bytes, make_settings
from .storage_servers import GCSServer, S3Server

T = TypeVar("T")
LOCAL = ("127.0.0.0/8",)
KEY = "dGVzdC1lbmNyeXB0aW9uLWtleS1mb3ItY3V0b3V0ISE="  # what conftest's settings use


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine

    return asyncio.run(main())


def jpeg(color: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(out, "JPEG")
    return out.getvalue()


class Local:
    """A Storages over its own database and data dir, as the service builds it."""

    def __init__(self, data_dir: Path, *, allow: tuple[str, ...] = LOCAL, key: str = KEY):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(data_dir / "cutout.db")
        self.egress = Egress(allow)
        self.storages = Storages(self.db, self.egress, encryption_key=key, root=data_dir / "web-folders",
                                 base_url="http://127.0.0.1:1")  # fmt: skip

    def close(self) -> None:
        self.db.close()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    made = Local(tmp_path / "data")
    yield made
    made.close()


def bearer(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.settings.claid_api_key}"}


def create(server: RunningServer, body: dict[str, Any], prefix: str = "/v1/") -> httpx.Response:
    return httpx.post(f"{server.url}{prefix}storage/storages", json=body, headers=bearer(server), timeout=30)


# ---- S3 ---------------------------------------------------------------------------------------------


def test_s3_reads_writes_and_lists_objects_by_storage_uri(local: Local, s3_server: S3Server) -> None:
    source, target = s3_server.bucket(), s3_server.bucket()
    photo = jpeg()
    s3_server.client().put_object(Bucket=source, Key="input/a.jpg", Body=photo, ContentType="image/jpeg")
    run(local.storages.create("in", "s3", s3_server.parameters(source, path="/input/")))
    run(local.storages.create("out", "s3", s3_server.parameters(target, path="results")))

    got = run(local.storages.read("storage://in/a.jpg", max_bytes=1_000_000))
    assert (got.data, got.name, got.mime, got.uri) == (photo, "a.jpg", "image/jpeg", "storage://in/a.jpg")

    png = image_bytes()
    written = run(local.storages.write("storage://out/x.png", png, "image/png"))
    assert (written.uri, written.key, written.bucket, written.url) == (
        "storage://out/x.png",
        "results/x.png",
        target,
        None,
    )
    stored = s3_server.client().get_object(Bucket=target, Key="results/x.png")
    assert stored["Body"].read() == png and stored["ContentType"] == "image/png"


def test_a_folder_of_twenty_objects_lists_recursively_or_not(local: Local, s3_server: S3Server) -> None:
    bucket = s3_server.bucket()
    client = s3_server.client()
    names = [f"batch/{i:02d}.jpg" for i in range(15)] + [f"batch/sub/{i:02d}.jpg" for i in range(5)]
    for name in names:
        client.put_object(Bucket=bucket, Key=f"p/{name}", Body=b"x")
    client.put_object(Bucket=bucket, Key="p/batch/sub/", Body=b"")  # a folder marker, as consoles make them
    client.put_object(Bucket=bucket, Key="p/other.jpg", Body=b"x")  # outside the folder
    run(local.storages.create("in", "s3", s3_server.parameters(bucket, path="p")))

    every = run(local.storages.list_objects("storage://in/batch/", recursive=True))
    assert every == [f"storage://in/{name}" for name in sorted(names)]
    direct = run(local.storages.list_objects("storage://in/batch/", recursive=False))
    assert direct == [f"storage://in/batch/{i:02d}.jpg" for i in range(15)]
    assert run(local.storages.list_objects("storage://in/", recursive=False)) == ["storage://in/other.jpg"]
    assert run(local.storages.list_objects("storage://in/nothing/", recursive=True)) == []


def test_missing_objects_and_too_large_ones_are_named(local: Local, s3_server: S3Server) -> None:
    bucket = s3_server.bucket()
    s3_server.client().put_object(Bucket=bucket, Key="big.jpg", Body=b"x" * 2000)
    run(local.storages.create("in", "s3", s3_server.parameters(bucket)))
    with pytest.raises(ObjectNotFound, match=r"storage 'in': there is no object 'nope\.jpg'"):
        run(local.storages.read("storage://in/nope.jpg", max_bytes=1000))
    with pytest.raises(ObjectTooLarge, match="larger than 1000 bytes"):
        run(local.storages.read("storage://in/big.jpg", max_bytes=1000))


def test_uris_are_checked_before_any_request(local: Local, s3_server: S3Server) -> None:
    run(local.storages.create("in", "s3", s3_server.parameters(s3_server.bucket())))
    with pytest.raises(StorageNotFound, match="no storage named 'elsewhere'"):
        run(local.storages.read("storage://elsewhere/a.jpg", max_bytes=10))
    for uri, problem in [
        ("storage://in/../a.jpg", "'..' segments"), ("storage://in/a//b.jpg", "empty"),
        ("storage://in/folder/", "names a folder"), ("s3://in/a.jpg", "must start with storage://"),
        ("storage://in/a\x00.jpg", "control characters"), ("storage://" + "n" * 51 + "/a.jpg", "at most 50"),
    ]:  # fmt: skip
        with pytest.raises(StorageInvalid, match=problem) as caught:
            run(local.storages.read(uri, max_bytes=10))
        assert caught.value.status == 422 and list(caught.value.details) == ["uri"]
    with pytest.raises(StorageInvalid, match="names an object"):
        run(local.storages.list_objects("storage://in/a.jpg", recursive=False))


def test_a_bucket_deleted_after_creation_is_unavailable(
    local: Local, s3_server: S3Server, gcs_server: GCSServer
) -> None:
    s3_bucket, gcs_bucket = s3_server.bucket(), gcs_server.bucket()
    run(local.storages.create("s3", "s3", s3_server.parameters(s3_bucket)))
    run(local.storages.create("gcs", "gcs", gcs_server.parameters(gcs_bucket)))
    run(local.storages.write("storage://s3/a.png", image_bytes(), "image/png"))  # reached before
    s3_server.remove_bucket(s3_bucket)
    gcs_server.remove_bucket(gcs_bucket)
    for name, bucket in (("s3", s3_bucket), ("gcs", gcs_bucket)):
        with pytest.raises(
            StorageUnavailable, match=f"storage '{name}': the bucket '{bucket}' does not exist"
        ) as caught:
            run(local.storages.read(f"storage://{name}/a.png", max_bytes=1000))
        assert caught.value.status == 400 and not caught.value.transient
        with pytest.raises(StorageUnavailable, match="does not exist"):
            run(local.storages.write(f"storage://{name}/b.png", image_bytes(), "image/png"))
        with pytest.raises(StorageUnavailable, match="does not exist"):
            run(local.storages.list_objects(f"storage://{name}/", recursive=True))


def test_an_endpoint_that_stops_answering_is_a_transient_failure(local: Local, tmp_path: Path) -> None:
    from .storage_servers import _stop, start_s3

    own = start_s3()
    try:
        run(local.storages.create("in", "s3", own.parameters(own.bucket())))
    finally:
        _stop(own.process)
    with pytest.raises(StorageUnavailable, match="did not answer") as caught:
        run(local.storages.read("storage://in/a.jpg", max_bytes=10))
    assert caught.value.transient


def test_large_objects_go_up_in_parts(s3_server: S3Server) -> None:
    bucket = s3_server.bucket()
    objects = S3Objects(bucket=bucket, access_key=s3_server.access_key, secret_key=s3_server.secret_key,
                        endpoint_url=s3_server.endpoint, multipart_threshold=5 * 1024 * 1024)  # fmt: skip
    data = bytes(range(256)) * (11 * 4096)  # 11 MiB: three parts of at most 5 MiB
    objects.put("big.bin", data, "application/octet-stream")
    assert s3_server.client().head_object(Bucket=bucket, Key="big.bin")["ETag"].strip('"').endswith("-3")
    assert objects.get("big.bin", max_bytes=len(data)) == (data, "application/octet-stream")
    assert b"".join(objects.stream("big.bin")) == data
    objects.delete("big.bin")
    assert objects.list("", recursive=True) == []


# ---- GCS --------------------------------------------------------------------------------------------


def test_gcs_reads_writes_and_lists_objects(local: Local, gcs_server: GCSServer) -> None:
    bucket = gcs_server.bucket()
    photo = jpeg()
    gcs_server.client().bucket(bucket).blob("in/a.jpg").upload_from_string(photo, content_type="image/jpeg")
    for i in range(3):
        gcs_server.client().bucket(bucket).blob(f"in/batch/{i}.jpg").upload_from_string(b"x")
    run(local.storages.create("g", "gcs", gcs_server.parameters(bucket, path="in/")))

    got = run(local.storages.read("storage://g/a.jpg", max_bytes=100_000))
    assert (got.data, got.mime) == (photo, "image/jpeg")
    written = run(local.storages.write("storage://g/out/x.png", image_bytes(), "image/png"))
    assert (written.key, written.bucket) == ("in/out/x.png", bucket)
    assert gcs_server.client().bucket(bucket).blob("in/out/x.png").download_as_bytes() == image_bytes()
    assert run(local.storages.list_objects("storage://g/", recursive=False)) == ["storage://g/a.jpg"]
    assert run(local.storages.list_objects("storage://g/", recursive=True)) == [
        "storage://g/a.jpg", "storage://g/batch/0.jpg", "storage://g/batch/1.jpg", "storage://g/batch/2.jpg",
        "storage://g/out/x.png",
    ]  # fmt: skip
    with pytest.raises(ObjectNotFound):
        run(local.storages.read("storage://g/missing.jpg", max_bytes=10))


def test_gcs_needs_a_service_account_key_for_googles_own_endpoint(local: Local) -> None:
    with pytest.raises(StorageInvalid) as caught:
        run(local.storages.create("g", "gcs", {"bucket": "b"}))
    assert caught.value.details == {"parameters.credentials": ["field required"]}
    with pytest.raises(StorageInvalid) as caught:
        run(local.storages.create("g", "gcs", {"bucket": "b", "credentials": {"type": "authorized_user"}}))
    assert "service-account key" in caught.value.details["parameters.credentials"][0]
    key = {"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com", "private_key": "not a key"}
    with pytest.raises(StorageInvalid) as caught:
        run(local.storages.create("g", "gcs", {"bucket": "b", "credentials": json.dumps(key)}))
    assert caught.value.details == {
        "parameters.credentials": ["the private key of the service-account key cannot be read"]
    }
    assert local.storages.list() == []


def service_account_key(token_uri: str) -> dict[str, str]:
    """A service-account key file as Google issues them, with a fresh RSA key and the given token endpoint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account", "project_id": "test", "private_key_id": "1", "private_key": pem.decode(),
        "client_email": "cutout@test.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri,
    }  # fmt: skip


def test_a_gcs_key_gets_its_tokens_within_the_egress_rules(local: Local, gcs_server: GCSServer) -> None:
    bucket = gcs_server.bucket()
    private = service_account_key("https://10.1.2.3/token")
    with pytest.raises(StorageInvalid) as caught:
        run(local.storages.create("g", "gcs", gcs_server.parameters(bucket, credentials=private)))
    assert list(caught.value.details) == ["parameters.credentials.token_uri"]
    assert "non-public" in caught.value.details["parameters.credentials.token_uri"][0]
    # An allowed token endpoint that does not answer: the key is used (a signed token request), and fails.
    silent = service_account_key(f"https://127.0.0.1:{free_port()}/token")
    with pytest.raises(StorageUnavailable, match="did not answer") as unavailable:
        run(local.storages.create("g", "gcs", gcs_server.parameters(bucket, credentials=json.dumps(silent))))
    assert silent["private_key"] not in str(unavailable.value)
    assert local.storages.list() == []


def test_no_proxy_from_the_environment_is_used(local: Local, s3_server: S3Server, gcs_server: GCSServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The store clients connect where the egress rules checked, not through a proxy the environment names."""
    s3_bucket, gcs_bucket = s3_server.bucket(), gcs_server.bucket()  # the tests' own clients would use the proxy
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # the discard port: nothing answers there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    run(local.storages.create("s3", "s3", s3_server.parameters(s3_bucket)))
    run(local.storages.create("gcs", "gcs", gcs_server.parameters(gcs_bucket)))
    for name in ("s3", "gcs"):
        run(local.storages.write(f"storage://{name}/a.png", image_bytes(), "image/png"))
        assert run(local.storages.read(f"storage://{name}/a.png", max_bytes=10_000)).data == image_bytes()


# ---- credentials ------------------------------------------------------------------------------------


def test_credentials_are_encrypted_at_rest_and_never_shown(make_server: Callable[..., RunningServer],
                                                           s3_server: S3Server, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    bucket = s3_server.bucket()
    quiet_store_clients()  # as `python -m service` does once logging is set up
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    server = make_server(egress_allow=LOCAL)
    created = create(server, {"name": "in", "type": "s3", "parameters": s3_server.parameters(bucket, path="x/")})
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["parameters"] == {
        "bucket": bucket,
        "path": "x/",
        "region": "us-east-1",
        "endpoint_url": s3_server.endpoint,
    }
    assert (data["name"], data["type"]) == ("in", "s3") and data["created_at"].endswith("+00:00")
    shown = [
        created.text,
        httpx.get(f"{server.url}/v1/storage/storages", headers=bearer(server)).text,
        httpx.get(f"{server.url}/v1-beta1/storage/storages/{data['id']}", headers=bearer(server)).text,
    ]
    for text in shown:
        assert s3_server.secret_key not in text and s3_server.access_key not in text and "credentials" not in text
    assert json.loads(shown[1])["data"] == [data]
    assert s3_server.secret_key not in caplog.text and s3_server.access_key not in caplog.text
    raw = b"".join(p.read_bytes() for p in server.data_dir.glob("cutout.db*"))
    assert s3_server.secret_key.encode() not in raw and s3_server.access_key.encode() not in raw

    import sqlite3

    with sqlite3.connect(server.data_dir / "cutout.db") as conn:
        sealed = conn.execute("SELECT credentials FROM storages").fetchone()[0]
    opened = json.loads(Fernet(server.settings.encryption_key.encode()).decrypt(sealed))
    assert opened == {"access_key": s3_server.access_key, "secret_access_key": s3_server.secret_key}


def test_another_encryption_key_cannot_open_the_credentials(tmp_path: Path, s3_server: S3Server) -> None:
    first = Local(tmp_path / "d")
    run(first.storages.create("in", "s3", s3_server.parameters(s3_server.bucket())))
    first.close()
    second = Local(tmp_path / "d", key=Fernet.generate_key().decode())
    try:
        with pytest.raises(StorageUnavailable, match="cannot be decrypted with this CUTOUT_ENCRYPTION_KEY"):
            run(second.storages.read("storage://in/a.jpg", max_bytes=10))
    finally:
        second.close()


def test_bad_s3_credentials_are_a_clear_400_and_nothing_is_stored(make_server: Callable[..., RunningServer],
                                                                  s3_server: S3Server) -> None:  # fmt: skip
    server = make_server(egress_allow=LOCAL)
    bucket = s3_server.bucket()
    for credentials in (
        {"access_key": s3_server.access_key, "secret_access_key": "wrong-secret"},
        {"access_key": "AKIAUNKNOWNKEY000000", "secret_access_key": s3_server.secret_key},
    ):
        response = create(server, {"name": "in", "type": "s3",
                                   "parameters": {**s3_server.parameters(bucket), "credentials": credentials}})  # fmt: skip
        assert response.status_code == 400, response.text
        body = response.json()
        assert "refused the credentials" in body["error_message"], body
        assert "wrong-secret" not in response.text and s3_server.secret_key not in response.text
        assert set(body) == {"error_code", "error_type", "error_message", "error_details"}
    missing = create(server, {"name": "in", "type": "s3", "parameters": s3_server.parameters("no-such-bucket")})
    assert missing.status_code == 400 and "'no-such-bucket' does not exist" in missing.json()["error_message"]
    assert httpx.get(f"{server.url}/v1/storage/storages", headers=bearer(server)).json() == {"data": []}


# ---- validation and the API -------------------------------------------------------------------------


def test_definitions_are_validated_with_claids_details(make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    cases: list[tuple[dict[str, Any], dict[str, list[str]]]] = [
        ({"name": "n" * 51, "type": "s3", "parameters": {"bucket": "b", "credentials": {"secret_access_key": "s"}}},
         {"name": ["ensure this value has at most 50 characters"],
          "parameters.credentials.access_key": ["field required"]}),
        ({"name": "a", "type": "ftp", "parameters": {}},
         {"type": ["value is not a valid enumeration member; permitted: 'web_folder', 's3', 'gcs'"]}),
        ({"name": "a", "type": "s3", "parameters": {"path": "x"}},
         {"parameters.bucket": ["field required"], "parameters.credentials": ["field required"]}),
        ({"name": "a", "type": "s3", "parameters": {"bucket": "b/c", "region": "US EAST", "colour": 1,
                                                    "endpoint_url": "ftp://x", "credentials": {"access_key": 5, "secret_access_key": "s", "token": "t"}}},
         {"parameters.colour": ["extra fields not permitted"],
          "parameters.bucket": ["must be a bucket name: letters, digits, '.', '_' and '-'"],
          "parameters.region": ["must be a region name such as 'us-east-1'"],
          "parameters.endpoint_url": ["must be an http(s) URL"],
          "parameters.credentials.token": ["extra fields not permitted"],
          "parameters.credentials.access_key": ["must be a non-empty string"]}),
        ({"name": "a", "type": "web_folder", "parameters": {"path": "../up", "bucket": "mine"}},
         {"parameters.bucket": ["extra fields not permitted"],
          "parameters.path": ["must not contain empty, '.' or '..' segments"]}),
        ({"name": "has space", "type": "web_folder"},
         {"name": ["use letters, digits, '.', '_' and '-', starting with a letter or a digit"]}),
        ({"type": "web_folder", "extra": 1}, {"extra": ["extra fields not permitted"]}),
        ({"type": "web_folder"}, {"name": ["field required"]}),
    ]  # fmt: skip
    for body, details in cases:
        response = create(server, body)
        assert response.status_code == 422, (body, response.text)
        answer = response.json()
        assert answer["error_details"] == details, body
        assert (answer["error_code"], answer["error_type"]) == ("9000", "validation")
        for field in details:
            assert field in answer["error_message"]
    assert httpx.get(f"{server.url}/v1/storage/storages", headers=bearer(server)).json() == {"data": []}

    assert create(server, {"name": "same", "type": "web_folder"}).status_code == 201
    again = create(server, {"name": "same", "type": "web_folder"})
    assert again.status_code == 409
    assert again.json()["error_details"] == {"name": ["a storage named 'same' already exists"]}
    not_json = httpx.post(f"{server.url}/v1/storage/storages", content=b"{", headers=bearer(server))
    assert not_json.status_code == 400 and not_json.json()["error_type"] == "general"


def test_the_storage_endpoints_speak_claid(make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    for prefix in ("/v1/", "/v1-beta1/"):
        types = httpx.get(f"{server.url}{prefix}storage/storage-types", headers=bearer(server))
        assert types.json() == {"data": ["web_folder", "s3", "gcs"]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {server.settings.claid_api_key}"}):
        refused = httpx.get(f"{server.url}/v1/storage/storages", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error_code"] == "111" and refused.json()["error_type"] == "auth"
    made = create(server, {"name": "wf", "type": "web_folder", "parameters": {"path": "/out/"}}, "/v1-beta1/").json()[
        "data"
    ]
    assert made["parameters"]["path"] == "out/"
    assert made["parameters"]["url"] == f"{server.url}/web-folders/{made['parameters']['bucket']}/out/"
    one = httpx.get(f"{server.url}/v1/storage/storages/{made['id']}", headers=bearer(server))
    assert one.json() == {"data": made}
    for bad in ("abc", "-1", "1.5"):
        assert httpx.get(f"{server.url}/v1/storage/storages/{bad}", headers=bearer(server)).status_code == 422
    gone = httpx.get(f"{server.url}/v1/storage/storages/999", headers=bearer(server))
    assert gone.status_code == 404 and gone.json()["error_type"] == "not_found"
    deleted = httpx.delete(f"{server.url}/v1/storage/storages/{made['id']}", headers=bearer(server))
    assert deleted.status_code == 204
    assert httpx.delete(f"{server.url}/v1/storage/storages/{made['id']}", headers=bearer(server)).status_code == 404
    assert httpx.get(f"{server.url}/v1/storage/storages", headers=bearer(server)).json() == {"data": []}


# ---- egress -----------------------------------------------------------------------------------------


def test_connector_endpoints_obey_the_egress_rules(make_server: Callable[..., RunningServer], s3_server: S3Server,
                                                   gcs_server: GCSServer, tmp_path: Path) -> None:  # fmt: skip
    server = make_server()  # no egress allowance: loopback is not public
    for kind, params in (("s3", s3_server.parameters(s3_server.bucket())), ("gcs", gcs_server.parameters("b"))):
        response = create(server, {"name": "in", "type": kind, "parameters": params})
        assert response.status_code == 422, response.text
        problem = response.json()["error_details"]["parameters.endpoint_url"][0]
        assert problem.startswith("is not allowed: ") and "non-public" in problem
    s3_params = s3_server.parameters("b")
    for url in ("http://169.254.169.254", "http://[::ffff:10.0.0.1]:9000", "http://localhost:9000"):
        response = create(server, {"name": "in", "type": "s3", "parameters": {**s3_params, "endpoint_url": url}})
        assert response.status_code == 422 and "parameters.endpoint_url" in response.json()["error_details"], url

    allowed = Local(tmp_path / "d")
    run(allowed.storages.create("in", "s3", s3_server.parameters(s3_server.bucket())))
    allowed.close()
    strict = Local(tmp_path / "d", allow=())  # the rules changed since: the endpoint is checked before each use
    try:
        with pytest.raises(StorageUnavailable, match="its endpoint is not allowed"):
            run(strict.storages.read("storage://in/a.jpg", max_bytes=10))
    finally:
        strict.close()


# ---- web folders ------------------------------------------------------------------------------------


def test_a_web_folder_round_trips_over_http(make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    made = create(server, {"name": "web", "type": "web_folder", "parameters": {"path": "pub"}}).json()["data"]
    token = made["parameters"]["bucket"]
    # The server's own Storages and this one share the data directory, as two processes of one service would.
    here = Storages(Database(server.data_dir / "cutout.db"), Egress(), encryption_key=server.settings.encryption_key,
                    root=server.data_dir / "web-folders", base_url=server.url)  # fmt: skip
    try:
        png = image_bytes()
        written = run(here.write("storage://web/cut/x.png", png, "image/png"))
        assert (written.key, written.bucket) == ("pub/cut/x.png", token)
        assert written.url == f"{server.url}/web-folders/{token}/pub/cut/x.png"
        run(here.write("storage://web/page.html", b"<script>alert(1)</script>", "text/html"))
        run(here.write("storage://web/logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"))
        assert run(here.list_objects("storage://web/", recursive=True)) == [
            "storage://web/cut/x.png", "storage://web/logo.svg", "storage://web/page.html"]  # fmt: skip
        assert run(here.read("storage://web/cut/x.png", max_bytes=10_000)).data == png

        got = httpx.get(written.url)
        assert got.status_code == 200 and got.content == png
        assert got.headers["content-type"] == "image/png" and got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"].startswith("inline")
        for name in ("page.html", "logo.svg"):
            other = httpx.get(f"{server.url}/web-folders/{token}/pub/{name}")
            assert other.status_code == 200 and other.headers["content-disposition"].startswith("attachment"), name
            assert other.headers["content-security-policy"] == "default-src 'none'; sandbox"
        for path in (f"{token[:-1]}A/pub/cut/x.png", f"{token}/pub/cut/y.png", f"{token}/pub/cut/",
                     f"{token}/pub/%2e%2e/%2e%2e/cutout.db", f"{token}/pub/%2e%2e/%2e%2e/%2e%2e/cutout.db"):  # fmt: skip
            assert httpx.get(f"{server.url}/web-folders/{path}").status_code == 404, path

        assert httpx.delete(f"{server.url}/v1/storage/storages/{made['id']}", headers=bearer(server)).status_code == 204
        assert httpx.get(written.url).status_code == 404
        assert not (server.data_dir / "web-folders" / token).exists()
    finally:
        here.db.close()


# ---- keys -------------------------------------------------------------------------------------------


def test_the_encryption_key_is_generated_once_into_keys_json(tmp_path: Path) -> None:
    settings, generated = resolve_keys(Settings(data_dir=tmp_path))
    assert settings.encryption_key == generated["encryption_key"]
    assert settings.claid_api_key == generated["claid_api_key"]
    Fernet(settings.encryption_key.encode())  # a valid key
    stored = json.loads((tmp_path / "keys.json").read_text())
    assert stored["encryption_key"] == settings.encryption_key
    again, fresh = resolve_keys(Settings(data_dir=tmp_path))
    assert fresh == {} and again.encryption_key == settings.encryption_key
    given = Fernet.generate_key().decode()
    assert Settings.from_env({"CUTOUT_ENCRYPTION_KEY": given}).encryption_key == given
    with pytest.raises(SettingsError, match="CUTOUT_ENCRYPTION_KEY must be 32 bytes"):
        Settings.from_env({"CUTOUT_ENCRYPTION_KEY": "too-short"})


def test_the_printed_keys_leave_the_encryption_key_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.app import create_app

    create_app(make_settings(tmp_path).with_changes(claid_api_key="", encryption_key=""))
    printed = capsys.readouterr().err
    key = json.loads((tmp_path / "keys.json").read_text())
    assert key["claid_api_key"] in printed and "Claid API key" in printed
    assert key["encryption_key"] not in printed


# ---- README -----------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_examples_work_as_written(make_server: Callable[..., RunningServer], s3_server: S3Server,
                                             tmp_path: Path) -> None:  # fmt: skip
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Storage connectors") : text.index("## Background removal jobs")]
    script = re.search(r"```sh\n(CLAID_KEY=.+?)```", section, re.S)
    assert script is not None
    server = make_server(egress_allow=LOCAL)
    client = s3_server.client()
    if "photos" not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket="photos")
    # Only where the server and the store live changes.
    commands = (
        script.group(1).replace("http://127.0.0.1:8000", server.url)
        .replace("https://s3.eu-west-1.amazonaws.com", s3_server.endpoint)
        .replace("AKIAEXAMPLEKEY", s3_server.access_key).replace("EXAMPLESECRET", s3_server.secret_key)
    )  # fmt: skip
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keys.json").write_text(json.dumps({"claid_api_key": server.settings.claid_api_key}))
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # `python` is the venv's
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PATH": path})  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.replace("}{", "}\n{").splitlines() if line.strip()]
    s3, web, listed = answers
    assert s3["data"]["parameters"]["path"] == "input/" and web["data"]["parameters"]["url"].endswith("/results/")
    assert listed == {"data": [s3["data"], web["data"]]}
    assert s3_server.secret_key not in done.stdout
