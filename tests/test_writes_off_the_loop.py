"""Every write of the library runs on the store's writer thread: the event loop never holds a write
transaction, so it keeps answering while a write is slow or waits for the lock."""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import service.db
from service.app import open_library
from service.db import Database, Statements
from service.dialects.uploadcare.upload import SESSION_SECONDS
from service.library import ExtensionRequest, NewFile

from .conftest import RunningServer, image_bytes, make_settings, photo_bytes, plain_cutout, wait_for
from .test_uploadcare_sdk import close_clients, sdk, write  # noqa: F401 (close_clients: autouse)

DAY = 24 * 3600
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|BEGIN IMMEDIATE)\b", re.IGNORECASE)


def test_the_loop_keeps_ticking_while_a_write_holds_the_writer(tmp_path: Path) -> None:
    """A write held inside its transaction stalls the uploads queued behind it, never the loop."""
    library = open_library(make_settings(tmp_path), tmp_path)
    held, release = threading.Event(), threading.Event()

    def slow(tx: Statements) -> None:  # a slow write: it holds the write lock until the test lets it go
        tx.conn.execute("INSERT INTO upload_tokens (token, expire) VALUES ('slow', 0)")
        held.set()
        assert release.wait(10)

    async def main() -> None:
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        holding = asyncio.ensure_future(library.db.write(slow))
        await asyncio.to_thread(held.wait, 10)
        new = NewFile(data=image_bytes(), file_name="a.png")
        upload = asyncio.create_task(library.upload(new, [ExtensionRequest("remove-bg", plain_cutout())]))
        started = len(ticks)
        await asyncio.sleep(0.5)
        assert not upload.done()  # its write is queued behind the held one
        during = ticks[started:]
        assert len(during) >= 20, len(during)  # ~50 at 10 ms: the loop ran all along
        assert max(b - a for a, b in itertools.pairwise(during)) < 0.25
        assert library.db.count_by_upload(removed=False, stored=None) == 0  # and reads answer meanwhile
        release.set()
        await holding
        file, [job] = await upload
        assert library.get(file.id).name == file.name and library.db.jobs.get(job.id) is not None
        ticking.cancel()

    asyncio.run(main())
    library.db.close()


def test_no_write_runs_on_the_loop_and_the_synchronous_transaction_is_gone(
    monkeypatch: pytest.MonkeyPatch, make_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    """Every statement that writes, from requests of both dialects, the runner and its webhooks, runs on
    the writer thread; the Database's own connection (the loop's) refuses writes outright."""
    assert not hasattr(Database, "transaction")
    ran: list[tuple[str, str]] = []
    connect = service.db._connect

    def traced(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
        conn = connect(path, readonly=readonly)
        conn.set_trace_callback(lambda sql: ran.append((threading.current_thread().name, sql)))
        return conn

    monkeypatch.setattr(service.db, "_connect", traced)
    server = make_server()
    ran.clear()  # the migrations at start-up, before anything is served, may run where the app starts
    auth = server.auth()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        made = http.post("/api/v1/files/upload", auth=auth, files={"file": ("a.png", image_bytes())},
                         data={"fileName": "a.png", "useUniqueFileName": "false"}).json()  # fmt: skip
        http.post("/api/v1/files/upload", auth=auth, files={"file": ("a.png", image_bytes(color=(1, 2, 3)))},
                  data={"fileName": "a.png", "useUniqueFileName": "false"}).raise_for_status()  # fmt: skip
        file_id, first = made["fileId"], made["versionInfo"]["id"]
        http.patch(f"/v1/files/{file_id}/details", auth=auth,
                   json={"tags": ["t"], "extensions": [{"name": "remove-bg"}]}).raise_for_status()  # fmt: skip
        wait_for(lambda: len(http.get(f"/v1/files/{file_id}/versions", auth=auth).json()) == 3)
        http.put(f"/v1/files/{file_id}/versions/{first}/restore", auth=auth).raise_for_status()
        second = [v["versionInfo"]["id"] for v in http.get(f"/v1/files/{file_id}/versions", auth=auth).json()][1]
        assert http.delete(f"/v1/files/{file_id}/versions/{second}", auth=auth).status_code == 204
    client = sdk(server)
    with open(write(tmp_path, "cat.png", photo_bytes("chelsea.png")), "rb") as fh:
        uploaded = client.upload(fh, store=False)
    uploaded.store()
    uploaded.delete()

    writes = [(thread, sql) for thread, sql in ran if WRITE.match(sql)]
    for table in ("files", "versions", "jobs", "removed_files"):
        assert any(re.search(rf"INSERT (OR \w+ )?INTO {table}\b", sql) for _, sql in writes), table
    assert {thread for thread, _ in writes} == {"cutout-db-writer"}, [w for w in writes if w[0] != "cutout-db-writer"]

    db = Database(tmp_path / "again.db")
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.use_upload_token("t", 0, 0)  # a statement method on the Database itself: the loop's connection
    finally:
        db.close()


def test_what_a_sweep_removes_is_decided_inside_its_write(tmp_path: Path) -> None:
    """A file stored, or a multipart part received, by a write queued before the sweep's is spared: the
    sweep picks its rows in its own transaction, not before it waits for the writer."""
    library = open_library(make_settings(tmp_path), tmp_path)
    session = "6a1f0c2e-0000-4000-8000-000000000000"
    held, release = threading.Event(), threading.Event()

    async def main() -> None:
        kept, _ = await library.upload(NewFile(data=image_bytes(), file_name="kept.png", stored=False))
        await library.open_chunked(session, {"size": 3}, 1, max_open=10, open_seconds=DAY)
        holding = asyncio.ensure_future(library.db.write(lambda tx: (held.set(), release.wait(10))))
        await asyncio.to_thread(held.wait, 10)
        storing = asyncio.create_task(library.store(kept.uuid))
        part = asyncio.create_task(library.put_chunk(session, 0, b"abc"))
        await asyncio.sleep(0.2)  # both are queued behind the held write, with their blob already put
        expiring = asyncio.create_task(library.expire_unstored(now=time.time() + DAY + 60))
        sweeping = asyncio.create_task(library.sweep_chunked(SESSION_SECONDS, now=time.time() + SESSION_SECONDS))
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(holding, storing, part)
        assert await expiring == 0 and await sweeping == 0
        assert library.get_by_uuid(kept.uuid).stored_at is not None
        assert library.chunked(session) is not None

    asyncio.run(main())
    library.db.close()


def test_an_upload_cancelled_while_its_write_waits_keeps_its_blob(tmp_path: Path) -> None:
    """A write goes on when its caller is cancelled (a runner stopping mid-import): the file it records
    must find its bytes, so the blob stays pinned until that write has ended."""
    library = open_library(make_settings(tmp_path), tmp_path)
    held, release = threading.Event(), threading.Event()

    async def main() -> None:
        holding = asyncio.ensure_future(library.db.write(lambda tx: (held.set(), release.wait(10))))
        await asyncio.to_thread(held.wait, 10)
        upload = asyncio.create_task(library.upload(NewFile(data=image_bytes(), file_name="a.png")))
        while not any(library.blobs.older_than(time.time() + 60)):  # until its blob is put
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # and its write queued behind the held one
        upload.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upload
        release.set()
        await holding
        while not (files := library.db.list_by_upload(removed=False, stored=None, since=None, descending=False,
                                                      limit=1, offset=0)):  # fmt: skip
            await asyncio.sleep(0.01)
        assert await library.read(files[0].version) == image_bytes()

    asyncio.run(main())
    library.db.close()
