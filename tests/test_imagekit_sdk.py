"""The official imagekitio SDK, pointed at a real Cutout server, uses the file API unchanged."""

from __future__ import annotations

import httpx
import pytest
from imagekitio import ImageKit, NotFoundError

from .conftest import RunningServer, image_bytes, photo_bytes


def test_upload_with_folder_tags_metadata_and_private_flag(client: ImageKit, server: RunningServer) -> None:
    result = client.files.upload(
        file=photo_bytes("coffee.png"),
        file_name="coffee cup.png",
        folder="/products/mugs",
        tags=["mug", "sale"],
        custom_metadata={"brand": "Acme", "price": 12.5},
        is_private_file=True,
        response_fields=["tags", "customMetadata", "isPrivateFile"],
    )
    assert len(result.file_id) == 24
    assert result.name.startswith("coffee_cup_") and result.name.endswith(".png")
    assert len(result.name) == len("coffee_cup_.png") + 9
    assert result.file_path == f"/products/mugs/{result.name}"
    assert result.url == f"{server.url}/media/products/mugs/{result.name}"
    assert result.thumbnail_url == f"{server.url}/media/tr:n-ik_ml_thumbnail/products/mugs/{result.name}"
    assert (result.width, result.height) == (512, 512) or result.width > 0
    assert result.size == len(photo_bytes("coffee.png"))
    assert result.file_type == "image"
    assert result.version_info.id == result.file_id and result.version_info.name == "Version 1"
    assert result.tags == ["mug", "sale"]
    assert result.custom_metadata == {"brand": "Acme", "price": 12.5}
    assert result.is_private_file is True

    details = client.files.get(result.file_id)
    assert details.file_id == result.file_id
    assert details.type == "file"
    assert details.mime == "image/png"
    assert details.tags == ["mug", "sale"]
    assert details.is_private_file is True
    assert details.created_at is not None and details.updated_at is not None
    raw = httpx.get(f"{server.url}/v1/files/{result.file_id}/details", auth=server.auth()).json()
    assert raw["createdAt"].endswith("Z") and len(raw["createdAt"]) == len("2026-01-01T00:00:00.000Z")
    assert raw["thumbnail"].startswith(f"{server.url}/media/tr:n-ik_ml_thumbnail/")


def test_update_details(client: ImageKit) -> None:
    uploaded = client.files.upload(file=image_bytes(), file_name="a.png", custom_metadata={"keep": "yes", "drop": 1})
    updated = client.files.update(
        uploaded.file_id,
        tags=["new"],
        custom_coordinates="10,10,20,20",
        custom_metadata={"drop": None, "added": True},
        description="A red square",
    )
    assert updated.tags == ["new"]
    assert updated.custom_coordinates == "10,10,20,20"
    assert updated.custom_metadata == {"keep": "yes", "added": True}
    fetched = client.files.get(uploaded.file_id)
    assert fetched.custom_metadata == {"keep": "yes", "added": True}
    assert fetched.description == "A red square"
    cleared = client.files.update(uploaded.file_id, tags=None)
    assert cleared.tags is None
    unpublished = client.files.update(uploaded.file_id, publish={"is_published": False})
    assert unpublished.is_published is False


def test_list_filters_sorts_and_pages(client: ImageKit) -> None:
    small = client.files.upload(file=image_bytes((10, 10)), file_name="small.png", folder="/a", tags=["x"])
    big = client.files.upload(file=image_bytes((200, 100)), file_name="big.png", folder="/a", tags=["y"])
    other = client.files.upload(file=image_bytes((30, 30)), file_name="other.png", folder="/b")

    everything = client.assets.list()
    assert [f.file_id for f in everything] == [small.file_id, big.file_id, other.file_id]
    in_a = client.assets.list(path="/a")
    assert {f.file_id for f in in_a} == {small.file_id, big.file_id}
    by_size = client.assets.list(sort="DESC_SIZE", path="/a")
    assert by_size[0].file_id == big.file_id
    assert [f.file_id for f in client.assets.list(limit=1, skip=1)] == [big.file_id]
    tagged = client.assets.list(search_query='tags IN ["y"]')
    assert [f.file_id for f in tagged] == [big.file_id]
    wide = client.assets.list(search_query="width > 50 OR name = \"other.png\"")
    assert {f.file_id for f in wide} == {big.file_id}  # names are unique-suffixed, so only width matches
    prefix = client.assets.list(search_query='name : "oth"')
    assert [f.file_id for f in prefix] == [other.file_id]
    recent = client.assets.list(search_query='createdAt > "1h" AND size < 100000')
    assert len(recent) == 3
    folders = client.assets.list(type="folder")
    assert {f.folder_path for f in folders} == {"/a", "/b"}


