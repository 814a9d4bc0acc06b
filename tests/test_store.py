"""The metadata write seam: one writer thread, reads off the loop, wake-ups after COMMIT, durability."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from service.blobs import BlobStore
from service.db import Database, Statements
from service.store import Blobs, MetaStore

from .conftest import ROOT


def count(tx: Statements) -> int:
    return tx.conn.execute("SELECT count(*) FROM upload_tokens").fetchone()[0]


def add_token(token: str):  # type: ignore[no-untyped-def]
    def add(tx: Statements) -> int:
        tx.conn.execute("INSERT INTO upload_tokens (token, expire) VALUES (?, 0)", [token])
        return count(tx)

    return add


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(tmp_path / "cutout.db")
    yield database
    database.close()


def test_database_and_blob_store_implement_the_protocols(tmp_path: Path, db: Database) -> None:
    meta: MetaStore = db  # what a type checker checks; the isinstance checks below see the same at run time
    blobs: Blobs = BlobStore(tmp_path / "blobs")
    assert isinstance(meta, MetaStore) and isinstance(blobs, Blobs)
    sha = blobs.put(b"bytes")
    with blobs.open(sha) as stream:
        assert stream.read() == b"bytes"
    assert blobs.url(sha) is None  # local blobs are streamed by the service


def test_a_write_returns_what_its_function_returns_and_commits_first(db: Database) -> None:
    async def main() -> int:
        return await db.write(add_token("a"))

    assert asyncio.run(main()) == 1
    with sqlite3.connect(db.path) as other:  # another connection sees it: it was committed
        assert other.execute("SELECT token FROM upload_tokens").fetchall() == [("a",)]


def test_a_write_that_raises_is_rolled_back_and_its_caller_gets_the_exception(db: Database) -> None:
    class Refused(Exception):
        pass

    def half_then_fail(tx: Statements) -> None:
        add_token("half")(tx)
        raise Refused("no")

    async def main() -> None:
        with pytest.raises(Refused):
            await db.write(half_then_fail)
        assert await db.write(add_token("after")) == 1  # the writer goes on, the failed one left nothing

    asyncio.run(main())
    assert db.get_file("x") is None and count(db) == 1


def test_writes_from_many_tasks_run_one_at_a_time_on_one_thread(db: Database) -> None:
    threads: set[str] = set()

    def increment(tx: Statements) -> None:
        threads.add(threading.current_thread().name)
        row = tx.conn.execute("SELECT expire FROM upload_tokens WHERE token = 'n'").fetchone()
        time.sleep(0.001)  # widen the window a lost update would need
        value = (row[0] if row else 0) + 1
        tx.conn.execute("INSERT OR REPLACE INTO upload_tokens (token, expire) VALUES ('n', ?)", [value])

    async def main() -> None:
        await asyncio.gather(*(db.write(increment) for _ in range(60)))

    asyncio.run(main())
    assert threads == {"cutout-db-writer"}
    assert db._one("SELECT expire FROM upload_tokens WHERE token = 'n'")[0] == 60  # type: ignore[index]


def test_the_loop_keeps_running_while_a_slow_write_holds_the_transaction(db: Database) -> None:
    def slow(tx: Statements) -> str:
        add_token("slow")(tx)
        time.sleep(0.3)
        return "done"

    async def main() -> int:
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beating = asyncio.create_task(heartbeat())
        await asyncio.sleep(0)
        assert await db.write(slow) == "done"
        beating.cancel()
        return ticks

    assert asyncio.run(main()) >= 15  # about 30 at 10 ms; a blocked loop would tick at most once


def test_reads_do_not_wait_for_a_slow_write(db: Database) -> None:
    started = threading.Event()

    def slow(tx: Statements) -> None:
        add_token("slow")(tx)
        started.set()
        time.sleep(0.3)

    async def main() -> tuple[int, float]:
        writing = asyncio.ensure_future(db.write(slow))
        await asyncio.to_thread(started.wait, 5)
        began = time.monotonic()
        seen = await db.read(count)  # the snapshot before the write commits
        took = time.monotonic() - began
        await writing
        return seen, took

    seen, took = asyncio.run(main())
    assert seen == 0 and took < 0.2


def test_reads_run_off_the_loop_on_read_only_connections_and_see_committed_writes(db: Database) -> None:
    async def main() -> None:
        await db.write(add_token("r"))
        assert await db.read(count) == 1
        name = await db.read(lambda tx: threading.current_thread().name)
        assert name.startswith("cutout-db-reader")
        with pytest.raises(sqlite3.OperationalError):
            await db.read(add_token("no"))  # readers cannot write

    asyncio.run(main())


def test_listeners_wake_after_the_commit_and_not_for_a_rollback(db: Database) -> None:
    async def main() -> None:
        event = db.listen("things")
        seen_inside: list[bool] = []

        def notify_then(fail: bool):  # type: ignore[no-untyped-def]
            def fn(tx: Statements) -> None:
                tx.notify("things")
                time.sleep(0.05)  # the loop runs meanwhile: a wake-up before COMMIT would show here
                seen_inside.append(event.is_set())
                if fail:
                    raise ValueError("rolled back")

            return fn

        with pytest.raises(ValueError):
            await db.write(notify_then(fail=True))
        await asyncio.sleep(0.01)
        assert not event.is_set()
        await db.write(notify_then(fail=False))
        assert event.is_set() and seen_inside == [False, False]

    asyncio.run(main())


def test_close_finishes_queued_writes_and_joins_the_writer(tmp_path: Path) -> None:
    db = Database(tmp_path / "cutout.db")

    async def main() -> list[int]:
        writes = [asyncio.ensure_future(db.write(add_token(f"t{i}"))) for i in range(20)]
        await asyncio.sleep(0)
        return await asyncio.gather(*writes)

    assert asyncio.run(main()) == list(range(1, 21))
    writer = db._writer._thread
    db.close()
    assert not writer.is_alive()

    async def late() -> None:
        await db.write(add_token("late"))

    with pytest.raises(RuntimeError):
        asyncio.run(late())


def test_a_write_that_returned_survives_kill_9(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys, time
        from pathlib import Path
        from service.db import Database

        db = Database(Path({str(tmp_path / "cutout.db")!r}))

        def add(tx):
            tx.conn.execute("INSERT INTO upload_tokens (token, expire) VALUES ('kept', 1)")

        asyncio.run(db.write(add))
        print("committed", flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"committed"
    finally:
        child.kill()  # SIGKILL: no close, no checkpoint
        child.wait(timeout=20)
        child.stdout.close()  # type: ignore[union-attr]
    db = Database(tmp_path / "cutout.db")
    try:
        assert db._one("SELECT expire FROM upload_tokens WHERE token = 'kept'")[0] == 1  # type: ignore[index]
    finally:
        db.close()
