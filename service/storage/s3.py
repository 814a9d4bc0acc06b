"""One bucket of an S3-compatible store (AWS, MinIO, R2, Ceph...) through boto3: the object layer of the `s3`
connector, kept free of connector rules so that a blob store on S3 can stand on it too.

boto3 is synchronous: every method blocks, and callers on the event loop run them in a worker thread
(`anyio.to_thread`). The client is thread-safe; creating one is not, hence the lock.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import ObjectNotFound, ObjectTooLarge, StorageDenied, StorageError, StorageUnavailable

DEFAULT_REGION = "us-east-1"
MULTIPART_THRESHOLD = 16 * 1024 * 1024  # larger objects go up in parts of this size, several at once
CHUNK = 64 * 1024
# Error codes S3 and the compatible stores answer for a key that is unknown, a signature that does not
# verify, or a key that may not do this.
DENIED = frozenset({
    "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
    "InvalidClientTokenId", "AllAccessDisabled", "AccountProblem", "UnauthorizedAccess", "Forbidden", "403",
})  # fmt: skip
MISSING = frozenset({"NoSuchKey", "NotFound", "404"})
_client_lock = threading.Lock()


def default_endpoint(region: str) -> str:
    """AWS's own endpoint for `region`, which the egress rules check like any other."""
    return f"https://s3.{region}.amazonaws.com"


class S3Objects:
    """get / put / list / delete / stream on one bucket; failures are StorageErrors whose messages hold no secret."""

    def __init__(
        self, *, bucket: str, access_key: str, secret_key: str, region: str = DEFAULT_REGION,
        endpoint_url: str | None = None, multipart_threshold: int = MULTIPART_THRESHOLD,
        connect_timeout: float = 5.0, read_timeout: float = 30.0,
    ) -> None:  # fmt: skip
        self.bucket = bucket
        self.endpoint_url = endpoint_url or default_endpoint(region)
        config = Config(
            region_name=region,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": 2, "mode": "standard"},
            # Path-style requests work on every compatible store; AWS still serves them.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # Only the endpoint given here is ever called (not one from AWS_ENDPOINT_URL or ~/.aws/config):
            # it is the one the egress rules checked.
            ignore_configured_endpoint_urls=True,
            # CRC checksums on every request are recent AWS behaviour that several compatible stores refuse.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            proxies={},  # none from the environment either: requests go where the egress rules checked
        )
        with _client_lock:
            session = boto3.session.Session(
                aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
            )
            self.client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_threshold, use_threads=True,
            max_concurrency=4,
        )  # fmt: skip

    def endpoints(self) -> tuple[str, ...]:
        """Every URL this bucket's requests go to (what the egress rules must allow)."""
        return (self.endpoint_url,)

    def url(self, key: str) -> str | None:
        """No public URL: the bucket's objects are read through this client."""
        return None

    def check(self) -> None:
        """The bucket exists and the credentials may reach it."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, None) from None

    def get(self, key: str, *, max_bytes: int) -> tuple[bytes, str | None]:
        """The object's bytes and content type; ObjectTooLarge past `max_bytes`."""
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
            body = reply["Body"]
            try:
                if int(reply.get("ContentLength") or 0) > max_bytes:
                    raise ObjectTooLarge(f"the object {key!r} is larger than {max_bytes} bytes")
                data = body.read(max_bytes + 1)
            finally:
                body.close()
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from None
        if len(data) > max_bytes:
            raise ObjectTooLarge(f"the object {key!r} is larger than {max_bytes} bytes")
        return data, reply.get("ContentType")

    def stream(self, key: str, chunk: int = CHUNK) -> Iterator[bytes]:
        """The object in chunks, for serving it without holding it whole."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from None
        try:
            while piece := body.read(chunk):
                yield piece
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from None
        finally:
            body.close()

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store `data` at `key`: one PUT, or a multipart upload past the threshold."""
        extra = {"ContentType": content_type} if content_type else {}
        try:
            if len(data) <= self.transfer.multipart_threshold:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)
            else:
                self.client.upload_fileobj(io.BytesIO(data), self.bucket, key, ExtraArgs=extra, Config=self.transfer)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from None

    def list(self, prefix: str, *, recursive: bool) -> list[str]:
        """Keys under `prefix`, sorted; without `recursive`, only those directly in it (no deeper `/`).
        Folder markers (keys ending in `/`) are not objects."""
        keys: list[str] = []
        extra = {} if recursive else {"Delimiter": "/"}
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, **extra
            ):
                keys += [item["Key"] for item in page.get("Contents", ()) if not item["Key"].endswith("/")]
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, None) from None
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Remove the object (nothing happens when it is absent, as S3 does)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from None

    def close(self) -> None:
        self.client.close()

    def _error(self, exc: ClientError | BotoCoreError, key: str | None) -> StorageError:
        """The StorageError for a failed call on `key` (None: on the bucket). The store's own message is
        left out: some quote the request they refused."""
        if not isinstance(exc, ClientError):  # no answer: connection refused or reset, a timeout, a bad URL
            return StorageUnavailable(f"the endpoint {self.endpoint_url} did not answer ({type(exc).__name__})",
                                      transient=True)  # fmt: skip
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code == "NoSuchBucket" or (key is None and (code in MISSING or status == 404)):
            return StorageUnavailable(f"the bucket {self.bucket!r} does not exist")
        if code in MISSING or status == 404:
            return ObjectNotFound(f"there is no object {key!r} in the bucket {self.bucket!r}")
        if code in DENIED or status in (401, 403):
            return StorageDenied(f"the store refused the credentials for the bucket {self.bucket!r} ({code or status})")
        return StorageUnavailable(f"the store answered {code or 'HTTP'} {status}",
                                  transient=status >= 500 or status == 429)  # fmt: skip
