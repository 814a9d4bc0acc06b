"""Uploadcare's webhooks: the `/webhooks/` REST resource and the payloads its subscribers get.

Subscriptions live in the same endpoint store as the native API (format
"uploadcare"); Uploadcare subscribes one URL to one event.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import APIError, BadRequest
from ...library import whole_number
from ...models import Endpoint
from ...openapi import Description, Schema, path_param
from ...webhooks import Event, WebhookFormat, Webhooks
from ..common import services
from .rest import api, bool_param, json_body, rest_operation, versioned_and_signed
from .shapes import cdn_url, file_object

FORMAT = "uploadcare"
EVENTS = {
    "file.created": "file.uploaded",
    "file.stored": "file.stored",
    "file.deleted": "file.deleted",
    "file.updated": "file.info_updated",
    "file-version.created": "file.info_updated",
}
MAX_SIGNING_SECRET = 32  # Uploadcare's limit


def webhook_format(base: str, public_key: str) -> WebhookFormat:
    """Uploadcare's payload: `{initiator, hook, data: <file object with appdata>, file: <CDN URL>}`."""

    def render(event: Event, name: str, hook: Endpoint) -> dict[str, Any]:
        assert event.file is not None
        return {
            "initiator": event.initiator or {"type": "api", "detail": {}},
            "hook": {
                "id": hook.id,
                "project_id": 1,
                "project_pub_key": public_key,
                "target": hook.url,
                "event": name,
                "is_active": hook.active,
                "version": hook.version,
                "created_at": hook.created_at,
                "updated_at": hook.updated_at,
            },
            "data": file_object(base, event.file, include_appdata=True),
            "file": cdn_url(base, event.file) + quote(event.file.original_filename, safe=""),
        }

    return WebhookFormat(name=FORMAT, events=EVENTS, render=render)


def hook_json(hook: Endpoint) -> dict[str, Any]:
    return {
        "id": hook.id,
        "project": 1,
        "created": hook.created_at,
        "updated": hook.updated_at,
        "event": hook.events[0] if hook.events else "file.uploaded",
        "target_url": hook.url,
        "is_active": hook.active,
        "signing_secret": hook.signing_secret,
        "version": hook.version,
    }


def webhooks(request: Request) -> Webhooks:
    return services(request).webhooks


async def fields(request: Request) -> dict[str, Any]:
    """The body as pyuploadcare sends it: a form on create, JSON on update."""
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/")):
        try:
            async with request.form() as form:  # closes any file part, which is never a webhook field
                return {k: v for k, v in form.items() if isinstance(v, str)}
        except APIError:  # the body cap
            raise
        except Exception:  # noqa: BLE001 - a form the parser cannot read is the client's
            raise BadRequest("The form body could not be read.") from None
    body = await json_body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _event(raw: object) -> str:
    known = tuple(dict.fromkeys(EVENTS.values()))
    if raw not in known:
        raise BadRequest(f"event: {str(raw)[:64]!r} is not a valid choice; use one of {', '.join(known)}.")
    return str(raw)


