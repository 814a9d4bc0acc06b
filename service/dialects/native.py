"""Cutout's own JSON API: webhook endpoints and the delivery log.

Basic auth with the private key and the `{message, help}` error shape (both
shared with the ImageKit dialect through `common`), camelCase fields.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import BadRequest, NotFound
from ..models import Attempt, Delivery, DeliveryState, Endpoint
from ..openapi import Description, Schema, json_content, operation, path_param, query_param
from ..webhooks import EVENT_KINDS, Webhooks
from . import common
from .common import int_param, private_key, services

api = functools.partial(common.endpoint, render=lambda request, exc: common.render_message(exc))
ENDPOINT_FIELDS = {"url", "events", "description", "active", "format"}


def webhooks(request: Request) -> Webhooks:
    return services(request).webhooks


def endpoint_json(e: Endpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "url": e.url,
        "format": e.format,
        "events": list(e.events) or ["*"],
        "description": e.description,
        "active": e.active,
        "disabledReason": e.disabled_reason,
        "secret": e.secret,
        # Until then the secret a rotation replaced signs beside `secret` (`webhook-signature` only).
        "previousSecretExpiresAt": _iso(e.previous_secret_expires) if e.previous_secret_expires else None,
        "createdAt": e.created_at,
        "updatedAt": e.updated_at,
    }


def attempt_json(a: Attempt) -> dict[str, Any]:
    return {
        "number": a.number,
        "at": a.at,
        "statusCode": a.status_code,
        "latencyMs": a.latency_ms,
        "response": a.response,
        "error": a.error,
    }


def delivery_json(d: Delivery, attempts: list[Attempt]) -> dict[str, Any]:
    pending = d.state == DeliveryState.PENDING
    return {
        "id": d.id,
        "event": d.event,
        "url": d.url,
        "endpointId": d.endpoint_id,
        "fileId": d.file_id,
        "state": d.state.value,
        "attemptCount": d.attempts,
        "nextAttemptAt": _iso(d.next_attempt_at) if pending else None,
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "payload": json.loads(d.body),
        "attempts": [attempt_json(a) for a in attempts],
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _endpoint_id(request: Request) -> int:
    value = int(request.path_params["endpoint_id"])
    if value > 2**62:  # beyond SQLite's integers: certainly not an endpoint
        raise NotFound("The webhook endpoint does not exist.", field="id")
    return value


def _endpoint_fields(request: Request, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(body) - ENDPOINT_FIELDS)
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0][:64]!r}; allowed: {', '.join(sorted(ENDPOINT_FIELDS))}.",
                         field=unknown[0][:64])  # fmt: skip
    if partial and "format" in body:
        raise BadRequest("format cannot be changed; create a new endpoint.", field="format")
    fields: dict[str, Any] = {}
    if "url" in body or not partial:
        fields["url"] = services(request).egress.check_given(body.get("url"), "url")
    if "format" in body:
        if not isinstance(body["format"], str):
            raise BadRequest("format must be a string.", field="format")
        fields["format"] = body["format"]
    if "events" in body:
        fmt = fields.get("format") or (
            webhooks(request).endpoint(_endpoint_id(request)).format if partial else "imagekit"
        )
        fields["events"] = webhooks(request).clean_events(fmt, body["events"])
    if "description" in body:
        if not isinstance(body["description"], str):
            raise BadRequest("description must be a string.", field="description")
        fields["description"] = body["description"]
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise BadRequest("active must be true or false.", field="active")
        fields["active"] = body["active"]
    return fields


@api(auth=private_key)
async def list_endpoints(request: Request) -> Response:
    return JSONResponse([endpoint_json(e) for e in webhooks(request).endpoints()])


@api(auth=private_key)
async def create_endpoint(request: Request) -> Response:
    fields = _endpoint_fields(request, await common.json_body(request, want_object=True), partial=False)
    created = await webhooks(request).create_endpoint(fields.pop("url"), **fields)
    return JSONResponse(endpoint_json(created), 201)


@api(auth=private_key)
async def get_endpoint(request: Request) -> Response:
    return JSONResponse(endpoint_json(webhooks(request).endpoint(_endpoint_id(request))))


@api(auth=private_key)
async def update_endpoint(request: Request) -> Response:
    fields = _endpoint_fields(request, await common.json_body(request, want_object=True), partial=True)
    return JSONResponse(endpoint_json(await webhooks(request).update_endpoint(_endpoint_id(request), **fields)))


@api(auth=private_key)
async def delete_endpoint(request: Request) -> Response:
    await webhooks(request).delete_endpoint(_endpoint_id(request))
    return Response(status_code=204)


@api(auth=private_key)
async def rotate_secret(request: Request) -> Response:
    return JSONResponse(endpoint_json(await webhooks(request).rotate_secret(_endpoint_id(request))))


@api(auth=private_key)
async def list_deliveries(request: Request) -> Response:
    q = request.query_params
    unknown = sorted(set(q) - {"state", "event", "fileId", "endpointId", "limit", "skip"})
    if unknown:
        raise BadRequest(f"Unknown query parameter {unknown[0][:64]!r}.", field=unknown[0][:64])
    state = q.get("state")
    if state is not None and state not in {s.value for s in DeliveryState}:
        raise BadRequest(f"state must be one of: {', '.join(s.value for s in DeliveryState)}.", field="state")
    endpoint_id = q.get("endpointId")
    hooks = webhooks(request)
    found = hooks.deliveries(
        state=state,
        event=q.get("event"),
        file_id=q.get("fileId"),
        endpoint_id=int_param(endpoint_id, "endpointId", 0, 0, 2**62) if endpoint_id is not None else None,
        limit=int_param(q.get("limit"), "limit", 100, 1, 1000),
        skip=int_param(q.get("skip"), "skip", 0, 0, 10**9),
    )
    return JSONResponse([delivery_json(d, hooks.attempts(d.id)) for d in found])


@api(auth=private_key)
async def get_delivery(request: Request) -> Response:
    return JSONResponse(delivery_json(*webhooks(request).delivery(request.path_params["delivery_id"])))


@api(auth=private_key)
async def redeliver(request: Request) -> Response:
    hooks = webhooks(request)
    delivery = await hooks.redeliver(request.path_params["delivery_id"])
    return JSONResponse(delivery_json(*hooks.delivery(delivery.id)), 202)


routes = [
    Route("/v1/webhooks/endpoints", list_endpoints, methods=["GET"]),
    Route("/v1/webhooks/endpoints", create_endpoint, methods=["POST"]),
    Route("/v1/webhooks/endpoints/{endpoint_id:int}", get_endpoint, methods=["GET"]),
    Route("/v1/webhooks/endpoints/{endpoint_id:int}", update_endpoint, methods=["PATCH"]),
    Route("/v1/webhooks/endpoints/{endpoint_id:int}", delete_endpoint, methods=["DELETE"]),
    Route("/v1/webhooks/endpoints/{endpoint_id:int}/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/v1/webhooks/deliveries", list_deliveries, methods=["GET"]),
    Route("/v1/webhooks/deliveries/{delivery_id}", get_delivery, methods=["GET"]),
    Route("/v1/webhooks/deliveries/{delivery_id}/redeliver", redeliver, methods=["POST"]),
]


# ---- description ------------------------------------------------------------------------

ENDPOINT: Schema = {
    "type": "object",
    "required": ["id", "url", "events", "active", "secret"],
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string"},
        "format": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "description": {"type": "string"},
        "active": {"type": "boolean"},
        "disabledReason": {"type": ["string", "null"]},
        "secret": {"type": "string"},
        "previousSecretExpiresAt": {"type": ["string", "null"]},
        "createdAt": {"type": "string"},
        "updatedAt": {"type": "string"},
    },
}
ENDPOINT_INPUT: Schema = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "events": {
            "type": "array",
            "items": {"type": "string"},
            "description": "event names of the endpoint's format, or ['*'] for all: " + ", ".join(EVENT_KINDS),
        },
        "description": {"type": "string", "maxLength": 1024},
        "active": {"type": "boolean"},
    },
    "additionalProperties": False,
}
DELIVERY: Schema = {
    "type": "object",
    "required": ["id", "event", "url", "state", "attempts"],
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "url": {"type": "string"},
        "endpointId": {"type": ["integer", "null"]},
        "fileId": {"type": ["string", "null"]},
        "state": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
        "attemptCount": {"type": "integer"},
        "nextAttemptAt": {"type": ["string", "null"]},
        "lastStatus": {"type": ["integer", "null"]},
        "lastError": {"type": ["string", "null"]},
        "payload": {"type": "object"},
        "attempts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "number": {"type": "integer"},
                    "at": {"type": "string"},
                    "statusCode": {"type": ["integer", "null"]},
                    "latencyMs": {"type": "integer"},
                    "response": {"type": "string"},
                    "error": {"type": ["string", "null"]},
                },
            },
        },
        "createdAt": {"type": "string"},
        "updatedAt": {"type": "string"},
    },
}


def describe(formats: tuple[str, ...]) -> Description:
    """The OpenAPI paths of these routes; `formats` are the webhook formats an endpoint may take."""
    endpoint_id = path_param("id", {"type": "integer", "minimum": 1})
    delivery_id = path_param("id")
    tag = "Webhooks"
    deliveries_query = [
        query_param("state", {"type": "string", "enum": ["pending", "succeeded", "failed"]}),
        query_param("event", {"type": "string"}),
        query_param("fileId", {"type": "string"}),
        query_param("endpointId", {"type": "integer", "minimum": 0}),
        query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
        query_param("skip", {"type": "integer", "minimum": 0, "maximum": 10**9}),
    ]
    properties = {**ENDPOINT_INPUT["properties"], "format": {"enum": list(formats)}}
    endpoint_input = {**ENDPOINT_INPUT, "properties": properties}
    create_input = {**endpoint_input, "required": ["url"]}
    return {"paths": {
        "/v1/webhooks/endpoints": {
            "get": operation("List webhook endpoints", (200, {"type": "array", "items": ENDPOINT}), errors=(401,),
                             tag=tag),
            "post": operation("Register a webhook endpoint", (201, ENDPOINT), errors=(400, 401, 409), tag=tag,
                        body={"required": True, **json_content(create_input)}),  # fmt: skip
        },
        "/v1/webhooks/endpoints/{id}": {
            "get": operation("One endpoint", (200, ENDPOINT), params=[endpoint_id], tag=tag),
            "patch": operation("Change an endpoint", (200, ENDPOINT), params=[endpoint_id], tag=tag,
                         body={"required": True, **json_content(endpoint_input)}),  # fmt: skip
            "delete": operation("Remove an endpoint", (204, None), params=[endpoint_id], tag=tag),
        },
        "/v1/webhooks/endpoints/{id}/rotate-secret": {
            "post": operation("Give an endpoint a new secret", (200, ENDPOINT), params=[endpoint_id], tag=tag)
        },
        "/v1/webhooks/deliveries": {
            "get": operation("The delivery log", (200, {"type": "array", "items": DELIVERY}), errors=(400, 401),
                       params=deliveries_query, tag=tag)  # fmt: skip
        },
        "/v1/webhooks/deliveries/{id}": {
            "get": operation("One delivery with its attempts", (200, DELIVERY), params=[delivery_id], tag=tag)
        },
        "/v1/webhooks/deliveries/{id}/redeliver": {
            "post": operation("Send a delivery again now", (202, DELIVERY), params=[delivery_id], tag=tag)
        },
    }}
