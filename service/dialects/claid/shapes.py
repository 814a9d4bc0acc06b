"""Claid's wire shapes: the error body, image objects, tasks (async and batch)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from ...errors import APIError
from ...models import Job, JobStatus, Task

PREFIXES = ("/v1/", "/v1-beta1/")
# Claid's documented codes (its errors page); the other statuses carry the status itself as the code.
ERROR_CODES = {401: "111", 422: "9000"}
ERROR_TYPES = {
    400: "general", 401: "auth", 402: "billing", 403: "permissions", 404: "not_found", 405: "method_not_allowed",
    408: "timeout", 409: "conflict", 413: "too_large", 422: "validation", 429: "rate_limit", 500: "internal",
}  # fmt: skip
FORMAT_NAMES = {"jpg": "jpeg"}  # the engine's name -> Claid's

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


class ValidationFailed(APIError):
    """Claid's 422: fields of the request that are not valid; `details` maps each to its messages (as
    the storages' StorageInvalid does)."""

    status = 422

    def __init__(self, message: str, *, details: dict[str, list[str]]):
        super().__init__(message, field=next(iter(details), None))
        self.details = details


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
    status = exc.status
    details = getattr(exc, "details", None)
    if details is None and exc.field:
        details = {exc.field: [exc.message]}
    error_type = ERROR_TYPES.get(status, "general" if status < 500 else "internal")
    return claid_error(status, error_type, exc.message, details, headers=exc.headers)


def envelope(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": data}, status)


# ---- images -------------------------------------------------------------------------------------


def _megapixels(width: int, height: int) -> float:
    return round(width * height / 1_000_000, 3)


def input_object(described: dict[str, Any]) -> dict[str, Any]:
    """`data.input`: what the input was."""
    fmt = FORMAT_NAMES.get(described["format"], described["format"])
    return {"ext": fmt, "mps": _megapixels(described["width"], described["height"]), "mime": described["mime"],
            "format": fmt, "width": described["width"], "height": described["height"]}  # fmt: skip


def output_object(described: dict[str, Any], base_url: str) -> dict[str, Any]:
    """`data.output`: the result, with its temporary URL or where it was written."""
    fmt = FORMAT_NAMES.get(described["format"], described["format"])
    token = described.get("tmp_token")
    return {
        "ext": fmt, "mps": _megapixels(described["width"], described["height"]), "mime": described["mime"],
        "format": fmt, "width": described["width"], "height": described["height"],
        "tmp_url": temporary_url(base_url, token, described["name"]) if token else None,
        "object_key": described.get("key"), "object_bucket": described.get("bucket"),
        "object_uri": described.get("uri"), "claid_storage_uri": None,
    }  # fmt: skip


def temporary_url(base_url: str, token: str, name: str) -> str:
    return f"{base_url}/v1/image/results/{token}/{name}"


def edit_result(described: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The synchronous answer, and a task item's result: {"input", "output"}."""
    return {"input": input_object(described["input"]), "output": output_object(described["output"], base_url)}


# ---- tasks --------------------------------------------------------------------------------------


def status(items: list[Job]) -> str:
    """ACCEPTED (nothing started), PROCESSING, DONE (every item ended, one at least made its result) or
    ERROR (every item failed)."""
    if all(job.status == JobStatus.QUEUED and job.attempts == 0 for job in items):
        return "ACCEPTED"
    if not all(job.status.final for job in items):
        return "PROCESSING"
    return "DONE" if any(job.status == JobStatus.SUCCEEDED for job in items) else "ERROR"


def _pair(job: Job, base_url: str) -> dict[str, Any]:
    assert job.result is not None
    return {"input_object": input_object(job.result["input"]) | {"uri": job.result["input"]["uri"]},
            "output_object": output_object(job.result["output"], base_url)}  # fmt: skip


def _error(job: Job) -> dict[str, Any]:
    return {"input": job.options.get("input"), "error": job.error_message or "failed",
            "reason": job.error_reason, "created_at": job.updated_at}  # fmt: skip


def task_body(task: Task, items: list[Job], base_url: str, prefix: str = "/v1") -> dict[str, Any]:
    """GET of an async or batch task, and the body of its webhook."""
    kind = "async" if task.kind == "single" else "batch"
    done = [job for job in items if job.status == JobStatus.SUCCEEDED]
    data: dict[str, Any] = {
        "id": task.id,
        "status": status(items),
        "created_at": task.created_at,
        "result_url": f"{base_url}{prefix}/image/edit/{kind}/{task.id}",
        "request": task.request,
        "errors": [_error(job) for job in items if job.status == JobStatus.FAILED],
    }
    if task.kind == "single":
        data["result"] = _pair(done[0], base_url) if done else None
    else:
        data["results"] = [_pair(job, base_url) for job in done]
        data["total"] = len(items)
    return {"data": data}