def _active(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    value = bool_param(raw if isinstance(raw, str) else None, "is_active")
    if value is None:
        raise BadRequest("is_active must be true or false.")
    return value


def _secret(raw: object) -> str | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or len(raw) > MAX_SIGNING_SECRET:
        raise BadRequest(f"signing_secret must be a string of at most {MAX_SIGNING_SECRET} characters.")
    return raw


def _version(raw: object) -> str:
    if raw not in (None, "", "0.7"):
        raise BadRequest("version: only 0.7 is supported.")
    return "0.7"


def _check_unique(hooks: list[Endpoint], url: str, event: str, but: int | None = None) -> None:
    """Run inside the write that adds or changes the hook, so two requests cannot both pass."""
    for hook in hooks:
        if hook.url == url and hook.events == (event,) and hook.id != but:
            raise BadRequest("non_field_errors: project is already subscribed on this event with this target_url.")


@api(auth=versioned_and_signed)
async def list_hooks(request: Request) -> Response:
    return JSONResponse([hook_json(h) for h in webhooks(request).endpoints(FORMAT)])


@api(auth=versioned_and_signed)
async def create_hook(request: Request) -> Response:
    body = await fields(request)
    url = services(request).egress.check_given(body.get("target_url"), "target_url")
    event = _event(body.get("event", "file.uploaded"))
    hook = await webhooks(request).create_endpoint(
        url, format=FORMAT, events=(event,), active=_active(body.get("is_active", True)),
        signing_secret=_secret(body.get("signing_secret")), version=_version(body.get("version")),
        check=lambda hooks: _check_unique(hooks, url, event),
    )  # fmt: skip
    return JSONResponse(hook_json(hook), 201)


def _hook_id(request: Request) -> int:
    hook_id = whole_number(request.path_params["hook_id"])
    if hook_id is None:
        raise BadRequest("The webhook id must be a whole number.")
    return hook_id


@api(auth=versioned_and_signed)
async def update_hook(request: Request) -> Response:
    hook_id = _hook_id(request)
    body = await fields(request)
    webhooks(request).endpoint(hook_id, FORMAT)  # a missing hook is reported before a bad field
    changes: dict[str, Any] = {}
    if "target_url" in body:
        changes["url"] = services(request).egress.check_given(body["target_url"], "target_url")
    if "event" in body:
        changes["events"] = (_event(body["event"]),)
    if "is_active" in body:
        changes["active"] = _active(body["is_active"])
    if "signing_secret" in body:
        changes["signing_secret"] = _secret(body["signing_secret"])
    if "version" in body:
        changes["version"] = _version(body["version"])

    def check(hooks: list[Endpoint], current: Endpoint) -> None:
        _check_unique(hooks, changes.get("url", current.url), changes.get("events", current.events)[0], but=hook_id)

    return JSONResponse(hook_json(await webhooks(request).update_endpoint(hook_id, FORMAT, check=check, **changes)))


@api(auth=versioned_and_signed)
async def delete_hook(request: Request) -> Response:
    await webhooks(request).delete_endpoint(_hook_id(request), FORMAT)
    return Response(status_code=204)


@api(auth=versioned_and_signed)
async def unsubscribe(request: Request) -> Response:
    body = await fields(request)
    url = body.get("target_url")
    if not isinstance(url, str) or not url:
        raise BadRequest("target_url: this field is required.")
    await webhooks(request).delete_endpoints_by_url(url, FORMAT)
    return Response(status_code=204)


routes = [
    Route("/webhooks/", list_hooks, methods=["GET"]),
    Route("/webhooks/", create_hook, methods=["POST"]),
    Route("/webhooks/unsubscribe/", unsubscribe, methods=["DELETE"]),
    Route("/webhooks/{hook_id}/", update_hook, methods=["PUT"]),
    Route("/webhooks/{hook_id}/", delete_hook, methods=["DELETE"]),
]


# ---- description ------------------------------------------------------------------------

UC_HOOK: Schema = {
    "type": "object",
    "required": ["id", "event", "target_url", "is_active"],
    "properties": {
        "id": {"type": "integer"},
        "project": {"type": "integer"},
        "created": {"type": "string"},
        "updated": {"type": "string"},
        "event": {"type": "string", "enum": ["file.uploaded", "file.stored", "file.deleted", "file.info_updated"]},
        "target_url": {"type": "string"},
        "is_active": {"type": "boolean"},
        "signing_secret": {"type": ["string", "null"]},
        "version": {"type": "string"},
    },
}


def describe() -> Description:
    """The OpenAPI paths of these routes."""
    hook_id = path_param("id", {"type": "integer", "minimum": 1})
    hook_form: Schema = {
        "type": "object",
        "properties": {
            "target_url": {"type": "string"},
            "event": {"type": "string", "enum": ["file.uploaded", "file.stored", "file.deleted", "file.info_updated"]},
            "is_active": {"type": "boolean"},
            "signing_secret": {"type": "string", "maxLength": 32},
            "version": {"type": "string", "enum": ["0.7"]},
        },
    }
    return {"paths": {
        "/webhooks/": {
            "get": rest_operation("List subscriptions", (200, {"type": "array", "items": UC_HOOK})),
            "post": rest_operation("Subscribe a URL to an event", (201, UC_HOOK), body=hook_form,
                             errors=(400, 401, 404, 406, 409)),
        },
        "/webhooks/{id}/": {
            "put": rest_operation("Change a subscription", (200, UC_HOOK), params=[hook_id], body=hook_form),
            "delete": rest_operation("Remove a subscription", (204, None), params=[hook_id]),
        },
        "/webhooks/unsubscribe/": {"delete": rest_operation(
            "Remove the subscriptions of a URL", (204, None),
            body={"type": "object", "required": ["target_url"], "properties": {"target_url": {"type": "string"}}},
        )},  # fmt: skip
    }}  # fmt: skip
