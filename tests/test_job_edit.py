"""Jobs store the parsed edit; rows queued by an older version are upgraded in place and still run."""

from __future__ import annotations

import json
import sqlite3

import sqlite_utils

from service import engine
from service.db import Database, migrations

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
        db.conn.execute(
            """INSERT INTO jobs (id, file_id, source_version, extension, options, dialect, status, run_after,
                   created_at, updated_at)
               VALUES ('j2', 'f1', 'v1', 'remove-bg', ?, 'imagekit', 'queued', 0, 't', 't')""",
            [json.dumps(engine.edit_to_json(edit))],
        )  # fmt: skip
        job = db.jobs.get("j2")
        assert job is not None and job.options["v"] == 1
        assert engine.edit_from_json(job.options) == edit
    finally:
        db.close()
