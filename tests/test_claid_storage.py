"""Claid's API with storages on real object stores (moto's S3 server on 127.0.0.1): inputs read from
`storage://`, results written to a storage folder, a batch over a folder of 20 images, and a bucket that
disappears mid-batch failing only its own items."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from .conftest import HeldSegmenter, RunningServer, wait_for
from .storage_servers import S3Server

KEY = {"Authorization": "Bearer claid_test_key"}


def photo(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    image = Image.new("RGB", (64, 48), (255, 255, 255))
    image.paste(Image.new("RGB", (20, 20), colour), (30, 10))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def register(server: RunningServer, name: str, parameters: dict[str, Any]) -> None:
    made = httpx.post(f"{server.url}/v1/storage/storages", json={"name": name, "type": "s3", "parameters": parameters},
                      headers=KEY, timeout=30)  # fmt: skip
    assert made.status_code == 201, made.text


def wait_task(server: RunningServer, path: str, timeout: float = 120) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        data = httpx.get(f"{server.url}{path}", headers=KEY, timeout=10).json()["data"]
        return data if data["status"] in ("DONE", "ERROR") else None

    return wait_for(ended, timeout=timeout)  # type: ignore[return-value]


@pytest.fixture
def served(make_server: Callable[..., RunningServer]) -> RunningServer:
    return make_server(egress_allow=("127.0.0.0/8",))


def test_read_from_a_storage_and_write_into_a_folder(served: RunningServer, s3_server: S3Server) -> None:
    source, target = s3_server.bucket(), s3_server.bucket()
    s3_server.client().put_object(Bucket=source, Key="a.jpg", Body=photo(), ContentType="image/jpeg")
    register(served, "in", s3_server.parameters(source))
    register(served, "out", s3_server.parameters(target, path="results/"))
    body = {"input": "storage://in/a.jpg", "operations": {"background": {"remove": True}},
            "output": {"destination": "storage://out/", "format": "png"}}  # fmt: skip
    response = httpx.post(f"{served.url}/v1/image/edit", json=body, headers=KEY, timeout=30)
    assert response.status_code == 200, response.text
    output = response.json()["data"]["output"]
    assert (output["object_uri"], output["object_key"], output["object_bucket"]) == (
        "storage://out/a.png", "results/a.png", target)  # fmt: skip
    assert output["tmp_url"] is None
    stored = s3_server.client().get_object(Bucket=target, Key="results/a.png")
    image = Image.open(io.BytesIO(stored["Body"].read()))
    assert image.format == "PNG" and image.getpixel((2, 2))[3] == 0 and image.getpixel((40, 20))[3] == 255
    missing = httpx.post(f"{served.url}/v1/image/edit", json={**body, "input": "storage://in/nope.jpg"},
                         headers=KEY, timeout=30)  # fmt: skip
    assert missing.status_code == 400 and missing.json()["error_message"].startswith("input: "), missing.text
    unknown = httpx.post(f"{served.url}/v1/image/edit", json={**body, "input": "storage://nobody/a.jpg"},
                         headers=KEY, timeout=30)  # fmt: skip
    assert unknown.status_code == 422 and "input" in unknown.json()["error_details"], unknown.text  # checked first


def test_a_batch_over_a_folder_of_twenty_images(served: RunningServer, s3_server: S3Server) -> None:
    source, target = s3_server.bucket(), s3_server.bucket()
    client = s3_server.client()
    names = [f"img-{n:02d}.jpg" for n in range(20)]
    for name in names:
        client.put_object(Bucket=source, Key=f"in/{name}", Body=photo(), ContentType="image/jpeg")
    client.put_object(Bucket=source, Key="in/deeper/extra.jpg", Body=photo(), ContentType="image/jpeg")
    register(served, "shop", s3_server.parameters(source))
    register(served, "done", s3_server.parameters(target))
    body = {"input": "storage://shop/in/", "operations": {"background": {"remove": True, "color": "#ffffff"}},
            "output": {"destination": "storage://done/out/", "format": "jpeg"}}  # fmt: skip
    submitted = httpx.post(f"{served.url}/v1/image/edit/batch", json=body, headers=KEY, timeout=30)
    assert submitted.status_code == 200, submitted.text
    done = wait_task(served, f"/v1/image/edit/batch/{submitted.json()['data']['id']}")
    assert done["status"] == "DONE" and done["total"] == 20 and done["errors"] == []  # not recursive: 20
    written = sorted(item["Key"] for item in client.list_objects_v2(Bucket=target)["Contents"])
    assert written == [f"out/{name}" for name in names]  # each keeps its name
    deep = {"input": {"source": "storage://shop/in/", "recursive": True}, "output": "storage://done/all/"}
    again = httpx.post(f"{served.url}/v1/image/edit/batch", json=deep, headers=KEY, timeout=30)
    assert wait_task(served, f"/v1/image/edit/batch/{again.json()['data']['id']}")["total"] == 21


def test_a_bucket_that_disappears_mid_batch_fails_only_its_items(make_server: Callable[..., RunningServer],
                                                                  s3_server: S3Server) -> None:  # fmt: skip
    held = HeldSegmenter()
    server = make_server(held, egress_allow=("127.0.0.0/8",))
    kept, lost = s3_server.bucket(), s3_server.bucket()
    for bucket in (kept, lost):
        for n in range(3):
            s3_server.client().put_object(Bucket=bucket, Key=f"{n}.jpg", Body=photo(), ContentType="image/jpeg")
    register(server, "kept", s3_server.parameters(kept))
    register(server, "lost", s3_server.parameters(lost))
    # Two items are claimed at once (one in the model, one read and waiting): both from "kept".
    inputs = [f"storage://{where}" for where in ("kept/0.jpg", "kept/1.jpg", "lost/0.jpg", "kept/2.jpg",
                                                 "lost/1.jpg", "lost/2.jpg")]  # fmt: skip
    body = {"input": inputs, "operations": {"background": {"remove": True}}, "output": {"format": "png"}}
    submitted = httpx.post(f"{server.url}/v1/image/edit/batch", json=body, headers=KEY, timeout=30)
    assert submitted.status_code == 200, submitted.text
    assert held.started.wait(30)  # the first item (from "kept") is in the model; the rest wait
    s3_server.remove_bucket(lost)
    held.release.set()
    done = wait_task(server, f"/v1/image/edit/batch/{submitted.json()['data']['id']}")
    assert done["status"] == "DONE"
    assert sorted(r["input_object"]["uri"] for r in done["results"]) == sorted(u for u in inputs if "kept" in u)
    failed = sorted(done["errors"], key=lambda e: e["input"])
    assert [e["input"] for e in failed] == sorted(u for u in inputs if "lost" in u)
    assert all(lost in e["error"] and "does not exist" in e["error"] for e in failed)
