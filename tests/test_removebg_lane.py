"""remove.bg requests share the workers with queued jobs: they go first, wait a bounded time, and a caller
that leaves before its cut-out starts costs no model run. Nothing they do is stored."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from PIL import Image
from starlette.applications import Starlette

from service.app import create_app

from .conftest import CornerSegmenter, RunningServer, make_settings, wait_for

KEY = {"X-Api-Key": "removebg_test_key"}
JOB_SIZE, SYNC_SIZE = (70, 50), (90, 60)  # the model sees each photo whole: its size says whose run it was


def scene(size: tuple[int, int]) -> bytes:
    """A red block on white: CornerSegmenter finds a subject in it."""
    import io

    image = Image.new("RGB", size, (255, 255, 255))
    image.paste((200, 20, 20), (10, 10, size[0] - 10, size[1] - 10))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class Recorder(CornerSegmenter):
    """Records the size of every photo the model is given, in the order the runs start; each run waits for
    `gate` (set: runs go straight through)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int]] = []
        self.gate = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, rgb: Image.Image) -> np.ndarray:
        with self.lock:
            self.seen.append(rgb.size)
        assert self.gate.wait(30), "the model was never let go"
        return super().__call__(rgb)


class Served:
    """A real server whose app the test can look into (the cut-out slots)."""

    def __init__(self, server: RunningServer, app: Starlette) -> None:
        self.server, self.app = server, app

    @property
    def slots(self) -> Any:
        return self.app.state.services.runner.slots


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    stops: list[Callable[[], None]] = []

    def start(segmenter: Recorder, **overrides: object) -> Served:
        settings = make_settings(tmp_path / f"data{len(stops)}", **overrides)
        app = create_app(settings, segmenter=segmenter)
        server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for(lambda: server.started or not thread.is_alive())
        assert server.started

        def stop() -> None:
            segmenter.gate.set()
            server.should_exit = True
            thread.join(timeout=15)

        stops.append(stop)
        url = f"http://{settings.host}:{settings.port}"
        return Served(RunningServer(url=url, settings=settings, data_dir=Path(settings.data_dir)), app)

    yield start
    for stop in reversed(stops):
        stop()


def queue_job(server: RunningServer, name: str) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/files/upload", auth=server.auth(), files={"file": (name, scene(JOB_SIZE))},
        data={"fileName": name, "extensions": json.dumps([{"name": "remove-bg"}])}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text


def remove_bg(server: RunningServer, answers: list[httpx.Response]) -> threading.Thread:
    def call() -> None:
        answers.append(httpx.post(f"{server.url}/v1.0/removebg", headers=KEY,
                                  files={"image_file": ("s.png", scene(SYNC_SIZE))}, timeout=60))  # fmt: skip

    thread = threading.Thread(target=call)
    thread.start()
    return thread


def test_remove_bg_requests_start_before_the_queued_jobs_still_waiting(serve: Callable[..., Served]) -> None:
    model = Recorder()
    served = serve(model, workers=1, decode_wait_seconds=30)
    server = served.server
    for index in range(3):
        queue_job(server, f"job{index}.png")
    # The first job holds the only worker; the runner has claimed the second, which waits for the worker,
    # and the third waits in the queue.
    wait_for(lambda: model.seen == [JOB_SIZE] and served.slots.waiting == 1)
    answers: list[httpx.Response] = []
    callers = [remove_bg(server, answers)]
    wait_for(lambda: served.slots.waiting == 2)
    callers.append(remove_bg(server, answers))
    wait_for(lambda: served.slots.waiting == 3)
    model.gate.set()
    for caller in callers:
        caller.join(60)
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    jobs = server.wait_jobs_done()
    assert model.seen == [JOB_SIZE, SYNC_SIZE, SYNC_SIZE, JOB_SIZE, JOB_SIZE]
    assert [j["status"] for j in jobs] == ["succeeded"] * 3
    assert server.file_count() == 3  # the uploads; the remove.bg answers left no file, job or row


def test_past_the_wait_bound_a_request_gets_429_with_retry_after_and_leaves_nothing(serve: Callable[..., Served]) -> None:
    model = Recorder()
    served = serve(model, workers=1, decode_wait_seconds=0.5)
    server = served.server
    queue_job(server, "held.png")
    wait_for(lambda: model.seen == [JOB_SIZE])
    blobs, files = server.blob_count(), server.file_count()
    answers: list[httpx.Response] = []
    for _ in range(2):
        remove_bg(server, answers).join(30)
    for response in answers:
        assert response.status_code == 429, response.text
        assert response.headers["Retry-After"] == "1"
        [error] = response.json()["errors"]
        assert error["code"] == "rate_limit_exceeded" and error["title"] == "Rate limit exceeded"
        assert "CUTOUT_WORKERS" in error["detail"]
    assert served.slots.waiting == 0
    assert (server.blob_count(), server.file_count()) == (blobs, files)
    model.gate.set()
    server.wait_jobs_done()
    assert model.seen == [JOB_SIZE]  # the refused requests never reached the model


def test_a_client_that_leaves_while_waiting_for_a_worker_costs_no_model_run(serve: Callable[..., Served]) -> None:
    model = Recorder()
    served = serve(model, workers=1, decode_wait_seconds=30)
    server = served.server
    answers: list[httpx.Response] = []
    first = remove_bg(server, answers)
    wait_for(lambda: model.seen == [SYNC_SIZE])
    request = httpx.Request("POST", f"{server.url}/v1.0/removebg", headers=KEY,
                            files={"image_file": ("s.png", scene(SYNC_SIZE))})  # fmt: skip
    body = request.read()
    head = ["POST /v1.0/removebg HTTP/1.1", f"Host: {server.url.removeprefix('http://')}"]
    head += [f"{name}: {value}" for name, value in request.headers.items() if name.lower() != "host"]
    with socket.create_connection((server.settings.host, server.settings.port)) as raw:
        raw.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        wait_for(lambda: served.slots.waiting == 1)  # read, checked, and waiting for the busy worker
    wait_for(lambda: served.slots.waiting == 0)  # gone with its caller
    model.gate.set()
    first.join(60)
    assert answers[0].status_code == 200, answers[0].text
    wait_for(lambda: served.slots.free == 1)
    assert model.seen == [SYNC_SIZE]
    assert server.blob_count() == 0 and server.file_count() == 0 and server.jobs() == []
