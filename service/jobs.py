"""The in-process job runner: claims leased jobs from SQLite and runs the engine off the event loop."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import numpy as np
from anyio import to_thread
from PIL import Image

from . import engine, tasks
from .egress import Egress, EgressBlocked
from .errors import APIError, NotFound
from .library import Library
from .metrics import Metrics
from .models import Job, JobKind, JobStatus, ResultTo
from .settings import Settings
from .storage import Storages
from .sync import CutSlots, SyncLane

log = logging.getLogger("cutout.jobs")

POLL_SECONDS = 1.0
SHUTDOWN_GRACE_SECONDS = 10.0
# Imports at once: they share the egress client with webhooks and URL uploads, and each may buffer up to
# the upload limit; they hold no cut-out slot, so a long download never keeps an edit waiting.
IMPORTS_AT_ONCE = 4


class JobFailure(Exception):
    """A job failed for a known reason; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class PermanentFailure(JobFailure):
    """A job that cannot succeed on retry."""


class TransientFailure(JobFailure):
    """A job that may succeed later (a download that timed out, a host that did not resolve): retried."""


class TimedSegmenter:
    """Wraps the segmenter to measure model time alone."""

    def __init__(self, segmenter: engine.Segmenter, metrics: Metrics):
        self.segmenter = segmenter
        self.metrics = metrics

    def __call__(self, rgb: Image.Image) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.segmenter(rgb)
        finally:
            self.metrics.model.observe(time.perf_counter() - started)


