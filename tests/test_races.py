"""Reads racing deletes: a blob that vanished between looking a file up and reading it is a 404 in the
dialect's shape, never a 500, and a preview made for a version deleted meanwhile leaves no blob behind."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from service import engine
from service.blobs import BlobStore

from .conftest import RunningServer, image_bytes

THUMBNAIL = "tr=n-ik_ml_thumbnail"
UC_REST = {"Accept": "application/vnd.uploadcare-v0.7+json"}


def upload(server: RunningServer, http: httpx.Client, name: str = "a.png", color: object = (200, 30, 30)) -> dict:
    response = http.post(
        "/api/v1/files/upload", auth=server.auth(),
        files={"file": (name, image_bytes(color=color))},
        data={"fileName": name, "useUniqueFileName": "false"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def referenced_blobs(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "cutout.db") as conn:
        rows = conn.execute("SELECT blob, thumb_blob FROM versions").fetchall()
    return {b for row in rows for b in row if b}


def stored_blobs(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "blobs").rglob("*") if p.is_file()}


def before_first_read(monkeypatch: pytest.MonkeyPatch, action: Callable[[], object]) -> list[str]:
    """Run `action` (a real request, from the server's worker thread) just before the first blob read,
    whole (`read`) or streamed (`open`)."""
    done: list[str] = []

    def first(real: Callable[[BlobStore, str], object]) -> Callable[[BlobStore, str], object]:
        def reading(self: BlobStore, sha: str) -> object:
            if not done:
                done.append(sha)
                action()
            return real(self, sha)

        return reading

    monkeypatch.setattr(BlobStore, "read", first(BlobStore.read))
    monkeypatch.setattr(BlobStore, "open", first(BlobStore.open))
    return done


def delete_file(server: RunningServer, file_id: str) -> Callable[[], None]:
    def run() -> None:
        assert httpx.delete(f"{server.url}/v1/files/{file_id}", auth=server.auth()).status_code == 204

    return run


@pytest.mark.parametrize("query", ["", THUMBNAIL])
def test_media_get_racing_a_delete_is_a_404(server: RunningServer, http: httpx.Client, monkeypatch, query: str) -> None:  # type: ignore[no-untyped-def]
    file = upload(server, http)
    raced = before_first_read(monkeypatch, delete_file(server, file["fileId"]))
    response = httpx.get(f"{server.url}/media/a.png?{query}")  # unauthenticated, as a browser would
    assert raced, "the delete did not run between the lookup and the read"
    assert response.status_code == 404, response.text
    assert response.json()["message"] == "The requested file does not exist."
    assert stored_blobs(server.data_dir) == set()


def test_cdn_get_racing_a_delete_is_a_404(server: RunningServer, http: httpx.Client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    file = upload(server, http)
    with sqlite3.connect(server.data_dir / "cutout.db") as conn:
        [uuid] = conn.execute("SELECT uuid FROM files WHERE id = ?", [file["fileId"]]).fetchone()
    raced = before_first_read(monkeypatch, delete_file(server, file["fileId"]))
    response = httpx.get(f"{server.url}/cdn/{uuid}/")
    assert raced
    assert response.status_code == 404 and response.text == "Not found."


def test_old_version_get_racing_its_delete_is_a_404(server: RunningServer, http: httpx.Client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first = upload(server, http)
    upload(server, http, color=(10, 200, 10))  # an overwrite: the first upload is now an old version
    old = first["versionInfo"]["id"]

    def delete_version() -> None:
        url = f"{server.url}/v1/files/{first['fileId']}/versions/{old}"
        assert httpx.delete(url, auth=server.auth()).status_code == 204

    raced = before_first_read(monkeypatch, delete_version)
    response = httpx.get(f"{server.url}/media/a.png?ik-obj-version={old}")
    assert raced and response.status_code == 404, response.text
    assert httpx.get(f"{server.url}/media/a.png").status_code == 200  # the current version is untouched


def test_preview_of_a_version_deleted_meanwhile_leaves_no_blob(server: RunningServer, http: httpx.Client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    file = upload(server, http)
    real_thumbnail = engine.thumbnail

    def thumbnail(data: bytes, **kwargs: object) -> tuple[bytes, str]:
        delete_file(server, file["fileId"])()  # while the preview is being made
        return real_thumbnail(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "thumbnail", thumbnail)
    response = httpx.get(f"{server.url}/media/a.png?{THUMBNAIL}")
    assert response.status_code == 200  # the preview of what was there when asked
    assert stored_blobs(server.data_dir) == set()  # and nothing kept for a version that is gone


def test_concurrent_reads_and_deletes_never_answer_5xx(server: RunningServer, http: httpx.Client) -> None:
    """Real HTTP only: readers hammer media, previews and the CDN while files are overwritten and deleted."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    for round_ in range(6):
        files = [upload(server, http, f"f{i}.png", (i * 20, round_ * 30, 40)) for i in range(6)]
        with sqlite3.connect(server.data_dir / "cutout.db") as conn:
            uuids = [row[0] for row in conn.execute("SELECT uuid FROM files")]
        urls = [f"/media/f{i}.png" for i in range(6)] + [f"/media/f{i}.png?{THUMBNAIL}" for i in range(6)]
        urls += [f"/cdn/{u}/" for u in uuids]

        def read(offset: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as reader:
                n = offset
                while not stop.is_set():
                    code = reader.get(urls[n % len(urls)]).status_code
                    with lock:
                        statuses[code] += 1
                    n += 1

        stop.clear()
        readers = [threading.Thread(target=read, args=(k * 5,)) for k in range(6)]
        for thread in readers:
            thread.start()
        for i, file in enumerate(files):
            upload(server, http, f"f{i}.png", (i * 20, round_ * 30, 41))  # overwrite while being read
            assert http.delete(f"/v1/files/{file['fileId']}", auth=server.auth()).status_code == 204
        stop.set()
        for thread in readers:
            thread.join()
    assert set(statuses) <= {200, 404}, statuses
    assert statuses[404] and statuses[200]
    assert stored_blobs(server.data_dir) == referenced_blobs(server.data_dir) == set()
