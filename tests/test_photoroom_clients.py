"""Photoroom requests made the way its public samples make them, against a real server with the real model.

The samples' code is not copied here (it is "All rights reserved"); these clients send the same bytes the
same way: Python's http.client with a hand-built multipart body (Python/remove_background.py), Node's https
module streaming a chunked multipart body with `X-API-Key` (node/remove-background.js), and Node 20's fetch
with FormData and string booleans for /v2/edit, as Photoroom's JavaScript examples do. Only the host differs.
"""

from __future__ import annotations

import http.client
import io
import json
import mimetypes
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from service.engine import U2NetSegmenter

from .conftest import PHOTOS, RunningServer

CLIENTS = Path(__file__).parent / "clients"
KEY = "photoroom_test_key"
node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


@pytest.fixture
def real(make_server: Callable[..., RunningServer], real_model: U2NetSegmenter) -> RunningServer:
    return make_server(real_model)


def remove_background_like_the_python_sample(connection: http.client.HTTPConnection, api_key: str,
                                             input_image_path: Path) -> tuple[int, str, bytes]:  # fmt: skip
    """The request of Photoroom's Python sample: a `----------<uuid hex>` boundary, the part's type guessed
    from the file name, `x-api-key`, the whole body in one `request` call."""
    boundary = f"----------{uuid.uuid4().hex}"
    content_type, _ = mimetypes.guess_type(str(input_image_path))
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="image_file"; filename="{os.path.basename(input_image_path)}"\r\n'
        f"Content-Type: {content_type or 'application/octet-stream'}\r\n\r\n"
    ).encode() + input_image_path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "x-api-key": api_key}
    connection.request("POST", "/v1/segment", body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.getheader("content-type") or "", response.read()


def test_python_http_client_segment(real: RunningServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", real.settings.port, timeout=60)
    try:
        status, content_type, data = remove_background_like_the_python_sample(connection, KEY, PHOTOS / "rocket.jpg")
    finally:
        connection.close()
    assert (status, content_type) == (200, "image/png")
    image = Image.open(io.BytesIO(data))
    assert image.size == (640, 427) and image.mode == "RGBA" and image.getchannel("A").getextrema() == (0, 255)
    connection = http.client.HTTPConnection("127.0.0.1", real.settings.port, timeout=60)
    try:
        status, _, data = remove_background_like_the_python_sample(connection, "not-the-key", PHOTOS / "rocket.jpg")
    finally:
        connection.close()
    assert status == 403 and json.loads(data)["status_code"] == 403


@node
def test_node_https_sample_segment(real: RunningServer, tmp_path: Path) -> None:
    saved = tmp_path / "result.png"
    done = subprocess.run(["node", str(CLIENTS / "photoroom_segment.js"), real.url, KEY, str(PHOTOS / "coffee.png"),
                           str(saved)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == 200 and 0 <= float(report["uncertainty"]) <= 1
    image = Image.open(io.BytesIO(saved.read_bytes()))
    assert image.format == "PNG" and image.size == (600, 400) and image.getpixel((2, 2))[3] == 0
    refused = subprocess.run(["node", str(CLIENTS / "photoroom_segment.js"), real.url, "wrong", str(PHOTOS / "coffee.png"),
                              str(tmp_path / "no.png")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 2 and '"status_code":403' in refused.stderr


@node
def test_node_fetch_form_data_edit(real: RunningServer, tmp_path: Path) -> None:
    saved = tmp_path / "result.jpg"
    done = subprocess.run(["node", str(CLIENTS / "photoroom_edit.mjs"), real.url, KEY, str(PHOTOS / "chelsea.png"),
                           str(saved)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": 200, "type": "image/jpeg"}
    image = Image.open(io.BytesIO(saved.read_bytes()))
    assert image.format == "JPEG" and image.size == (400, 400)
    assert min(image.getpixel((2, 2))) >= 250  # white background, padding 10%
