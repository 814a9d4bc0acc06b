"""Bad inputs get a clear 4xx naming the problem, and a rejected request stores nothing."""

from __future__ import annotations

import struct
import zlib

import httpx
import pytest

from .conftest import RunningServer, image_bytes, photo_bytes


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width` x `height` (a decompression bomb's header)."""
    data = bytearray(image_bytes((8, 8)))
    ihdr = bytearray(data[12:29])
    struct.pack_into(">II", ihdr, 4, width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def upload(http: httpx.Client, server: RunningServer, data: object, **fields: str) -> httpx.Response:
    files = {"file": ("f.png", data)} if isinstance(data, bytes) else None
    form = {"fileName": "f.png", **fields}
    if not isinstance(data, bytes) and data is not None:
        form["file"] = data  # type: ignore[assignment]
    return http.post("/api/v1/files/upload", auth=server.auth(), files=files, data=form)


BAD_FILES = {
    "empty": (b"", "empty"),
    "truncated png": (photo_bytes("coffee.png")[:5000], "truncated"),
    "truncated jpeg": (photo_bytes("rocket.jpg")[: len(photo_bytes("rocket.jpg")) // 2], "truncated"),
    "not an image": (b"hello, I am a text file pretending to be a picture" * 10, "not a supported image"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not a supported image"),
    "bomb header": (png_with_header(60000, 60000), "bomb"),
    "too many megapixels": (png_with_header(8000, 8000), "megapixels"),
    "too wide": (png_with_header(20000, 10), "per side"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_400_and_store_nothing(case: str, http: httpx.Client, server: RunningServer) -> None:
    data, words = BAD_FILES[case]
    response = upload(http, server, data)
    assert response.status_code == 400, response.text
    body = response.json()
    assert words in body["message"].lower() or words in body["message"], body
    assert body["help"]
    assert server.file_count() == 0
    assert server.blob_count() == 0


BAD_FIELDS = [
    ({"useUniqueFileName": "maybe"}, "useUniqueFileName"),
    ({"isPrivateFile": "1"}, "isPrivateFile"),
    ({"customMetadata": "not json"}, "customMetadata"),
    ({"customMetadata": "[1, 2]"}, "customMetadata"),
    ({"customMetadata": '{"bad key!": 1}'}, "customMetadata"),
    ({"customMetadata": '{"nested": {"a": 1}}'}, "customMetadata"),
    ({"customCoordinates": "a,b,c,d"}, "customCoordinates"),
    ({"responseFields": "tags,password"}, "responseFields"),
    ({"fileName": "../../etc/passwd"}, "fileName"),
    ({"fileName": "a/b.png"}, "fileName"),
    ({"fileName": ".."}, "fileName"),
    ({"fileName": "  "}, "fileName"),
    ({"folder": "../../outside"}, "folder"),
    ({"folder": "/a/./b"}, "folder"),
    ({"tags": "x" * 500}, "tags"),
    ({"description": "d" * 5000}, "description"),
    ({"extensions": '[{"name": "google-auto-tagging"}]'}, "google-auto-tagging"),
    ({"extensions": '[{"name": "remove-bg", "options": {"bg_color": "nope"}}]'}, "bg_color"),
    ({"extensions": '[{"name": "remove-bg", "options": {"sparkle": true}}]'}, "sparkle"),
    ({"extensions": '[{"name": "remove-bg", "options": {"bg_color": "fff", "bg_image_url": "https://a.b/c.png"}}]'}, "bg_"),
    ({"extensions": '[{"name": "remove-bg", "options": {"bg_image_url": "http://169.254.169.254/x"}}]'}, "bg_image_url"),
    ({"extensions": '{"name": "remove-bg"}'}, "extensions"),
    ({"extensions": '[{"name": "remove-bg"}]', "webhookUrl": "ftp://x"}, "webhookUrl"),
    ({"unknownField": "1"}, "unknownField"),
    ({"transformation": '{"pre": "w-100"}'}, "transformation"),
]


@pytest.mark.parametrize("fields,named", BAD_FIELDS, ids=[f"{list(f)[0]}={list(f.values())[0][:20]}" for f, _ in BAD_FIELDS])
def test_bad_fields_are_400_naming_the_field(fields: dict[str, str], named: str, http: httpx.Client, server: RunningServer) -> None:
    response = upload(http, server, image_bytes(), **fields)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]
    assert server.file_count() == 0
    assert server.blob_count() == 0


def test_file_as_text_must_be_url_or_base64(http: httpx.Client, server: RunningServer) -> None:
    response = upload(http, server, "definitely not base64 !!!")
    assert response.status_code == 400 and "base64" in response.json()["message"]
    missing = http.post("/api/v1/files/upload", auth=server.auth(), data={"fileName": "x.png"})
    assert missing.status_code == 400 and "missing file" in missing.json()["message"]
    no_name = http.post("/api/v1/files/upload", auth=server.auth(), files={"file": ("x.png", image_bytes())})
    assert no_name.status_code == 400 and "fileName" in no_name.json()["message"]
    not_multipart = http.post("/api/v1/files/upload", auth=server.auth(), json={"file": "x"})
    assert not_multipart.status_code == 400 and "multipart" in not_multipart.json()["message"]
    assert server.file_count() == 0


def test_oversized_upload_is_413(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_upload_bytes=100_000)
    big = photo_bytes("astronaut.png")
    assert len(big) > 100_000
    with server.http() as http:
        response = upload(http, server, big)
        assert response.status_code == 413
        assert "limit" in response.json()["message"]
        as_base64 = upload(http, server, __import__("base64").b64encode(big).decode())
        assert as_base64.status_code == 413
    assert server.file_count() == 0 and server.blob_count() == 0


def test_base64_and_data_uri_uploads(http: httpx.Client, server: RunningServer) -> None:
    import base64

    data = image_bytes()
    plain = upload(http, server, base64.b64encode(data).decode())
    assert plain.status_code == 200, plain.text
    uri = upload(http, server, "data:image/png;base64," + base64.b64encode(data).decode())
    assert uri.status_code == 200
    assert plain.json()["size"] == uri.json()["size"] == len(data)


@pytest.mark.parametrize(
    "body,named",
    [
        ({"tags": "not-a-list"}, "tags"),
        ({"tags": [1, 2]}, "tags"),
        ({"customMetadata": "x"}, "customMetadata"),
        ({"customCoordinates": 5}, "customCoordinates"),
        ({"removeAITags": 3}, "removeAITags"),
        ({"publish": {"isPublished": "yes"}}, "publish"),
        ({"nope": 1}, "nope"),
        ({"extensions": [{"name": "remove-bg", "options": {"scale": "300%"}}]}, "scale"),
        ({"extensions": [{"name": "ai-auto-description"}]}, "ai-auto-description"),
    ],
)
def test_bad_patch_bodies(body: dict[str, object], named: str, http: httpx.Client, server: RunningServer) -> None:
    file_id = upload(http, server, image_bytes()).json()["fileId"]
    before = http.get(f"/v1/files/{file_id}/details", auth=server.auth()).json()
    response = http.patch(f"/v1/files/{file_id}/details", auth=server.auth(), json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]
    after = http.get(f"/v1/files/{file_id}/details", auth=server.auth()).json()
    assert after == before


def test_bad_json_and_ids(http: httpx.Client, server: RunningServer) -> None:
    garbage = http.patch(f"/v1/files/{'a' * 24}/details", auth=server.auth(), content=b"{not json")
    assert garbage.status_code == 400
    unknown = http.get("/v1/files/..%2F..%2Fetc/details", auth=server.auth())
    assert unknown.status_code == 404
    missing = http.get(f"/v1/files/{'f' * 24}/details", auth=server.auth())
    assert missing.status_code == 404 and missing.json()["message"] == "The requested file does not exist."
    for body in ({}, {"fileIds": "x"}, {"fileIds": []}, {"fileIds": ["a"] * 101}):
        response = http.post("/v1/files/batch/deleteByFileIds", auth=server.auth(), json=body)
        assert response.status_code == 400 and "fileIds" in response.json()["message"]


@pytest.mark.parametrize(
    "params,named",
    [
        ({"type": "nope"}, "type"),
        ({"sort": "SIDEWAYS"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"skip": "-1"}, "skip"),
        ({"fileType": "video"}, "fileType"),
        ({"searchQuery": 'name = unquoted'}, "searchQuery"),
        ({"searchQuery": 'password = "x"'}, "searchQuery"),
        ({"searchQuery": '(name = "x"'}, "searchQuery"),
        ({"searchQuery": 'size > "big"'}, "searchQuery"),
        ({"path": "../x"}, "path"),
    ],
)
def test_bad_list_parameters(params: dict[str, str], named: str, http: httpx.Client, server: RunningServer) -> None:
    response = http.get("/v1/files", params=params, auth=server.auth())
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]


def test_media_paths_cannot_escape(http: httpx.Client, server: RunningServer) -> None:
    upload(http, server, image_bytes(), useUniqueFileName="false")
    for path in ["/media/../cutout.db", "/media/%2e%2e/%2e%2e/keys.json", "/media/..%2F..%2Fkeys.json", "/media/tr:w-100/f.png"]:
        response = http.get(path)
        assert response.status_code in (400, 404), path
        assert b"private_" not in response.content
