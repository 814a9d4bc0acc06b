"""create_app(settings): the Starlette application; its lifespan owns startup and shutdown."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .blobs import BlobStore
from .db import Database
from .dialects import imagekit
from .egress import Egress
from .keys import resolve_keys
from .library import Library
from .middleware import RequestContext
from .services import Services
from .settings import Settings

log = logging.getLogger("cutout")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def server_error(request: Request, exc: Exception) -> Response:
    # Never let a stack trace leave the server; the log line carries the request id.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"message": "The server failed to handle this request.", "help": "Report it with the x-ik-requestId header."},
        500,
    )


def create_app(settings: Settings) -> Starlette:
    """Build the service for `settings`; keys missing from settings are read from (or created in) the data dir."""
    settings, generated = resolve_keys(settings)
    if generated:
        print_keys(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(data_dir / "cutout.db")
        egress = Egress(settings.egress_allow)
        app.state.services = Services(
            settings=settings,
            library=Library(settings, db, BlobStore(data_dir / "blobs")),
            egress=egress,
        )
        try:
            yield
        finally:
            await egress.aclose()
            db.close()

    routes = [Route("/healthz", healthz, methods=["GET"]), *imagekit.routes]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(RequestContext, max_body=settings.max_upload_bytes)],
        exception_handlers={Exception: server_error},
    )


def print_keys(settings: Settings) -> None:
    """Shown once, on the start that generated the keys."""
    print(
        "\nCutout generated its keys (stored in "
        f"{Path(settings.data_dir) / 'keys.json'}):\n"
        f"  ImageKit private key:  {settings.imagekit_private_key}\n"
        f"  ImageKit public key:   {settings.imagekit_public_key}\n"
        f"  Uploadcare public key: {settings.uploadcare_public_key}\n"
        f"  Uploadcare secret key: {settings.uploadcare_secret_key}\n"
        f"  Webhook secret:        {settings.webhook_secret}\n",
        file=sys.stderr,
        flush=True,
    )
