"""The domain: files, versions and folders as operations. No HTTP, no wire formats."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import re
import secrets
import string
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, BinaryIO, TypedDict, TypeVar

from anyio import to_thread

from . import engine
from .blobs import TEMP_PREFIX, BlobStore
from .budget import DecodeBudget
from .db import Database, Statements
from .errors import APIError, BadRequest, Conflict, NotFound, PayloadTooLarge, TooManyRequests
from .models import (
    METADATA_KEY,
    File,
    Folder,
    Job,
    JobKind,
    JobStatus,
    ResultTo,
    Task,
    TemporaryResult,
    Version,
    new_id,
    now_iso,
)
from .search import Node
from .settings import Settings
from .webhooks import Event, Webhooks

MAX_TAGS = 100
MAX_TAG_LENGTH = 128
MAX_NAME_LENGTH = 255
MAX_FOLDER_DEPTH = 32
MAX_METADATA_KEYS = 50
MAX_METADATA_VALUE = 2048
MAX_DESCRIPTION = 4096
UNSTORED_TTL_SECONDS = 24 * 3600
TEMPORARY_RESULT_SECONDS = 24 * 3600
COORDINATES = re.compile(r"[0-9]{1,6},[0-9]{1,6},[0-9]{1,6},[0-9]{1,6}")
UNIQUE_ALPHABET = string.ascii_letters + string.digits
NOT_FOUND = "The requested file does not exist."
log = logging.getLogger("cutout.library")
R = TypeVar("R")


# ---- input rules shared by every dialect --------------------------------


def clean_file_name(raw: str, field: str = "fileName") -> str:
    """A file name as ImageKit keeps it: letters, digits, '.', '-', '_'; anything else becomes '_'."""
    name = unicodedata.normalize("NFC", raw.strip())
    if not name:
        raise BadRequest(f"Your request contains an empty {field}.", field=field)
    if any(sep in name for sep in ("/", "\\", "\x00")) or name in (".", "..") or name.startswith(".."):
        raise BadRequest(
            f"Your request contains an invalid {field}: it must be a plain name, without path separators "
            "or '..'.",
            field=field,
        )
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"{field} is longer than {MAX_NAME_LENGTH} characters.", field=field)
    return "".join(ch if (ch.isalnum() or ch in ".-_") else "_" for ch in name)


def clean_folder(raw: str, field: str = "folder") -> str:
    """A folder path as '/a/b/'; '.' and '..' segments are refused, other odd characters become '_'."""
    parts = [p for p in raw.replace("\\", "/").split("/") if p.strip()]
    if any(p.strip() in (".", "..") or "\x00" in p for p in parts):
        raise BadRequest(f"Your request contains an invalid {field}: '.' and '..' are not allowed.", field=field)
    if len(parts) > MAX_FOLDER_DEPTH or any(len(p) > MAX_NAME_LENGTH for p in parts):
        raise BadRequest(f"Your request contains an invalid {field}: it is too deep or too long.", field=field)
    cleaned = ["".join(ch if (ch.isalnum() or ch in "-_") else "_" for ch in p.strip()) for p in parts]
    return "/" + "".join(p + "/" for p in cleaned)


def clean_tags(tags: list[str], field: str = "tags") -> tuple[str, ...]:
    result: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise BadRequest(f"{field} must be a list of strings.", field=field)
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise BadRequest(f"A tag in {field} is longer than {MAX_TAG_LENGTH} characters.", field=field)
        if tag not in result:
            result.append(tag)
    if len(result) > MAX_TAGS:
        raise BadRequest(f"{field} can hold at most {MAX_TAGS} tags.", field=field)
    return tuple(result)


def clean_metadata(raw: object, field: str = "customMetadata", *, allow_null: bool = False) -> dict[str, Any]:
    """Custom metadata: up to 50 keys of [A-Za-z0-9_-.:], scalar values or lists of scalars."""
    if not isinstance(raw, dict):
        raise BadRequest(f"{field} must be a JSON object.", field=field)
    if len(raw) > MAX_METADATA_KEYS:
        raise BadRequest(f"{field} can hold at most {MAX_METADATA_KEYS} keys.", field=field)
    for key, value in raw.items():
        if not METADATA_KEY.fullmatch(key):
            raise BadRequest(
                f"{field} key {key[:70]!r} is invalid: use 1-64 letters, digits, '_', '-', '.' or ':'.",
                field=field,
            )
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is None and allow_null and not isinstance(value, list):
                continue
            if not isinstance(item, (str, int, float, bool)) or (isinstance(item, float) and item != item):
                raise BadRequest(f"{field}.{key} must be a string, number, boolean or a list of them.", field=field)
            if isinstance(item, str) and len(item) > MAX_METADATA_VALUE:
                raise BadRequest(f"{field}.{key} is longer than {MAX_METADATA_VALUE} characters.", field=field)
    return dict(raw)


def clean_coordinates(raw: str | None, field: str = "customCoordinates") -> str | None:
    if raw is None or raw == "":
        return None
    if not COORDINATES.fullmatch(raw.replace(" ", "")):
        raise BadRequest(f"{field} must be 'x,y,width,height' in whole pixels, e.g. '10,10,100,100'.", field=field)
    return raw.replace(" ", "")


def clean_description(raw: str | None, field: str = "description") -> str | None:
    if raw is not None and len(raw) > MAX_DESCRIPTION:
        raise BadRequest(f"{field} is longer than {MAX_DESCRIPTION} characters.", field=field)
    return raw


def whole_number(raw: str | None) -> int | None:
    """ASCII digits only, and few enough that int() cannot choke on them; None otherwise."""
    text = (raw or "").strip()
    return int(text) if re.fullmatch(r"[0-9]{1,15}", text) else None


def unique_name(name: str) -> str:
    """ImageKit's unique file name: '_' and 9 random characters before the extension."""
    stem, dot, ext = name.rpartition(".")
    suffix = "_" + "".join(secrets.choice(UNIQUE_ALPHABET) for _ in range(9))
    return f"{stem}{suffix}.{ext}" if dot and stem else name + suffix


def parent_folders(folder: str) -> list[str]:
    """'/a/b/' -> ['/a/', '/a/b/']."""
    parts = [p for p in folder.split("/") if p]
    return ["/" + "".join(p + "/" for p in parts[: i + 1]) for i in range(len(parts))]


class InheritedAccess(TypedDict):
    is_private: bool
    is_published: bool


