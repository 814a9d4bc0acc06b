"""Claid's wire shapes: the `{"data": ...}` envelope and the error body
`{"error_code", "error_type", "error_message", "error_details"}`."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from ...errors import APIError

PREFIXES = ("/v1/", "/v1-beta1/")
# Claid's documented codes (its errors page); the other statuses carry the status itself as the code.
ERROR_CODES = {401: "111", 422: "9000"}
ERROR_TYPES = {
    400: "general", 401: "auth", 402: "billing", 403: "permissions", 404: "not_found", 405: "method_not_allowed",
    408: "timeout", 409: "conflict", 413: "too_large", 422: "validation", 429: "rate_limit", 500: "internal",
}  # fmt: skip


# OpenAPI: Claid's error body, and its bearer-key security scheme.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error_code", "error_type", "error_message", "error_details"],
    "properties": {
        "error_code": {"type": "string"},
        "error_type": {"type": "string"},
        "error_message": {"type": "string"},
        "error_details": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}
SECURITY_SCHEMES = {
    "claid": {"type": "http", "scheme": "bearer", "description": "Claid API key (CUTOUT_CLAID_API_KEY)"}
}


def claid_error(status: int, error_type: str, message: str, details: dict[str, Any] | None = None,
                code: str = "", headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    """An error in Claid's shape; `code` defaults to Claid's for the status."""
    body = {
        "error_code": code or ERROR_CODES.get(status, str(status)),
        "error_type": error_type,
        "error_message": message,
        "error_details": details or {},
    }
    return JSONResponse(body, status, headers=headers)


def render(exc: APIError) -> JSONResponse:
    """Any error of the hierarchy in Claid's shape; field-level details when it has them."""
    details = getattr(exc, "details", None)
    if details is None and exc.field:
        details = {exc.field: [exc.message]}
    error_type = ERROR_TYPES.get(exc.status, "general")
    return claid_error(exc.status, error_type, exc.message, details, headers=exc.headers)


def envelope(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": data}, status)
