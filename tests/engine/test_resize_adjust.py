"""Resize (target-size geometry: bounds, cover, canvas, crop centred or on the subject, padding) and Adjust
(exposure, saturation, contrast, sharpness), on fixed vectors and small synthetic photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from service.engine import (
    Adjust,
    Edit,
    Encode,
    OptionError,
    OutputSpec,
    Resize,
    Segment,
    edit_from_json,
    edit_to_json,
    run,
)
from service.engine.adjust import adjusted, exposure_table, sharpness_factor
from service.engine.compose import plan_resize

PHOTO = (200, 100)
SUBJECT = (150, 40, 170, 60)
NONE = ((0, "px"),) * 4


def px(value: float) -> tuple[float, str]:
    return (value, "px")


@pytest.mark.parametrize(
    ("step", "canvas", "size", "offset", "clip"),
    [
        # One side: the other follows its scale.
        (Resize(width=px(100)), (100, 50), (100, 50), (0, 0), None),
        (Resize(height=(200, "%")), (400, 200), (400, 200), (0, 0), None),
        # bounds: min(100/200, 100/100) = 0.5; cover: max = 1.
        (Resize(px(100), px(100), "bounds"), (100, 50), (100, 50), (0, 0), None),
        (Resize(px(100), px(100), "cover"), (200, 100), (200, 100), (0, 0), None),
        # canvas: 100x50 centred in 100x100.
        (Resize(px(100), px(100), "canvas"), (100, 100), (100, 50), (0, 25), None),
        # crop: scaled to 200x100 to cover 100x100, centred: x from -50.
        (Resize(px(100), px(100), "crop"), (100, 100), (200, 100), (-50, 0), (0, 0, 100, 100)),
        # padding 10% of 200x100 on each side: 160x80 inside, the photo fitted into it.
        (Resize(padding=((10, "%"),) * 4), (200, 100), (160, 80), (20, 10), None),
    ],
)
def test_plan_resize_vectors(step: Resize, canvas: tuple[int, int], size: tuple[int, int],
                             offset: tuple[int, int], clip: tuple[int, int, int, int] | None) -> None:  # fmt: skip
    plan = plan_resize(PHOTO, SUBJECT, step)
    assert (plan.canvas, plan.size, plan.offset, plan.clip) == (canvas, size, offset, clip)


def test_smart_crop_centres_on_the_subject_inside_the_photo() -> None:
    # 100x100 from a 200x100 photo: the subject's centre x=160 wants offset 50 - 160 = -110, clamped to -100.
    plan = plan_resize(PHOTO, SUBJECT, Resize(px(100), px(100), "crop", focus="subject"))
    assert plan.offset == (-100, 0)
    near = plan_resize(PHOTO, (90, 40, 110, 60), Resize(px(100), px(100), "crop", focus="subject"))
    assert near.offset == (-50, 0)


def test_clip_makes_the_subject_the_reference() -> None:
    plan = plan_resize(PHOTO, SUBJECT, Resize(clip=True))
    assert (plan.canvas, plan.box, plan.size, plan.offset) == ((20, 20), SUBJECT, (20, 20), (0, 0))
    bigger = plan_resize(PHOTO, SUBJECT, Resize(width=px(100), clip=True))
    assert (bigger.canvas, bigger.size) == ((100, 100), (100, 100))


def test_nothing_to_do_is_no_move_and_too_small_is_refused() -> None:
    assert plan_resize(PHOTO, None, Resize()).moved is False
    with pytest.raises(OptionError, match="width"):
        plan_resize(PHOTO, None, Resize(width=(0.1, "%")))
    with pytest.raises(OptionError, match="padding"):
        plan_resize(PHOTO, None, Resize(padding=((50, "%"),) * 4))


def test_a_resize_beyond_the_limits_is_refused() -> None:
    photo = io.BytesIO()
    Image.new("RGB", (20, 10), "white").save(photo, "PNG")
    with pytest.raises(OptionError, match="resizing"):
        run(Edit((Resize(width=px(100_000)), Encode(OutputSpec("png")))), photo.getvalue())


def test_measured_segment_keeps_the_photo_opaque() -> None:
    image = Image.new("RGB", PHOTO, "white")
    image.paste((200, 0, 0), SUBJECT)
    photo = io.BytesIO()
    image.save(photo, "PNG")

    def fake(rgb: Image.Image) -> np.ndarray:
        pixels = np.asarray(rgb, dtype=np.float32)
        return (np.abs(pixels - pixels[0, 0]).sum(axis=2) > 60).astype(np.float32)

    edit = Edit((Segment(measure_only=True), Resize(px(100), px(100), "crop", focus="subject"),
                 Encode(OutputSpec("png"))))  # fmt: skip
    out = Image.open(io.BytesIO(run(edit, photo.getvalue(), segmenter=fake).data)).convert("RGBA")
    assert out.size == (100, 100)
    assert out.getpixel((5, 5)) == (255, 255, 255, 255)  # the background is still there
    assert out.getpixel((60, 50))[:3] == (200, 0, 0)  # the subject at x 150..170 - 100 = 50..70
    assert edit_from_json(edit_to_json(edit)) == edit


# ---- adjustments --------------------------------------------------------------------------------


def grey(value: int, size: tuple[int, int] = (8, 8)) -> Image.Image:
    return Image.new("RGB", size, (value, value, value))


def test_exposure_is_stops_in_linear_light() -> None:
    assert exposure_table(0) == list(range(256))
    # sRGB 118 is 18% grey in linear light; +50 (one stop) makes it 36.2%, which is sRGB 162.
    assert exposure_table(50)[118] == 162
    assert exposure_table(-50)[162] == 118
    assert exposure_table(100)[255] == 255 and exposure_table(-100)[0] == 0


def test_each_adjustment_on_pixels() -> None:
    colour = Image.new("RGB", (8, 8), (200, 100, 50))
    assert (
        adjusted(colour, saturation=-100).getpixel((0, 0))[0] == adjusted(colour, saturation=-100).getpixel((0, 0))[2]
    )
    stronger = adjusted(colour, saturation=100).getpixel((0, 0))
    assert stronger[0] - stronger[2] > 150 - 1
    halves = Image.new("RGB", (8, 8), (100, 100, 100))
    halves.paste((200, 200, 200), (0, 0, 4, 8))
    spread = np.asarray(adjusted(halves, contrast=100), dtype=int)
    assert spread[0, 0, 0] - spread[0, 7, 0] == 200  # mean 150: 200 -> 250, 100 -> 50
    assert np.asarray(adjusted(halves, contrast=-100), dtype=int).std() == 0
    assert sharpness_factor(100) == 3 and sharpness_factor(-100) == 0 and sharpness_factor(0) == 1


def test_adjust_keeps_alpha_and_zero_is_the_same_image() -> None:
    image = Image.new("RGBA", (4, 4), (100, 100, 100, 77))
    assert adjusted(image) is image
    brighter = adjusted(image, exposure=50)
    assert brighter.mode == "RGBA" and brighter.getpixel((0, 0))[3] == 77 and brighter.getpixel((0, 0))[0] > 100


def test_adjust_step_runs_in_an_edit() -> None:
    photo = io.BytesIO()
    grey(118).save(photo, "PNG")
    edit = Edit((Adjust(exposure=50), Encode(OutputSpec("png"))))
    out = Image.open(io.BytesIO(run(edit, photo.getvalue()).data))
    assert out.convert("RGB").getpixel((0, 0)) == (162, 162, 162)
    assert edit_from_json(edit_to_json(edit)) == edit


def test_an_opaque_photo_stays_opaque_unless_geometry_leaves_room() -> None:
    photo = io.BytesIO()
    grey(118, (20, 10)).save(photo, "PNG")
    fitted = run(Edit((Resize(width=px(10)), Encode(OutputSpec("png")))), photo.getvalue())
    assert Image.open(io.BytesIO(fitted.data)).mode == "RGB" and not fitted.has_alpha
    framed = run(Edit((Resize(px(20), px(20), "canvas"), Encode(OutputSpec("png")))), photo.getvalue())
    assert Image.open(io.BytesIO(framed.data)).mode == "RGBA" and framed.has_alpha
