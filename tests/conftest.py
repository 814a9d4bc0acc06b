"""Shared fixtures: a real server on 127.0.0.1, SDK clients, and real photos."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from PIL import Image

from service.app import create_app
from service.engine import Segmenter, U2NetSegmenter, edit_to_json, remove_bg_edit
from service.settings import Settings

from .receiver import Receiver

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


class CornerSegmenter:
    """Fast deterministic stand-in for the model: the subject is every pixel unlike the top-left corner."""

    def __init__(self, fail_times: int = 0) -> None:
        self.calls = 0
        self.fail_times = fail_times

    def __call__(self, rgb: Image.Image) -> np.ndarray:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise RuntimeError("simulated model failure")
        pixels = np.asarray(rgb.convert("RGB"), dtype=np.float32)
        distance = np.abs(pixels - pixels[0, 0]).sum(axis=2)
        return (distance > 60).astype(np.float32)


class HeldSegmenter(CornerSegmenter):
    """Holds every run in the model until `release` is set (`started` says one has begun), so a test can
    fill the queue, hold the decode budget, or change the file while a job is running."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, rgb: Image.Image) -> np.ndarray:
        self.started.set()
        assert self.release.wait(30), "the held segmenter was never released"
        return super().__call__(rgb)


@pytest.fixture(scope="session")
def real_model() -> U2NetSegmenter:
    """The real U2-Net-p, loaded once for the whole session."""
    model = U2NetSegmenter(threads=2)
    model.session()
    return model


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

    def jobs(self) -> list[dict[str, object]]:
        import sqlite3

        with sqlite3.connect(self.data_dir / "cutout.db") as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM jobs ORDER BY rowid")]

    def wait_jobs_done(self, timeout: float = 60.0) -> list[dict[str, object]]:
        def done() -> list[dict[str, object]] | None:
            jobs = self.jobs()
            return jobs if jobs and all(j["status"] in ("succeeded", "failed") for j in jobs) else None

        return wait_for(done, timeout=timeout)  # type: ignore[return-value]

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
        photoroom_api_key="photoroom_test_key",
        removebg_api_key="removebg_test_key",
        claid_api_key="claid_test_key",
        encryption_key="dGVzdC1lbmNyeXB0aW9uLWtleS1mb3ItY3V0b3V0ISE=",
        webhook_secret="whsec_dGVzdC1zZWNyZXQtZm9yLWN1dG91dA==",
        webhook_retry_schedule=(0.2, 0.4, 0.8),
        egress_allow=(),
        workers=1,
        job_retry_base_seconds=0.1,
    )
    return base.with_changes(**overrides)


def run_server(settings: Settings, segmenter: Segmenter) -> Iterator[RunningServer]:
    app = create_app(settings, segmenter=segmenter)
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

    def start(segmenter: Segmenter | None = None, **overrides: object) -> RunningServer:
        settings = make_settings(tmp_path / f"data{len(running)}", **overrides)
        gen = run_server(settings, segmenter or CornerSegmenter())
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


def plain_cutout() -> dict[str, object]:
    """The edit JSON a dialect stores for remove-bg with no options: what library-level tests enqueue."""
    return edit_to_json(remove_bg_edit({}))


def image_bytes(size: tuple[int, int] = (64, 48), fmt: str = "PNG", mode: str = "RGB", color: object = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.fixture(scope="session")
def s3_server():  # type: ignore[no-untyped-def]
    """moto's S3 server on 127.0.0.1 with signature checks on, for the whole session (tests/storage_servers.py)."""
    from .storage_servers import serve, start_s3

    yield from serve(start_s3)


@pytest.fixture(scope="session")
def gcs_server():  # type: ignore[no-untyped-def]
    """gcp-storage-emulator on 127.0.0.1, for the whole session (tests/storage_servers.py)."""
    from .storage_servers import serve, start_gcs

    yield from serve(start_gcs)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on 127.0.0.1 (servers reach it with egress_allow=("127.0.0.0/8",))."""
    hooks = Receiver()
    yield hooks
    hooks.close()


class ServiceProcess:
    """A real `python -m service` process on a data dir, to be killed and restarted."""

    def __init__(self, data_dir: Path, **env: str):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth = ("private_process_key", "")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CUTOUT_")},
            "CUTOUT_PORT": str(self.port),
            "CUTOUT_DATA_DIR": str(data_dir),
            "CUTOUT_IMAGEKIT_PRIVATE_KEY": self.auth[0],
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def start(self) -> ServiceProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service"], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._ready, timeout=60)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
