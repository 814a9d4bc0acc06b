"""Every SQL statement of the service, its migrations, and the write seam.

`Database.write(fn)` runs `fn` as one BEGIN IMMEDIATE transaction on a single
writer thread with its own connection, and `Database.read(fn)` runs `fn` on a
small pool of reader connections, so the event loop never waits on SQL. The
Database's own statement methods run on a third connection, read-only once the
migrations are applied: short reads the loop may still make itself, and no
write (BEGIN IMMEDIATE and the busy timeout serialise the writer thread with
other processes on the same file).
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .errors import BadRequest
from .models import (
    Attempt,
    Delivery,
    DeliveryState,
    Endpoint,
    File,
    Folder,
    Job,
    JobKind,
    JobStatus,
    ResultTo,
    StorageRecord,
    Task,
    TemporaryResult,
    Version,
)
from .search import MAX_TREE_DEPTH, BoolOp, Compare, Node, too_deep

migrations = Migrations("cutout")


@migrations()
def m001_library(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE files (
            id TEXT PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            folder TEXT NOT NULL,
            path TEXT NOT NULL,
            original_filename TEXT NOT NULL,
            current_version TEXT NOT NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            custom_metadata TEXT NOT NULL DEFAULT '{}',
            custom_coordinates TEXT,
            description TEXT,
            ai_tags TEXT,
            appdata TEXT NOT NULL DEFAULT '{}',
            is_private INTEGER NOT NULL DEFAULT 0,
            is_published INTEGER NOT NULL DEFAULT 1,
            stored_at TEXT,
            removed_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX files_live_path ON files(path) WHERE removed_at IS NULL;
        CREATE INDEX files_folder ON files(folder);
        CREATE INDEX files_created ON files(created_at);
        CREATE TABLE versions (
            id TEXT PRIMARY KEY,
            file_id TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            blob TEXT NOT NULL,
            format TEXT NOT NULL,
            mime TEXT NOT NULL,
            size INTEGER NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            has_alpha INTEGER NOT NULL,
            thumb_blob TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (file_id, number)
        );
        CREATE INDEX versions_blob ON versions(blob);
        CREATE INDEX versions_thumb ON versions(thumb_blob);
        CREATE TABLE folders (
            path TEXT PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE upload_tokens (
            token TEXT PRIMARY KEY,
            expire INTEGER NOT NULL
        );
        """
    )


@migrations()
def m002_jobs(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            file_id TEXT NOT NULL,
            source_version TEXT NOT NULL,
            extension TEXT NOT NULL,
            options TEXT NOT NULL,
            dialect TEXT NOT NULL,
            webhook_url TEXT,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT,
            lease_expires REAL,
            run_after REAL NOT NULL,
            result_version TEXT,
            result_file TEXT,
            error_reason TEXT,
            error_message TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX jobs_ready ON jobs(status, run_after);
        CREATE INDEX jobs_file ON jobs(file_id);
        """
    )


@migrations()
def m003_webhooks(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE webhook_endpoints (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            url TEXT NOT NULL,
            events TEXT NOT NULL DEFAULT '[]',
            secret TEXT NOT NULL,
            format TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            signing_secret TEXT,
            version TEXT NOT NULL DEFAULT '0.7',
            disabled_reason TEXT,
            failing_since REAL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE deliveries (
            id TEXT PRIMARY KEY,
            endpoint_id INTEGER,
            event TEXT NOT NULL,
            url TEXT NOT NULL,
            body BLOB NOT NULL,
            format TEXT NOT NULL,
            file_id TEXT,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_status INTEGER,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at);
        CREATE INDEX deliveries_file ON deliveries(file_id);
        CREATE INDEX deliveries_endpoint ON deliveries(endpoint_id);
        CREATE TABLE delivery_attempts (
            delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            at TEXT NOT NULL,
            status_code INTEGER,
            latency_ms INTEGER NOT NULL,
            response TEXT NOT NULL,
            error TEXT,
            PRIMARY KEY (delivery_id, number)
        );
        """
    )


# A removed file keeps a snapshot of its row and current version (Uploadcare lists
# removed files); the columns mirror _FILE_SELECT so one reader serves both.
_FILE_COLUMNS = (
    "id", "uuid", "name", "folder", "path", "original_filename", "current_version", "tags", "custom_metadata",
    "custom_coordinates", "description", "ai_tags", "appdata", "is_private", "is_published", "stored_at",
    "created_at", "updated_at",
)  # fmt: skip
_VERSION_SNAPSHOT = (
    "id", "number", "blob", "format", "mime", "size", "width", "height", "has_alpha", "thumb_blob", "created_at",
)  # fmt: skip


@migrations()
def m004_uploadcare(db: sqlite_utils.Database) -> None:
    columns = ", ".join([*_FILE_COLUMNS, "removed_at", *(f"v_{c}" for c in _VERSION_SNAPSHOT)])
    db.executescript(
        f"""
        CREATE TABLE removed_files ({columns}, PRIMARY KEY (id));
        CREATE UNIQUE INDEX removed_files_uuid ON removed_files(uuid);
        CREATE INDEX removed_files_created ON removed_files(created_at);
        CREATE INDEX files_unstored ON files(created_at) WHERE stored_at IS NULL;
        """
    )


@migrations()
def m005_url_uploads(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE url_uploads (
            token TEXT PRIMARY KEY,
            source_url TEXT NOT NULL,
            new_file TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            ended_at REAL
        );
        CREATE INDEX url_uploads_ended ON url_uploads(ended_at);
        """
    )


@migrations()
def m006_secret_overlap(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT;
        ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_expires REAL;
        """
    )


@migrations()
def m007_job_edit(db: sqlite_utils.Database) -> None:
    # Jobs now store the parsed edit; rows queued before hold the raw remove.bg options, which
    # engine.edit_from_json reads as version 0 (no schema change).
    db.execute("UPDATE jobs SET options = json_object('v', 0, 'remove_bg', json(options))")


@migrations()
def m008_job_kinds(db: sqlite_utils.Database) -> None:
    """What a job does and where its result goes become data; before them, the dialect decided both."""
    db.executescript(
        """
        ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'edit';
        ALTER TABLE jobs ADD COLUMN result_to TEXT NOT NULL DEFAULT 'version';
        ALTER TABLE jobs ADD COLUMN conversion_name TEXT;
        ALTER TABLE jobs ADD COLUMN progress TEXT;
        UPDATE jobs SET result_to = 'file' WHERE dialect = 'uploadcare';
        CREATE INDEX jobs_kind_ready ON jobs(kind, status, run_after);
        """
    )


