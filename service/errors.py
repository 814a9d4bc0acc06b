"""The one error hierarchy. Each carries its HTTP status; each dialect renders it in its own shape."""

from __future__ import annotations

from collections.abc import Iterable


class APIError(Exception):
    status = 500

    def __init__(self, message: str, *, field: str | None = None, extra: dict[str, object] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}

    @property
    def headers(self) -> dict[str, str] | None:
        """HTTP headers every dialect sends with this error."""
        return None


class BadRequest(APIError):
    status = 400


class Unauthorized(APIError):
    status = 401


class Forbidden(APIError):
    status = 403


class NotFound(APIError):
    status = 404


class MethodNotAllowed(APIError):
    status = 405

    def __init__(self, message: str, *, allow: Iterable[str], **kwargs: object):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.allow = sorted(allow)

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Allow": ", ".join(self.allow)}


class NotAcceptable(APIError):
    status = 406


class RequestTimeout(APIError):
    status = 408

    @property
    def headers(self) -> dict[str, str] | None:
        # The rest of the body may still be on its way: the connection cannot carry another request.
        return {"Connection": "close"}


class Conflict(APIError):
    status = 409


class PayloadTooLarge(APIError):
    status = 413


class TooManyRequests(APIError):
    status = 429

    def __init__(self, message: str, *, retry_after: int, **kwargs: object):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}
