"""Shared fixtures: a real server on 127.0.0.1, SDK clients, and real photos."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from PIL import Image

from service.app import create_app
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "fixtures" / "photos"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], *, timeout: float = 20.0, interval: float = 0.02) -> object:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class RunningServer:
    url: str
    settings: Settings
    data_dir: Path

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def auth(self) -> tuple[str, str]:
        return (self.settings.imagekit_private_key, "")

    def file_count(self) -> int:
        import sqlite3

        with sqlite3.connect(self.data_dir / "cutout.db") as conn:
            return conn.execute("SELECT count(*) FROM files").fetchone()[0]

    def blob_count(self) -> int:
        return sum(1 for p in (self.data_dir / "blobs").rglob("*") if p.is_file())


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    port = free_port()
    base = Settings(
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        imagekit_private_key="private_test_key",
        imagekit_public_key="public_test_key",
        uploadcare_public_key="demopublickey0000000",
        uploadcare_secret_key="demosecretkey0000000",
        webhook_secret="whsec_dGVzdC1zZWNyZXQtZm9yLWN1dG91dA==",
        webhook_retry_schedule=(0.2, 0.4, 0.8),
        egress_allow=(),
        workers=1,
    )
    return base.with_changes(**overrides)


def run_server(settings: Settings) -> Iterator[RunningServer]:
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive())
    assert server.started, "server failed to start"
    try:
        yield RunningServer(url=f"http://{settings.host}:{settings.port}", settings=settings, data_dir=Path(settings.data_dir))
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start a server with settings overrides; every server started is stopped at teardown."""
    running: list[Iterator[RunningServer]] = []

    def start(**overrides: object) -> RunningServer:
        gen = run_server(make_settings(tmp_path / f"data{len(running)}", **overrides))
        running.append(gen)
        return next(gen)

    yield start
    for gen in reversed(running):
        next(gen, None)


@pytest.fixture
def server(make_server: Callable[..., RunningServer]) -> RunningServer:
    return make_server()


@pytest.fixture
def client(server: RunningServer):  # type: ignore[no-untyped-def]
    from imagekitio import ImageKit

    return ImageKit(private_key=server.settings.imagekit_private_key, base_url=server.url, max_retries=0)


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with server.http() as client:
        yield client


def photo_bytes(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def image_bytes(size: tuple[int, int] = (64, 48), fmt: str = "PNG", mode: str = "RGB", color: object = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt)  # type: ignore[arg-type]
    return out.getvalue()
