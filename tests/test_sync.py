"""The cut-out slots the queue and the synchronous dialects share: waiting callers first, bounded waits."""

from __future__ import annotations

import asyncio
import threading

import pytest

from service import engine
from service.budget import DecodeBudget
from service.errors import TooManyRequests
from service.sync import ClientGone, CutSlots, SyncLane

from .conftest import image_bytes


def test_an_urgent_caller_is_let_in_before_queued_jobs_that_waited_longer() -> None:
    async def scenario() -> list[str]:
        slots, order = CutSlots(1), []

        async def take(name: str, urgent: bool) -> None:
            async with slots.take(urgent=urgent):
                order.append(name)
                await asyncio.sleep(0.01)

        async with slots.take(urgent=False):
            tasks = [asyncio.create_task(take("job1", False)), asyncio.create_task(take("job2", False))]
            await asyncio.sleep(0.01)
            tasks.append(asyncio.create_task(take("sync1", True)))
            await asyncio.sleep(0.01)
            tasks.append(asyncio.create_task(take("sync2", True)))
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        assert slots.free == 1 and slots.waiting == 0
        return order

    assert asyncio.run(scenario()) == ["sync1", "sync2", "job1", "job2"]


def test_a_bounded_wait_that_runs_out_is_a_429_and_leaves_the_slot_count_whole() -> None:
    async def scenario() -> None:
        slots = CutSlots(1)
        async with slots.take(urgent=False):
            with pytest.raises(TooManyRequests) as refused:
                async with slots.take(urgent=True, timeout=0.05):
                    raise AssertionError("must not get a slot")
            assert refused.value.headers == {"Retry-After": "1"}
            assert slots.waiting == 0
        assert slots.free == 1

    asyncio.run(scenario())


def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    async def scenario() -> None:
        slots = CutSlots(1)
        got: list[str] = []

        async def take(name: str) -> None:
            async with slots.take(urgent=True):
                got.append(name)

        async with slots.take(urgent=False):
            leaving = asyncio.create_task(take("leaving"))
            staying = asyncio.create_task(take("staying"))
            await asyncio.sleep(0.01)
            leaving.cancel()
        await staying
        assert got == ["staying"] and slots.free == 1

    asyncio.run(scenario())


class GatedSegmenter:
    """The real contract (a float mask of the view's size), held until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls = 0

    def __call__(self, rgb: object) -> object:
        import numpy as np

        self.calls += 1
        self.gate.wait(10)
        width, height = rgb.size  # type: ignore[attr-defined]
        return np.ones((height, width), dtype=np.float32)


def test_a_caller_that_leaves_before_its_cut_out_starts_costs_nothing() -> None:
    async def scenario() -> None:
        segmenter = GatedSegmenter()
        slots = CutSlots(1)
        lane = SyncLane(slots, DecodeBudget(64, 5), segmenter, engine.Limits(), wait_seconds=5)
        edit = engine.Edit((engine.Segment(),))
        first = asyncio.create_task(lane.run(edit, image_bytes()))
        await asyncio.sleep(0.2)
        assert segmenter.calls == 1
        left = asyncio.Event()
        second = asyncio.create_task(lane.run(edit, image_bytes(), gone=left.wait))
        await asyncio.sleep(0.05)
        left.set()
        with pytest.raises(ClientGone):
            await second
        segmenter.gate.set()
        result = await first
        assert result.foreground is not None and result.uncertainty == 0.0
        assert segmenter.calls == 1 and slots.free == 1 and slots.waiting == 0

    asyncio.run(scenario())


def test_the_lane_finds_named_cmyk_profiles_where_it_was_told(tmp_path) -> None:
    import io
    import shutil

    from PIL import Image

    from service.engine.icc import DEFAULT_PROFILE_PATH

    shutil.copy(DEFAULT_PROFILE_PATH, tmp_path / "ISO_Coated.icc")
    spec = engine.OutputSpec("jpg", color_space="CMYK", color_profile="ISO_Coated", flatten_onto=(255, 255, 255))
    edit = engine.Edit((engine.Encode(spec),))
    unused = GatedSegmenter()

    def lane(profiles: engine.IccProfiles | None) -> SyncLane:
        return SyncLane(CutSlots(1), DecodeBudget(64, 5), unused, engine.Limits(), wait_seconds=5, profiles=profiles)

    result = asyncio.run(lane(engine.IccProfiles(tmp_path)).run(edit, image_bytes()))
    assert Image.open(io.BytesIO(result.data)).mode == "CMYK"
    with pytest.raises(engine.OptionError) as caught:
        asyncio.run(lane(None).run(edit, image_bytes()))
    assert caught.value.option == "color_profile"