def test_search_by_custom_metadata(client: ImageKit) -> None:
    nike = client.files.upload(file=image_bytes(), file_name="n.png", custom_metadata={"brand": "Nike", "price": 90})
    puma = client.files.upload(file=image_bytes(), file_name="p.png", custom_metadata={"brand": "Puma", "price": 40})
    client.files.upload(file=image_bytes(), file_name="x.png")

    def found(query: str) -> set[str]:
        return {f.file_id for f in client.assets.list(search_query=query)}

    assert found('"customMetadata.brand" = "Nike"') == {nike.file_id}
    assert found('"customMetadata.brand" IN ["Puma", "Adidas"]') == {puma.file_id}
    assert found('"customMetadata.brand" : "Pu"') == {puma.file_id}
    assert found('"customMetadata.price" > 50') == {nike.file_id}
    assert found('"customMetadata.colour" = "red"') == set()
    assert len(found('createdAt > "1h"')) == 3


def test_versions_after_overwrite(client: ImageKit, server: RunningServer) -> None:
    first = client.files.upload(file=image_bytes(color=(255, 0, 0)), file_name="v.png", use_unique_file_name=False, tags=["one"])
    second = client.files.upload(
        file=image_bytes((80, 60), color=(0, 0, 255)), file_name="v.png", use_unique_file_name=False, overwrite_tags=False
    )
    assert second.file_id == first.file_id
    assert second.version_info.name == "Version 2" and second.version_info.id != first.file_id
    assert second.width == 80
    details = client.files.get(first.file_id)
    assert details.tags == ["one"]  # overwriteTags=false kept them
    versions = client.files.versions.list(first.file_id)
    assert [v.version_info.name for v in versions] == ["Version 1", "Version 2"]
    old_listed = client.assets.list(type="file-version", search_query='width < 70 OR tags IN ["none"]')
    assert [(v.file_id, v.version_info.name, v.width) for v in old_listed] == [(first.file_id, "Version 1", 64)]
    assert client.assets.list(type="file-version", search_query="width > 70") == []
    assert versions[0].version_info.id == first.file_id
    old = client.files.versions.get(first.file_id, file_id=first.file_id)
    assert old.width == 64
    old_bytes = httpx.get(old.url).content
    assert old_bytes == image_bytes(color=(255, 0, 0))
    with pytest.raises(Exception) as refused:
        client.files.versions.delete(second.version_info.id, file_id=first.file_id)
    assert getattr(refused.value, "status_code", None) == 400
    restored = client.files.versions.restore(first.file_id, file_id=first.file_id)
    assert restored.version_info.name == "Version 1" and restored.width == 64
    assert httpx.get(restored.url).content == image_bytes(color=(255, 0, 0))
    client.files.versions.delete(second.version_info.id, file_id=first.file_id)
    assert [v.version_info.name for v in client.files.versions.list(first.file_id)] == ["Version 1"]
    refused_dup = httpx.post(
        f"{server.url}/api/v1/files/upload",
        auth=server.auth(),
        files={"file": ("v.png", image_bytes())},
        data={"fileName": "v.png", "useUniqueFileName": "false", "overwriteFile": "false"},
    )
    assert refused_dup.status_code == 409
    assert "already exists" in refused_dup.json()["message"]


