"""Blobs nothing refers to and abandoned temp files are swept at start-up, once older than the grace period."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from service.blobs import BlobStore

from .conftest import CornerSegmenter, image_bytes, make_settings, run_server, wait_for


def test_start_up_sweeps_orphans_past_the_grace_period_and_keeps_the_rest(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir)  # the default grace period: an hour
    first = run_server(settings, CornerSegmenter())
    server = next(first)
    response = httpx.post(
        f"{server.url}/api/v1/files/upload", auth=server.auth(),
        files={"file": ("kept.png", image_bytes())}, data={"fileName": "kept.png", "useUniqueFileName": "false"},
    )  # fmt: skip
    assert response.status_code == 200
    assert httpx.get(f"{server.url}/media/kept.png?tr=n-ik_ml_thumbnail").status_code == 200
    next(first, None)

    # What a kill -9 leaves: blobs written but never recorded, and a half-written temp file.
    blobs = BlobStore(data_dir / "blobs")
    two_hours_ago = time.time() - 7200
    old_orphan = blobs.path(blobs.put(image_bytes(color=(1, 2, 3))))
    old_temp = old_orphan.parent / ".tmp-abc123"
    old_temp.write_bytes(b"half a blob")
    young_orphan = blobs.path(blobs.put(image_bytes(color=(4, 5, 6))))  # an upload still in flight, say
    for path in (old_orphan, old_temp):
        os.utime(path, (two_hours_ago, two_hours_ago))
    kept = {p for p in (data_dir / "blobs").rglob("*") if p.is_file()} - {old_orphan, old_temp, young_orphan}
    assert len(kept) == 2  # the upload and its preview
    for path in kept:  # referenced blobs are kept however old they are
        os.utime(path, (two_hours_ago, two_hours_ago))

    second = run_server(settings, CornerSegmenter())
    server = next(second)
    try:
        wait_for(lambda: not old_orphan.exists() and not old_temp.exists())
        assert young_orphan.exists()
        assert all(path.exists() for path in kept)
        assert httpx.get(f"{server.url}/media/kept.png").status_code == 200
        assert httpx.get(f"{server.url}/media/kept.png?tr=n-ik_ml_thumbnail").status_code == 200
    finally:
        next(second, None)


def test_bytes_uploaded_again_are_not_swept_as_orphans(tmp_path: Path) -> None:
    """A sweep that found a blob unreferenced must not remove it once an upload of the same bytes took it up."""
    blobs = BlobStore(tmp_path / "blobs")
    data = image_bytes(color=(7, 8, 9))
    path = blobs.path(blobs.put(data))
    blobs.unpin(path.name)
    os.utime(path, (0, 0))
    cutoff = time.time() - 60
    [found] = list(blobs.older_than(cutoff))  # the sweep finds it, and then the same bytes are uploaded
    blobs.put(data)
    assert blobs.remove_stale([found], cutoff) == 0  # pinned by the upload in flight
    blobs.unpin(path.name)
    assert blobs.remove_stale([found], cutoff) == 0  # recorded now, and written again after the cutoff
    assert path.exists()
