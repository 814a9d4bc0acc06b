"""Webhook endpoints and the delivery outbox.

The library reports every change as an `Event` inside the transaction that
makes the change; `Webhooks.record` turns it into delivery rows (one per
subscribed endpoint, plus the per-request `webhookUrl` of an extension) in
that same transaction, so a change and its deliveries commit or vanish
together. The dispatcher leases what is due and sends it. Every other change
here is its own transaction through the store's write seam (`await db.write`). Each API dialect contributes a
`WebhookFormat` that names and shapes its events; this module knows no wire
format.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .db import Database, Statements
from .errors import BadRequest, Conflict, NotFound
from .models import Attempt, Delivery, DeliveryState, Endpoint, File, Job, Task, Version, now_iso
from .settings import Settings
from .signing import new_secret

# What the library reports; each format maps these to its own event names.
EVENT_KINDS = (
    "file.created",
    "file.updated",
    "file.deleted",
    "file.stored",
    "file-version.created",
    "file-version.deleted",
    "extension.succeeded",
    "extension.failed",
)
MAX_EVENTS_PER_ENDPOINT = 32
MAX_DESCRIPTION = 1024
DELIVERIES = "deliveries"  # the store channel notified when deliveries become due


@dataclass(frozen=True)
class Event:
    """Something that happened to a file, as the library saw it when it happened."""

    kind: str
    file: File | None  # None only when the file was deleted before an extension finished
    file_id: str = ""  # defaults to file.id
    version: Version | None = None  # file-version.*: the version created or deleted
    job: Job | None = None  # extension.*: the finished job
    initiator: dict[str, Any] | None = None  # who caused it, e.g. an add-on run (Uploadcare's `initiator`)
    id: str = field(default_factory=lambda: "evt_" + secrets.token_hex(12))
    at: str = field(default_factory=now_iso)

    def __post_init__(self) -> None:
        if not self.file_id and self.file is not None:
            object.__setattr__(self, "file_id", self.file.id)


@dataclass(frozen=True)
class WebhookFormat:
    """How one API dialect names and shapes its webhooks."""

    name: str
    events: dict[str, str]  # event kind -> this format's event name (kinds it lacks are not sent)
    render: Callable[[Event, str, Endpoint], dict[str, Any]]  # (event, event name, endpoint) -> payload
    # The payload POSTed to an extension's per-request webhookUrl; None when the format has none.
    extension_result: Callable[[Event], dict[str, Any]] | None = None
    # The payload POSTed to a task's webhook URL once every item of it has ended (its items in order).
    task_result: Callable[[Task, list[Job]], dict[str, Any]] | None = None

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.events.values()))


@dataclass(frozen=True)
class Target:
    """Where a delivery goes now and the secrets that sign it."""

    url: str
    secrets: tuple[str, ...]  # the Standard Webhooks secrets, the current one first
    endpoint: Endpoint | None  # None for a per-request webhookUrl


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class Webhooks:
    """Registered endpoints, the outbox of deliveries, and their log."""

    def __init__(self, settings: Settings, db: Database, formats: dict[str, WebhookFormat]):
        self.settings = settings
        self.db = db
        self.store = db.webhooks  # reads on the caller's thread; changes go through `db.write`
        self.formats = formats

    # -- endpoints

    def format(self, name: str) -> WebhookFormat:
        registrable = [known for known, fmt in self.formats.items() if fmt.events]  # Claid's has none
        if name not in registrable:
            raise BadRequest(f"format must be one of: {', '.join(registrable)}.", field="format")
        return self.formats[name]

    def clean_events(self, format: str, events: object, field: str = "events") -> tuple[str, ...]:
        known = self.format(format).event_names
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise BadRequest(f"{field} must be a list of event names.", field=field)
        if len(events) > MAX_EVENTS_PER_ENDPOINT:
            raise BadRequest(f"{field} can hold at most {MAX_EVENTS_PER_ENDPOINT} names.", field=field)
        for name in events:
            if name not in known and name != "*":
                raise BadRequest(
                    f"{field} holds an unknown event {name[:64]!r}; known: {', '.join(known)}.", field=field
                )
        return () if "*" in events else tuple(dict.fromkeys(events))

    async def create_endpoint(
        self,
        url: str,
        *,
        format: str = "imagekit",
        events: tuple[str, ...] = (),
        description: str = "",
        active: bool = True,
        signing_secret: str | None = None,
        version: str = "0.7",
        check: Callable[[list[Endpoint]], None] | None = None,
    ) -> Endpoint:
        """`check(endpoints of the format)` runs first inside the same write and may raise: a dialect's own
        uniqueness rule holds even for requests that arrive together."""
        self.format(format)
        if len(description) > MAX_DESCRIPTION:
            raise BadRequest(f"description is longer than {MAX_DESCRIPTION} characters.", field="description")
        now = now_iso()
        endpoint = Endpoint(
            id=0, url=url, events=events, secret=new_secret(), format=format, description=description,
            active=active, signing_secret=signing_secret, version=version, created_at=now, updated_at=now,
        )  # fmt: skip
        limit = self.settings.max_webhook_endpoints

        def create(tx: Statements) -> Endpoint:
            if check is not None:
                check(tx.webhooks.list_endpoints(format))
            # Every endpoint is read on every event; the cap bounds that work and the outbox it fills.
            if tx.webhooks.count_endpoints() >= limit:
                raise Conflict(
                    f"There are already {limit} webhook endpoints, the limit; delete one first.",
                    extra={"help": "See CUTOUT_MAX_WEBHOOK_ENDPOINTS."},
                )
            return tx.webhooks.insert_endpoint(endpoint)

        return await self.db.write(create)

    def endpoints(self, format: str | None = None) -> list[Endpoint]:
        return self.store.list_endpoints(format)

    def endpoint(self, endpoint_id: int, format: str | None = None, tx: Statements | None = None) -> Endpoint:
        endpoint = (tx or self.db).webhooks.get_endpoint(endpoint_id)
        if endpoint is None or (format is not None and endpoint.format != format):
            raise NotFound("The webhook endpoint does not exist.", field="id")
        return endpoint

    async def update_endpoint(
        self,
        endpoint_id: int,
        format: str | None = None,
        check: Callable[[list[Endpoint], Endpoint], None] | None = None,
        **changes: Any,
    ) -> Endpoint:
        """Change url / events / description / active / signing_secret / version; re-enabling clears the reason.

        `check(endpoints of its format, the endpoint as it is)` runs first inside the same write and may raise."""
        if len(changes.get("description") or "") > MAX_DESCRIPTION:
            raise BadRequest(f"description is longer than {MAX_DESCRIPTION} characters.", field="description")

        def update(tx: Statements) -> Endpoint:
            endpoint = self.endpoint(endpoint_id, format, tx)
            if check is not None:
                check(tx.webhooks.list_endpoints(endpoint.format), endpoint)
            updated = replace(endpoint, **changes, updated_at=now_iso())
            if changes.get("active") is True:
                updated = replace(updated, disabled_reason=None, failing_since=None)
            tx.webhooks.update_endpoint(updated)
            if not updated.active:
                tx.webhooks.fail_pending_of(endpoint.id, "the endpoint was disabled", updated.updated_at)
            return updated

        return await self.db.write(update)

    async def rotate_secret(self, endpoint_id: int) -> Endpoint:
        """A new secret, signing from the next attempt on (pending deliveries too); the replaced one signs
        beside it for the overlap window, so receivers can switch over without refusing a delivery."""
        overlap = self.settings.webhook_secret_overlap_seconds

        def rotate(tx: Statements) -> Endpoint:
            old = self.endpoint(endpoint_id, tx=tx)
            endpoint = replace(
                old, secret=new_secret(), previous_secret=old.secret if overlap else None,
                previous_secret_expires=time.time() + overlap if overlap else None, updated_at=now_iso(),
            )  # fmt: skip
            tx.webhooks.update_endpoint(endpoint)
            return endpoint

        return await self.db.write(rotate)

    async def delete_endpoint(self, endpoint_id: int, format: str | None = None) -> None:
        def delete(tx: Statements) -> None:
            endpoint = self.endpoint(endpoint_id, format, tx)
            tx.webhooks.fail_pending_of(endpoint.id, "the endpoint was deleted", now_iso())
            tx.webhooks.delete_endpoint(endpoint.id)

        await self.db.write(delete)

    async def delete_endpoints_by_url(self, url: str, format: str) -> int:
        def delete(tx: Statements) -> int:
            for endpoint in tx.webhooks.list_endpoints(format):
                if endpoint.url == url:
                    tx.webhooks.fail_pending_of(endpoint.id, "the endpoint was deleted", now_iso())
            return tx.webhooks.delete_endpoints_by_url(url, format)

        return await self.db.write(delete)

    # -- the outbox

    def record(self, event: Event, tx: Statements) -> None:
        """Write the deliveries `event` causes, inside the caller's transaction that made the change
        (`tx`, inside `db.write`)."""
        assert event.kind in EVENT_KINDS, event.kind
        store = tx.webhooks
        now, due = now_iso(), time.time()
        added = False
        for endpoint in store.list_endpoints():
            fmt = self.formats.get(endpoint.format)
            name = fmt.events.get(event.kind) if fmt else None
            if fmt is None or name is None or not endpoint.active:
                continue
            if endpoint.events and name not in endpoint.events:
                continue
            store.insert_delivery(
                Delivery(
                    id=_message_id(), event=name, url=endpoint.url, body=body_of(fmt.render(event, name, endpoint)),
                    format=fmt.name, endpoint_id=endpoint.id, file_id=event.file_id, next_attempt_at=due,
                    created_at=now, updated_at=now,
                )  # fmt: skip
            )
            added = True
        job = event.job
        if job is not None and job.webhook_url and event.kind in ("extension.succeeded", "extension.failed"):
            fmt = self.formats.get(job.dialect)
            if fmt is not None and fmt.extension_result is not None:
                store.insert_delivery(
                    Delivery(
                        id=_message_id(), event=event.kind, url=job.webhook_url,
                        body=body_of(fmt.extension_result(event)), format=fmt.name, file_id=event.file_id,
                        next_attempt_at=due, created_at=now, updated_at=now,
                    )  # fmt: skip
                )
                added = True
        if added:
            tx.notify(DELIVERIES)  # after the COMMIT

    def record_task(self, task: Task, items: list[Job], tx: Statements) -> None:
        """A task's end, to its webhook URL (signed with the service's secret, like any per-request URL),
        inside the transaction that ended its last item: it is recorded once."""
        fmt = self.formats.get(task.dialect)
        if not task.webhook_url or fmt is None or fmt.task_result is None:
            return
        now = now_iso()
        tx.webhooks.insert_delivery(
            Delivery(
                id=_message_id(), event="task.done", url=task.webhook_url, body=body_of(fmt.task_result(task, items)),
                format=fmt.name, next_attempt_at=time.time(), created_at=now, updated_at=now,
            )  # fmt: skip
        )
        tx.notify(DELIVERIES)

    # -- the dispatcher's side

    def wakeup(self) -> asyncio.Event:
        """Set whenever a committed change makes deliveries due (in this process)."""
        return self.db.listen(DELIVERIES)

    async def claim(self, owner: str, limit: int, lease: float) -> list[tuple[Delivery, int]]:
        """Lease up to `limit` due deliveries for `lease` seconds, each with the number of its attempt."""
        now = time.time()
        return await self.db.write(lambda tx: tx.webhooks.claim(owner, now, now + lease, limit))

    async def renew(self, owner: str, lease: float) -> int:
        until = time.time() + lease
        return await self.db.write(lambda tx: tx.webhooks.renew(owner, until))

    async def release(self, owner: str) -> int:
        return await self.db.write(lambda tx: tx.webhooks.release(owner))

    async def next_due(self) -> float | None:
        return await self.db.read(lambda tx: tx.webhooks.next_due())

    async def target(self, delivery: Delivery) -> Target | None:
        """Where `delivery` goes at its next attempt, signed how; None when its endpoint was deleted."""
        return await self.db.read(lambda tx: self._target(tx, delivery))

    def _target(self, tx: Statements, delivery: Delivery) -> Target | None:
        """Where `delivery` goes at its next attempt, signed how; None when its endpoint was deleted.

        A registered endpoint's deliveries follow its current URL and secrets, so retries and
        redeliveries after a change reach the receiver it names now; a per-request webhookUrl keeps its own.
        """
        if delivery.endpoint_id is None:
            return Target(delivery.url, (self.settings.webhook_secret,), None)
        endpoint = tx.webhooks.get_endpoint(delivery.endpoint_id)
        if endpoint is None:
            return None
        return Target(endpoint.url, endpoint.signing_secrets(time.time()), endpoint)

    async def attempted(
        self,
        delivery: Delivery,
        attempt: Attempt,
        owner: str,
        *,
        next_attempt_at: float | None,
        disable_reason: str | None = None,
    ) -> Delivery:
        """Record an attempt. Success when the status is 2xx; else retry at `next_attempt_at` or give up.

        `disable_reason` turns the endpoint off (410 Gone, or failing everything for days). Nothing is
        written when `owner` no longer holds the lease or the delivery is no longer pending.
        """
        succeeded = attempt.status_code is not None and 200 <= attempt.status_code < 300
        if succeeded:
            state = DeliveryState.SUCCEEDED
        elif next_attempt_at is not None and disable_reason is None:
            state = DeliveryState.PENDING
        else:
            state = DeliveryState.FAILED
        updated = replace(
            delivery, state=state, attempts=attempt.number, last_status=attempt.status_code,
            last_error=attempt.error, next_attempt_at=next_attempt_at or delivery.next_attempt_at,
            updated_at=attempt.at,
        )  # fmt: skip

        def finish(tx: Statements) -> Delivery:
            if not tx.webhooks.finish_attempt(updated, attempt, owner):
                return tx.webhooks.get_delivery(delivery.id) or updated  # deleted, given up or re-leased meanwhile
            endpoint = tx.webhooks.get_endpoint(delivery.endpoint_id) if delivery.endpoint_id else None
            if endpoint is not None:
                self._track_health(tx, endpoint, succeeded, disable_reason, attempt.at)
            return updated

        return await self.db.write(finish)

    def _track_health(
        self, tx: Statements, endpoint: Endpoint, succeeded: bool, disable_reason: str | None, now: str
    ) -> None:
        if succeeded:
            if endpoint.failing_since is not None:
                tx.webhooks.update_endpoint(replace(endpoint, failing_since=None, updated_at=now))
            return
        if disable_reason is not None:
            tx.webhooks.update_endpoint(
                replace(endpoint, active=False, disabled_reason=disable_reason, updated_at=now)
            )
            tx.webhooks.fail_pending_of(endpoint.id, f"the endpoint was disabled: {disable_reason}", now)
        elif endpoint.failing_since is None:
            tx.webhooks.update_endpoint(replace(endpoint, failing_since=time.time(), updated_at=now))

    # -- the log

    def deliveries(self, **filters: Any) -> list[Delivery]:
        return self.store.list_deliveries(**filters)

    def delivery(self, delivery_id: str, tx: Statements | None = None) -> tuple[Delivery, list[Attempt]]:
        store = (tx or self.db).webhooks
        delivery = store.get_delivery(delivery_id) if len(delivery_id) <= 64 else None
        if delivery is None:
            raise NotFound("The delivery does not exist.", field="id")
        return delivery, store.attempts(delivery.id)

    def attempts(self, delivery_id: str) -> list[Attempt]:
        return self.store.attempts(delivery_id)

    async def redeliver(self, delivery_id: str) -> Delivery:
        """Send a delivery again now, with the same webhook-id and body (attempt numbers continue)."""

        def again(tx: Statements) -> Delivery:
            delivery, _ = self.delivery(delivery_id, tx)
            if delivery.endpoint_id is not None:
                endpoint = tx.webhooks.get_endpoint(delivery.endpoint_id)
                if endpoint is None or not endpoint.active:
                    raise BadRequest(
                        "The delivery's endpoint is deleted or disabled; enable it before redelivering.", field="id"
                    )
            updated = replace(
                delivery, state=DeliveryState.PENDING, next_attempt_at=time.time(), updated_at=now_iso()
            )
            tx.webhooks.update_delivery(updated)
            tx.notify(DELIVERIES)
            return updated

        return await self.db.write(again)

    def counts(self) -> dict[str, int]:
        return self.store.counts()


def _message_id() -> str:
    return "msg_" + secrets.token_hex(12)
