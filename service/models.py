"""Domain records: what the library stores, independent of any wire format."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# A custom metadata key, in full (fullmatch: `$` would let a trailing newline through).
METADATA_KEY = re.compile(r"[A-Za-z0-9_\-.:]{1,64}")


def new_id() -> str:
    """A 24-character lowercase hex id, the shape of ImageKit's fileId."""
    return secrets.token_hex(12)


def now_iso() -> str:
    """Current UTC time, ISO 8601 with milliseconds and `Z` (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Version:
    id: str
    file_id: str
    number: int
    blob: str
    mime: str
    size: int
    width: int
    height: int
    has_alpha: bool
    created_at: str
    thumb_blob: str | None = None

    @property
    def name(self) -> str:
        return f"Version {self.number}"


@dataclass(frozen=True)
class File:
    id: str
    uuid: str
    name: str
    folder: str  # "/" or "/a/b/"
    path: str  # folder + name
    original_filename: str
    version: Version  # the current version
    tags: tuple[str, ...] = ()
    custom_metadata: dict[str, Any] = field(default_factory=dict)
    custom_coordinates: str | None = None
    description: str | None = None
    ai_tags: list[dict[str, Any]] | None = None
    appdata: dict[str, Any] = field(default_factory=dict)
    is_private: bool = False
    is_published: bool = True
    stored_at: str | None = None
    removed_at: str | None = None
    created_at: str = ""
    updated_at: str = ""

    @property
    def restricted(self) -> bool:
        """Private or unpublished: its bytes need a signed URL, and public-key callers cannot see it."""
        return self.is_private or not self.is_published


@dataclass(frozen=True)
class Folder:
    id: str
    path: str  # "/a/b/"
    created_at: str
    updated_at: str

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobKind(StrEnum):
    """What a job does; the runner has one handler for each."""

    EDIT = "edit"  # an extension (remove-bg) run on one version of a file
    IMPORT = "import"  # fetch a URL and upload what it holds as a new file
    TASK = "task"  # one item of a task: edit an image from outside the library, write the result out of it


class ResultTo(StrEnum):
    """Where an edit's result goes; the dialect that asks for the edit chooses."""

    VERSION = "version"  # a new version of the source file (ImageKit)
    FILE = "file"  # a new file beside the source (Uploadcare add-ons)
    CONVERSION = "conversion"  # a named conversion of the source file (`Job.conversion_name`)


@dataclass(frozen=True)
class Job:
    """One unit of queued work: an edit of one version of a file, or an import of a URL.

    An import has no file until it lands: its `file_id` and `source_version` are empty, its `options`
    hold the source URL and the new file's fields, and `result_file` names the file it made.
    """

    id: str
    file_id: str
    source_version: str
    extension: str
    options: dict[str, Any]  # the edit's JSON (engine.edit_to_json); v0 rows hold raw remove.bg options
    dialect: str
    status: JobStatus
    attempts: int = 0
    webhook_url: str | None = None
    lease_owner: str | None = None
    lease_expires: float | None = None
    run_after: float = 0.0
    result_version: str | None = None
    result_file: str | None = None
    error_reason: str | None = None
    error_message: str | None = None
    created_at: str = ""
    updated_at: str = ""
    kind: JobKind = JobKind.EDIT
    result_to: ResultTo = ResultTo.VERSION
    conversion_name: str | None = None  # the conversion an edit makes, when result_to is CONVERSION
    progress: dict[str, Any] | None = None  # how far a running import has got: {"done": n, "total": n | None}
    result: dict[str, Any] | None = None  # what a task item made: its input and output described (tasks.py)


@dataclass(frozen=True)
class Task:
    """Edits asked for together (one image, or a batch), each item a job of kind TASK; `id` is a number
    because the API that asks for them numbers them. `request` is the request as the client sent it."""

    id: int
    kind: str  # "single" | "batch"
    dialect: str
    request: dict[str, Any]
    webhook_url: str | None
    items: int
    created_at: str

    @staticmethod
    def job_id(task_id: int, index: int) -> str:
        return f"task-{task_id}-{index:06d}"


@dataclass(frozen=True)
class TemporaryResult:
    """A result kept for a while behind an unguessable token (an edit with nowhere to write it)."""

    token: str
    blob: str
    mime: str
    name: str  # the file name it is served as
    expires_at: float  # unix time
    created_at: str


@dataclass(frozen=True)
class Endpoint:
    """A registered webhook URL: the events it wants, its secret, and the wire format of its payloads."""

    id: int
    url: str
    events: tuple[str, ...]  # event names in the endpoint's format; empty means every event
    secret: str  # whsec_...: Standard Webhooks and x-ik-signature
    format: str = "imagekit"  # imagekit | uploadcare
    description: str = ""
    active: bool = True
    signing_secret: str | None = None  # Uploadcare's optional X-Uc-Signature secret
    version: str = "0.7"  # Uploadcare's payload version
    disabled_reason: str | None = None
    failing_since: float | None = None  # unix time of the first failure since the last success
    created_at: str = ""
    updated_at: str = ""
    # The secret a rotation replaced, still signing beside the new one until this unix time.
    previous_secret: str | None = None
    previous_secret_expires: float | None = None

    def signing_secrets(self, now: float) -> tuple[str, ...]:
        """The secrets that sign a delivery at `now`: the current one, then the replaced one in its overlap."""
        if self.previous_secret and self.previous_secret_expires is not None and now < self.previous_secret_expires:
            return (self.secret, self.previous_secret)
        return (self.secret,)


class DeliveryState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Attempt:
    number: int
    at: str
    status_code: int | None
    latency_ms: int
    response: str  # the first 2 KB of the response body
    error: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One event to one URL; its body is fixed when the event happens, its signature at each attempt."""

    id: str  # msg_...: the webhook-id, the same on every attempt
    event: str
    url: str
    body: bytes
    format: str
    endpoint_id: int | None = None  # None: a per-request webhookUrl, signed with the service's secret
    file_id: str | None = None
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_status: int | None = None
    last_error: str | None = None
    created_at: str = ""
    updated_at: str = ""


@dataclass(frozen=True)
class StorageRecord:
    """A registered storage connector, as every API may show it: its credentials are never part of it."""

    id: int
    name: str
    type: str
    parameters: dict[str, Any]
    created_at: str
