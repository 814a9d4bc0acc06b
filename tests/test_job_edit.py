"""Jobs store the parsed edit; rows queued by an older version are upgraded in place and still run."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import sqlite_utils

from service import engine
from service.db import Database, migrations

from .conftest import CornerSegmenter, free_port, image_bytes, make_settings, run_server

RAW = {"bgColor": "81d4fa", "crop": "true", "format": "jpg"}


def test_m007_wraps_queued_raw_options_as_version_0(tmp_path):
    path = tmp_path / "library.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m007_job_edit")
    old.conn.execute(
        """INSERT INTO jobs (id, file_id, source_version, extension, options, dialect, status, run_after,
               created_at, updated_at) VALUES ('j1', 'f1', 'v1', 'remove-bg', ?, 'imagekit', 'queued', 0, 't', 't')""",
        [json.dumps(RAW)],
    )  # fmt: skip
    old.conn.commit()
    old.conn.close()

    db = Database(path)
    try:
        job = db.jobs.get("j1")
        assert job is not None and job.options == {"v": 0, "remove_bg": RAW}
        assert engine.edit_from_json(job.options) == engine.remove_bg_edit(RAW)
    finally:
        db.close()


def test_new_jobs_hold_the_edit_json_a_dialect_parsed(tmp_path):
    db = Database(tmp_path / "library.db")
    try:
        edit = engine.remove_bg_edit(RAW)
        asyncio.run(db.write(lambda tx: tx.conn.execute(
            """INSERT INTO jobs (id, file_id, source_version, extension, options, dialect, status, run_after,
                   created_at, updated_at)
               VALUES ('j2', 'f1', 'v1', 'remove-bg', ?, 'imagekit', 'queued', 0, 't', 't')""",
            [json.dumps(engine.edit_to_json(edit))],
        )))  # fmt: skip
        job = db.jobs.get("j2")
        assert job is not None and job.options["v"] == 1
        assert engine.edit_from_json(job.options) == edit
    finally:
        db.close()


def test_a_job_queued_before_the_upgrade_runs_after_it(tmp_path):
    """A raw-options row left in the queue by the older version is upgraded at start and cut out as before."""
    settings = make_settings(tmp_path / "data")
    first = run_server(settings, CornerSegmenter())
    server = next(first)
    source = image_bytes((80, 60), color=(40, 90, 200))
    with server.http() as http:
        uploaded = http.post(
            "/api/v1/files/upload", auth=server.auth(), files={"file": ("a.png", source)}, data={"fileName": "a.png"}
        ).json()
    next(first, None)

    # What the older version left behind: a queued job with raw options, and no m007 yet.
    with sqlite3.connect(server.data_dir / "cutout.db") as conn:
        [version] = conn.execute("SELECT current_version FROM files WHERE id = ?", [uploaded["fileId"]]).fetchone()
        conn.execute(
            """INSERT INTO jobs (id, file_id, source_version, extension, options, dialect, status, run_after,
                   created_at, updated_at)
               VALUES ('old', ?, ?, 'remove-bg', ?, 'imagekit', 'queued', 0, '2026-01-01T00:00:00Z',
                   '2026-01-01T00:00:00Z')""",
            [uploaded["fileId"], version, json.dumps(RAW)],
        )  # fmt: skip
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_job_edit'")
    conn.close()

    second = run_server(settings.with_changes(port=free_port()), CornerSegmenter())
    server = next(second)
    try:
        [job] = server.wait_jobs_done()
        assert job["status"] == "succeeded", job
        assert json.loads(job["options"]) == {"v": 0, "remove_bg": RAW}
        with server.http() as http:
            details = http.get(f"/v1/files/{uploaded['fileId']}/details", auth=server.auth()).json()
            result = http.get(details["url"]).content
        expected = engine.run(engine.remove_bg_edit(RAW), source, segmenter=CornerSegmenter())
        assert (details["mime"], result) == ("image/jpeg", expected.data)
    finally:
        next(second, None)
