"""Claid's (Let's Enhance's) image editing API: synchronous edits (JSON or an upload), async tasks, batches.

Auth is `Authorization: Bearer <CUTOUT_CLAID_API_KEY>`; every route is served
under `/v1/` and `/v1-beta1/`. Errors are Claid's `{"error_code",
"error_type", "error_message", "error_details"}` (shapes.py). A request's
`operations` and `output` become one engine edit (params.py), checked
whole before anything is fetched or queued. A synchronous edit runs in the
synchronous lane (sync.py); async and batch items are durable jobs of the
queue (JobKind.TASK), one per image. Inputs and outputs go through
tasks.py: URLs through the egress rules, `storage://` through the
registered storages, results without a destination kept 24 h behind
`tmp_url`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ... import engine, tasks
from ...errors import APIError, BadRequest, NotFound
from ...library import loads_client_json
from ...models import Endpoint, Job, Task
from ...openapi import Description, Schema, json_content
from ...storage import Storages, is_storage_uri
from ...webhooks import Event, WebhookFormat
from .. import common
from ..common import json_body, library, public, read_form, services
from . import params, shapes, storages
from .auth import bearer
from .params import refuse
from .shapes import ValidationFailed

PREFIXES = ("/v1", "/v1-beta1")
PATHS = tuple(f"{prefix}/{area}/" for prefix in PREFIXES for area in ("image", "storage"))
BODY_FIELDS = ("input", "operations", "output")
TASK_FIELDS = (*BODY_FIELDS, "webhook_url")
UPLOAD_FIELDS = ("operations", "output")
MAX_BATCH = 1000
MAX_DATA_BYTES = 64 * 1024
TMP_ROUTE = "/v1/image/results/{token}/{name}"


def render_error(request: Request, exc: APIError) -> Response | None:
    """An error raised outside an endpoint (routing, the body cap) on this dialect's paths; None elsewhere."""
    return shapes.render(exc) if request.url.path.startswith(PATHS) else None


api = functools.partial(common.endpoint, render=lambda request, exc: shapes.render(exc), auth=bearer)


def _prefix(request: Request) -> str:
    return "/v1-beta1" if request.url.path.startswith("/v1-beta1/") else "/v1"


def _base(request: Request) -> str:
    return services(request).settings.base_url


def _storages(request: Request) -> Storages:
    return services(request).storages


# ---- checking a request -------------------------------------------------------------------------


def _check_output(spec: engine.OutputSpec, profiles: engine.IccProfiles | None) -> None:
    """The output options the engine would refuse, refused now (before anything is fetched or queued)."""
    try:
        engine.check_output(spec, profiles)
    except engine.OptionError as exc:
        raise refuse(_output_field(exc.option), exc.reason) from None


def _input_uri(request: Request, value: object, field: str = "input") -> str:
    uri = params.uri(value, field)
    if is_storage_uri(uri):
        tasks.check_storage_uri(_storages(request), uri, field, folder=False)
        return uri
    try:
        services(request).egress.check_given(uri, field)
    except BadRequest as exc:
        raise refuse(field, exc.message) from None
    return uri


async def _body(request: Request, fields: tuple[str, ...]) -> dict[str, Any]:
    """A JSON request with only Claid's `fields`, `input` among them."""
    body: dict[str, Any] = await json_body(request, want_object=True)
    params.only(body, "body", fields)
    if body.get("input") is None:
        raise refuse("input", "field required")
    return body


def _asked(request: Request, body: Mapping[str, Any], *, folder: bool = False) -> params.EditRequest:
    asked = params.parse_edit(body, folder=folder)
    _check_output(asked.edit.output, library(request).icc_profiles)
    if asked.destination is not None:
        field = "output.destination" if isinstance(body.get("output"), Mapping) else "output"
        tasks.check_storage_uri(_storages(request), asked.destination, field)
    return asked


async def _run(request: Request, edit: engine.Edit, source: tasks.Source, destination: str | None) -> Response:
    """One synchronous edit: the synchronous lane, then the result written out; Claid's answer."""
    try:
        result = await services(request).runner.sync.run(edit, source.data,
                                                         gone=lambda: common.disconnected(request))  # fmt: skip
    except engine.OptionError as exc:
        raise refuse(_operation_field(exc.option), exc.reason) from None
    except engine.ImageRejected as exc:
        raise BadRequest(f"The input image could not be read: {exc.message}.", field="input") from None
    written = await tasks.write_output(result, source, destination, library=library(request),
                                       storages=_storages(request))  # fmt: skip
    described = await tasks.describe(source, result, written, services(request).runner.limits)
    return JSONResponse({"data": shapes.edit_result(described, _base(request))})