@migrations()
def m009_url_imports(db: sqlite_utils.Database) -> None:
    """Uploads from a URL become import jobs: each row moves, with the status it had, and its table goes.

    Its token stays the job id, so a client still polling the status of a moved upload finds it."""
    db.executescript(
        """
        INSERT INTO jobs (id, file_id, source_version, extension, options, dialect, status, attempts, run_after,
                          error_reason, error_message, created_at, updated_at, kind, result_to)
        SELECT token, '', '', 'import', json_object('source_url', source_url, 'new_file', json(new_file)),
               'uploadcare',
               CASE WHEN ended_at IS NULL THEN 'queued'
                    WHEN json_extract(status, '$.status') = 'success' THEN 'succeeded' ELSE 'failed' END,
               0, created_at, json_extract(status, '$.error_code'), json_extract(status, '$.error'),
               strftime('%Y-%m-%dT%H:%M:%fZ', created_at, 'unixepoch'),
               strftime('%Y-%m-%dT%H:%M:%fZ', coalesce(ended_at, created_at), 'unixepoch'), 'import', 'file'
        FROM url_uploads;
        DROP TABLE url_uploads;
        """
    )


@migrations()
def m010_multipart_sessions(db: sqlite_utils.Database) -> None:
    """Multipart uploads under way: what was declared, and the blob of each part received (null until then)."""
    db.executescript(
        """
        CREATE TABLE multipart_sessions (
            uuid TEXT PRIMARY KEY,
            declared TEXT NOT NULL,
            parts TEXT NOT NULL,
            touched_at REAL NOT NULL
        );
        CREATE INDEX multipart_sessions_touched ON multipart_sessions(touched_at);
        """
    )


@migrations()
def m011_delivery_leases(db: sqlite_utils.Database) -> None:
    # A dispatcher leases the deliveries it sends, like a worker its jobs, so several processes can
    # share one outbox; `claimed` numbers the attempts handed out, so none is sent twice.
    db.executescript(
        """
        ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
        ALTER TABLE deliveries ADD COLUMN lease_until REAL;
        ALTER TABLE deliveries ADD COLUMN claimed INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX deliveries_lease ON deliveries(lease_owner) WHERE lease_owner IS NOT NULL;
        """
    )


