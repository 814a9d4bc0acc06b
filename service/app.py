"""create_app(settings): the Starlette application; its lifespan owns startup and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from anyio import to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route, get_route_path  # type: ignore[attr-defined]  # defined in starlette._utils
from starlette.types import Scope

from . import engine, openapi
from .blobs import BlobStore
from .db import Database
from .dialects import claid, imagekit, native, photoroom, removebg, uploadcare
from .dialects.common import endpoint, public, require_declared
from .dispatcher import Dispatcher
from .egress import Egress
from .errors import APIError, MethodNotAllowed, NotFound
from .jobs import Runner
from .keys import resolve_keys
from .library import Library
from .metrics import Metrics
from .middleware import RequestContext
from .services import Services
from .settings import Settings
from .storage import Storages
from .webhooks import WebhookFormat, Webhooks

log = logging.getLogger("cutout")
HOUSEKEEPING_SECONDS = 600.0
READY_TIMEOUT_SECONDS = 5.0  # the busy timeout: a write lock held longer than this is a stuck database


def render_error(request: Request, exc: APIError) -> Response:
    """An error raised outside the endpoints, in the shape of the dialect whose path it is (ImageKit's by default)."""
    rendered = (uploadcare.render_error(request, exc) or removebg.render_error(request, exc)
                or photoroom.render_error(request, exc) or claid.render_error(request, exc))
    return rendered if rendered is not None else imagekit.render_error(exc)


# Probes and scrapers call these without credentials; they tell nothing about the library's contents.
operations = endpoint(render=render_error, auth=public("operations: liveness, readiness and metrics probes"))


@operations
async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@operations
async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    checks = {"model": services.model_ready}
    try:
        # Through the writer thread: a stuck or failing writer is what makes the service unready.
        await asyncio.wait_for(services.library.db.check_writable(), READY_TIMEOUT_SECONDS)
        checks["database"] = True
    except Exception:  # noqa: BLE001 - any failure to write means not ready
        checks["database"] = False
    ready = all(checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503)


@operations
async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def server_error(request: Request, exc: Exception) -> Response:
    # Never let a stack trace leave the server; the log line carries the request id.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return render_error(
        request,
        APIError(
            "The server failed to handle this request.", extra={"help": "Report it with the x-ik-requestId header."}
        ),
    )


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 as the API's errors; a 405 lists every method the path has."""
    assert isinstance(exc, HTTPException)  # registered for HTTPException only
    error: APIError
    if exc.status_code == 405:
        methods: set[str] = set()
        for route in request.app.router.routes:
            if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
                methods |= route.methods
        error = MethodNotAllowed(f"{request.method} is not allowed here.", allow=methods)
    elif exc.status_code == 404:
        error = NotFound("No such endpoint or file.")
    else:
        error = APIError(exc.detail)
        error.status = exc.status_code
    error.extra["help"] = "The endpoints are listed at /openapi.json."
    response = render_error(request, error)
    response.headers.update({k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"})
    return response


class TemplatedRoute(Route):
    """A route with path parameters that leaves the paths of literal routes to them, as OpenAPI matches
    concrete paths first: `GET /files/storage/` is a 405, not `/files/{uuid}/` with the uuid "storage"."""

    def __init__(self, route: Route, literal: frozenset[str]):
        super().__init__(route.path, route.endpoint, methods=list(route.methods or ()), name=route.name)
        self.literal = literal

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and get_route_path(scope) in self.literal:
            return Match.NONE, {}
        return super().matches(scope)


def literal_paths_first(routes: list[Route]) -> list[Route]:
    literal = frozenset(route.path for route in routes if not route.param_convertors)
    return [TemplatedRoute(route, literal) if route.param_convertors else route for route in routes]


def create_app(settings: Settings, *, segmenter: engine.Segmenter | None = None) -> Starlette:
    """Build the service for `settings`.

    Keys missing from settings are read from (or created in) the data dir.
    `segmenter` is the engine's one seam; the real U2-Net-p model is the default.
    """
    settings, generated = resolve_keys(settings)
    if generated:
        print_keys(settings)
    meter = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        library = open_library(settings, data_dir)
        # Multipart parts were once files under data_dir/multipart; sessions opened then cannot be completed now.
        await to_thread.run_sync(lambda: shutil.rmtree(data_dir / "multipart", ignore_errors=True))
        db, webhooks = library.db, library.webhooks
        egress = Egress(settings.egress_allow)
        model = segmenter or engine.U2NetSegmenter(settings.model_path or None, threads=settings.threads_per_job)
        storages = Storages(
            db, egress, encryption_key=settings.encryption_key, root=data_dir / "web-folders", base_url=settings.base_url
        )
        runner = Runner(library, egress, settings, model, meter, storages)
        dispatcher = Dispatcher(webhooks, egress, settings, meter)
        services = Services(
            settings=settings, library=library, egress=egress, metrics=meter, runner=runner, webhooks=webhooks,
            dispatcher=dispatcher, storages=storages,
        )  # fmt: skip
        meter.watch_queue(library.job_counts, webhooks.counts)
        app.state.services = services
        if isinstance(model, engine.U2NetSegmenter):
            await to_thread.run_sync(model.session)  # load once, before the first job
        services.model_ready = True
        app.state.uploadcare = uploadcare.State.create(settings)
        runner.start()  # it resumes what a stop or a crash cut off, imports from a URL among them
        dispatcher.start()
        housekeeping = asyncio.create_task(keep_house(library, app.state.uploadcare), name="cutout-housekeeping")
        try:
            yield
        finally:
            housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeping
            await runner.stop()
            await dispatcher.stop()
            await to_thread.run_sync(storages.close)
            await egress.aclose()
            db.close()

    description = openapi.build([
        imagekit.describe(), uploadcare.describe(), native.describe(tuple(endpoint_formats(settings))),
        removebg.describe(), photoroom.describe(), claid.describe(),
        openapi.operations(),
    ])  # fmt: skip

    @endpoint(render=render_error, auth=public("the API description"))
    async def openapi_json(request: Request) -> Response:
        return JSONResponse(description)

    routes = literal_paths_first([
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *imagekit.routes,
        *native.routes,
        *uploadcare.routes,
        *removebg.routes,
        *photoroom.routes,
        *claid.routes,
    ])  # fmt: skip
    require_declared(routes)
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(
                RequestContext,
                max_body=settings.max_upload_bytes,
                body_seconds=settings.body_timeout_seconds,
                body_rate=settings.body_min_rate,
                render_error=render_error,
                observe=meter.observe_request,
            )
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )


async def keep_house(library: Library, state: uploadcare.State) -> None:
    """At start-up and every ten minutes: Uploadcare semantics (files never stored go a day after upload,
    abandoned multipart sessions too, and the status of an upload from a URL an hour after it ended), and
    temporary results a day old, and the blobs and temp files a crash left behind."""
    while True:
        try:
            expired = await library.expire_unstored()
            dropped, forgotten = await state.keep_house(library)
            results = await library.expire_temporary()
            swept = await library.sweep_orphans()
            if expired or dropped or forgotten or results or swept:
                log.info(
                    "housekeeping removed %d unstored files, %d multipart sessions, %d URL upload statuses, "
                    "%d temporary results and %d orphaned blobs or temp files",
                    expired, dropped, forgotten, results, swept,
                )  # fmt: skip
        except Exception:
            log.exception("housekeeping failed; trying again later")
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


def open_library(settings: Settings, data_dir: Path) -> Library:
    """The domain over a data dir: database, blobs, and webhooks in every dialect's format."""
    db = Database(data_dir / "cutout.db")
    labelers = {"uploadcare": uploadcare.addon_result_labels}
    webhooks = Webhooks(settings, db, webhook_formats(settings))
    return Library(settings, db, BlobStore(data_dir / "blobs"), webhooks, labelers)


def webhook_formats(settings: Settings) -> dict[str, WebhookFormat]:
    """Every dialect's webhook format, by the name an endpoint is registered with."""
    return {
        "imagekit": imagekit.webhook_format(settings.base_url),
        "uploadcare": uploadcare.webhook_format(settings.base_url, settings.uploadcare_public_key),
        "claid": claid.webhook_format(settings.base_url),
    }


def endpoint_formats(settings: Settings) -> list[str]:
    """The formats an endpoint can be registered with: those that have events (Claid's has only a task's
    own webhook URL)."""
    return [name for name, fmt in webhook_formats(settings).items() if fmt.events]


def print_keys(settings: Settings) -> None:
    """Shown once, on the start that generated the keys."""
    print(
        "\nCutout generated its keys (stored in "
        f"{Path(settings.data_dir) / 'keys.json'}):\n"
        f"  ImageKit private key:  {settings.imagekit_private_key}\n"
        f"  ImageKit public key:   {settings.imagekit_public_key}\n"
        f"  Uploadcare public key: {settings.uploadcare_public_key}\n"
        f"  Uploadcare secret key: {settings.uploadcare_secret_key}\n"
        f"  Photoroom API key:     {settings.photoroom_api_key}\n"
        f"  remove.bg API key:     {settings.removebg_api_key}\n"
        f"  Claid API key:         {settings.claid_api_key}\n"
        f"  Webhook secret:        {settings.webhook_secret}\n",
        file=sys.stderr,
        flush=True,
    )
