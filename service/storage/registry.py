"""The registered storages: create, list, delete them, and read, write and list objects by `storage://` URI.

Credentials are encrypted (Fernet, with the service's encryption key) before they reach the database and
decrypted only to build a client; no record, message or log line carries them. Every call that leaves the
machine first checks its endpoints against the egress rules (the store's own client then connects, so a
DNS answer that changes between the check and the connection is not caught, unlike webhooks).
"""

from __future__ import annotations

import builtins
import json
import logging
import mimetypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from anyio import to_thread
from cryptography.fernet import Fernet, InvalidToken

from ..db import Database
from ..egress import Egress, EgressBlocked
from ..models import StorageRecord, now_iso
from .errors import ObjectNotFound, StorageError, StorageExists, StorageInvalid, StorageNotFound, StorageUnavailable
from .gcs import GCSObjects
from .params import Definition, check
from .s3 import DEFAULT_REGION, S3Objects
from .uri import StorageURI, parse, path_problems
from .web_folder import TOKEN, WebFolder, folder_url, new_token

log = logging.getLogger("cutout.storage")
# The store clients log every request's headers at DEBUG: the access key id and signatures among them.
STORE_CLIENT_LOGGERS = ("boto3", "botocore", "s3transfer", "urllib3", "google", "google_auth_httplib2")


def quiet_store_clients() -> None:
    """Keep the store clients' loggers at INFO or above, whatever the service's own level."""
    for name in STORE_CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logging.INFO, logger.getEffectiveLevel()))


class Connector(Protocol):
    """One bucket (or folder) of a store, with blocking calls; run them off the event loop."""

    bucket: str

    def endpoints(self) -> tuple[str, ...]: ...
    def check(self) -> None: ...
    def get(self, key: str, *, max_bytes: int) -> tuple[bytes, str | None]: ...
    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...
    def list(self, prefix: str, *, recursive: bool) -> builtins.list[str]: ...
    def url(self, key: str) -> str | None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    name: str  # the last segment of the path: the file name an output keeps
    mime: str | None
    uri: str


@dataclass(frozen=True)
class WrittenObject:
    uri: str
    key: str  # the object's whole key in its bucket, the storage's prefix included
    bucket: str
    url: str | None = None  # where anyone may read it (web folders); None for private buckets