@migrations()
def m012_storages(db: sqlite_utils.Database) -> None:
    # Storage connectors; `credentials` is the Fernet token of their JSON, never the clear text.
    db.executescript(
        """
        CREATE TABLE storages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            parameters TEXT NOT NULL DEFAULT '{}',
            credentials BLOB,
            created_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m013_tasks(db: sqlite_utils.Database) -> None:
    """Tasks (edits of images from outside the library, one or a batch, numbered) whose items are jobs,
    what each item made, and the results kept for a day behind an unguessable token."""
    db.executescript(
        """
        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            dialect TEXT NOT NULL,
            request TEXT NOT NULL,
            webhook_url TEXT,
            items INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        ALTER TABLE jobs ADD COLUMN result TEXT;
        CREATE TABLE temporary_results (
            token TEXT PRIMARY KEY,
            blob TEXT NOT NULL,
            mime TEXT NOT NULL,
            name TEXT NOT NULL,
            expires_at REAL NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX temporary_results_expiry ON temporary_results(expires_at);
        """
    )


_TOMBSTONE = f"""
    INSERT OR REPLACE INTO removed_files ({", ".join([*_FILE_COLUMNS, "removed_at", *(f"v_{c}" for c in _VERSION_SNAPSHOT)])})
    SELECT {", ".join(f"f.{c}" for c in _FILE_COLUMNS)}, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
           {", ".join(f"v.{c}" for c in _VERSION_SNAPSHOT)}
    FROM files f JOIN versions v ON v.id = f.current_version WHERE f.id = ?
"""


SORTS = {
    "NAME": "f.name",
    "CREATED": "f.created_at",
    "UPDATED": "f.updated_at",
    "HEIGHT": "v.height",
    "WIDTH": "v.width",
    "SIZE": "v.size",
    "RELEVANCE": "f.created_at",
}

_FILE_SELECT = """
    SELECT f.*, v.id AS v_id, v.number AS v_number, v.blob AS v_blob, v.format AS v_format,
           v.mime AS v_mime, v.size AS v_size, v.width AS v_width, v.height AS v_height,
           v.has_alpha AS v_has_alpha, v.thumb_blob AS v_thumb_blob, v.created_at AS v_created_at
    FROM files f JOIN versions v ON v.id = f.current_version
"""


def _version(row: sqlite3.Row, prefix: str = "") -> Version:
    def col(name: str) -> Any:
        return row[prefix + name]

    return Version(
        id=col("id"),
        file_id=row["file_id"] if not prefix else row["id"],
        number=col("number"),
        blob=col("blob"),
        mime=col("mime"),
        size=col("size"),
        width=col("width"),
        height=col("height"),
        has_alpha=bool(col("has_alpha")),
        created_at=col("created_at"),
        thumb_blob=col("thumb_blob"),
    )


def _file(row: sqlite3.Row) -> File:
    return File(
        id=row["id"],
        uuid=row["uuid"],
        name=row["name"],
        folder=row["folder"],
        path=row["path"],
        original_filename=row["original_filename"],
        version=_version(row, "v_"),
        tags=tuple(json.loads(row["tags"])),
        custom_metadata=json.loads(row["custom_metadata"]),
        custom_coordinates=row["custom_coordinates"],
        description=row["description"],
        ai_tags=json.loads(row["ai_tags"]) if row["ai_tags"] is not None else None,
        appdata=json.loads(row["appdata"]),
        is_private=bool(row["is_private"]),
        is_published=bool(row["is_published"]),
        stored_at=row["stored_at"],
        removed_at=row["removed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        file_id=row["file_id"],
        source_version=row["source_version"],
        extension=row["extension"],
        options=json.loads(row["options"]),
        dialect=row["dialect"],
        status=JobStatus(row["status"]),
        attempts=row["attempts"],
        webhook_url=row["webhook_url"],
        lease_owner=row["lease_owner"],
        lease_expires=row["lease_expires"],
        run_after=row["run_after"],
        result_version=row["result_version"],
        result_file=row["result_file"],
        error_reason=row["error_reason"],
        error_message=row["error_message"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        kind=JobKind(row["kind"]),
        result_to=ResultTo(row["result_to"]),
        conversion_name=row["conversion_name"],
        progress=json.loads(row["progress"]) if row["progress"] else None,
        result=json.loads(row["result"]) if row["result"] else None,
    )


def _folder(row: sqlite3.Row) -> Folder:
    return Folder(id=row["id"], path=row["path"], created_at=row["created_at"], updated_at=row["updated_at"])


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


T = TypeVar("T")


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable against a killed process in WAL mode; only power loss can drop the tail.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


class Channels:
    """In-process wake-ups: `listen` hands out events and `fire` sets every one listening on a channel.

    An event is set on the loop that asked for it, whatever thread fires; listeners that are
    dropped are forgotten (weak references)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, weakref.WeakKeyDictionary[asyncio.Event, asyncio.AbstractEventLoop | None]] = {}

    def listen(self, channel: str) -> asyncio.Event:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        event = asyncio.Event()
        with self._lock:
            self._events.setdefault(channel, weakref.WeakKeyDictionary())[event] = loop
        return event

    def fire(self, channel: str) -> None:
        with self._lock:
            listening = list(self._events.get(channel, {}).items())
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for event, loop in listening:
            if loop is None or loop is here:
                event.set()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(event.set)


class Statements:
    """Every statement, bound to one connection: the Database's own (read-only) for synchronous reads, or the
    writer's (or a reader's) inside `Database.write` / `Database.read`, where `fn` gets one of these."""

    def __init__(self, conn: sqlite3.Connection, channels: Channels):
        self.conn = conn
        self.jobs = Jobs(conn)
        self.webhooks = WebhookStore(conn)
        self.multipart = MultipartStore(conn)
        self.tasks = Tasks(conn)
        self.temporary = TemporaryResults(conn)
        self.storages = StorageStore(conn)
        self._channels = channels
        self._pending: set[str] | None = None  # channels to notify at COMMIT; None outside a transaction

    def notify(self, channel: str) -> None:
        """Wake `channel`'s listeners, after the COMMIT when inside a transaction (never for a rollback)."""
        if self._pending is not None:
            self._pending.add(channel)
        else:
            self._channels.fire(channel)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    # files -------------------------------------------------------------

    def get_file(self, file_id: str) -> File | None:
        row = self._one(_FILE_SELECT + " WHERE f.id = ? AND f.removed_at IS NULL", [file_id])
        return _file(row) if row else None

    def get_file_by_path(self, path: str) -> File | None:
        row = self._one(_FILE_SELECT + " WHERE f.path = ? AND f.removed_at IS NULL", [path])
        return _file(row) if row else None

    def insert_file(self, file: File) -> None:
        v = file.version
        self.conn.execute(
            """INSERT INTO files (id, uuid, name, folder, path, original_filename, current_version,
                   tags, custom_metadata, custom_coordinates, description, ai_tags, appdata,
                   is_private, is_published, stored_at, removed_at, created_at, updated_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            [
                file.id, file.uuid, file.name, file.folder, file.path, file.original_filename, v.id,
                json.dumps(list(file.tags)), json.dumps(file.custom_metadata), file.custom_coordinates,
                file.description, json.dumps(file.ai_tags) if file.ai_tags is not None else None,
                json.dumps(file.appdata), int(file.is_private), int(file.is_published),
                file.stored_at, file.removed_at, file.created_at, file.updated_at,
            ],
        )  # fmt: skip
        self.insert_version(v, fmt=_format_of(v.mime))

    def update_file(self, file: File) -> None:
        """Write every mutable column of `file` (its current version must already exist)."""
        self.conn.execute(
            """UPDATE files SET name=?, folder=?, path=?, current_version=?, tags=?, custom_metadata=?,
                   custom_coordinates=?, description=?, ai_tags=?, appdata=?, is_private=?,
                   is_published=?, stored_at=?, removed_at=?, updated_at=?
               WHERE id=?""",
            [
                file.name, file.folder, file.path, file.version.id, json.dumps(list(file.tags)),
                json.dumps(file.custom_metadata), file.custom_coordinates, file.description,
                json.dumps(file.ai_tags) if file.ai_tags is not None else None,
                json.dumps(file.appdata), int(file.is_private), int(file.is_published),
                file.stored_at, file.removed_at, file.updated_at, file.id,
            ],
        )  # fmt: skip

    def delete_file(self, file_id: str) -> None:
        self.conn.execute(_TOMBSTONE, [file_id])
        self.conn.execute("DELETE FROM files WHERE id = ?", [file_id])

    def list_files(
        self, *, folder: str | None, search: Node | None, sort: tuple[str, str], limit: int, skip: int
    ) -> list[File]:
        where, params = _listing_filter(["f.removed_at IS NULL"], folder, search, "v")
        column, direction = SORTS[sort[0]], sort[1]
        sql = f"{_FILE_SELECT} WHERE {where} ORDER BY {column} {direction}, f.rowid {direction} LIMIT ? OFFSET ?"
        return [_file(row) for row in self._all(sql, [*params, limit, skip])]

    def list_old_versions(
        self, *, folder: str | None, search: Node | None, sort: tuple[str, str], limit: int, skip: int
    ) -> list[tuple[File, Version]]:
        """Non-current versions, each with the file it belongs to."""
        base = ["f.removed_at IS NULL", "o.id != f.current_version"]
        where, params = _listing_filter(base, folder, search, "o")
        column, direction = SORTS[sort[0]].replace("v.", "o."), sort[1]
        old = ", ".join(f"o.{c} AS o_{c}" for c in _VERSION_COLUMNS)
        sql = (
            _FILE_SELECT.replace("SELECT f.*,", f"SELECT f.*, {old},").replace(
                "FROM files f", "FROM versions o JOIN files f ON f.id = o.file_id"
            )
            + f" WHERE {where} ORDER BY {column} {direction}, o.rowid {direction} LIMIT ? OFFSET ?"
        )
        return [(_file(row), _version(row, "o_")) for row in self._all(sql, [*params, limit, skip])]

    # files by uuid, and removed files (Uploadcare) -------------------------

    def get_file_by_uuid(self, file_uuid: str) -> File | None:
        row = self._one(_FILE_SELECT + " WHERE f.uuid = ? AND f.removed_at IS NULL", [file_uuid])
        return _file(row) if row else None

    def get_removed_by_uuid(self, file_uuid: str) -> File | None:
        row = self._one("SELECT * FROM removed_files WHERE uuid = ?", [file_uuid])
        return _file(row) if row else None

    def uuid_of(self, file_id: str) -> str | None:
        """The uuid of a file, live or removed."""
        row = self._one(
            "SELECT uuid FROM files WHERE id = ?1 UNION ALL SELECT uuid FROM removed_files WHERE id = ?1", [file_id]
        )
        return row["uuid"] if row else None

    def list_by_upload(
        self, *, removed: bool, stored: bool | None, since: str | None, descending: bool, limit: int, offset: int
    ) -> list[File]:
        """Files (or removed files) in upload order, from `since` on in that order."""
        where = _upload_filter(removed, stored)
        params: list[Any] = []
        direction = "DESC" if descending else "ASC"
        if since is not None:
            where.append(f"f.created_at {'<=' if descending else '>='} ?")
            params.append(since)
        select = "SELECT * FROM removed_files f" if removed else _FILE_SELECT
        sql = f"{select} WHERE {' AND '.join(where)} ORDER BY f.created_at {direction}, f.rowid {direction} LIMIT ? OFFSET ?"
        return [_file(row) for row in self._all(sql, [*params, limit, offset])]

    def count_by_upload(self, *, removed: bool, stored: bool | None) -> int:
        where = _upload_filter(removed, stored)
        table = "removed_files" if removed else "files"
        return self._one(f"SELECT count(*) FROM {table} f WHERE {' AND '.join(where)}")[0]  # type: ignore[index]

    def unstored_before(self, cutoff: str, limit: int = 500) -> list[str]:
        """Ids of files never stored and uploaded before `cutoff`."""
        rows = self._all(
            "SELECT id FROM files WHERE stored_at IS NULL AND created_at < ? AND removed_at IS NULL LIMIT ?",
            [cutoff, limit],
        )
        return [row["id"] for row in rows]

    # versions ----------------------------------------------------------

    def insert_version(self, v: Version, *, fmt: str | None = None) -> None:
        self.conn.execute(
            """INSERT INTO versions (id, file_id, number, blob, format, mime, size, width, height,
                   has_alpha, thumb_blob, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)""",
            [
                v.id, v.file_id, v.number, v.blob, fmt or _format_of(v.mime), v.mime, v.size,
                v.width, v.height, int(v.has_alpha), v.thumb_blob, v.created_at,
            ],
        )  # fmt: skip

    def next_version_number(self, file_id: str) -> int:
        row = self._one("SELECT coalesce(max(number), 0) + 1 FROM versions WHERE file_id = ?", [file_id])
        return row[0]  # type: ignore[index]

    def get_version(self, file_id: str, version_id: str) -> Version | None:
        row = self._one("SELECT * FROM versions WHERE file_id = ? AND id = ?", [file_id, version_id])
        return _version(row) if row else None

    def list_versions(self, file_id: str) -> list[Version]:
        return [_version(r) for r in self._all("SELECT * FROM versions WHERE file_id = ? ORDER BY number", [file_id])]

    def delete_version(self, version_id: str) -> None:
        self.conn.execute("DELETE FROM versions WHERE id = ?", [version_id])

    def set_thumbnail(self, version_id: str, thumb_blob: str) -> bool:
        """False when the version no longer exists."""
        cursor = self.conn.execute("UPDATE versions SET thumb_blob = ? WHERE id = ?", [thumb_blob, version_id])
        return cursor.rowcount > 0

    def blobs_of(self, file_id: str) -> set[str]:
        rows = self._all("SELECT blob, thumb_blob FROM versions WHERE file_id = ?", [file_id])
        return {b for row in rows for b in (row["blob"], row["thumb_blob"]) if b}

    def unreferenced(self, blobs: set[str]) -> set[str]:
        """The subset of `blobs` that no version, no part of an open multipart upload and no temporary result
        refers to any more
        (looked up a few hundred at a time)."""
        shas, used = sorted(blobs), set()
        for start in range(0, len(shas), 400):
            chunk = shas[start : start + 400]
            marks = ",".join("?" * len(chunk))
            rows = self._all(
                f"SELECT blob FROM versions WHERE blob IN ({marks}) "
                f"UNION SELECT thumb_blob FROM versions WHERE thumb_blob IN ({marks}) "
                f"UNION SELECT p.value FROM multipart_sessions s, json_each(s.parts) p WHERE p.value IN ({marks}) "
                f"UNION SELECT blob FROM temporary_results WHERE blob IN ({marks})",
                chunk * 4,
            )
            used |= {row[0] for row in rows}
        return blobs - used

    # folders -----------------------------------------------------------

    def ensure_folders(self, paths: Sequence[str], now: str, new_id: Any) -> None:
        for path in paths:
            self.conn.execute(
                "INSERT OR IGNORE INTO folders (path, id, created_at, updated_at) VALUES (?,?,?,?)",
                [path, new_id(), now, now],
            )

    def list_folders(self, parent: str | None) -> list[Folder]:
        rows = self._all("SELECT * FROM folders ORDER BY path")
        folders = [_folder(r) for r in rows]
        if parent is None:
            return folders
        return [f for f in folders if f.path.startswith(parent) and f.path[len(parent) :].count("/") == 1]

    # client-side upload tokens -----------------------------------------

    def use_upload_token(self, token: str, expire: int, now: int) -> bool:
        """Record a single-use token; False when it was used before."""
        self.conn.execute("DELETE FROM upload_tokens WHERE expire < ?", [now])
        cursor = self.conn.execute("INSERT OR IGNORE INTO upload_tokens (token, expire) VALUES (?, ?)", [token, expire])
        return cursor.rowcount == 1


class Database(Statements):
    """The library's SQLite database (WAL): the `MetaStore` of one data directory."""

    READERS = 2  # reads are short; two threads let one wait on the disk while the other answers

    def __init__(self, path: Path):
        self.path = Path(path)
        conn = _connect(self.path)
        self.db = sqlite_utils.Database(conn)
        migrations.apply(self.db)
        conn.execute("PRAGMA query_only=ON")  # every write goes through `write`, on the writer thread
        super().__init__(conn, Channels())
        self._writer = _Writer(self.path, self._channels)
        self._readers = _Readers(self.path, self._channels, self.READERS)

    def close(self) -> None:
        """Finish the writes already asked for, then close every connection (joins the writer thread)."""
        self._writer.close()
        self._readers.close()
        self.conn.close()

    async def write(self, fn: Callable[[Statements], T]) -> T:
        """Run `fn(tx)` as one BEGIN IMMEDIATE transaction on the writer thread; its result, or its
        exception after a ROLLBACK. The COMMIT is done when this returns. A caller that is cancelled
        meanwhile does not cancel the write: it commits or rolls back all the same."""
        return await self._writer.submit(fn)

    async def read(self, fn: Callable[[Statements], T]) -> T:
        """Run `fn(tx)` on a reader connection, in one snapshot, off the event loop."""
        return await self._readers.submit(fn)

    def listen(self, channel: str) -> asyncio.Event:
        """An event set whenever `channel` is notified (after the notifying transaction commits)."""
        return self._channels.listen(channel)

    async def check_writable(self) -> None:
        """Take the write lock on the writer thread (what /readyz checks)."""
        await self.write(lambda tx: tx.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _probe (x)"))


def _transact(conn: sqlite3.Connection, begin: str, fn: Callable[[Statements], T], tx: Statements) -> T:
    conn.execute(begin)
    try:
        result = fn(tx)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None, channels: Channels,
            pending: Iterable[str]) -> None:  # fmt: skip
    """On the caller's loop: wake the listeners of a committed write, then hand back its outcome."""
    for channel in pending:
        channels.fire(channel)
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _hand_back(loop: asyncio.AbstractEventLoop, *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(_settle, *args)
    except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
        pass


class _Writer:
    """The one thread that writes, with its own connection; writes run one at a time in arrival order."""

    def __init__(self, path: Path, channels: Channels):
        self._channels = channels
        self._conn = _connect(path)
        self._queue: queue.SimpleQueue[tuple[Callable[[Statements], Any], asyncio.AbstractEventLoop,
                                             asyncio.Future[Any]] | None] = queue.SimpleQueue()  # fmt: skip
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="cutout-db-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Statements], T]) -> asyncio.Future[T]:
        if self._closed:
            raise RuntimeError("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, loop, future))
        return future

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, loop, future = item
            tx = Statements(self._conn, self._channels)
            tx._pending = set()
            try:
                result = _transact(self._conn, "BEGIN IMMEDIATE", fn, tx)
            except BaseException as exc:  # noqa: BLE001 - the caller gets it, whatever it is
                _hand_back(loop, future, None, exc, self._channels, ())
            else:
                _hand_back(loop, future, result, None, self._channels, tx._pending)
        self._conn.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)  # after every write already queued
            self._thread.join()


class _Readers:
    """A small pool of threads, each with its own read-only connection."""

    def __init__(self, path: Path, channels: Channels, threads: int):
        self._path, self._channels = path, channels
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cutout-db-reader")

    def _tx(self) -> Statements:
        tx = getattr(self._local, "tx", None)
        if tx is None:
            conn = _connect(self._path, readonly=True)
            with self._lock:
                self._conns.append(conn)
            tx = self._local.tx = Statements(conn, self._channels)
        return tx

    def _run(self, fn: Callable[[Statements], T]) -> T:
        tx = self._tx()
        return _transact(tx.conn, "BEGIN", fn, tx)

    def submit(self, fn: Callable[[Statements], T]) -> asyncio.Future[T]:
        return asyncio.wrap_future(self._pool.submit(self._run, fn))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


class Jobs:
    """The durable job queue's statements; callers hold the write transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def insert(self, job: Job) -> None:
        self.conn.execute(
            """INSERT INTO jobs (id, file_id, source_version, extension, options, dialect, webhook_url, status,
                   attempts, run_after, created_at, updated_at, kind, result_to, conversion_name)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            [
                job.id, job.file_id, job.source_version, job.extension, json.dumps(job.options), job.dialect,
                job.webhook_url, job.status, job.attempts, job.run_after, job.created_at, job.updated_at,
                job.kind, job.result_to, job.conversion_name,
            ],
        )  # fmt: skip

    def get(self, job_id: str) -> Job | None:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", [job_id]).fetchone()
        return _job(row) if row else None

    def unfinished(self, kind: JobKind) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM jobs WHERE kind = ? AND status IN ('queued', 'running')", [kind]
        ).fetchone()[0]

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, count(*) AS n FROM jobs GROUP BY status")
        return {JobStatus(r["status"]).value: r["n"] for r in rows}

    def claim(self, owner: str, now: float, lease: float, kind: JobKind) -> Job | None:
        """Lease the oldest runnable job of `kind`: queued and due, or running with an expired lease."""
        row = self.conn.execute(
            """UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires = ?, attempts = attempts + 1
               WHERE id = (
                   SELECT id FROM jobs
                   WHERE kind = ? AND ((status = 'queued' AND run_after <= ?)
                                       OR (status = 'running' AND lease_expires < ?))
                   ORDER BY run_after, rowid LIMIT 1)
               RETURNING *""",
            [owner, now + lease, kind, now, now],
        ).fetchone()
        return _job(row) if row else None

    def heartbeat(self, job_id: str, owner: str, until: float) -> bool:
        cursor = self.conn.execute(
            "UPDATE jobs SET lease_expires = ? WHERE id = ? AND lease_owner = ? AND status = 'running'",
            [until, job_id, owner],
        )
        return cursor.rowcount == 1

    def finish(self, job: Job, owner: str, now: str) -> bool:
        """Write the job's final or retry state, fenced on the lease owner; False if the lease was lost."""
        cursor = self.conn.execute(
            """UPDATE jobs SET status = ?, lease_owner = NULL, lease_expires = NULL, run_after = ?,
                   result_version = ?, result_file = ?, error_reason = ?, error_message = ?, updated_at = ?,
                   result = ?
               WHERE id = ? AND lease_owner = ? AND status = 'running'""",
            [
                job.status, job.run_after, job.result_version, job.result_file, job.error_reason,
                job.error_message, now, json.dumps(job.result) if job.result is not None else None, job.id, owner,
            ],
        )  # fmt: skip
        return cursor.rowcount == 1

    def set_progress(self, job_id: str, owner: str, progress: dict[str, Any]) -> bool:
        cursor = self.conn.execute(
            "UPDATE jobs SET progress = ? WHERE id = ? AND lease_owner = ? AND status = 'running'",
            [json.dumps(progress), job_id, owner],
        )
        return cursor.rowcount == 1

    def delete_ended_before(self, kind: JobKind, cutoff: str) -> int:
        """Forget finished jobs of `kind` whose last change is older than `cutoff` (ISO text)."""
        return self.conn.execute(
            "DELETE FROM jobs WHERE kind = ? AND status IN ('succeeded', 'failed') AND updated_at < ?", [kind, cutoff]
        ).rowcount

    def release(self, owner: str) -> int:
        """Hand back every lease `owner` holds (graceful shutdown)."""
        cursor = self.conn.execute(
            """UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires = NULL,
                   attempts = max(attempts - 1, 0)
               WHERE lease_owner = ? AND status = 'running'""",
            [owner],
        )
        return cursor.rowcount

    def next_due(self, kinds: Sequence[JobKind]) -> float | None:
        """When a job of one of `kinds` can next be claimed: due to run, or its lease running out."""
        marks = ",".join("?" * len(kinds))
        row = self.conn.execute(
            f"""SELECT min(CASE WHEN status = 'queued' THEN run_after ELSE lease_expires END)
                FROM jobs WHERE status IN ('queued', 'running') AND kind IN ({marks})""",
            list(kinds),
        ).fetchone()
        return row[0]


class Tasks:
    """Tasks and the jobs that are their items (ids `Task.job_id`); callers hold the write transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def insert(self, kind: str, dialect: str, request: dict[str, Any], webhook_url: str | None, items: int,
               now: str) -> Task:  # fmt: skip
        cursor = self.conn.execute(
            "INSERT INTO tasks (kind, dialect, request, webhook_url, items, created_at) VALUES (?,?,?,?,?,?)",
            [kind, dialect, json.dumps(request), webhook_url, items, now],
        )
        return Task(int(cursor.lastrowid or 0), kind, dialect, request, webhook_url, items, now)

    def get(self, task_id: int) -> Task | None:
        row = self.conn.execute("SELECT * FROM tasks WHERE id = ?", [task_id]).fetchone()
        if row is None:
            return None
        return Task(row["id"], row["kind"], row["dialect"], json.loads(row["request"]), row["webhook_url"],
                    row["items"], row["created_at"])  # fmt: skip

    def items(self, task_id: int) -> list[Job]:
        """The task's jobs, in the order of its items."""
        rows = self.conn.execute(
            "SELECT * FROM jobs WHERE kind = 'task' AND id >= ? AND id < ? ORDER BY id",
            [Task.job_id(task_id, 0), f"task-{task_id}-:"],  # ':' sorts after every digit
        )
        return [_job(row) for row in rows]

    def unfinished(self, task_id: int) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM jobs WHERE kind = 'task' AND id >= ? AND id < ? AND status IN ('queued', 'running')",
            [Task.job_id(task_id, 0), f"task-{task_id}-:"],
        ).fetchone()[0]


