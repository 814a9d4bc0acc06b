"""Load on 127.0.0.1: concurrent uploads with remove-bg while the workers are saturated and the queue is small.

Every answer is a 200, or for an extension request the documented 429 with Retry-After; every
accepted job finishes; a 429 stored nothing; plain uploads and reads keep answering throughout.
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

from ..conftest import ServiceProcess, plain_cutout, wait_for
from .test_kill9 import small_photos

CLIENTS = 8
EXTENSION_UPLOADS = 96
PLAIN_UPLOADS = 32
READS = 32
MAX_QUEUE = 6


def unique(photo: bytes, index: int) -> bytes:
    """The photo with its corner pixels set from `index`, so that no two uploads share a blob."""
    image = Image.open(io.BytesIO(photo)).convert("RGB")
    image.putpixel((0, 0), (index % 256, index // 256, 7))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_saturated_workers_answer_429_or_accept_and_lose_nothing(tmp_path: Path) -> None:
    photos = small_photos()
    service = ServiceProcess(tmp_path / "data", CUTOUT_WORKERS="2", CUTOUT_MAX_QUEUE=str(MAX_QUEUE))
    service.start()
    started = time.monotonic()
    try:
        limits = httpx.Limits(max_connections=CLIENTS + 2)
        with httpx.Client(base_url=service.url, auth=service.auth, timeout=30, limits=limits) as http:

            def in_queue() -> int:
                with sqlite3.connect(service.data_dir / "cutout.db") as conn:
                    return conn.execute("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')").fetchone()[0]

            def client(first: int) -> list[tuple[str, httpx.Response]]:
                """A client that honours backpressure: after a 429 it waits for room (not for Retry-After)."""
                answers = []
                for index in range(first, EXTENSION_UPLOADS, CLIENTS):
                    answers.append(upload(index, True))
                    if answers[-1][1].status_code == 429:
                        wait_for(lambda: in_queue() < MAX_QUEUE, timeout=60, interval=0.01)
                return answers

            def upload(index: int, extension: bool) -> tuple[str, httpx.Response]:
                name = f"{'x' if extension else 'p'}{index}.png"
                data = {"fileName": name, "useUniqueFileName": "false"}
                if extension:
                    data["extensions"] = json.dumps([{"name": "remove-bg", "options": {"bg_color": "white"}}])
                # Half the uploads repeat one photo byte for byte: a refused upload must not take away the
                # blob an accepted one with the same bytes is storing at that moment.
                twin = index % 2
                photo = photos[0] if twin else unique(photos[index % len(photos)], index + (0 if extension else 1000))
                return name, http.post("/api/v1/files/upload", files={"file": (name, photo)}, data=data)

            def read(index: int) -> tuple[str, httpx.Response]:
                return "", http.get("/v1/files", params={"limit": 10, "sort": "DESC_CREATED"})

            with ThreadPoolExecutor(CLIENTS + 2) as pool:
                clients = [pool.submit(client, i) for i in range(CLIENTS)]
                others = [pool.submit(upload, i, False) for i in range(PLAIN_UPLOADS)]
                others += [pool.submit(read, i) for i in range(READS)]
                results = [answer for c in clients for answer in c.result(timeout=180)]
                results += [f.result(timeout=180) for f in others]
        took = time.monotonic() - started

        extension_results = results[:EXTENSION_UPLOADS]
        accepted = {name for name, r in extension_results if r.status_code == 200}
        refused = [(name, r) for name, r in extension_results if r.status_code != 200]
        for _, response in refused:
            assert response.status_code == 429, response.text
            assert int(response.headers["retry-after"]) > 0 and "queue" in response.json()["message"].lower()
        assert accepted and refused, "the load must both fill the queue and get through it"
        for name, response in results[EXTENSION_UPLOADS:]:
            assert response.status_code == 200, (name, response.text)
        plain = {name for name, _ in results[EXTENSION_UPLOADS : EXTENSION_UPLOADS + PLAIN_UPLOADS]}

        # Every accepted job finishes; a refused request left no file, job or blob behind.
        def jobs() -> list[str]:
            with sqlite3.connect(service.data_dir / "cutout.db") as conn:
                return [row[0] for row in conn.execute("SELECT status FROM jobs")]

        wait_for(lambda: (states := jobs()) and all(s == "succeeded" for s in states), timeout=180)
        assert len(jobs()) == len(accepted)
        with sqlite3.connect(service.data_dir / "cutout.db") as conn:
            names = {row[0] for row in conn.execute("SELECT name FROM files")}
            versions = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
            assert names == accepted | plain
            assert versions == len(accepted) * 2 + len(plain)
            referenced = {row[0] for row in conn.execute("SELECT blob FROM versions")}
        blobs = {p.name for p in (service.data_dir / "blobs").rglob("*") if p.is_file()}
        assert blobs == referenced  # every blob belongs to an accepted upload or cut-out, and each is there
        print(
            f"\nload: {CLIENTS} clients, {EXTENSION_UPLOADS} remove-bg uploads ({len(accepted)} accepted, "
            f"{len(refused)} answered 429), {PLAIN_UPLOADS} plain uploads and {READS} reads all 200, "
            f"0 lost, {took:.1f} s"
        )
    finally:
        service.stop()


def test_a_refused_upload_keeps_the_blob_of_an_accepted_twin(tmp_path: Path) -> None:
    """Identical bytes uploaded at once, one accepted and one refused with 429: the accepted file keeps its blob.

    The blobs are content-addressed, so both uploads store the same blob; the refused one cleans up
    what nobody references, which must not include what its twin is recording at that moment.
    """
    import asyncio

    from service.blobs import BlobStore
    from service.db import Database
    from service.dialects import imagekit
    from service.errors import TooManyRequests
    from service.library import ExtensionRequest, Library, NewFile
    from service.webhooks import Webhooks

    from ..conftest import image_bytes, make_settings

    async def run() -> list[str]:
        settings = make_settings(tmp_path, max_queue=1)
        db = Database(tmp_path / "cutout.db")
        library = Library(settings, db, BlobStore(tmp_path / "blobs"),
                          Webhooks(settings, db, {"imagekit": imagekit.webhook_format(settings.base_url)}))  # fmt: skip
        remove_bg = [ExtensionRequest("remove-bg", plain_cutout())]
        await library.upload(NewFile(data=image_bytes((10, 10)), file_name="fill.png"), remove_bg)  # the queue is full
        lost = []
        for i in range(100):
            data = image_bytes((20 + i, 20))
            accepted, refused = await asyncio.gather(
                library.upload(NewFile(data=data, file_name=f"a{i}.png")),
                library.upload(NewFile(data=data, file_name=f"b{i}.png"), remove_bg),
                return_exceptions=True,
            )
            assert isinstance(refused, TooManyRequests), refused
            file, _ = accepted  # type: ignore[misc]
            if not library.blobs.exists(file.version.blob):
                lost.append(file.name)
        db.close()
        return lost

    assert asyncio.run(run()) == []
