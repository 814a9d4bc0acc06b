"""kill -9 during large uploads leaves blobs nothing refers to (and half-written temp files); a restart
sweeps them once past the grace period, and every file's bytes are still there.

A real `python -m service` receives several concurrent multi-MB uploads, each with bytes of its own, and is
killed with SIGKILL mid-flight. Rounds repeat (at seeded random moments) until a kill has left at least one
orphan behind, so the test always exercises the sweep; then the service restarts with a one-second grace.
"""

from __future__ import annotations

import io
import random
import sqlite3
import struct
import threading
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from ..conftest import ServiceProcess, wait_for

SEED = 12
UPLOADERS = 6
MAX_ROUNDS = 10


def noise_png(seed: int, side: int = 1400) -> bytes:
    """About 6 MB of incompressible pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()


def with_text(png: bytes, text: str) -> bytes:
    """The same image with a tEXt chunk before IEND: new bytes (a new blob) without encoding again."""
    body = b"tEXt" + b"n\x00" + text.encode()
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return png[:-12] + chunk + png[-12:]


def blob_files(data_dir: Path) -> tuple[set[str], list[Path]]:
    """(blob names, temp files) in the blob folder."""
    files = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    return {p.name for p in files if not p.name.startswith(".tmp-")}, [p for p in files if p.name.startswith(".tmp-")]


def referenced(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "cutout.db") as conn:
        rows = conn.execute("SELECT blob, thumb_blob FROM versions").fetchall()
    return {b for row in rows for b in row if b}


def current_blobs(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "cutout.db") as conn:
        return {row[0] for row in conn.execute("SELECT v.blob FROM files f JOIN versions v ON v.id = f.current_version")}


def test_kill9_during_large_uploads_leaves_no_orphan_after_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    rng = random.Random(SEED)
    images = [noise_png(seed) for seed in range(UPLOADERS)]
    counter = iter(range(10**9))
    orphans_seen = temps_seen = 0
    for round_ in range(MAX_ROUNDS):  # noqa: B007 - reported after the loop
        service = ServiceProcess(data_dir).start()
        stop = threading.Event()

        def upload(image: bytes) -> None:
            with httpx.Client(base_url=service.url, auth=service.auth, timeout=60) as client:
                while not stop.is_set():
                    data = with_text(image, f"upload {next(counter)}")
                    try:
                        client.post("/api/v1/files/upload", files={"file": ("n.png", data)}, data={"fileName": "n.png"})
                    except httpx.TransportError:
                        return  # killed

        threads = [threading.Thread(target=upload, args=(image,)) for image in images]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(1.0, 3.0))
        service.kill()
        stop.set()
        for thread in threads:
            thread.join()
        names, temps = blob_files(data_dir)
        orphans_seen += len(names - referenced(data_dir))
        temps_seen += len(temps)
        assert current_blobs(data_dir) <= names  # a row is committed only after its blob
        if orphans_seen or temps_seen:
            break
    assert orphans_seen or temps_seen, f"no kill in {MAX_ROUNDS} rounds left an orphan; the sweep went untested"

    time.sleep(1.5)  # past the restart's grace period
    service = ServiceProcess(data_dir, CUTOUT_ORPHAN_GRACE_SECONDS="1").start()
    try:

        def swept() -> bool:
            names, temps = blob_files(data_dir)
            return not temps and names == referenced(data_dir)

        wait_for(swept, timeout=30)
        assert current_blobs(data_dir) <= blob_files(data_dir)[0]  # every file's bytes are still there
        with sqlite3.connect(data_dir / "cutout.db") as conn:
            paths = [row[0] for row in conn.execute("SELECT path FROM files LIMIT 3")]
        for path in paths:
            assert httpx.get(f"{service.url}/media{path}", timeout=30).status_code == 200
        print(f"\nkill -9 rounds: {round_ + 1}, orphans left by the kill: {orphans_seen}, temp files: {temps_seen}")
    finally:
        service.stop()