class TemporaryResults:
    """Results kept behind a token until they expire; callers hold the write transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def insert(self, result: TemporaryResult) -> None:
        self.conn.execute(
            "INSERT INTO temporary_results (token, blob, mime, name, expires_at, created_at) VALUES (?,?,?,?,?,?)",
            [result.token, result.blob, result.mime, result.name, result.expires_at, result.created_at],
        )

    def get(self, token: str) -> TemporaryResult | None:
        row = self.conn.execute("SELECT * FROM temporary_results WHERE token = ?", [token]).fetchone()
        if row is None:
            return None
        return TemporaryResult(row["token"], row["blob"], row["mime"], row["name"], row["expires_at"],
                               row["created_at"])  # fmt: skip

    def delete_expired(self, now: float, limit: int = 500) -> set[str]:
        """Forget up to `limit` results expired at `now`; the blobs they held."""
        rows = self.conn.execute(
            "DELETE FROM temporary_results WHERE token IN "
            "(SELECT token FROM temporary_results WHERE expires_at <= ? LIMIT ?) RETURNING blob",
            [now, limit],
        ).fetchall()
        return {row[0] for row in rows}


class WebhookStore:
    """Endpoints, the delivery outbox and its attempts; callers hold the write transaction for changes."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # endpoints

    def insert_endpoint(self, e: Endpoint) -> Endpoint:
        row = self.conn.execute(
            """INSERT INTO webhook_endpoints (url, events, secret, format, description, active, signing_secret,
                   version, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING *""",
            [
                e.url, json.dumps(list(e.events)), e.secret, e.format, e.description, int(e.active),
                e.signing_secret, e.version, e.created_at, e.updated_at,
            ],
        ).fetchone()  # fmt: skip
        return _endpoint(row)

    def update_endpoint(self, e: Endpoint) -> None:
        self.conn.execute(
            """UPDATE webhook_endpoints SET url = ?, events = ?, secret = ?, description = ?, active = ?,
                   signing_secret = ?, version = ?, disabled_reason = ?, failing_since = ?, updated_at = ?,
                   previous_secret = ?, previous_secret_expires = ?
               WHERE id = ?""",
            [
                e.url, json.dumps(list(e.events)), e.secret, e.description, int(e.active), e.signing_secret,
                e.version, e.disabled_reason, e.failing_since, e.updated_at, e.previous_secret,
                e.previous_secret_expires, e.id,
            ],
        )  # fmt: skip

    def get_endpoint(self, endpoint_id: int) -> Endpoint | None:
        row = self.conn.execute("SELECT * FROM webhook_endpoints WHERE id = ?", [endpoint_id]).fetchone()
        return _endpoint(row) if row else None

    def list_endpoints(self, format: str | None = None) -> list[Endpoint]:
        rows = self.conn.execute(
            "SELECT * FROM webhook_endpoints WHERE ? IS NULL OR format = ? ORDER BY id", [format, format]
        )
        return [_endpoint(r) for r in rows]

    def count_endpoints(self) -> int:
        return self.conn.execute("SELECT count(*) FROM webhook_endpoints").fetchone()[0]

    def delete_endpoint(self, endpoint_id: int) -> bool:
        return self.conn.execute("DELETE FROM webhook_endpoints WHERE id = ?", [endpoint_id]).rowcount == 1

    def delete_endpoints_by_url(self, url: str, format: str) -> int:
        return self.conn.execute(
            "DELETE FROM webhook_endpoints WHERE url = ? AND format = ?", [url, format]
        ).rowcount

    # deliveries

    def insert_delivery(self, d: Delivery) -> None:
        self.conn.execute(
            """INSERT INTO deliveries (id, endpoint_id, event, url, body, format, file_id, state, attempts,
                   next_attempt_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)""",
            [
                d.id, d.endpoint_id, d.event, d.url, d.body, d.format, d.file_id, d.state, d.attempts,
                d.next_attempt_at, d.created_at, d.updated_at,
            ],
        )  # fmt: skip

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        row = self.conn.execute("SELECT * FROM deliveries WHERE id = ?", [delivery_id]).fetchone()
        return _delivery(row) if row else None

    def claim(self, owner: str, now: float, until: float, limit: int) -> list[tuple[Delivery, int]]:
        """Lease up to `limit` due deliveries nobody holds (or whose holder's lease ran out), in one statement;
        each with the number of the attempt it is leased for."""
        rows = self.conn.execute(
            """UPDATE deliveries SET lease_owner = ?, lease_until = ?, claimed = max(claimed, attempts) + 1
               WHERE id IN (
                   SELECT id FROM deliveries
                   WHERE state = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
                   ORDER BY next_attempt_at, rowid LIMIT ?)
               RETURNING *""",
            [owner, until, now, now, limit],
        ).fetchall()
        rows.sort(key=lambda r: (r["next_attempt_at"], r["created_at"]))
        return [(_delivery(r), r["claimed"]) for r in rows]

    def renew(self, owner: str, until: float) -> int:
        """Extend every lease `owner` holds."""
        return self.conn.execute("UPDATE deliveries SET lease_until = ? WHERE lease_owner = ?", [until, owner]).rowcount

    def release(self, owner: str) -> int:
        """Hand back every lease `owner` holds (graceful stop); the attempts it numbered stay used."""
        return self.conn.execute(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", [owner]
        ).rowcount

    def next_due(self) -> float | None:
        """When a pending delivery is next due, or its lease runs out."""
        return self.conn.execute(
            "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM deliveries WHERE state = 'pending'"
        ).fetchone()[0]

    def finish_attempt(self, d: Delivery, attempt: Attempt, owner: str) -> bool:
        """Store one attempt and the delivery's state after it, and end the lease; fenced on the lease
        owner and a pending state, so False (and nothing written) when the delivery changed hands or ended."""
        cursor = self.conn.execute(
            """UPDATE deliveries SET url = ?, state = ?, attempts = ?, next_attempt_at = ?, last_status = ?,
                   last_error = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
               WHERE id = ? AND lease_owner = ? AND state = 'pending'""",
            [d.url, d.state, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.updated_at, d.id, owner],
        )
        if cursor.rowcount != 1:
            return False
        self._insert_attempt(d, attempt)
        return True

    def _insert_attempt(self, d: Delivery, attempt: Attempt) -> None:
        self.conn.execute(
            """INSERT OR REPLACE INTO delivery_attempts (delivery_id, number, at, status_code, latency_ms,
                   response, error) VALUES (?,?,?,?,?,?,?)""",
            [d.id, attempt.number, attempt.at, attempt.status_code, attempt.latency_ms, attempt.response,
             attempt.error],
        )  # fmt: skip

    def update_delivery(self, d: Delivery) -> None:
        self.conn.execute(
            """UPDATE deliveries SET url = ?, state = ?, attempts = ?, next_attempt_at = ?, last_status = ?,
                   last_error = ?, updated_at = ? WHERE id = ?""",
            [d.url, d.state, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.updated_at, d.id],
        )

    def fail_pending_of(self, endpoint_id: int, reason: str, now: str) -> int:
        """Give up the endpoint's pending deliveries (it was disabled or deleted)."""
        return self.conn.execute(
            """UPDATE deliveries SET state = 'failed', last_error = ?, updated_at = ?
               WHERE endpoint_id = ? AND state = 'pending'""",
            [reason, now, endpoint_id],
        ).rowcount

    def attempts(self, delivery_id: str) -> list[Attempt]:
        rows = self.conn.execute(
            "SELECT * FROM delivery_attempts WHERE delivery_id = ? ORDER BY number", [delivery_id]
        )
        return [
            Attempt(number=r["number"], at=r["at"], status_code=r["status_code"], latency_ms=r["latency_ms"],
                    response=r["response"], error=r["error"])
            for r in rows
        ]  # fmt: skip

    def list_deliveries(
        self,
        *,
        state: str | None = None,
        event: str | None = None,
        file_id: str | None = None,
        endpoint_id: int | None = None,
        limit: int = 100,
        skip: int = 0,
    ) -> list[Delivery]:
        where, params = ["1=1"], []
        for column, value in (("state", state), ("event", event), ("file_id", file_id),
                              ("endpoint_id", endpoint_id)):  # fmt: skip
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = self.conn.execute(
            f"SELECT * FROM deliveries WHERE {' AND '.join(where)} ORDER BY created_at DESC, rowid DESC "
            "LIMIT ? OFFSET ?",
            [*params, limit, skip],
        )
        return [_delivery(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT state, count(*) AS n FROM deliveries GROUP BY state")
        return {r["state"]: r["n"] for r in rows}


class MultipartStore:
    """Multipart uploads under way (Uploadcare): each part is a blob, named here in order until completion."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def create(self, upload_uuid: str, declared: dict[str, Any], parts: int, now: float) -> None:
        self.conn.execute(
            "INSERT INTO multipart_sessions (uuid, declared, parts, touched_at) VALUES (?,?,?,?)",
            [upload_uuid, json.dumps(declared), json.dumps([None] * parts), now],
        )

    def get(self, upload_uuid: str) -> tuple[dict[str, Any], list[str | None]] | None:
        """The declared upload and each part's blob (None where not yet received)."""
        row = self.conn.execute(
            "SELECT declared, parts FROM multipart_sessions WHERE uuid = ?", [upload_uuid]
        ).fetchone()
        return (json.loads(row["declared"]), json.loads(row["parts"])) if row else None

    def set_part(self, upload_uuid: str, index: int, sha: str, now: float) -> bool:
        """False when the session is gone (completed or swept)."""
        cursor = self.conn.execute(
            "UPDATE multipart_sessions SET parts = json_set(parts, ?, ?), touched_at = ? WHERE uuid = ?",
            [f"$[{index}]", sha, now, upload_uuid],
        )
        return cursor.rowcount == 1

    def count_touched_since(self, cutoff: float) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM multipart_sessions WHERE touched_at >= ?", [cutoff]
        ).fetchone()[0]

    def delete(self, upload_uuid: str) -> set[str]:
        """Drop the session; returns its parts' blobs, for the caller to delete once nothing else uses them."""
        found = self.get(upload_uuid)
        self.conn.execute("DELETE FROM multipart_sessions WHERE uuid = ?", [upload_uuid])
        return {sha for sha in found[1] if sha} if found else set()

    def untouched_before(self, cutoff: float) -> list[str]:
        rows = self.conn.execute("SELECT uuid FROM multipart_sessions WHERE touched_at < ?", [cutoff])
        return [row["uuid"] for row in rows]


class StorageStore:
    """Storage connector records; credentials go in and out only as the encrypted token."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def insert(self, name: str, type: str, parameters: dict[str, Any], credentials: bytes | None,
               created_at: str) -> StorageRecord | None:  # fmt: skip
        """The new record; None when the name is taken."""
        try:
            cursor = self.conn.execute(
                "INSERT INTO storages (name, type, parameters, credentials, created_at) VALUES (?,?,?,?,?)",
                [name, type, json.dumps(parameters), credentials, created_at],
            )
        except sqlite3.IntegrityError:
            return None
        return StorageRecord(int(cursor.lastrowid or 0), name, type, parameters, created_at)

    def get(self, storage_id: int) -> tuple[StorageRecord, bytes | None] | None:
        row = self.conn.execute("SELECT * FROM storages WHERE id = ?", [storage_id]).fetchone()
        return (_storage(row), row["credentials"]) if row else None

    def by_name(self, name: str) -> tuple[StorageRecord, bytes | None] | None:
        row = self.conn.execute("SELECT * FROM storages WHERE name = ?", [name]).fetchone()
        return (_storage(row), row["credentials"]) if row else None

    def by_web_token(self, token: str) -> StorageRecord | None:
        row = self.conn.execute(
            "SELECT * FROM storages WHERE type = 'web_folder' AND json_extract(parameters, '$.bucket') = ?", [token]
        ).fetchone()
        return _storage(row) if row else None

    def all(self) -> list[StorageRecord]:
        return [_storage(row) for row in self.conn.execute("SELECT * FROM storages ORDER BY id")]

    def delete(self, storage_id: int) -> bool:
        return self.conn.execute("DELETE FROM storages WHERE id = ?", [storage_id]).rowcount == 1


def _storage(row: sqlite3.Row) -> StorageRecord:
    return StorageRecord(row["id"], row["name"], row["type"], json.loads(row["parameters"]), row["created_at"])


def _endpoint(row: sqlite3.Row) -> Endpoint:
    return Endpoint(
        id=row["id"],
        url=row["url"],
        events=tuple(json.loads(row["events"])),
        secret=row["secret"],
        format=row["format"],
        description=row["description"],
        active=bool(row["active"]),
        signing_secret=row["signing_secret"],
        version=row["version"],
        disabled_reason=row["disabled_reason"],
        failing_since=row["failing_since"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        previous_secret=row["previous_secret"],
        previous_secret_expires=row["previous_secret_expires"],
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event=row["event"],
        url=row["url"],
        body=bytes(row["body"]),
        format=row["format"],
        file_id=row["file_id"],
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


_VERSION_COLUMNS = ("id", "number", "blob", "mime", "size", "width", "height", "has_alpha", "thumb_blob", "created_at")


def _listing_filter(base: list[str], folder: str | None, search: Node | None, v: str) -> tuple[str, list[Any]]:
    """The WHERE clause of a listing: `base`, the folder, and the compiled searchQuery."""
    where, params = list(base), []
    if folder is not None:
        where.append("f.folder = ?")
        params.append(folder)
    if search is not None:
        clause, clause_params = _compile(search, "f", v)
        where.append(f"({clause})")
        params.extend(clause_params)
    return " AND ".join(where), params


def _upload_filter(removed: bool, stored: bool | None) -> list[str]:
    if removed:  # a removed file is no longer stored, whatever it was before
        return ["1=0"] if stored else ["1=1"]
    where = ["f.removed_at IS NULL"]
    if stored is not None:
        where.append("f.stored_at IS NOT NULL" if stored else "f.stored_at IS NULL")
    return where


def _format_of(mime: str) -> str:
    sub = mime.split("/")[-1]
    return {"jpeg": "jpg", "svg+xml": "svg", "heif": "heic"}.get(sub, sub)


def _compile(node: Node, f: str, v: str, depth: int = 0) -> tuple[str, list[Any]]:
    """Compile a parsed searchQuery into a SQL condition over files `f` and versions `v`."""
    if isinstance(node, BoolOp):
        if depth >= MAX_TREE_DEPTH:  # a tree the parser would not build, but recursion must end somewhere
            raise too_deep()
        parts = [_compile(item, f, v, depth + 1) for item in node.items]
        sql = f" {node.op} ".join(f"({p[0]})" for p in parts)
        return sql, [param for p in parts for param in p[1]]
    return _compare(node, f, v)


def _compare(c: Compare, f: str, v: str) -> tuple[str, list[Any]]:
    values: list[Any] = c.value if isinstance(c.value, list) else [c.value]
    negate = c.op.startswith("NOT ")
    op = c.op.removeprefix("NOT ")
    if c.field == "tags":
        if op not in ("=", "IN"):
            raise _unsupported(c)
        marks = ",".join("?" * len(values))
        sql = f"EXISTS (SELECT 1 FROM json_each({f}.tags) WHERE value IN ({marks}))"
        return (f"NOT {sql}" if negate else sql), values
    if c.field == "path":
        folders = [str(p).rstrip("/") + "/" for p in values]
        if op == ":":
            sql, params = f"{f}.folder LIKE ? ESCAPE '\\'", [_like_prefix(folders[0])]
        elif op in ("=", "IN"):
            sql, params = f"{f}.folder IN ({','.join('?' * len(folders))})", folders
        else:
            raise _unsupported(c)
        return (f"NOT ({sql})" if negate else sql), params
    if c.field == "type":
        matches = "file" in values
        return ("1=1" if matches != negate else "1=0"), []
    column = {
        "name": f"{f}.name",
        "format": f"{v}.format",
        "private": f"{f}.is_private",
        "published": f"{f}.is_published",
        "size": f"{v}.size",
        "width": f"{v}.width",
        "height": f"{v}.height",
        "createdAt": f"{f}.created_at",
        "updatedAt": f"{f}.updated_at",
    }.get(c.field)
    path: list[Any] = []
    if column is None:  # customMetadata.<key>: the key is bound, never part of the SQL text
        column, path = f"json_extract({f}.custom_metadata, ?)", [f'$."{c.field.removeprefix("customMetadata.")}"']
    values = [int(x) if isinstance(x, bool) else x for x in values]
    if op == ":":
        sql, params = f"{column} LIKE ? ESCAPE '\\'", [_like_prefix(str(values[0]))]
    elif op == "IN":
        sql, params = f"{column} IN ({','.join('?' * len(values))})", values
    else:
        sql, params = f"{column} {op} ?", values[:1]
    return (f"NOT ({sql})" if negate else sql), path + params


def _unsupported(c: Compare) -> Exception:
    return BadRequest(
        f"Your request contains invalid searchQuery: {c.field} does not support {c.op}", field="searchQuery"
    )