def inherited_access(source: File) -> InheritedAccess:
    """The access rules of a file made from `source` (an add-on's result, and any later kind of derived
    file): the source's own, so that deriving a file never publishes what the source keeps private."""
    return InheritedAccess(is_private=source.is_private, is_published=source.is_published)


# ---- requests -------------------------------------------------------------


@dataclass(frozen=True)
class NewFile:
    """What an upload asks for, already parsed and cleaned by a dialect."""

    data: bytes
    file_name: str
    folder: str = "/"
    use_unique_file_name: bool = True
    tags: tuple[str, ...] | None = None
    custom_metadata: dict[str, Any] | None = None
    custom_coordinates: str | None = None
    description: str | None = None
    is_private: bool = False
    is_published: bool = True
    overwrite_file: bool = True
    overwrite_tags: bool = True
    overwrite_custom_metadata: bool = True
    overwrite_ai_tags: bool = True
    stored: bool = True  # Uploadcare: a file never stored is removed a day after upload
    original_filename: str | None = None  # as the client named it; file_name when None
    uuid: str | None = None  # a uuid the client already holds (Uploadcare multipart uploads)


@dataclass(frozen=True)
class ExtensionRequest:
    """One extension to run on a file; `options` is the edit the dialect parsed, as `engine.edit_to_json` wrote it."""

    name: str
    options: dict[str, Any]
    dialect: str = "imagekit"
    webhook_url: str | None = None
    job_id: str | None = None  # the job's id when the caller has promised one (Uploadcare's request_id)
    result_to: ResultTo = ResultTo.VERSION  # the dialect's choice: a new version, a new file or a conversion
    conversion_name: str | None = None  # with result_to CONVERSION: which conversion of the file it makes


_UNSET: Any = object()


@dataclass(frozen=True)
class FileChanges:
    """A details update; fields left as UNSET are not touched."""

    tags: tuple[str, ...] | None = _UNSET
    custom_coordinates: str | None = _UNSET
    custom_metadata: dict[str, Any] = _UNSET  # merged; a None value removes the key
    description: str | None = _UNSET
    remove_ai_tags: list[str] | str = _UNSET  # names, or "all"
    is_published: bool = _UNSET


UNSET = _UNSET


@dataclass(frozen=True)
class UploadListQuery:
    """Uploadcare's file list: live or removed files, stored or not, in upload order from `since`."""

    removed: bool = False
    stored: bool | None = None
    since: str | None = None
    descending: bool = False
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class ListQuery:
    kind: str = "file"  # file | file-version | folder | all
    folder: str | None = None
    search: Node | None = None
    sort: tuple[str, str] = ("CREATED", "ASC")
    limit: int = 1000
    skip: int = 0


# How the dialect that asked for an edit labels the new file its result becomes: the file's appdata and
# the initiator of its file.created event, from the job, the source file and the moment (ISO) it is made.
# The app registers one per dialect, as it does webhook formats; a dialect without one labels nothing.
ResultLabeler = Callable[[Job, File, str], tuple[dict[str, Any], dict[str, Any] | None]]


