"""Cutout's own JSON API: webhook endpoints and the delivery log.

Same auth and error shape as the ImageKit dialect (Basic auth with the
ImageKit private key, `{message, help}`), camelCase fields.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import BadRequest, NotFound
from ..library import int_param
from ..models import Attempt, Delivery, DeliveryState, Endpoint
from ..webhooks import Webhooks
from .imagekit import endpoint, json_body, require_key, services

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
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


@endpoint
async def list_endpoints(request: Request) -> Response:
    require_key(request)
    return JSONResponse([endpoint_json(e) for e in webhooks(request).endpoints()])


@endpoint
async def create_endpoint(request: Request) -> Response:
    require_key(request)
    fields = _endpoint_fields(request, await json_body(request), partial=False)
    created = await webhooks(request).create_endpoint(fields.pop("url"), **fields)
    return JSONResponse(endpoint_json(created), 201)


@endpoint
async def get_endpoint(request: Request) -> Response:
    require_key(request)
    return JSONResponse(endpoint_json(webhooks(request).endpoint(_endpoint_id(request))))


@endpoint
async def update_endpoint(request: Request) -> Response:
    require_key(request)
    fields = _endpoint_fields(request, await json_body(request), partial=True)
    return JSONResponse(endpoint_json(await webhooks(request).update_endpoint(_endpoint_id(request), **fields)))


@endpoint
async def delete_endpoint(request: Request) -> Response:
    require_key(request)
    await webhooks(request).delete_endpoint(_endpoint_id(request))
    return Response(status_code=204)


@endpoint
async def rotate_secret(request: Request) -> Response:
    require_key(request)
    return JSONResponse(endpoint_json(await webhooks(request).rotate_secret(_endpoint_id(request))))


@endpoint
async def list_deliveries(request: Request) -> Response:
    require_key(request)
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


@endpoint
async def get_delivery(request: Request) -> Response:
    require_key(request)
    return JSONResponse(delivery_json(*webhooks(request).delivery(request.path_params["delivery_id"])))


@endpoint
async def redeliver(request: Request) -> Response:
    require_key(request)
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
