"""The decode budget through the API: uploads, thumbnails and jobs share it; a bounded wait ends in a 429.

Budgets here are tiny (1 MP = 4 MB), so that a cut-out held in the segmenter holds more than all of
it and everything else must wait for it.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from service import engine
from service.budget import DecodeBudget
from service.errors import TooManyRequests

from .conftest import HeldSegmenter, RunningServer, image_bytes

UC = "demopublickey0000000"



def tiff(side: int, colour: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    """Decoded in full to be inspected (PNG is verified streamed, JPEG at 1/8): costs 4 bytes a pixel."""
    return image_bytes((side, side), "TIFF", color=colour)


def imagekit_upload(server: RunningServer, data: bytes, name: str, **fields: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/files/upload", auth=server.auth(), files={"file": (name, data)},
                      data={"fileName": name, **fields}, timeout=30)  # fmt: skip


def uploadcare_upload(server: RunningServer, data: bytes) -> httpx.Response:
    return httpx.post(f"{server.url}/base/", files={"file": ("u.tiff", data)}, data={"UPLOADCARE_PUB_KEY": UC},
                      timeout=30)  # fmt: skip


def hold_the_budget(server: RunningServer, segmenter: HeldSegmenter) -> None:
    """Start a cut-out of an image over the whole budget and wait until it is in the model."""
    started = imagekit_upload(server, tiff(800), "held.tiff", extensions='[{"name": "remove-bg"}]')
    assert started.status_code == 200, started.text
    assert segmenter.started.wait(20)


def test_a_full_budget_makes_uploads_and_thumbnails_429_in_each_dialects_shape(make_server) -> None:  # type: ignore[no-untyped-def]
    segmenter = HeldSegmenter()
    server = make_server(segmenter=segmenter, decode_budget_megapixels=1, decode_wait_seconds=0.3)
    with server.http():
        thumbnailed = imagekit_upload(server, tiff(300), "t.tiff", useUniqueFileName="false")
        assert thumbnailed.status_code == 200
    try:
        hold_the_budget(server, segmenter)
        files, blobs = server.file_count(), server.blob_count()
        imagekit = imagekit_upload(server, tiff(300, (1, 2, 3)), "late.tiff")
        assert imagekit.status_code == 429 and int(imagekit.headers["Retry-After"]) >= 1
        assert set(imagekit.json()) == {"message", "help"}
        assert "CUTOUT_DECODE_BUDGET_MEGAPIXELS" in imagekit.json()["message"]
        uploadcare = uploadcare_upload(server, tiff(300, (4, 5, 6)))
        assert uploadcare.status_code == 429 and int(uploadcare.headers["Retry-After"]) >= 1
        assert uploadcare.headers["content-type"].startswith("text/plain") and "Retry later" in uploadcare.text
        thumbnail = httpx.get(f"{server.url}/media/tr:n-ik_ml_thumbnail/t.tiff")
        assert thumbnail.status_code == 429 and int(thumbnail.headers["Retry-After"]) >= 1
        assert "Retry later" in thumbnail.json()["message"]
        assert (server.file_count(), server.blob_count()) == (files, blobs), "a 429 stores nothing"
    finally:
        segmenter.release.set()
    server.wait_jobs_done()
    assert httpx.get(f"{server.url}/media/tr:n-ik_ml_thumbnail/t.tiff").status_code == 200


def test_uploads_wait_for_the_budget_on_the_event_loop_not_on_threads(make_server) -> None:  # type: ignore[no-untyped-def]
    segmenter = HeldSegmenter()
    server = make_server(segmenter=segmenter, decode_budget_megapixels=1, decode_wait_seconds=20)
    plain = imagekit_upload(server, image_bytes(), "plain.png", useUniqueFileName="false")
    assert plain.status_code == 200
    waiting = 48  # more than anyio's 40 worker threads
    try:
        hold_the_budget(server, segmenter)
        with ThreadPoolExecutor(waiting) as pool:
            futures = [pool.submit(imagekit_upload, server, tiff(200, (i, 1, 1)), f"w{i}.tiff") for i in range(waiting)]
            time.sleep(1.0)
            assert not any(f.done() for f in futures), "uploads wait while the cut-out holds the budget"
            # Reading a file needs a worker thread: the waiting uploads hold none.
            started = time.monotonic()
            assert httpx.get(f"{server.url}/media/plain.png", timeout=10).status_code == 200
            assert time.monotonic() - started < 2
            segmenter.release.set()
            assert [f.result(timeout=60).status_code for f in futures] == [200] * waiting
    finally:
        segmenter.release.set()


def test_an_image_over_the_whole_budget_is_processed_alone(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(decode_budget_megapixels=1)
    data = tiff(2000)
    assert engine.decode_cost(data, engine.Limits(), engine.Work.INSPECT) == 4 * 4_000_000  # four budgets
    uploaded = imagekit_upload(server, data, "big.tiff", useUniqueFileName="false",
                               extensions='[{"name": "remove-bg"}]')  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    assert httpx.get(f"{server.url}/media/tr:n-ik_ml_thumbnail/big.tiff", timeout=30).status_code == 200
    [job] = server.wait_jobs_done()
    assert job["status"] == "succeeded"


def test_concurrent_thumbnail_requests_share_one_decode(make_server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[float] = []
    real = engine.thumbnail

    def slow_thumbnail(data: bytes, *args: object, **kwargs: object) -> tuple[bytes, str]:
        calls.append(time.monotonic())
        time.sleep(0.5)  # long enough for every request to arrive while it runs
        return real(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "thumbnail", slow_thumbnail)
    server = make_server()
    assert imagekit_upload(server, image_bytes((900, 600)), "shared.png", useUniqueFileName="false").status_code == 200
    url = f"{server.url}/media/tr:n-ik_ml_thumbnail/shared.png"
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: httpx.get(url, timeout=30), range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert len({a.content for a in answers}) == 1
    assert len(calls) == 1, f"{len(calls)} decodes for one version"
    assert httpx.get(url).status_code == 200 and len(calls) == 1, "kept as a blob afterwards"


def test_thumbnails_honour_raised_limits(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_side=13_000)
    wide = image_bytes((12_500, 40))  # over the engine's default 12000 per side
    assert imagekit_upload(server, wide, "wide.png", useUniqueFileName="false").status_code == 200
    answer = httpx.get(f"{server.url}/media/tr:n-ik_ml_thumbnail/wide.png", timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(answer.content)).size == (256, 1)


# ---- the budget itself ---------------------------------------------------------------------------


def test_budget_admits_in_arrival_order_and_frees_what_a_leaver_held() -> None:
    async def scenario() -> list[str]:
        budget = DecodeBudget(megapixels=1, wait_seconds=5)  # 4 MB
        order: list[str] = []
        gate = threading.Event()

        def work(name: str, wait: bool = False) -> None:
            if wait:
                gate.wait(5)
            order.append(name)

        mb = 1024 * 1024
        big = asyncio.create_task(budget.run(3 * mb, work, "big", True))
        await asyncio.sleep(0.05)
        assert budget.held == 3 * mb
        larger = asyncio.create_task(budget.run(2 * mb, work, "second"))  # does not fit beside big
        await asyncio.sleep(0.05)
        small = asyncio.create_task(budget.run(mb // 2, work, "third"))  # would fit, but waits its turn
        await asyncio.sleep(0.05)
        assert order == [] and not larger.done() and not small.done()
        leaver = asyncio.create_task(budget.run(mb // 2, work, "leaver"))
        await asyncio.sleep(0.05)
        leaver.cancel()
        gate.set()
        await asyncio.gather(big, larger, small)
        with pytest.raises(asyncio.CancelledError):
            await leaver
        assert budget.held == 0
        return order

    assert asyncio.run(scenario()) == ["big", "second", "third"]


def test_budget_runs_an_oversized_decode_alone_and_times_waiters_out() -> None:
    async def scenario() -> None:
        budget = DecodeBudget(megapixels=1, wait_seconds=0.1)
        gate = threading.Event()
        alone = asyncio.create_task(budget.run(100 * 1024 * 1024, gate.wait, 5))  # 25 times the budget
        await asyncio.sleep(0.05)
        assert budget.held == 100 * 1024 * 1024
        with pytest.raises(TooManyRequests) as refused:
            await budget.run(1, lambda: None)
        assert refused.value.retry_after == 1
        gate.set()
        await alone
        assert budget.held == 0
        assert await budget.run(1, lambda: "now it fits") == "now it fits"

    asyncio.run(scenario())


def test_png_inspection_is_charged_a_bounded_buffer_whatever_its_size() -> None:
    limits = engine.Limits()
    small, big = image_bytes((100, 100)), image_bytes((7000, 7000))
    inspect = engine.Work.INSPECT
    assert engine.decode_cost(small, limits, inspect) == engine.decode_cost(big, limits, inspect)
    assert engine.decode_cost(big, limits, engine.Work.THUMBNAIL) >= 7000 * 7000 * 8
    webp = image_bytes((2000, 2000), "WEBP")
    assert engine.decode_cost(webp, limits, engine.Work.INSPECT) == 2000 * 2000 * 16


def test_a_cut_out_is_charged_for_the_encoder_it_writes_with() -> None:
    """Lossless AVIF's encoder holds far more than the cut-out itself (52 bytes a pixel measured at 12 MP)."""
    data, limits = tiff(1000), engine.Limits()
    png = engine.cut_out_cost(data, None, limits)
    assert engine.cut_out_cost(data, None, limits, engine.OutputSpec("png", compression="best")) == png
    assert engine.cut_out_cost(data, None, limits, engine.OutputSpec("avif", lossless=True)) == 1000 * 1000 * 56
    assert engine.cut_out_cost(data, None, limits, engine.OutputSpec("avif")) == 1000 * 1000 * 34
    assert engine.cut_out_cost(data, None, limits, engine.OutputSpec("webp")) > png
