"""One queue: a job's kind and result target are data, the library wakes the runner after commit, and an
import from a URL is a job like an edit, resumed after a restart."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from service.app import open_library
from service.db import Database, migrations
from service.egress import Egress
from service.jobs import Runner
from service.library import ExtensionRequest, Library, NewFile
from service.metrics import Metrics
from service.models import JobKind, JobStatus, ResultTo

from .conftest import CornerSegmenter, image_bytes, make_settings, plain_cutout, wait_for
from .receiver import Origin


def library_at(data_dir: Path, **overrides: object) -> Library:
    return open_library(make_settings(data_dir, **overrides), data_dir)


def runner_for(library: Library) -> Runner:
    return Runner(library, Egress(library.settings.egress_allow), library.settings, CornerSegmenter(), Metrics())


async def finished(library: Library, job_id: str, timeout: float = 20.0) -> float:
    """Seconds until the job ends."""
    started = time.monotonic()
    while (job := library.db.jobs.get(job_id)) is None or not job.status.final:
        assert time.monotonic() - started < timeout, job
        await asyncio.sleep(0.005)
    return time.monotonic() - started


def test_the_result_target_is_stored_and_decides_where_the_result_goes(tmp_path: Path) -> None:
    library = library_at(tmp_path)
    source, [as_version] = asyncio.run(library.upload(
        NewFile(data=image_bytes(), file_name="a.png"), [ExtensionRequest("remove-bg", plain_cutout(), result_to=ResultTo.VERSION)]
    ))  # fmt: skip
    # The same dialect asking for a new file gets one: the target, not the dialect's name, decides.
    addon = ExtensionRequest("remove-bg", plain_cutout(), result_to=ResultTo.FILE)
    as_file = asyncio.run(library.run_addon(source.uuid, addon))
    rows = {j.id: j for j in (library.db.jobs.get(as_version.id), library.db.jobs.get(as_file.id)) if j}
    assert [(j.kind, j.result_to, j.dialect) for j in rows.values()] == [
        (JobKind.EDIT, ResultTo.VERSION, "imagekit"), (JobKind.EDIT, ResultTo.FILE, "imagekit"),
    ]  # fmt: skip

    async def run() -> None:
        runner = runner_for(library)
        runner.start()
        await runner.join()
        await runner.stop()

    asyncio.run(run())
    _, versions = library.versions(source.id)
    assert len(versions) == 2  # the version target added a version, the file target did not
    made = library.db.jobs.get(as_file.id)
    assert made is not None and made.status == JobStatus.SUCCEEDED and made.result_file not in (None, source.id)
    assert library.db.count_by_upload(removed=False, stored=None) == 2


def test_a_conversion_target_fails_for_good_until_conversions_are_stored(tmp_path: Path) -> None:
    library = library_at(tmp_path)
    ext = ExtensionRequest("remove-bg", plain_cutout(), result_to=ResultTo.CONVERSION, conversion_name="cutout")
    source, [job] = asyncio.run(library.upload(NewFile(data=image_bytes(), file_name="a.png"), [ext]))
    assert library.db.jobs.get(job.id).conversion_name == "cutout"  # type: ignore[union-attr]

    async def run() -> None:
        runner = runner_for(library)
        runner.start()
        await finished(library, job.id)
        await runner.stop()

    asyncio.run(run())
    failed = library.db.jobs.get(job.id)
    assert failed is not None and failed.status == JobStatus.FAILED and failed.error_reason == "unsupported_result"
    assert failed.attempts == 1 and len(library.versions(source.id)[1]) == 1


def test_a_job_queued_through_the_library_starts_at_once(tmp_path: Path) -> None:
    library = library_at(tmp_path)

    async def run() -> float:
        runner = runner_for(library)
        runner.start()
        await asyncio.sleep(0.2)  # the runner found nothing and waits for its next poll (a second)
        new = NewFile(data=image_bytes(), file_name="a.png")
        _, [job] = await library.upload(new, [ExtensionRequest("remove-bg", plain_cutout())])
        took = await finished(library, job.id)
        await runner.stop()
        return took

    assert asyncio.run(run()) < 0.5


def test_an_import_from_a_url_survives_a_restart(tmp_path: Path) -> None:
    body = image_bytes((90, 60))
    origin = Origin(body)
    try:
        library = library_at(tmp_path, egress_allow=("127.0.0.0/8",))
        new = NewFile(data=b"", file_name="red.png", original_filename="red.png", custom_metadata={"from": "url"})
        job_id = "5eed0000-0000-4000-8000-0000000000a1"
        job = asyncio.run(library.enqueue_import(f"{origin.url}/shop/red.png", new, job_id, dialect="uploadcare"))
        # its lease already ran out
        claimed = asyncio.run(library.claim_job("a-runner-that-died", lease=-1, kind=JobKind.IMPORT))
        assert claimed is not None and claimed.id == job.id and claimed.status == JobStatus.RUNNING
        library.db.close()

        again = library_at(tmp_path, egress_allow=("127.0.0.0/8",))  # the restart: a new process over the data dir

        async def run() -> None:
            runner = runner_for(again)
            runner.start()
            await finished(again, job.id)
            await runner.stop()

        asyncio.run(run())
        done = again.import_job(job.id)
        assert done is not None and done.status == JobStatus.SUCCEEDED and done.attempts == 2
        assert done.progress == {"done": len(body), "total": len(body)}
        _, planned = again.import_request(done)
        file = again.get_by_uuid(planned.uuid or "")
        assert file.id == done.result_file and file.custom_metadata == {"from": "url"}
        assert origin.hits == ["/shop/red.png"]
    finally:
        origin.close()


def test_url_uploads_and_addon_jobs_of_an_older_database_move_into_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "cutout.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m008_job_kinds")
    now = time.time()
    fields = {"file_name": "a.png", "tags": None, "uuid": "5eed0000-0000-4000-8000-0000000000b1"}
    old.conn.executescript(f"""
        INSERT INTO url_uploads VALUES ('waiting', 'http://example.com/a.png', '{json.dumps(fields)}',
                                        '{{"status": "progress", "done": 0, "total": null}}', {now}, NULL);
        INSERT INTO url_uploads VALUES ('refused', 'http://example.com/b.png', '{json.dumps(fields)}',
            '{{"status": "error", "error": "no", "error_code": "DownloadFileError"}}', {now - 10}, {now});
        INSERT INTO jobs (id, file_id, source_version, extension, options, dialect, status, run_after, created_at,
                          updated_at)
        VALUES ('addon', 'f', 'v', 'remove-bg', '{{}}', 'uploadcare', 'queued', 0, 'x', 'x'),
               ('edit', 'f', 'v', 'remove-bg', '{{}}', 'imagekit', 'queued', 0, 'x', 'x');
    """)
    old.conn.close()

    db = Database(path)
    assert [(j.kind, j.result_to) for j in map(db.jobs.get, ["addon", "edit"]) if j] == [
        (JobKind.EDIT, ResultTo.FILE), (JobKind.EDIT, ResultTo.VERSION),
    ]  # fmt: skip
    waiting, refused = db.jobs.get("waiting"), db.jobs.get("refused")
    assert waiting is not None and waiting.kind == JobKind.IMPORT and waiting.status == JobStatus.QUEUED
    assert waiting.options == {"source_url": "http://example.com/a.png", "new_file": fields}
    assert refused is not None and refused.status == JobStatus.FAILED
    assert (refused.error_reason, refused.error_message) == ("DownloadFileError", "no")
    assert not db.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'url_uploads'").fetchone()
    db.close()


def test_an_imports_failure_is_its_status_and_announces_nothing(tmp_path: Path) -> None:
    library = library_at(tmp_path)  # no egress allowed: the fetch is refused
    job = asyncio.run(library.enqueue_import("http://127.0.0.1:9/a.png", NewFile(data=b"", file_name="a.png"), "t",
                                             dialect="uploadcare"))  # fmt: skip

    async def run() -> None:
        runner = runner_for(library)
        runner.start()
        await finished(library, job.id)
        await runner.stop()

    asyncio.run(run())
    failed = library.import_job(job.id)
    assert failed is not None and failed.status == JobStatus.FAILED and failed.error_reason == "download_failed"
    assert library.db.webhooks.list_deliveries() == []


def test_an_import_that_fails_says_why_in_uploadcares_status(make_server) -> None:  # type: ignore[no-untyped-def]
    not_an_image = Origin(b"plain text, not an image")
    gone = Origin(b"")
    gone.close()  # nothing listens there any more: the fetch fails
    server = make_server(egress_allow=("127.0.0.0/8",))
    form = {"pub_key": server.settings.uploadcare_public_key}
    try:
        with server.http() as http:
            tokens = [
                http.post("/from_url/", data={**form, "source_url": f"{origin.url}/a.png"}).json()["token"]
                for origin in (not_an_image, gone)
            ]

            def statuses() -> list[dict[str, object]] | None:
                found = [http.get("/from_url/status/", params={"token": t}).json() for t in tokens]
                return found if all(s["status"] == "error" for s in found) else None

            rejected, unreachable = wait_for(statuses)  # type: ignore[misc]
    finally:
        not_an_image.close()
    assert rejected["error_code"] == "FileValidationError" and set(rejected) == {"status", "error", "error_code"}
    assert rejected["error"].startswith("Your request contains invalid file parameter")
    assert unreachable["error_code"] == "DownloadFileError"
    assert unreachable["error"].startswith("The file could not be fetched: ") and unreachable["error"].endswith(".")
    assert server.file_count() == 0 and server.jobs() and all(j["kind"] == "import" for j in server.jobs())


def test_the_old_multipart_folder_goes_at_start(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    left = tmp_path / "data0" / "multipart" / "6a1f0c2e-0000-4000-8000-000000000000"
    left.mkdir(parents=True)
    (left / "0.part").write_bytes(b"a part of an upload begun before the parts were blobs")
    server = make_server()
    assert server.data_dir == tmp_path / "data0" and not (server.data_dir / "multipart").exists()
