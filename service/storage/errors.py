"""What can go wrong with a storage connector, each with its HTTP status; messages never carry a secret."""

from __future__ import annotations

from ..errors import APIError


class StorageError(APIError):
    """A storage connector failed; `code` names the kind for a dialect's error shape, `transient` says whether
    the same call may succeed later (an endpoint that did not answer) or not (a bucket that is gone)."""

    status = 400
    code = "storage_error"

    def __init__(self, message: str, *, field: str | None = None, transient: bool = False):
        super().__init__(message, field=field)
        self.transient = transient


class StorageInvalid(StorageError):
    """A storage definition or a storage:// URI that is not valid; `details` maps each field to its problems."""

    status = 422
    code = "storage_invalid"

    def __init__(self, details: dict[str, list[str]]):
        message = " ".join(f"{name}: {'; '.join(problems)}." for name, problems in details.items())
        super().__init__(message, field=next(iter(details), None))
        self.details = details


class StorageExists(StorageInvalid):
    """Another storage has this name."""

    status = 409
    code = "storage_exists"


class StorageNotFound(StorageError):
    """No storage has this name or id."""

    status = 404
    code = "storage_not_found"


class StorageDenied(StorageError):
    """The store refused the storage's credentials or their permissions."""

    code = "storage_access_denied"


class StorageUnavailable(StorageError):
    """The bucket does not exist, or the endpoint does not answer (then `transient`)."""

    code = "storage_unavailable"


class ObjectNotFound(StorageError):
    """No object at this path."""

    code = "object_not_found"


class ObjectTooLarge(StorageError):
    """The object is larger than the caller may read."""

    code = "object_too_large"