class Storages:
    """The storage connectors of one service."""

    def __init__(self, db: Database, egress: Egress, *, encryption_key: str, root: Path, base_url: str):
        self.db = db
        self.egress = egress
        self.fernet = Fernet(encryption_key.encode())
        self.root = Path(root)  # web folders live here
        self.base_url = base_url
        self._connectors: dict[int, Connector] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the store clients (at shutdown)."""
        with self._lock:
            connectors, self._connectors = list(self._connectors.values()), {}
        for connector in connectors:
            connector.close()

    # ---- records ----------------------------------------------------------------------------------

    async def create(self, name: str, type: str, parameters: dict[str, Any]) -> StorageRecord:
        """Check the definition, reach the store with it, then record it; StorageInvalid (422) naming each bad
        field, StorageExists (409), or the store's refusal (StorageDenied, StorageUnavailable) as a 400."""
        definition = check(name, type, parameters)
        if self.db.storages.by_name(definition.name) is not None:
            raise StorageExists({"name": [f"a storage named {definition.name!r} already exists"]})
        public = dict(definition.parameters)
        if definition.type == "web_folder":
            public["bucket"] = new_token()
        connector = await to_thread.run_sync(self._build, definition.type, public, definition.credentials)
        try:
            await self._allowed(connector, creating=True, name=definition.name)
            with _about(definition.name):
                if isinstance(connector, WebFolder):
                    await to_thread.run_sync(connector.create)
                await to_thread.run_sync(connector.check)
            sealed = self._seal(definition)
            record = await self.db.write(
                lambda tx: tx.storages.insert(definition.name, definition.type, public, sealed, now_iso())
            )
            if record is None:  # another request took the name meanwhile
                raise StorageExists({"name": [f"a storage named {definition.name!r} already exists"]})
        except BaseException:
            connector.close()
            if isinstance(connector, WebFolder):  # made just now, under a fresh token: nobody else's
                await to_thread.run_sync(connector.remove)
            raise
        with self._lock:
            self._connectors[record.id] = connector
        log.info("storage %d %r (%s) created", record.id, record.name, record.type)
        return self._shown(record)

    def list(self) -> builtins.list[StorageRecord]:
        return [self._shown(record) for record in self.db.storages.all()]

    def get(self, storage_id: int) -> StorageRecord:
        found = self.db.storages.get(storage_id)
        if found is None:
            raise StorageNotFound(f"there is no storage with id {storage_id}")
        return self._shown(found[0])

    def _shown(self, record: StorageRecord) -> StorageRecord:
        """The record as the APIs show it: a web folder's parameters gain `url`, where its objects are read,
        made from the public URL of now (not of when it was created)."""
        if record.type != "web_folder":
            return record
        url = folder_url(self.base_url, record.parameters["bucket"]) + str(record.parameters.get("path") or "")
        return replace(record, parameters={**record.parameters, "url": url})

    async def delete(self, storage_id: int) -> None:
        """Forget the storage (a web folder's objects go with it; a bucket is left as it is)."""
        record = self.get(storage_id)
        if not await self.db.write(lambda tx: tx.storages.delete(storage_id)):
            raise StorageNotFound(f"there is no storage with id {storage_id}")
        with self._lock:
            connector = self._connectors.pop(storage_id, None)
        if connector is not None:
            connector.close()
        if record.type == "web_folder":
            await to_thread.run_sync(WebFolder(self.root, record.parameters["bucket"], self.base_url).remove)
        log.info("storage %d %r deleted", record.id, record.name)

    # ---- objects ----------------------------------------------------------------------------------

    def check(self, uri: str, *, folder: bool | None = None) -> StorageURI:
        """`uri` parsed, naming a registered storage (StorageInvalid / StorageNotFound), without touching the store."""
        where = parse(uri, folder=folder)
        self._record(where)
        return where

    async def read(self, uri: str, *, max_bytes: int) -> StoredObject:
        """The object at `uri` (not a folder); ObjectNotFound, ObjectTooLarge, or the store's refusal."""
        where = parse(uri, folder=False)
        record, connector = await self._open(where)
        key = _prefix(record) + where.path
        with _about(record.name):
            data, mime = await to_thread.run_sync(lambda: connector.get(key, max_bytes=max_bytes))
        name = where.path.rsplit("/", 1)[-1]
        if not mime or mime == "application/octet-stream" or mime == "binary/octet-stream":
            mime = mimetypes.guess_type(name)[0] or mime
        return StoredObject(data=data, name=name, mime=mime, uri=str(where))

    async def write(self, uri: str, data: bytes, mime: str) -> WrittenObject:
        """Store `data` at `uri`, which names an object: the caller joins an output folder and a file name."""
        where = parse(uri, folder=False)
        record, connector = await self._open(where)
        key = _prefix(record) + where.path
        with _about(record.name):
            await to_thread.run_sync(lambda: connector.put(key, data, mime))
        return WrittenObject(uri=str(where), key=key, bucket=connector.bucket, url=connector.url(key))

    async def list_objects(self, uri: str, *, recursive: bool) -> builtins.list[str]:
        """The object URIs in the folder `uri` (ending in `/`), sorted; with `recursive`, in its subfolders too."""
        where = parse(uri, folder=True)
        record, connector = await self._open(where)
        prefix = _prefix(record)
        with _about(record.name):
            keys = await to_thread.run_sync(lambda: connector.list(prefix + where.path, recursive=recursive))
        # A key the URI grammar cannot express (`a//b`, `../x`) is left out rather than handed on unreadable.
        relative = [key[len(prefix) :] for key in keys]
        return [
            where.child(path[len(where.path) :]) for path in relative if not path_problems(path, folder_allowed=False)
        ]

    def web_object(self, token: str, key: str) -> Path:
        """The file of a web folder's object, for serving; ObjectNotFound for any token or key that is not one
        (without saying which)."""
        missing = ObjectNotFound("No such object.")
        if not TOKEN.fullmatch(token) or path_problems(key, folder_allowed=False) or not key:
            raise missing
        record = self.db.storages.by_web_token(token)
        if record is None:
            raise missing
        try:
            path = WebFolder(self.root, token, self.base_url).path(key)
        except ObjectNotFound:
            raise missing from None
        if not path.is_file():
            raise missing
        return path

    # ---- internals --------------------------------------------------------------------------------

    def _record(self, where: StorageURI) -> tuple[StorageRecord, bytes | None]:
        found = self.db.storages.by_name(where.name)
        if found is None:
            raise StorageNotFound(f"there is no storage named {where.name!r}")
        return found

    async def _open(self, where: StorageURI) -> tuple[StorageRecord, Connector]:
        record, sealed = self._record(where)
        with self._lock:
            connector = self._connectors.get(record.id)
        if connector is None:
            credentials = self._unseal(record, sealed)
            connector = await to_thread.run_sync(self._build, record.type, record.parameters, credentials)
            with self._lock:
                connector = self._connectors.setdefault(record.id, connector)
        await self._allowed(connector, creating=False, name=record.name)
        return record, connector

    def _build(self, type: str, parameters: dict[str, Any], credentials: dict[str, Any] | None) -> Connector:
        if type == "s3":
            assert credentials is not None
            return S3Objects(
                bucket=parameters["bucket"], access_key=credentials["access_key"],
                secret_key=credentials["secret_access_key"], region=parameters.get("region") or DEFAULT_REGION,
                endpoint_url=parameters.get("endpoint_url"),
            )  # fmt: skip
        if type == "gcs":
            try:
                return GCSObjects(
                    bucket=parameters["bucket"], credentials=credentials, endpoint_url=parameters.get("endpoint_url")
                )
            except ValueError as exc:
                raise StorageInvalid({"parameters.credentials": [str(exc)]}) from None
        return WebFolder(self.root, parameters["bucket"], self.base_url)

    async def _allowed(self, connector: Connector, *, creating: bool, name: str = "") -> None:
        label = f"storage {name!r}: " if name else ""
        for url in connector.endpoints():
            try:
                await self.egress.check(url)
            except EgressBlocked as exc:
                if creating and not exc.transient:  # a non-public address, a port the rules refuse
                    field = (
                        "parameters.endpoint_url"
                        if url == getattr(connector, "endpoint_url", "")
                        else "parameters.credentials.token_uri"
                    )
                    raise StorageInvalid({field: [f"is not allowed: {exc.message}"]}) from None
                if exc.transient:  # the host does not resolve (now)
                    raise StorageUnavailable(f"{label}the endpoint {url} cannot be reached: {exc.message}",
                                             transient=True) from None  # fmt: skip
                raise StorageUnavailable(f"{label}its endpoint is not allowed: {exc.message}") from None

    def _seal(self, definition: Definition) -> bytes | None:
        if definition.credentials is None:
            return None
        return self.fernet.encrypt(json.dumps(definition.credentials).encode())

    def _unseal(self, record: StorageRecord, sealed: bytes | None) -> dict[str, Any] | None:
        if sealed is None:
            return None
        try:
            return json.loads(self.fernet.decrypt(sealed))
        except InvalidToken:
            raise StorageUnavailable(
                f"storage {record.name!r}: its credentials cannot be decrypted with this CUTOUT_ENCRYPTION_KEY "
                "(was the key changed?); register the storage again"
            ) from None


def _prefix(record: StorageRecord) -> str:
    return str(record.parameters.get("path") or "")


@contextmanager
def _about(name: str) -> Iterator[None]:
    """Say which storage a store's error is about."""
    try:
        yield
    except StorageError as exc:
        exc.message = f"storage {name!r}: {exc.message}"
        exc.args = (exc.message,)
        raise