def _operation_field(option: str) -> str:
    """The request field an engine refusal is about."""
    return {"resizing": "operations.resizing", "width": "operations.resizing.width",
            "height": "operations.resizing.height", "padding": "operations.padding",
            "size": "operations.resizing"}.get(option) or _output_field(option)  # fmt: skip


def _output_field(option: str) -> str:
    """The Claid field an output spec field comes from."""
    return {"format": "output.format", "quality": "output.format.quality", "progressive": "output.format.progressive",
            "compression": "output.format.compression", "lossless": "output.format.compression",
            "dpi": "output.metadata.dpi", "color_space": "output.metadata.color_space",
            "color_profile": "output.metadata.color_space.color_profile"}.get(option, f"output.{option}")  # fmt: skip


# ---- synchronous edits --------------------------------------------------------------------------


@api()
async def edit(request: Request) -> Response:
    body = await _body(request, BODY_FIELDS)
    uri = _input_uri(request, body["input"])
    asked = _asked(request, body)
    source = await tasks.read_input(uri, egress=services(request).egress, storages=_storages(request),
                                    max_bytes=services(request).settings.max_upload_bytes)  # fmt: skip
    return await _run(request, asked.edit, source, asked.destination)


@api()
async def upload(request: Request) -> Response:
    """Multipart: `file` (the image; its name, less the extension, names the output) and `data` (JSON)."""
    limit = services(request).settings.max_upload_bytes
    form = await read_form(request, max_files=2, max_fields=2, max_part_size=MAX_DATA_BYTES,
                           not_a_form="Send a multipart/form-data body with a file part and a data part.",
                           unreadable="The multipart body could not be read: ", detail_only=True)  # fmt: skip
    try:
        extra = [name for name in form if name not in ("file", "data")]
        if extra:
            params.only(dict.fromkeys(extra), "form", ("file", "data"))
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise refuse("file", "field required: the image as a file part")
        data = await _data_part(form.get("data"))
        params.only(data, "data", UPLOAD_FIELDS)
        asked = _asked(request, data)
        content = await file.read()
    finally:
        await form.close()
    if not content:
        raise refuse("file", "the file part is empty")
    if len(content) > limit:
        raise refuse("file", f"the file is larger than {limit} bytes")
    source = tasks.Source(content, f"upload://{file.filename or ''}", tasks.stem(file.filename or ""))
    return await _run(request, asked.edit, source, asked.destination)


async def _data_part(value: object) -> dict[str, Any]:
    """`data` as a text field or a file part holding JSON; absent: no operations, the default output."""
    if value is None:
        return {}
    raw = await value.read() if isinstance(value, UploadFile) else str(value)
    try:
        parsed = loads_client_json(raw) if raw else {}
    except ValueError as exc:
        raise BadRequest(f"data must be JSON: {str(exc)[:200]}.", field="data") from None
    if not isinstance(parsed, dict):
        raise refuse("data", "expected a JSON object")
    return parsed


# ---- async tasks and batches --------------------------------------------------------------------


def _webhook(request: Request, body: Mapping[str, Any]) -> str | None:
    value = body.get("webhook_url")
    if value is None:
        return None
    try:
        return services(request).egress.check_given(value, "webhook_url")
    except BadRequest as exc:
        raise refuse("webhook_url", exc.message) from None


def _item(edit: engine.Edit, uri: str, destination: str | None) -> dict[str, Any]:
    return {"edit": engine.edit_to_json(edit), "input": uri, "output": destination}


def _submitted(request: Request, task: Task, kind: str) -> Response:
    data = {"id": task.id, "status": "ACCEPTED", "created_at": task.created_at,
            "result_url": f"{_base(request)}{_prefix(request)}/image/edit/{kind}/{task.id}",
            "request": task.request}  # fmt: skip
    return JSONResponse({"data": data})


@api()
async def submit_async(request: Request) -> Response:
    body = await _body(request, TASK_FIELDS)
    uri = _input_uri(request, body["input"])
    asked = _asked(request, body)
    webhook = _webhook(request, body)
    task, _ = await library(request).enqueue_task("single", "claid", dict(body),
                                                  [_item(asked.edit, uri, asked.destination)], webhook)  # fmt: skip
    return _submitted(request, task, "async")


