"""Uploads given as text: base64 and data URIs are accepted as the same bytes.

Bad inputs (broken and hostile files, wrong fields, hostile URLs, bad auth) are the table-driven
corpus in tests/reliability/test_bad_input_corpus.py.
"""

from __future__ import annotations

import base64

import httpx

from .conftest import RunningServer, image_bytes


def upload(http: httpx.Client, server: RunningServer, text: str) -> httpx.Response:
    return http.post("/api/v1/files/upload", auth=server.auth(), data={"fileName": "f.png", "file": text})


def test_base64_and_data_uri_uploads(http: httpx.Client, server: RunningServer) -> None:
    data = image_bytes()
    plain = upload(http, server, base64.b64encode(data).decode())
    assert plain.status_code == 200, plain.text
    uri = upload(http, server, "data:image/png;base64," + base64.b64encode(data).decode())
    assert uri.status_code == 200
    assert plain.json()["size"] == uri.json()["size"] == len(data)
