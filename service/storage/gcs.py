"""One Google Cloud Storage bucket through google-cloud-storage, with a service-account key, or anonymously
at an `endpoint_url` (an emulator such as gcp-storage-emulator, or a compatible server) given no key.

Synchronous like boto3: callers on the event loop run these methods in a worker thread.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from google.api_core import exceptions as api
from google.auth import exceptions as auth
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession, Request
from google.cloud import storage
from google.oauth2 import service_account

from .errors import ObjectNotFound, ObjectTooLarge, StorageDenied, StorageError, StorageUnavailable

GOOGLE_ENDPOINT = "https://storage.googleapis.com"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
TIMEOUT = (5.0, 30.0)  # connect, read
_client_lock = threading.Lock()


def credentials_from(info: dict[str, Any]) -> Credentials:
    """Credentials from a service-account key; ValueError (without the key) when it cannot be parsed."""
    try:
        return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            {"token_uri": GOOGLE_TOKEN_URI, **info}, scopes=SCOPES
        )
    except (ValueError, KeyError, TypeError):
        raise ValueError("the private key of the service-account key cannot be read") from None


class GCSObjects:
    """get / put / list on one bucket; failures are StorageErrors whose messages hold no secret."""

    def __init__(self, *, bucket: str, credentials: dict[str, Any] | None, endpoint_url: str | None = None):
        self.bucket = bucket
        self.endpoint_url = endpoint_url or GOOGLE_ENDPOINT
        # The token endpoint is called too when a key is used: the egress rules check it as well.
        self.token_uri = str((credentials or {}).get("token_uri") or GOOGLE_TOKEN_URI) if credentials else None
        creds: Credentials = credentials_from(credentials) if credentials else AnonymousCredentials()  # type: ignore[no-untyped-call]
        project = (credentials or {}).get("project_id") or "cutout"
        # No proxy from the environment, for the token requests either: they go where the egress rules checked.
        plain = requests.Session()
        plain.trust_env = False
        http = AuthorizedSession(creds, auth_request=Request(plain))  # type: ignore[no-untyped-call]
        http.trust_env = False
        with _client_lock:
            self.client = storage.Client(
                project=project, credentials=creds, client_options={"api_endpoint": self.endpoint_url}, _http=http
            )
        self._bucket = self.client.bucket(bucket)

    def endpoints(self) -> tuple[str, ...]:
        return (self.endpoint_url,) if self.token_uri is None else (self.endpoint_url, self.token_uri)

    def check(self) -> None:
        try:
            self.client.get_bucket(self.bucket, timeout=TIMEOUT, retry=None)
        except Exception as exc:  # noqa: BLE001 - translated below; anything else is re-raised
            raise self._error(exc, None) from None

    def get(self, key: str, *, max_bytes: int) -> tuple[bytes, str | None]:
        try:
            blob = self._bucket.get_blob(key, timeout=TIMEOUT, retry=None)
            if blob is None:
                raise self._missing(key)
            if (blob.size or 0) > max_bytes:
                raise ObjectTooLarge(f"the object {key!r} is larger than {max_bytes} bytes")
            data: bytes = blob.download_as_bytes(timeout=TIMEOUT, retry=None)
        except Exception as exc:  # noqa: BLE001 - translated below; anything else is re-raised
            raise self._error(exc, key) from None
        if len(data) > max_bytes:
            raise ObjectTooLarge(f"the object {key!r} is larger than {max_bytes} bytes")
        return data, blob.content_type

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        try:
            # The library switches to a resumable (chunked) upload for large objects by itself.
            self._bucket.blob(key).upload_from_string(
                data, content_type=content_type or "application/octet-stream", timeout=TIMEOUT, retry=None
            )
        except Exception as exc:  # noqa: BLE001 - translated below; anything else is re-raised
            raise self._error(exc, key) from None

    def list(self, prefix: str, *, recursive: bool) -> list[str]:
        try:
            blobs = self.client.list_blobs(
                self.bucket, prefix=prefix, delimiter=None if recursive else "/", timeout=TIMEOUT, retry=None
            )
            return sorted(blob.name for blob in blobs if not blob.name.endswith("/"))
        except Exception as exc:  # noqa: BLE001 - translated below; anything else is re-raised
            raise self._error(exc, None) from None

    def url(self, key: str) -> str | None:
        return None

    def close(self) -> None:
        self.client.close()

    def _missing(self, key: str) -> StorageError:
        """A missing object, or the whole bucket gone (GCS answers 404 for both)."""
        try:
            exists = self._bucket.exists(timeout=TIMEOUT, retry=None)
        except Exception as exc:  # noqa: BLE001 - translated below; anything else is re-raised
            return self._error(exc, None)
        if not exists:
            return StorageUnavailable(f"the bucket {self.bucket!r} does not exist")
        return ObjectNotFound(f"there is no object {key!r} in the bucket {self.bucket!r}")

    def _error(self, exc: Exception, key: str | None) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        if isinstance(exc, api.NotFound):
            return self._missing(key) if key is not None else StorageUnavailable(
                f"the bucket {self.bucket!r} does not exist")  # fmt: skip
        if isinstance(exc, api.Forbidden | api.Unauthorized | auth.RefreshError | auth.DefaultCredentialsError):
            return StorageDenied(f"the store refused the credentials for the bucket {self.bucket!r}")
        if isinstance(exc, requests.RequestException | auth.TransportError):
            return StorageUnavailable(f"the endpoint {self.endpoint_url} did not answer ({type(exc).__name__})",
                                      transient=True)  # fmt: skip
        if isinstance(exc, api.GoogleAPICallError):
            status = int(exc.code or 0)
            return StorageUnavailable(f"the store answered HTTP {status}", transient=status >= 500 or status == 429)
        raise exc
