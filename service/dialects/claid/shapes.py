"""Claid's wire shapes: the error body, image objects, tasks (async and batch)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from ...errors import APIError, PayloadTooLarge
from ...models import Job, JobStatus, Task

# Claid documents 111 (auth) and 9000 (validation); the others are Cutout's, one per status.
ERROR_TYPES = {400: ("general", "1000"), 401: ("auth", "111"), 402: ("billing", "112"), 403: ("auth", "113"),
               404: ("not_found", "404"), 405: ("general", "405"), 408: ("general", "408"), 409: ("conflict", "409"),
               413: ("general", "413"), 422: ("validation", "9000"), 429: ("rate_limit", "429"),
               499: ("general", "499"), 500: ("internal", "500"), 503: ("internal", "503")}  # fmt: skip
FORMAT_NAMES = {"jpg": "jpeg"}  # the engine's name -> Claid's


class ValidationFailed(APIError):
    """Claid's 422: a field of the request is not valid; `extra["details"]` maps fields to messages."""

    status = 422


def claid_error(status: int, error_type: str, message: str, details: dict[str, Any] | None = None,
                code: str = "") -> JSONResponse:  # fmt: skip
    """Claid's error body: {"error_code", "error_type", "error_message", "error_details"}."""
    body = {"error_code": code or ERROR_TYPES.get(status, ("general", str(status)))[1], "error_type": error_type,
            "error_message": message, "error_details": details or {}}  # fmt: skip
    return JSONResponse(body, status)


def render(exc: APIError) -> JSONResponse:
    """Any error of the hierarchy in Claid's shape, its field (if any) in `error_details`."""
    status = 413 if isinstance(exc, PayloadTooLarge) else exc.status
    error_type, code = ERROR_TYPES.get(status, ("general" if status < 500 else "internal", str(status)))
    details = exc.extra.get("details")
    if not isinstance(details, dict):
        details = {exc.field: [exc.message]} if exc.field else {}
    response = claid_error(status, str(exc.extra.get("error_type") or error_type), exc.message, details,
                           str(exc.extra.get("error_code") or code))  # fmt: skip
    response.headers.update(exc.headers or {})
    return response


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