def no_labels(job: Job, source: File, now: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    return {}, None


# ---- the library ------------------------------------------------------------


class Library:
    """Files, versions and folders, over one database and one blob store."""

    def __init__(
        self, settings: Settings, db: Database, blobs: BlobStore, webhooks: Webhooks,
        labelers: Mapping[str, ResultLabeler] | None = None,
    ):  # fmt: skip
        self.settings = settings
        self.labelers = labelers or {}
        self.db = db
        self.blobs = blobs
        self.webhooks = webhooks  # every change records its events here, inside its own transaction
        self.limits = engine.Limits(max_megapixels=settings.max_megapixels, max_side=settings.max_side)
        # The named CMYK profiles an output spec may ask for; dialects check specs against them too.
        self.icc_profiles = engine.IccProfiles(settings.icc_dir)
        # Every decode in the process (uploads, thumbnails, jobs) holds its pixels under this one budget.
        self.budget = DecodeBudget(settings.decode_budget_megapixels, settings.decode_wait_seconds)
        self._thumbnails: dict[str, asyncio.Future[tuple[bytes, str]]] = {}
        self._on_enqueue: list[Callable[[], None]] = []
        self._settling: set[asyncio.Future[None]] = set()  # see _record_blob

    def on_enqueue(self, wake: Callable[[], None]) -> None:
        """Call `wake` whenever a transaction that queued jobs has committed (the runner looks at once)."""
        self._on_enqueue.append(wake)

    def _queued(self, jobs: list[Job]) -> None:
        if jobs:
            for wake in self._on_enqueue:
                wake()

    # -- uploads

    async def upload(
        self, new: NewFile, extensions: Sequence[ExtensionRequest] = (), *, bounded_wait: bool = True
    ) -> tuple[File, list[Job]]:
        """Check the image, store its bytes, then record the file (or a new version) in one transaction.

        `bounded_wait=False` is for uploads already accepted (in the background): they wait for the
        decode budget as long as it takes instead of ending in a 429.
        """
        self._check_size(new.data)
        info = await self._inspect(new.data, bounded_wait)
        sha = await to_thread.run_sync(self.blobs.put, new.data)
        recorded = await self._record_blob(sha, self._record_upload(new, info, sha, extensions), lambda _: True)
        self._queued(recorded[1])
        return recorded

    async def _record_blob(self, sha: str, write: Awaitable[R], kept: Callable[[R], bool]) -> R:
        """Await `write`, which records blob `sha` (as `blobs.put` left it pinned); then unpin it, and drop
        it unless the write succeeded and `kept` says its result refers to it."""
        try:
            result = await write
        except asyncio.CancelledError:
            # The write goes on without this caller and may yet record the blob: keep the pin until it has
            # ended (writes run in order, so until a later one has), then drop the blob if nothing refers to it.
            settling = asyncio.ensure_future(self._unpin_after_writes(sha))
            self._settling.add(settling)
            settling.add_done_callback(self._settling.discard)
            raise
        except BaseException:
            self.blobs.unpin(sha)
            self._drop_unused({sha})
            raise
        self.blobs.unpin(sha)
        if not kept(result):
            self._drop_unused({sha})
        return result

    async def _unpin_after_writes(self, sha: str) -> None:
        try:
            await self.db.write(lambda tx: None)
        finally:
            self.blobs.unpin(sha)
        self._drop_unused({sha})

    async def check_image(self, data: bytes) -> None:
        """What `upload` checks about the bytes, storing nothing (to refuse a batch before any of it is kept)."""
        self._check_size(data)
        await self._inspect(data)

    def _check_size(self, data: bytes) -> None:
        if not data:
            raise BadRequest("Your request contains an empty file.", field="file")
        if len(data) > self.settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"Your request contains invalid file parameter. The file size ({len(data)} bytes) exceeds "
                f"the limit of {self.settings.max_upload_bytes} bytes.",
                field="file",
            )

    async def _inspect(self, data: bytes, bounded_wait: bool = True) -> engine.ImageInfo:
        try:
            cost = await to_thread.run_sync(engine.decode_cost, data, self.limits, engine.Work.INSPECT)
            return await self.budget.run(cost, engine.inspect_image, data, self.limits, bounded=bounded_wait)
        except engine.ImageRejected as exc:
            raise BadRequest(f"Your request contains invalid file parameter: {exc.message}", field="file") from None
        except APIError:  # the decode budget's 429
            raise
        except Exception as exc:  # noqa: BLE001 - a decoder failing on client bytes is still the client's bad file
            log.warning("image decoder failed on an upload: %r", exc)
            raise BadRequest(
                "Your request contains invalid file parameter: the image could not be decoded (corrupt or truncated).",
                field="file",
            ) from None

    async def _record_upload(
        self, new: NewFile, info: engine.ImageInfo, sha: str, extensions: Sequence[ExtensionRequest]
    ) -> tuple[File, list[Job]]:
        now = now_iso()

        def change(tx: Statements) -> tuple[File, list[Job]]:
            self._check_capacity(tx, len(extensions))
            if not new.stored:
                self.check_unstored_room(tx=tx)
            if new.use_unique_file_name:
                name, existing = self._free_name(tx, new.folder, new.file_name), None
            else:
                name, existing = new.file_name, tx.get_file_by_path(new.folder + new.file_name)
            if existing is not None and not new.overwrite_file:
                raise Conflict(
                    "A file with the same name already exists at the exact location. We could not overwrite it "
                    "because both overwriteFile and useUniqueFileName are set to false.",
                    field="overwriteFile",
                )
            tx.ensure_folders(parent_folders(new.folder), now, new_id)
            if existing is not None:
                file = self._add_upload_version(tx, existing, new, info, sha, now)
                self.webhooks.record(Event("file-version.created", file, version=file.version), tx)
                return file, self._enqueue(tx, file, extensions, now)
            file_id = new_id()
            version = Version(
                id=file_id, file_id=file_id, number=1, blob=sha, mime=info.mime, size=len(new.data),
                width=info.width, height=info.height, has_alpha=info.has_alpha, created_at=now,
            )  # fmt: skip
            file = File(
                id=file_id,
                uuid=new.uuid or str(uuid.uuid4()),
                name=name,
                folder=new.folder,
                path=new.folder + name,
                original_filename=new.original_filename or new.file_name,
                version=version,
                tags=new.tags or (),
                custom_metadata=new.custom_metadata or {},
                custom_coordinates=new.custom_coordinates,
                description=new.description,
                is_private=new.is_private,
                is_published=new.is_published,
                stored_at=now if new.stored else None,
                created_at=now,
                updated_at=now,
            )
            tx.insert_file(file)
            self.webhooks.record(Event("file.created", file), tx)
            return file, self._enqueue(tx, file, extensions, now)

        return await self.db.write(change)

    def _add_upload_version(
        self, tx: Statements, file: File, new: NewFile, info: engine.ImageInfo, sha: str, now: str
    ) -> File:
        version = Version(
            id=new_id(), file_id=file.id, number=tx.next_version_number(file.id), blob=sha,
            mime=info.mime, size=len(new.data), width=info.width, height=info.height,
            has_alpha=info.has_alpha, created_at=now,
        )  # fmt: skip
        tx.insert_version(version)

        def pick(given: Any, old: Any, overwrite: bool, empty: Any) -> Any:
            if given is not None:
                return given
            return empty if overwrite else old

        updated = replace(
            file,
            version=version,
            tags=pick(new.tags, file.tags, new.overwrite_tags, ()),
            custom_metadata=pick(new.custom_metadata, file.custom_metadata, new.overwrite_custom_metadata, {}),
            ai_tags=None if new.overwrite_ai_tags else file.ai_tags,
            custom_coordinates=new.custom_coordinates or file.custom_coordinates,
            description=new.description if new.description is not None else file.description,
            is_private=new.is_private,
            is_published=new.is_published,
            updated_at=now,
        )
        tx.update_file(updated)
        return updated

    async def consume_token(self, token: str, expire: int, now: int) -> None:
        """Mark a client-side upload token used; a second use is refused."""
        fresh = await self.db.write(lambda tx: tx.use_upload_token(token, expire, now))
        if not fresh:
            raise Conflict("The token has been used before. Generate a new token for every upload.", field="token")

    # -- reads

    def get(self, file_id: str, *, tx: Statements | None = None) -> File:
        """`tx` when the file decides what a write does (inside its `db.write`)."""
        file = (tx or self.db).get_file(file_id) if _looks_like_id(file_id) else None
        if file is None:
            raise NotFound(NOT_FOUND, field="fileId")
        return file

    def listing(self, query: ListQuery) -> list[File | Folder | tuple[File, Version]]:
        """Folders first (for 'folder' and 'all'), then files or old versions, paged by skip/limit."""
        items: list[File | Folder | tuple[File, Version]] = []
        if query.kind in ("folder", "all"):
            items.extend(self.db.list_folders(query.folder))
        skip = max(0, query.skip - len(items))
        items = items[query.skip :][: query.limit]
        remaining = query.limit - len(items)
        if remaining <= 0 or query.kind == "folder":
            return items
        args = {"folder": query.folder, "search": query.search, "sort": query.sort, "limit": remaining, "skip": skip}
        if query.kind == "file-version":
            items.extend(self.db.list_old_versions(**args))  # type: ignore[arg-type]
        else:
            items.extend(self.db.list_files(**args))  # type: ignore[arg-type]
        return items

    # -- changes

    async def update(
        self, file_id: str, changes: FileChanges, extensions: Sequence[ExtensionRequest] = ()
    ) -> tuple[File, list[Job]]:
        """Apply `changes` and queue `extensions` on the file's current version, in one transaction."""

        def change(tx: Statements) -> tuple[File, list[Job]]:
            self._check_capacity(tx, len(extensions))
            file = self.get(file_id, tx=tx)
            updated = file
            if changes.tags is not UNSET:
                updated = replace(updated, tags=changes.tags or ())
            if changes.custom_coordinates is not UNSET:
                updated = replace(updated, custom_coordinates=changes.custom_coordinates)
            if changes.description is not UNSET:
                updated = replace(updated, description=changes.description)
            if changes.custom_metadata is not UNSET:
                merged = {**file.custom_metadata, **changes.custom_metadata}
                clean = {k: v for k, v in merged.items() if v is not None}
                if len(clean) > MAX_METADATA_KEYS:
                    raise BadRequest(f"customMetadata can hold at most {MAX_METADATA_KEYS} keys.", field="customMetadata")
                updated = replace(updated, custom_metadata=clean)
            if changes.remove_ai_tags is not UNSET and updated.ai_tags:
                drop = changes.remove_ai_tags
                kept = [] if drop == "all" else [t for t in updated.ai_tags if t.get("name") not in drop]
                updated = replace(updated, ai_tags=kept or None)
            if changes.is_published is not UNSET:
                updated = replace(updated, is_published=changes.is_published)
            updated = replace(updated, updated_at=now_iso())
            tx.update_file(updated)
            self.webhooks.record(Event("file.updated", updated), tx)
            return updated, self._enqueue(tx, updated, extensions, updated.updated_at)

        updated, jobs = await self.db.write(change)
        self._queued(jobs)
        return updated, jobs

    # -- jobs

    def _check_capacity(self, tx: Statements, wanted: int) -> None:
        if wanted and tx.jobs.unfinished(JobKind.EDIT) + wanted > self.settings.max_queue:
            raise TooManyRequests(
                f"The extension queue is full ({self.settings.max_queue} jobs). Retry later.",
                retry_after=self.settings.queue_retry_after,
            )

    def check_unstored_room(self, wanted: int = 1, *, tx: Statements | None = None) -> None:
        """Unstored files are anyone's with the public key (the Upload API's store=0): only so many at once.
        A dialect checks early to refuse a batch whole; the upload's own write checks again, in `tx`."""
        limit = self.settings.uploadcare_max_unstored_files
        if (tx or self.db).count_by_upload(removed=False, stored=False) + wanted > limit:
            raise TooManyRequests(
                f"Too many unstored files ({limit}). Store or delete some, or upload with store=1.",
                retry_after=self.settings.queue_retry_after,
            )

    def _enqueue(self, tx: Statements, file: File, extensions: Sequence[ExtensionRequest], now: str) -> list[Job]:
        jobs = []
        for ext in extensions:
            job = Job(
                id=ext.job_id or new_id(), file_id=file.id, source_version=file.version.id, extension=ext.name,
                options=ext.options, dialect=ext.dialect, status=JobStatus.QUEUED, webhook_url=ext.webhook_url,
                run_after=time.time(), created_at=now, updated_at=now, kind=JobKind.EDIT, result_to=ext.result_to,
                conversion_name=ext.conversion_name,
            )  # fmt: skip
            tx.jobs.insert(job)
            jobs.append(job)
        return jobs

    async def claim_job(self, owner: str, lease: float, kind: JobKind = JobKind.EDIT) -> Job | None:
        return await self.db.write(lambda tx: tx.jobs.claim(owner, time.time(), lease, kind))

    async def heartbeat(self, job: Job, owner: str, lease: float) -> bool:
        return await self.db.write(lambda tx: tx.jobs.heartbeat(job.id, owner, time.time() + lease))

    async def complete_job(self, job: Job, owner: str, result: engine.Result, sha: str) -> File | None:
        """Record the cut-out (blob `sha`, as `blobs.put` left it pinned) as a new version of the file;
        None (nothing kept) when the lease was lost, the file was deleted or its version superseded."""
        now = now_iso()

        def change(tx: Statements) -> File | None:
            file = tx.get_file(job.file_id)
            if file is None:
                self._fail_finished(tx, job, owner, None, "file_deleted",
                                    "The file was deleted before the extension finished.", now)  # fmt: skip
                return None
            if job.result_to == ResultTo.VERSION and file.version.id != job.source_version:
                # A newer upload or a restore made another version current while the job ran: making the
                # result current would undo it, so the result is dropped and the job fails, saying why.
                self._fail_finished(tx, job, owner, file, "superseded",
                                    f"The file's current version changed (now {file.version.name}) before "
                                    "the extension finished; run it again on the current version.", now)  # fmt: skip
                return None
            if job.result_to == ResultTo.FILE:
                return self._record_result_file(tx, job, owner, file, result, sha, now)
            if job.result_to == ResultTo.CONVERSION:  # the runner refuses these before any work is done
                raise ValueError(f"job {job.id}: conversions are not stored yet")
            version = Version(
                id=new_id(), file_id=file.id, number=tx.next_version_number(file.id), blob=sha,
                mime=result.mime, size=len(result.data), width=result.width, height=result.height,
                has_alpha=result.has_alpha, created_at=now,
            )  # fmt: skip
            done = replace(job, status=JobStatus.SUCCEEDED, result_version=version.id)
            if not tx.jobs.finish(done, owner, now):
                return None
            tx.insert_version(version)
            completed = replace(file, version=version, updated_at=now)
            tx.update_file(completed)
            self.webhooks.record(Event("file-version.created", completed, version=version), tx)
            self.webhooks.record(Event("extension.succeeded", completed, job=done), tx)
            return completed

        # File gone, version superseded or lease lost (None): the result blob belongs to nobody.
        return await self._record_blob(sha, self.db.write(change), lambda completed: completed is not None)

    def _fail_finished(
        self, tx: Statements, job: Job, owner: str, file: File | None, reason: str, message: str, now: str
    ) -> Job | None:
        """Fail a job for good and announce it, if this worker still holds its lease; None when it does not."""
        failed = replace(job, status=JobStatus.FAILED, error_reason=reason, error_message=message)
        if not tx.jobs.finish(failed, owner, now):
            return None
        self.webhooks.record(Event("extension.failed", file, file_id=job.file_id, job=failed), tx)
        return failed

    async def fail_job(self, job: Job, owner: str, reason: str, message: str, retry_in: float | None) -> Job | None:
        """Requeue after `retry_in` seconds, or fail for good when it is None; None when the lease was lost.

        An import has no file and no extension to announce: its end is only its status."""

        def change(tx: Statements) -> Job | None:
            if retry_in is None and job.kind == JobKind.TASK:
                failed = replace(job, status=JobStatus.FAILED, error_reason=reason, error_message=message)
                return failed if self._end_task_item(tx, failed, owner) else None
            if retry_in is None and job.kind == JobKind.IMPORT:
                failed = replace(job, status=JobStatus.FAILED, error_reason=reason, error_message=message)
                return failed if tx.jobs.finish(failed, owner, now_iso()) else None
            if retry_in is None:
                return self._fail_finished(tx, job, owner, tx.get_file(job.file_id), reason, message, now_iso())
            updated = replace(job, status=JobStatus.QUEUED, run_after=time.time() + retry_in,
                              error_reason=reason, error_message=message)  # fmt: skip
            return updated if tx.jobs.finish(updated, owner, now_iso()) else None

        return await self.db.write(change)

    # -- tasks: edits of images from outside the library, each item a job; results kept for a while

    async def enqueue_task(
        self, kind: str, dialect: str, request: dict[str, Any], items: Sequence[dict[str, Any]],
        webhook_url: str | None = None,
    ) -> tuple[Task, list[Job]]:  # fmt: skip
        """Record a task and queue one job per item (`items` are the jobs' options), in one transaction."""
        now = now_iso()

        def change(tx: Statements) -> tuple[Task, list[Job]]:
            waiting = tx.jobs.unfinished(JobKind.TASK)
            if waiting + len(items) > self.settings.max_queue:
                raise TooManyRequests(
                    f"Too many edits are waiting ({waiting}; at most {self.settings.max_queue}). Retry later.",
                    retry_after=self.settings.queue_retry_after,
                )
            task = tx.tasks.insert(kind, dialect, request, webhook_url, len(items), now)
            jobs = []
            for index, options in enumerate(items):
                job = Job(
                    id=Task.job_id(task.id, index), file_id="", source_version="", extension="task",
                    options=dict(options), dialect=dialect, status=JobStatus.QUEUED, run_after=time.time(),
                    created_at=now, updated_at=now, kind=JobKind.TASK, result_to=ResultTo.FILE,
                )  # fmt: skip
                tx.jobs.insert(job)
                jobs.append(job)
            return task, jobs

        task, jobs = await self.db.write(change)
        self._queued(jobs)
        return task, jobs

    def task(self, task_id: int) -> tuple[Task, list[Job]] | None:
        """The task and its items as they are now; None when there is no such task."""
        if not 0 < task_id < 2**63:  # SQLite's integers: no task has another id
            return None
        task = self.db.tasks.get(task_id)
        return None if task is None else (task, self.db.tasks.items(task_id))

    @staticmethod
    def task_of(job: Job) -> int:
        return int(job.id.split("-")[1])

    async def finish_task_item(self, job: Job, owner: str, result: dict[str, Any]) -> Job | None:
        """The item made `result`; None when the lease was lost (another worker owns the item now)."""
        done = replace(job, status=JobStatus.SUCCEEDED, result=result, error_reason=None, error_message=None)
        return await self.db.write(lambda tx: done if self._end_task_item(tx, done, owner) else None)

    def _end_task_item(self, tx: Statements, job: Job, owner: str) -> bool:
        """Write an item's end; the one that ends its task's last item records the task's webhook."""
        if not tx.jobs.finish(job, owner, now_iso()):
            return False
        task_id = self.task_of(job)
        if tx.tasks.unfinished(task_id) == 0:
            task = tx.tasks.get(task_id)
            if task is not None:
                self.webhooks.record_task(task, tx.tasks.items(task_id), tx)
        return True

    async def keep_result(self, data: bytes, mime: str, name: str, now: float | None = None) -> TemporaryResult:
        """Keep `data` for TEMPORARY_RESULT_SECONDS behind a new unguessable token."""
        moment = time.time() if now is None else now
        kept = TemporaryResult(secrets.token_urlsafe(32), "", mime, name, moment + TEMPORARY_RESULT_SECONDS,
                               now_iso())  # fmt: skip
        sha = await to_thread.run_sync(self.blobs.put, data)
        kept = replace(kept, blob=sha)
        await self._record_blob(sha, self.db.write(lambda tx: tx.temporary.insert(kept)), lambda _: True)
        return kept

    def temporary_result(self, token: str, now: float | None = None) -> TemporaryResult | None:
        """The result behind `token`, None when there is none or it has expired (the sweep removes it later)."""
        if len(token) > 64:
            return None
        kept = self.db.temporary.get(token)
        if kept is None or kept.expires_at <= (time.time() if now is None else now):
            return None
        return kept

    async def read_temporary(self, kept: TemporaryResult) -> bytes | None:
        return await self._read_blob(kept.blob)

    async def expire_temporary(self, now: float | None = None) -> int:
        """Forget expired temporary results and drop their blobs; returns how many went."""
        moment = time.time() if now is None else now
        removed = 0
        while blobs := await self.db.write(lambda tx: tx.temporary.delete_expired(moment)):
            removed += len(blobs)
            self._drop_unused(blobs)
        return removed

    # -- imports: a URL fetched by the runner and uploaded as a new file

    async def enqueue_import(self, source_url: str, new: NewFile, job_id: str, *, dialect: str) -> Job:
        """Queue the import of `source_url` as `new` (its data still empty). The new file's uuid is chosen now,
        so that an import cut off after its file was made finds that file when it runs again."""
        now = now_iso()
        fields = {k: v for k, v in asdict(replace(new, uuid=new.uuid or str(uuid.uuid4()))).items() if k != "data"}
        job = Job(
            id=job_id, file_id="", source_version="", extension="import",
            options={"source_url": source_url, "new_file": fields}, dialect=dialect, status=JobStatus.QUEUED,
            run_after=time.time(), created_at=now, updated_at=now, kind=JobKind.IMPORT, result_to=ResultTo.FILE,
        )  # fmt: skip

        def change(tx: Statements) -> None:
            if tx.jobs.unfinished(JobKind.IMPORT) >= self.settings.max_queue:
                raise TooManyRequests(
                    f"Too many uploads from a URL are waiting ({self.settings.max_queue}). Retry later.",
                    retry_after=self.settings.queue_retry_after,
                )
            tx.jobs.insert(job)

        await self.db.write(change)
        self._queued([job])
        return job

    def import_job(self, job_id: str) -> Job | None:
        job = self.db.jobs.get(job_id)
        return job if job is not None and job.kind == JobKind.IMPORT else None

    @staticmethod
    def import_request(job: Job) -> tuple[str, NewFile]:
        """The URL an import fetches and the file it makes of it."""
        fields = job.options["new_file"]
        return job.options["source_url"], NewFile(data=b"", **{**fields, "tags": tuple(fields["tags"] or ()) or None})

    async def import_progress(self, job: Job, owner: str, done: int, total: int | None) -> None:
        await self.db.write(lambda tx: tx.jobs.set_progress(job.id, owner, {"done": done, "total": total}))

    async def finish_import(self, job: Job, owner: str, file: File) -> Job | None:
        """The import made `file`; None when the lease was lost (the file stays: it is the one asked for)."""
        done = replace(job, status=JobStatus.SUCCEEDED, result_file=file.id)
        finished = await self.db.write(lambda tx: tx.jobs.finish(done, owner, now_iso()))
        return done if finished else None

    async def expire_imports(self, keep_seconds: float, now: float | None = None) -> int:
        """Forget finished imports `keep_seconds` after they ended; returns how many went."""
        cutoff = _iso_seconds_ago(keep_seconds, now)
        return await self.db.write(lambda tx: tx.jobs.delete_ended_before(JobKind.IMPORT, cutoff))

    async def release_jobs(self, owner: str) -> int:
        return await self.db.write(lambda tx: tx.jobs.release(owner))

    def job_counts(self) -> dict[str, int]:
        return self.db.jobs.counts()

    def next_job_due(self, kinds: Sequence[JobKind] = tuple(JobKind)) -> float | None:
        return self.db.jobs.next_due(kinds)

    async def delete(self, file_id: str) -> None:
        def change(tx: Statements) -> set[str]:
            file = self.get(file_id, tx=tx)
            blobs = tx.blobs_of(file.id)
            tx.delete_file(file.id)
            self.webhooks.record(Event("file.deleted", file), tx)
            return blobs

        self._drop_unused(await self.db.write(change))

    async def delete_many(self, file_ids: list[str]) -> tuple[list[str], list[str]]:
        """Delete the files that exist; return (deleted, missing). Nothing is deleted when none exist."""
        wanted = list(dict.fromkeys(file_ids))
        found, blobs = await self.db.write(lambda tx: self._delete_files(tx, wanted))
        self._drop_unused(blobs)
        return [i for i in wanted if i in found], [i for i in wanted if i not in found]

    def _delete_files(self, tx: Statements, file_ids: list[str]) -> tuple[dict[str, File], set[str]]:
        """Delete those of `file_ids` that exist; the files deleted, and the blobs they held."""
        found = {i: file for i in file_ids if _looks_like_id(i) and (file := tx.get_file(i)) is not None}
        blobs: set[str] = set()
        for file_id, file in found.items():
            blobs |= tx.blobs_of(file_id)
            tx.delete_file(file_id)
            self.webhooks.record(Event("file.deleted", file), tx)
        return found, blobs

    # -- Uploadcare: files by uuid, storing, removal, expiry, add-ons

    def get_by_uuid(self, file_uuid: str, *, tx: Statements | None = None) -> File:
        file = (tx or self.db).get_file_by_uuid(file_uuid) if looks_like_uuid(file_uuid) else None
        if file is None:
            raise NotFound(NOT_FOUND, field="uuid")
        return file

    def get_live_or_removed(self, file_uuid: str) -> File:
        """A file by uuid; a removed one as it was, with `removed_at` set."""
        file = self.db.get_file_by_uuid(file_uuid) if looks_like_uuid(file_uuid) else None
        file = file or (self.db.get_removed_by_uuid(file_uuid) if looks_like_uuid(file_uuid) else None)
        if file is None:
            raise NotFound(NOT_FOUND, field="uuid")
        return file

    def list_by_upload(self, query: UploadListQuery) -> tuple[list[File], int]:
        """One page of files (or removed files) in upload order, and how many there are in all."""
        page = self.db.list_by_upload(
            removed=query.removed, stored=query.stored, since=query.since, descending=query.descending,
            limit=query.limit, offset=query.offset,
        )  # fmt: skip
        return page, self.db.count_by_upload(removed=query.removed, stored=query.stored)

    def upload_totals(self) -> dict[str, int]:
        count = self.db.count_by_upload
        return {
            "removed": count(removed=True, stored=None),
            "stored": count(removed=False, stored=True),
            "unstored": count(removed=False, stored=False),
        }

    async def store(self, file_uuid: str) -> File:
        """Keep the file for good (it is no longer removed a day after upload); storing twice is a no-op."""
        return await self.db.write(lambda tx: self._store(tx, self.get_by_uuid(file_uuid, tx=tx)))

    async def store_many(self, uuids: list[str]) -> tuple[list[File], dict[str, str]]:
        """Store the files that exist; the others are reported as problems, by the uuid as given."""

        def change(tx: Statements) -> tuple[list[File], dict[str, str]]:
            stored: list[File] = []
            problems: dict[str, str] = {}
            for file_uuid in dict.fromkeys(uuids):
                file = tx.get_file_by_uuid(file_uuid) if looks_like_uuid(file_uuid) else None
                if file is None:
                    problems[file_uuid] = "Missing in the project" if looks_like_uuid(file_uuid) else "Invalid"
                else:
                    stored.append(self._store(tx, file))
            return stored, problems

        return await self.db.write(change)

    def _store(self, tx: Statements, file: File) -> File:
        if file.stored_at is not None:
            return file
        now = now_iso()
        stored = replace(file, stored_at=now, updated_at=now)
        tx.update_file(stored)
        self.webhooks.record(Event("file.stored", stored), tx)
        return stored

    async def remove(self, file_uuid: str) -> File:
        """Delete a file; what it was stays listable as a removed file."""
        await self.delete(self.get_by_uuid(file_uuid).id)
        return self.get_live_or_removed(file_uuid)

    async def remove_many(self, uuids: list[str]) -> tuple[list[File], dict[str, str]]:
        wanted = list(dict.fromkeys(uuids))
        problems = {u: "Invalid" for u in wanted if not looks_like_uuid(u)}
        found = {u: f for u in wanted if u not in problems and (f := self.db.get_file_by_uuid(u)) is not None}
        problems.update({u: "Missing in the project" for u in wanted if u not in problems and u not in found})
        deleted, _ = await self.delete_many([f.id for f in found.values()]) if found else ([], [])
        gone = set(deleted)
        removed = [self.get_live_or_removed(u) for u, f in found.items() if f.id in gone]
        problems.update({u: "Missing in the project" for u, f in found.items() if f.id not in gone})
        return removed, problems

    async def expire_unstored(self, now: float | None = None) -> int:
        """Remove files that were never stored, a day after their upload; returns how many went."""
        cutoff = _iso_seconds_ago(UNSTORED_TTL_SECONDS, now)
        expired = 0
        while True:  # each batch is picked inside its write: a file stored meanwhile is not removed
            found, blobs = await self.db.write(lambda tx: self._delete_files(tx, tx.unstored_before(cutoff)))
            self._drop_unused(blobs)
            if not found:
                return expired
            expired += len(found)

    async def run_addon(self, file_uuid: str, ext: ExtensionRequest) -> Job:
        """Queue an add-on on the file's current version; its result will be a new file."""

        def change(tx: Statements) -> Job:
            self._check_capacity(tx, 1)
            file = self.get_by_uuid(file_uuid, tx=tx)
            [job] = self._enqueue(tx, file, [ext], now_iso())
            return job

        job = await self.db.write(change)
        self._queued([job])
        return job

    def addon_job(self, job_id: str) -> tuple[Job, str | None] | None:
        """An add-on request and the uuid of its result file (once there is one); None if unknown."""
        job = self.db.jobs.get(job_id)
        if job is None or job.kind != JobKind.EDIT or job.result_to != ResultTo.FILE:
            return None
        return job, self.db.uuid_of(job.result_file) if job.result_file else None

    def _record_result_file(
        self, tx: Statements, job: Job, owner: str, source: File, result: engine.Result, sha: str, now: str
    ) -> File | None:
        """The cut-out as a new file beside its source; None (nothing written) when the lease was lost."""
        file_id = new_id()
        stem = source.original_filename.rpartition(".")[0] or source.original_filename
        original_filename = f"{stem}.{result.format}"
        name = self._free_name(tx, source.folder, clean_file_name(original_filename))
        appdata, initiator = self.labelers.get(job.dialect, no_labels)(job, source, now)
        version = Version(
            id=file_id, file_id=file_id, number=1, blob=sha, mime=result.mime, size=len(result.data),
            width=result.width, height=result.height, has_alpha=result.has_alpha, created_at=now,
        )  # fmt: skip
        file = File(
            id=file_id,
            uuid=str(uuid.uuid4()),
            name=name,
            folder=source.folder,
            path=source.folder + name,
            original_filename=original_filename,
            version=version,
            appdata=appdata,
            stored_at=now if source.stored_at else None,
            created_at=now,
            updated_at=now,
            **inherited_access(source),
        )
        done = replace(job, status=JobStatus.SUCCEEDED, result_file=file_id)
        if not tx.jobs.finish(done, owner, now):
            return None
        tx.insert_file(file)
        self.webhooks.record(Event("file.created", file, initiator=initiator), tx)
        self.webhooks.record(Event("extension.succeeded", file, job=done), tx)
        return file

    def _free_name(self, tx: Statements, folder: str, file_name: str) -> str:
        name = unique_name(file_name)
        while tx.get_file_by_path(folder + name) is not None:
            name = unique_name(file_name)
        return name

    # -- chunked uploads: each part a blob, the session a row, joined when the client completes

    async def open_chunked(self, upload_uuid: str, declared: dict[str, Any], parts: int, *, max_open: int,
                           open_seconds: float) -> None:  # fmt: skip
        """Open a session for `parts` parts, unless `max_open` sessions were touched in the last `open_seconds`
        (anyone with the public key may start one, and each holds its parts for that long)."""
        now = time.time()

        def change(tx: Statements) -> None:
            if tx.multipart.count_touched_since(now - open_seconds) >= max_open:
                raise TooManyRequests(
                    f"Too many multipart uploads are open ({max_open}). Complete one, or retry later.",
                    retry_after=self.settings.queue_retry_after,
                )
            tx.multipart.create(upload_uuid, declared, parts, now)

        await self.db.write(change)

    def chunked(self, upload_uuid: str) -> tuple[dict[str, Any], list[str | None]] | None:
        """A session's declared upload and each part's blob (None where not yet received)."""
        return self.db.multipart.get(upload_uuid)

    async def put_chunk(self, upload_uuid: str, index: int, data: bytes) -> bool:
        """Keep one part (sent again, it replaces the first); False when the session is gone."""
        sha = await to_thread.run_sync(self.blobs.put, data)

        def change(tx: Statements) -> tuple[str | None, bool]:
            found = tx.multipart.get(upload_uuid)
            old = found[1][index] if found and index < len(found[1]) else None
            return old, tx.multipart.set_part(upload_uuid, index, sha, time.time())

        old, kept = await self._record_blob(sha, self.db.write(change), lambda result: result[1])
        if kept and old and old != sha:
            self._drop_unused({old})
        return kept

    async def join_chunks(self, parts: list[str | None]) -> bytes | None:
        """The parts' bytes in order; None when one is missing."""
        if not all(parts):
            return None
        chunks = [await self._read_blob(sha) for sha in parts if sha]
        return None if any(c is None for c in chunks) else b"".join(c for c in chunks if c is not None)

    async def close_chunked(self, upload_uuid: str) -> None:
        """Drop the session; its parts' blobs go unless something else holds the same bytes."""
        self._drop_unused(await self.db.write(lambda tx: tx.multipart.delete(upload_uuid)))

    async def sweep_chunked(self, older_than_seconds: float, now: float | None = None) -> int:
        """Drop sessions untouched for `older_than_seconds`; returns how many went."""
        cutoff = (time.time() if now is None else now) - older_than_seconds

        def change(tx: Statements) -> tuple[int, set[str]]:  # picked inside the write: a part may arrive meanwhile
            stale = tx.multipart.untouched_before(cutoff)
            return len(stale), {sha for upload_uuid in stale for sha in tx.multipart.delete(upload_uuid)}

        swept, parts = await self.db.write(change)
        self._drop_unused(parts)
        return swept

    # -- versions

    def versions(self, file_id: str) -> tuple[File, list[Version]]:
        file = self.get(file_id)
        return file, self.db.list_versions(file.id)

    def version(self, file_id: str, version_id: str, *, tx: Statements | None = None) -> tuple[File, Version]:
        file = self.get(file_id, tx=tx)
        version = (tx or self.db).get_version(file.id, version_id) if _looks_like_id(version_id) else None
        if version is None:
            raise NotFound("The requested asset does not exist.", field="versionId")
        return file, version

    async def delete_version(self, file_id: str, version_id: str) -> None:
        def change(tx: Statements) -> Version:
            file, version = self.version(file_id, version_id, tx=tx)
            if version.id == file.version.id:
                raise BadRequest("You cannot delete current version of a file.", field="versionId")
            tx.delete_version(version.id)
            self.webhooks.record(Event("file-version.deleted", file, version=version), tx)
            return version

        version = await self.db.write(change)
        self._drop_unused({b for b in (version.blob, version.thumb_blob) if b})

    async def restore_version(self, file_id: str, version_id: str) -> File:
        def change(tx: Statements) -> File:
            file, version = self.version(file_id, version_id, tx=tx)
            restored = replace(file, version=version, updated_at=now_iso())
            tx.update_file(restored)
            self.webhooks.record(Event("file.updated", restored), tx)
            return restored

        return await self.db.write(change)

    # -- bytes

    def media(self, path: str, version_id: str | None = None) -> tuple[File, Version]:
        file = self.db.get_file_by_path(path)
        if file is None:
            raise NotFound(NOT_FOUND)
        if version_id is None:
            return file, file.version
        return self.version(file.id, version_id)

    def readable(self, file: File, version: Version, *, signed: bool) -> bool:
        """The read policy: the bytes of a private or unpublished file need a signed request (a signed URL,
        or a caller holding a key); `version` is any version of `file`, all of which share its access."""
        return signed or not file.restricted

    async def open(self, version: Version) -> BinaryIO:
        """The version's bytes as a file object to stream; NotFound when a delete removed them meanwhile."""
        try:
            return await to_thread.run_sync(self.blobs.open, version.blob)
        except FileNotFoundError:
            raise NotFound(NOT_FOUND) from None

    async def read(self, version: Version) -> bytes:
        """The version's bytes; NotFound when a delete removed them after the version was looked up."""
        data = await self._read_blob(version.blob)
        if data is None:
            raise NotFound(NOT_FOUND)
        return data

    async def _read_blob(self, sha: str) -> bytes | None:
        try:
            return await to_thread.run_sync(self.blobs.read, sha)
        except FileNotFoundError:
            return None

    async def thumbnail(self, version: Version) -> tuple[bytes, str]:
        """A small preview, made on first request and kept as a blob."""
        if version.thumb_blob and (data := await self._read_blob(version.thumb_blob)) is not None:
            return data, _mime_of_thumbnail(data)
        # One decode per version however many ask at once; each asker waits for it (shielded, so that
        # one leaving does not cancel it for the others).
        making = self._thumbnails.get(version.id)
        if making is None:
            making = asyncio.ensure_future(self._make_thumbnail(version))
            self._thumbnails[version.id] = making
            making.add_done_callback(lambda done: self._thumbnail_made(version.id, done))
        return await asyncio.shield(making)

    def _thumbnail_made(self, version_id: str, done: asyncio.Future[tuple[bytes, str]]) -> None:
        del self._thumbnails[version_id]
        if not done.cancelled():
            done.exception()  # retrieved here: every asker may have left

    async def _make_thumbnail(self, version: Version) -> tuple[bytes, str]:
        original = await self.read(version)
        cost = await to_thread.run_sync(engine.decode_cost, original, self.limits, engine.Work.THUMBNAIL)
        data, mime = await self.budget.run(cost, lambda: engine.thumbnail(original, limits=self.limits))
        sha = await to_thread.run_sync(self.blobs.put, data)
        # Not kept when the version was deleted while its preview was made: the blob belongs to nobody.
        await self._record_blob(sha, self.db.write(lambda tx: tx.set_thumbnail(version.id, sha)), lambda kept: kept)
        return data, mime

    async def sweep_orphans(self, batch: int = 500) -> int:
        """Remove blobs nothing refers to and abandoned temp files (a kill between writing a blob and
        recording it leaves them), once older than the grace period; returns how many went.

        The grace period spares uploads in flight, whose blobs are written before their rows; the folder
        is read in batches off the event loop, and each batch's references are looked up at once."""
        cutoff = time.time() - self.settings.orphan_grace_seconds
        found = self.blobs.older_than(cutoff)
        removed = 0
        while paths := await to_thread.run_sync(lambda: list(itertools.islice(found, batch))):
            temps = [p for p in paths if p.name.startswith(TEMP_PREFIX)]
            unused = self.db.unreferenced({p.name for p in paths if not p.name.startswith(TEMP_PREFIX)})
            stale = temps + [p for p in paths if p.name in unused]
            removed += await to_thread.run_sync(self.blobs.remove_stale, stale, cutoff)
        return removed

    def _drop_unused(self, blobs: set[str]) -> None:
        for sha in self.db.unreferenced(blobs):
            self.blobs.delete(sha)


