"""Storage connectors: buckets of S3-compatible stores, Google Cloud Storage, and web folders in the data
directory, addressed as `storage://name/path` by every dialect."""

from ..models import StorageRecord
from .errors import (
    ObjectNotFound,
    ObjectTooLarge,
    StorageDenied,
    StorageError,
    StorageExists,
    StorageInvalid,
    StorageNotFound,
    StorageUnavailable,
)
from .params import TYPES
from .registry import Storages, StoredObject, WrittenObject, quiet_store_clients
from .s3 import S3Objects
from .uri import SCHEME, is_storage_uri
from .web_folder import ROUTE as WEB_FOLDER_ROUTE
from .web_folder import WebFolder

__all__ = [
    "SCHEME",
    "TYPES",
    "WEB_FOLDER_ROUTE",
    "ObjectNotFound",
    "ObjectTooLarge",
    "S3Objects",
    "StorageDenied",
    "StorageError",
    "StorageExists",
    "StorageInvalid",
    "StorageNotFound",
    "StorageRecord",
    "StorageUnavailable",
    "Storages",
    "StoredObject",
    "WebFolder",
    "WrittenObject",
    "is_storage_uri",
    "quiet_store_clients",
]