def test_delete_and_bulk_delete(client: ImageKit, server: RunningServer) -> None:
    ids = [client.files.upload(file=image_bytes(color=(i, i, i)), file_name=f"{i}.png").file_id for i in range(4)]
    blobs_before = server.blob_count()
    client.files.delete(ids[0])
    with pytest.raises(NotFoundError):
        client.files.get(ids[0])
    assert server.blob_count() == blobs_before - 1

    done = client.files.bulk.delete(file_ids=[ids[1], ids[2]])
    assert done.successfully_deleted_file_ids == [ids[1], ids[2]]

    missing = "0" * 24
    partial = httpx.post(
        f"{server.url}/v1/files/batch/deleteByFileIds", auth=server.auth(), json={"fileIds": [ids[3], missing]}
    )
    assert partial.status_code == 207
    assert partial.json()["successfullyDeletedFileIds"] == [ids[3]]
    assert partial.json()["errors"][0]["fileId"] == missing

    none = httpx.post(f"{server.url}/v1/files/batch/deleteByFileIds", auth=server.auth(), json={"fileIds": [missing]})
    assert none.status_code == 404
    assert none.json()["missingFileIds"] == [missing]
    assert server.file_count() == 0


def test_private_file_needs_a_signed_url(client: ImageKit, server: RunningServer) -> None:
    data = photo_bytes("chelsea.png")
    uploaded = client.files.upload(file=data, file_name="cat.png", folder="/secret", is_private_file=True)
    endpoint = f"{server.url}/media"

    unsigned = httpx.get(uploaded.url)
    assert unsigned.status_code == 401

    signed = client.helper.build_url(src=uploaded.file_path, url_endpoint=endpoint, signed=True, expires_in=300)
    assert "ik-s=" in signed and "ik-t=" in signed
    opened = httpx.get(signed)
    assert opened.status_code == 200
    assert opened.content == data
    assert opened.headers["content-type"] == "image/png"
    assert opened.headers["x-content-type-options"] == "nosniff"

    forever = client.helper.build_url(src=uploaded.file_path, url_endpoint=endpoint, signed=True)
    assert httpx.get(forever).status_code == 200

    tampered = signed.replace("ik-t=", "ik-t=1")
    assert httpx.get(tampered).status_code == 401
    expired = client.helper.build_url(src=uploaded.file_path, url_endpoint=endpoint, signed=True, expires_in=1)
    expired_url = expired.split("ik-t=")[0] + "ik-t=1000&ik-s=" + expired.split("ik-s=")[1]
    assert httpx.get(expired_url).status_code == 401


def test_thumbnail_is_a_real_small_image(client: ImageKit) -> None:
    from io import BytesIO

    from PIL import Image

    uploaded = client.files.upload(file=photo_bytes("astronaut.png"), file_name="astronaut.png")
    response = httpx.get(uploaded.thumbnail_url)
    assert response.status_code == 200
    thumb = Image.open(BytesIO(response.content))
    assert max(thumb.size) <= 256 and min(thumb.size) > 0
    assert response.content != photo_bytes("astronaut.png")
    again = httpx.get(uploaded.thumbnail_url)
    assert again.content == response.content


def test_public_media_is_served_with_etag(client: ImageKit) -> None:
    data = image_bytes()
    uploaded = client.files.upload(file=data, file_name="p.png")
    first = httpx.get(uploaded.url)
    assert first.status_code == 200 and first.content == data
    cached = httpx.get(uploaded.url, headers={"If-None-Match": first.headers["etag"]})
    assert cached.status_code == 304
    assert "x-ik-requestid" in {k.lower() for k in first.headers}


def test_absurd_numbers_in_query_parameters_are_a_400(server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    for value in ["9" * 5000, "²", "-1", "1.5"]:
        response = httpx.get(f"{server.url}/v1/files", auth=server.auth(), params={"limit": value})
        assert response.status_code == 400 and "limit" in response.json()["message"], value