def _iso_seconds_ago(seconds: float, now: float | None = None) -> str:
    """The moment `seconds` before `now` (a Unix time; the present when None), as stored times are written."""
    moment = datetime.fromtimestamp((time.time() if now is None else now) - seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mime_of_thumbnail(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


def _looks_like_id(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{24}", value))


def looks_like_uuid(value: str) -> bool:
    """A lowercase canonical UUID, as Uploadcare writes them."""
    return bool(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value))


def loads_client_json(raw: str | bytes) -> Any:
    """JSON from a client, held to what we can store and send back: ValueError (saying why) for bad
    syntax, NaN / Infinity / numbers beyond float range, nesting too deep to walk, and lone surrogates."""

    def finite(text: str) -> float:
        if not math.isfinite(value := float(text)):
            raise ValueError(f"the number {text[:24]} is out of range")
        return value

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        value = json.loads(raw, parse_float=finite, parse_constant=refuse)
        json.dumps(value, ensure_ascii=False).encode()  # a lone surrogate cannot be stored as UTF-8
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    except UnicodeError:
        raise ValueError("it is not valid UTF-8 text (a lone surrogate or a bad byte)") from None
    return value


def parse_json_object(raw: str, field: str) -> dict[str, Any]:
    try:
        value = loads_client_json(raw)
    except ValueError as exc:
        raise BadRequest(f"{field} must be a valid JSON object: {str(exc)[:200]}.", field=field) from None
    if not isinstance(value, dict):
        raise BadRequest(f"{field} must be a JSON object.", field=field)
    return value