class Runner:
    """Runs the queue's jobs, each under a heartbeated lease, by kind: up to `settings.workers` cut-outs at
    once, and up to IMPORTS_AT_ONCE imports beside them.

    One edit more than the workers is claimed: its reads (and a background image
    fetch) and the previous job's writes overlap the cut-outs under way
    instead of leaving the cores idle between them.
    """

    def __init__(
        self,
        library: Library,
        egress: Egress,
        settings: Settings,
        segmenter: engine.Segmenter,
        metrics: Metrics,
        storages: Storages | None = None,
    ):
        self.library = library
        self.egress = egress
        self.settings = settings
        self.segmenter = TimedSegmenter(segmenter, metrics)
        self.metrics = metrics
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.limits = library.limits
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._running: dict[asyncio.Task[None], JobKind] = {}
        # Shared with the synchronous dialects (sync.py), whose waiting callers go first.
        self.slots = CutSlots(settings.workers)
        self.sync = SyncLane(
            self.slots, library.budget, self.segmenter, self.limits, settings.decode_wait_seconds, library.icc_profiles
        )
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._handlers: dict[JobKind, Callable[[Job], Awaitable[str]]] = {
            JobKind.EDIT: self._edit,
            JobKind.IMPORT: self._import,
            JobKind.TASK: self._task,
        }
        # Task items share the cut-out slots with edits; each kind keeps one claimed ahead (see above).
        self._room = {JobKind.EDIT: settings.workers + 1, JobKind.IMPORT: IMPORTS_AT_ONCE,
                      JobKind.TASK: settings.workers + 1}  # fmt: skip
        self.storages = storages  # where task items read and write storage:// objects
        library.on_enqueue(self.notify)

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="cutout-runner")

    def notify(self) -> None:
        """New work was queued: look now instead of at the next poll."""
        self._wake.set()

    async def join(self, timeout: float = 120.0) -> None:
        """Wait until no job is queued or running (tests, burst mode)."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.library.job_counts()
            if not counts.get(JobStatus.QUEUED, 0) and not counts.get(JobStatus.RUNNING, 0) and not self._running:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still pending after {timeout} s: {counts}")
            self._wake.set()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop claiming, let running jobs finish for a grace period, then hand their leases back."""
        self._stopping = True
        self._wake.set()
        if self._loop_task:
            await self._loop_task
        if self._running:
            await asyncio.wait(self._running, timeout=SHUTDOWN_GRACE_SECONDS)
        for task in list(self._running):
            task.cancel()
        released = await self.library.release_jobs(self.owner)
        if released:
            log.info(json.dumps({"event": "jobs_released", "count": released}))

    async def _loop(self) -> None:
        while not self._stopping:
            for kind, room in self._room.items():
                while self._count(kind) < room and not self._stopping:
                    job = await self.library.claim_job(self.owner, self.settings.job_lease_seconds, kind)
                    if job is None:
                        break
                    task = asyncio.create_task(self._run(job))
                    self._running[task] = kind
                    task.add_done_callback(self._finished)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._sleep_seconds())
            except TimeoutError:
                pass

    def _sleep_seconds(self) -> float:
        # Only kinds with room: a full kind is looked at again when one of its jobs ends (that wakes the loop).
        open_kinds = [kind for kind, room in self._room.items() if self._count(kind) < room]
        due = self.library.next_job_due(open_kinds) if open_kinds else None
        if due is None:
            return POLL_SECONDS
        return min(POLL_SECONDS, max(0.01, due - time.time()))

    def _count(self, kind: JobKind) -> int:
        return sum(k == kind for k in self._running.values())

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._wake.set()

    async def _run(self, job: Job) -> None:
        started = time.perf_counter()
        heartbeat = asyncio.create_task(self._heartbeat(job))
        outcome = "failed"
        try:
            outcome = await self._handlers[job.kind](job)
        except PermanentFailure as exc:
            await self.library.fail_job(job, self.owner, exc.reason, exc.message, retry_in=None)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:
            if isinstance(exc, TransientFailure):
                reason, message = exc.reason, exc.message
            else:
                log.exception("job %s failed on attempt %d", job.id, job.attempts)
                reason, message = "internal_error", f"{type(exc).__name__}: {exc}"[:500]
            retry_in = None
            if job.attempts < self.settings.job_max_attempts:
                retry_in = self.settings.job_retry_base_seconds * 2 ** (job.attempts - 1)
                outcome = "retry"
            await self.library.fail_job(job, self.owner, reason, message, retry_in=retry_in)
        finally:
            heartbeat.cancel()
            elapsed = time.perf_counter() - started
            self.metrics.observe_job(outcome, elapsed)
            log.info(
                json.dumps(
                    {
                        "event": "job",
                        "job_id": job.id,
                        "kind": job.kind,
                        "file_id": job.file_id,
                        "extension": job.extension,
                        "attempt": job.attempts,
                        "outcome": outcome,
                        "seconds": round(elapsed, 3),
                    }
                )
            )

    async def _edit(self, job: Job) -> str:
        """Cut out, store the result, and record it where the job says."""
        if job.result_to == ResultTo.CONVERSION:
            raise PermanentFailure("unsupported_result", "Results stored as a named conversion are not supported yet.")
        result = await self._cut_out(job)
        sha = await to_thread.run_sync(self.library.blobs.put, result.data)
        completed = await self.library.complete_job(job, self.owner, result, sha)
        return "succeeded" if completed is not None else "discarded"

    async def _import(self, job: Job) -> str:
        """Fetch through the safe egress client, then upload like any other file. A file made by an earlier
        attempt (cut off before it said so) is found by its uuid instead of being made twice."""
        source_url, new = self.library.import_request(job)
        try:
            file = self.library.get_live_or_removed(new.uuid or "")
        except NotFound:
            pass
        else:
            return "succeeded" if await self.library.finish_import(job, self.owner, file) else "discarded"
        await self.library.import_progress(job, self.owner, 0, None)
        try:
            data = await self.egress.fetch(source_url, max_bytes=self.settings.max_upload_bytes)
        except EgressBlocked as exc:
            raise PermanentFailure("download_failed", f"The file could not be fetched: {exc.message}.") from None
        await self.library.import_progress(job, self.owner, len(data), len(data))
        try:
            file, _ = await self.library.upload(replace(new, data=data), bounded_wait=False)
        except APIError as exc:
            raise PermanentFailure("file_rejected", exc.message) from None
        return "succeeded" if await self.library.finish_import(job, self.owner, file) else "discarded"

    async def _task(self, job: Job) -> str:
        """One item of a task: read its input, edit it, write the result where it says; what it made is
        kept on the job. An item cut off midway runs again from the start (a temporary result it kept
        is swept with the others)."""
        item = job.options
        try:
            edit = engine.edit_from_json(item["edit"])
        except engine.EngineError as exc:
            raise PermanentFailure("invalid_option", exc.message) from None
        try:
            source = await tasks.read_input(item["input"], egress=self.egress, storages=self.storages,
                                            max_bytes=self.settings.max_upload_bytes, name=item.get("name"))  # fmt: skip
        except APIError as exc:
            failure = TransientFailure if tasks.transient(exc) else PermanentFailure
            raise failure("input_unavailable", exc.message) from None
        result = await self._run_engine(edit, source.data, None)
        try:
            written = await tasks.write_output(result, source, item.get("output"), library=self.library,
                                               storages=self.storages)  # fmt: skip
        except APIError as exc:
            failure = TransientFailure if tasks.transient(exc) else PermanentFailure
            raise failure("output_failed", exc.message) from None
        described = await tasks.describe(source, result, written, self.limits)
        finished = await self.library.finish_task_item(job, self.owner, described)
        return "succeeded" if finished is not None else "discarded"

    async def _cut_out(self, job: Job) -> engine.Result:
        try:
            edit = engine.edit_from_json(job.options)
        except engine.EngineError as exc:  # only a v0 row's raw options can still be refused here
            raise PermanentFailure("invalid_option", exc.message) from None
        try:
            _, version = self.library.version(job.file_id, job.source_version)
            data = await self.library.read(version)
        except NotFound:
            raise PermanentFailure("file_deleted", "The file or its version was deleted before the job ran.") from None
        background = None
        if edit.background_url:
            try:
                background = await self.egress.fetch(edit.background_url, max_bytes=self.settings.max_upload_bytes)
            except EgressBlocked as exc:
                failure = TransientFailure if exc.transient else PermanentFailure
                raise failure("bg_image_url_unavailable", f"bg_image_url could not be fetched: {exc.message}") from None
        return await self._run_engine(edit, data, background)

    async def _run_engine(self, edit: engine.Edit, data: bytes, background: bytes | None) -> engine.Result:
        """The edit through a cut-out slot behind any waiting caller, and the decode budget."""
        try:
            cost = await to_thread.run_sync(engine.cut_out_cost, data, background, self.limits, edit.output)
            async with self.slots.take(urgent=False):
                # Queued work waits for the decode budget as long as it takes; only callers who are
                # waiting for an answer are turned away.
                return await self.library.budget.run(
                    cost,
                    functools.partial(self.sync.engine_run, edit, data, background),
                    bounded=False,
                )
        except engine.EngineError as exc:
            raise PermanentFailure("image_rejected", exc.message) from None

    async def _heartbeat(self, job: Job) -> None:
        interval = self.settings.job_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            if not await self.library.heartbeat(job, self.owner, self.settings.job_lease_seconds):
                log.warning("job %s lost its lease", job.id)
                return