async def _batch_inputs(request: Request, value: object) -> list[str]:
    """A batch's inputs: a storage folder (its objects), `{source, recursive}`, or a list of URIs."""
    if isinstance(value, list):
        if not value:
            raise refuse("input", "the list of inputs is empty")
        if len(value) > MAX_BATCH:
            raise refuse("input", f"ensure this list has at most {MAX_BATCH} items")
        return [_input_uri(request, item, f"input.{index}") for index, item in enumerate(value)]
    recursive = False
    if isinstance(value, Mapping):
        params.only(value, "input", ("source", "recursive"))
        if value.get("recursive") is not None:
            if not isinstance(value["recursive"], bool):
                raise params.refused_type("input.recursive", "true or false", value["recursive"])
            recursive = value["recursive"]
        value = value.get("source")
        field = "input.source"
    else:
        field = "input"
    folder = params.uri(value, field)
    if not is_storage_uri(folder) or not folder.endswith("/"):
        raise refuse(field, "a batch's source is a storage folder: storage://name/path/ (ending in /)")
    tasks.check_storage_uri(_storages(request), folder, field, folder=True)
    try:
        found = await _storages(request).list_objects(folder, recursive=recursive)
    except APIError as exc:
        exc.message = f"{field}: {exc.message}"
        raise
    if not found:
        raise refuse(field, "the folder holds no objects")
    if len(found) > MAX_BATCH:
        raise refuse(field, f"the folder holds {len(found)} objects; a batch takes at most {MAX_BATCH}")
    return found


@api()
async def submit_batch(request: Request) -> Response:
    body = await _body(request, TASK_FIELDS)
    asked = _asked(request, body, folder=True)
    webhook = _webhook(request, body)
    inputs = await _batch_inputs(request, body["input"])
    items = [_item(asked.edit, uri, asked.destination) for uri in inputs]
    task, _ = await library(request).enqueue_task("batch", "claid", dict(body), items, webhook)
    return _submitted(request, task, "batch")


def _task(request: Request, kind: str, missing: str) -> Response:
    found = library(request).task(request.path_params["id"])
    if found is None or found[0].kind != kind or found[0].dialect != "claid":
        raise NotFound(missing, field="id")
    return JSONResponse(shapes.task_body(*found, _base(request), _prefix(request)))


@api()
async def get_async(request: Request) -> Response:
    return _task(request, "single", "Image edit task not found")


@api()
async def get_batch(request: Request) -> Response:
    return _task(request, "batch", "Batch image edit pipeline not found")


# ---- temporary results --------------------------------------------------------------------------


@common.endpoint(render=lambda request, exc: shapes.render(exc),
                 auth=public("temporary results: the unguessable token in the URL is the credential, as Claid's "
                             "tmp_url"))  # fmt: skip
async def temporary(request: Request) -> Response:
    kept = library(request).temporary_result(request.path_params["token"])
    if kept is None or kept.name != request.path_params["name"]:
        raise NotFound("The temporary result does not exist or has expired.")
    data = await library(request).read_temporary(kept)
    if data is None:
        raise NotFound("The temporary result does not exist or has expired.")
    headers = {"Content-Disposition": f'inline; filename="{kept.name}"', "X-Content-Type-Options": "nosniff",
               "Cache-Control": "private, max-age=86400"}  # fmt: skip
    return Response(data, media_type=kept.mime, headers=headers)


def _routes() -> list[Route]:
    found = [Route(TMP_ROUTE, temporary, methods=["GET"])]
    for prefix in PREFIXES:
        found += [
            Route(f"{prefix}/image/edit", edit, methods=["POST"]),
            Route(f"{prefix}/image/edit/upload", upload, methods=["POST"]),
            Route(f"{prefix}/image/edit/async", submit_async, methods=["POST"]),
            Route(f"{prefix}/image/edit/async/{{id:int}}", get_async, methods=["GET"]),
            Route(f"{prefix}/image/edit/batch", submit_batch, methods=["POST"]),
            Route(f"{prefix}/image/edit/batch/{{id:int}}", get_batch, methods=["GET"]),
        ]
    return found


routes = [*_routes(), *storages.routes]


def webhook_format(base_url: str) -> WebhookFormat:
    """Claid's webhook: a task's GET body, POSTed to its `webhook_url` once every item has ended."""

    def no_events(event: Event, name: str, endpoint: Endpoint) -> dict[str, Any]:
        raise AssertionError("Claid has no registered webhook endpoints")

    def task_result(task: Task, items: list[Job]) -> dict[str, Any]:
        return shapes.task_body(task, items, base_url)

    return WebhookFormat(name="claid", events={}, render=no_events, task_result=task_result)


# ---- description --------------------------------------------------------------------------------

ERROR: Schema = shapes.ERROR_SCHEMA
EDIT_BODY: Schema = {
    "type": "object",
    "required": ["input"],
    "additionalProperties": False,
    "properties": {
        "input": {"type": "string", "description": "An http(s) URL or storage://name/path"},
        "operations": {"type": "object", "description": "background, resizing, padding, adjustments (README)"},
        "output": {"description": "A storage:// destination, or {destination, format, metadata}",
                   "anyOf": [{"type": "string"}, {"type": "object"}]},
    },
}  # fmt: skip
TASK_BODY: Schema = {
    **EDIT_BODY,
    "properties": {
        **EDIT_BODY["properties"],
        "webhook_url": {
            "type": "string",
            "format": "uri",
            "description": "POSTed the task's body once it has ended (signed)",
        },
    },
}
BATCH_BODY: Schema = {
    **TASK_BODY,
    "properties": {
        **TASK_BODY["properties"],
        "input": {
            "description": "storage://name/folder/, {source, recursive}, or a list of URLs / storage URIs",
            "anyOf": [{"type": "string"}, {"type": "object"}, {"type": "array", "items": {"type": "string"}}],
        },
    },
}
RESULT: Schema = {"type": "object", "properties": {"data": {"type": "object", "properties": {
    "input": {"type": "object"}, "output": {"type": "object"}}}}}  # fmt: skip
TASK: Schema = {"type": "object", "properties": {"data": {"type": "object", "properties": {
    "id": {"type": "integer"}, "status": {"type": "string", "enum": ["ACCEPTED", "PROCESSING", "ERROR", "DONE"]},
    "result_url": {"type": "string"}, "created_at": {"type": "string"}, "request": {"type": "object"},
    "errors": {"type": "array"}, "result": {"type": "object"}, "results": {"type": "array"}}}}}  # fmt: skip


def describe() -> Description:
    """The OpenAPI paths of these routes, under both prefixes."""
    tag = ["Claid"]
    security: list[dict[str, list[str]]] = [{"claid": []}]
    errors = {str(code): {"description": "Error", **json_content(ERROR)} for code in (400, 401, 404, 422, 429)}

    def post(summary: str, body: Schema, answer: Schema, content: str = "application/json") -> dict[str, Any]:
        return {"post": {"summary": summary, "tags": tag, "security": security,
                         "requestBody": {"required": True, "content": {content: {"schema": body}}},
                         "responses": {"200": {"description": "OK", **json_content(answer)}, **errors}}}  # fmt: skip

    def get(summary: str) -> dict[str, Any]:
        return {"get": {"summary": summary, "tags": tag, "security": security,
                        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                        "responses": {"200": {"description": "OK", **json_content(TASK)}, **errors}}}  # fmt: skip

    upload_body = {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "data": {"type": "string", "description": "JSON: {operations, output}"}}}  # fmt: skip
    paths: dict[str, Any] = {}
    for prefix in PREFIXES:
        paths |= {
            f"{prefix}/image/edit": post("Edit an image (Claid)", EDIT_BODY, RESULT),
            f"{prefix}/image/edit/upload": post("Edit an uploaded image (Claid)", upload_body, RESULT,
                                                "multipart/form-data"),
            f"{prefix}/image/edit/async": post("Queue an edit (Claid)", TASK_BODY, TASK),
            f"{prefix}/image/edit/async/{{id}}": get("An async edit's status and result (Claid)"),
            f"{prefix}/image/edit/batch": post("Queue a batch of edits (Claid)", BATCH_BODY, TASK),
            f"{prefix}/image/edit/batch/{{id}}": get("A batch's status, results and errors (Claid)"),
        }  # fmt: skip
    paths["/v1/image/results/{token}/{name}"] = {"get": {
        "summary": "A temporary result (Claid's tmp_url), kept 24 hours", "tags": tag,
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "The image", "content": {"image/*": {"schema": {
            "type": "string", "format": "binary"}}}}, "404": errors["404"]}}}  # fmt: skip
    described = storages.describe()
    return {"paths": {**paths, **described["paths"]}, "components": {"securitySchemes": shapes.SECURITY_SCHEMES}}


__all__ = ["ValidationFailed", "describe", "render_error", "routes", "webhook_format"]
