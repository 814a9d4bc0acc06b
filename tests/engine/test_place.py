"""Photoroom's positioning rules (Place), each on a synthetic scene with the exact box it must give.

The scenes are a green backdrop with solid subjects; `BackdropSegmenter`
makes their matte exact, so a subject's box in the result is exact too.
Every expected box is worked out in the comment above it from the rules in
the README's "Photoroom positioning rules".
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from service.engine import Background, Edit, Encode, OptionError, OutputSpec, Place, Segment, run
from service.engine.compose import arrange, clear_outside, plan_place

from .conftest import BACKDROP, decode, encode, opaque_box, scene

PHOTO = (200, 100)
TALL = (60, 20, 100, 80)  # 40 x 60, touching no border
WIDE = (40, 20, 120, 80)  # 80 x 60, touching no border


def placed(fake, photo: Image.Image, place: Place, *steps) -> tuple[Image.Image, object]:
    result = run(Edit((Segment(), place, *steps, Encode(OutputSpec("png")))), encode(photo), segmenter=fake)
    return decode(result.data), result


def box_of(fake, subject, place: Place, size=PHOTO) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    picture, result = placed(fake, scene(size, subject), place)
    box = opaque_box(np.asarray(picture.getchannel("A")))
    assert result.foreground == (box[0], box[1], box[2] - box[0], box[3] - box[1])
    return picture.size, box


def pct(amount: float) -> tuple[tuple[float, str], ...]:
    return ((amount, "%"),) * 4


def px(amount: float) -> tuple[tuple[float, str], ...]:
    return ((amount, "px"),) * 4


def test_default_fits_the_subject_centred_on_the_photos_canvas(fake):
    # Canvas 200x100; 40x60 scaled by min(200/40, 100/60) = 5/3 -> 67x100, x = round(133/2) = 66.
    assert box_of(fake, TALL, Place()) == ((200, 100), (66, 0, 133, 100))


def test_custom_size_with_padding_as_a_share_of_each_side(fake):
    # 300x300, padding 10% -> target (30, 30, 270, 270); x4 -> 160x240, centred: x = 30 + 40.
    assert box_of(fake, TALL, Place(size=(300, 300), padding=pct(10))) == ((300, 300), (70, 30, 230, 270))


def test_padding_percent_is_of_the_canvas_less_margins(fake):
    # Margin 10% of 300 = 30 -> margin box 240; padding 10% of 240 = 24 -> target (54, 54, 246, 246), 192 px;
    # x3.2 -> 128x192, x = 54 + 32.
    place = Place(size=(300, 300), margin=pct(10), padding=pct(10))
    assert box_of(fake, TALL, place) == ((300, 300), (86, 54, 214, 246))


def test_margin_and_padding_in_pixels_per_side(fake):
    # Top 10+0, right 0+50, bottom 20+10, left 30+0 (margin+padding) -> target (30, 10, 250, 270), 220x260;
    # the wide subject x2.75 -> 220x165, y = 10 + round(95/2) = 58.
    margin = ((10, "px"), (0, "px"), (20, "px"), (30, "px"))
    padding = ((0, "px"), (50, "px"), (10, "px"), (0, "px"))
    place = Place(size=(300, 300), margin=margin, padding=padding)
    assert box_of(fake, WIDE, place) == ((300, 300), (30, 58, 250, 223))


def test_fill_covers_the_target_area_and_is_clipped_there(fake):
    # Target (30, 30, 270, 270); fill scales by max(240/40, 240/60) = 6 -> 240x360 at y = 30 - 60:
    # all of the target is subject, nothing outside it.
    picture, _ = placed(fake, scene(PHOTO, TALL), Place(size=(300, 300), padding=pct(10), scaling="fill"))
    alpha = np.asarray(picture.getchannel("A"))
    assert opaque_box(alpha) == (30, 30, 270, 270)
    assert alpha[30:270, 30:270].min() == 255


def test_fill_crops_the_subject_fit_shows_it_whole(fake):
    photo = scene(PHOTO, TALL, colour=(250, 250, 250))
    photo.paste((220, 0, 0), (60, 20, 100, 26))  # a red band on the subject's top tenth
    # Fill: x7.5 -> 300x450 at y = -75; the band (rows 0-6 of 60, 45 px tall) is above the canvas.
    filled, _ = placed(fake, photo, Place(size=(300, 300), scaling="fill"))
    fitted, _ = placed(fake, photo, Place(size=(300, 300)))
    def red(picture):
        rgb = np.asarray(picture.convert("RGB")).astype(int)
        return np.count_nonzero((rgb[..., 0] > 150) & (rgb[..., 1] < 80))
    assert red(filled) == 0
    assert red(fitted) > 0


def test_a_cropped_side_drops_its_padding_and_sits_on_the_margin(fake):
    cropped = (40, 40, 120, 100)  # 80x60, touching the photo's bottom edge
    # Padding 10% everywhere but the cropped bottom: target (30, 30, 270, 300); x3 -> 240x180, pinned to the
    # bottom: y = 300 - 180.
    assert box_of(fake, cropped, Place(size=(300, 300), padding=pct(10))) == ((300, 300), (30, 120, 270, 300))
    # With a 5% margin: margin box (15, 15, 285, 285); padding 27 except at the bottom -> target (42, 42, 258, 285);
    # x2.7 -> 216x162 at y = 285 - 162: on the bottom margin, which is never dropped.
    place = Place(size=(300, 300), margin=pct(5), padding=pct(10))
    assert box_of(fake, cropped, place) == ((300, 300), (42, 123, 258, 285))


def test_without_snapping_a_cropped_side_keeps_its_padding_and_centring(fake):
    cropped = (40, 40, 120, 100)
    # Target (30, 30, 270, 270); x3 -> 240x180, centred: y = 30 + 30.
    place = Place(size=(300, 300), padding=pct(10), snap_cropped=(True, False))
    assert box_of(fake, cropped, place) == ((300, 300), (30, 60, 270, 240))


def test_cropped_on_both_opposite_sides_drops_both_paddings_and_keeps_the_alignment(fake):
    spanning = (0, 30, 200, 70)  # 200x40, touching left and right
    # Target (0, 30, 300, 270): left and right paddings dropped; x1.5 -> 300x60, centred: y = 30 + 90.
    assert box_of(fake, spanning, Place(size=(300, 300), padding=pct(10))) == ((300, 300), (0, 120, 300, 180))


def test_a_subject_that_stays_where_it_is_is_arranged_in_place_with_the_same_pixels():
    # Touching the left and right borders: nothing to scale or move, so only what lies outside the box is cleared.
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (100, 200, 4), dtype=np.uint8)
    plan = plan_place(PHOTO, (0, 30, 200, 70), Place())
    assert plan.moved and plan.keeps_in_place(PHOTO)
    arranged = np.asarray(arrange(Image.fromarray(pixels, mode="RGBA"), plan))
    clear_outside(pixels, plan.box)
    assert np.array_equal(pixels, arranged)
    # Scaled, moved, or on another canvas: arranged as before.
    assert not plan_place(PHOTO, TALL, Place()).keeps_in_place(PHOTO)
    unsnapped = Place(padding=px(5), snap_cropped=(False, False))
    assert not plan_place(PHOTO, (0, 30, 200, 70), unsnapped).keeps_in_place(PHOTO)
    assert not plan_place(PHOTO, (0, 30, 200, 70), Place(size=(200, 120))).keeps_in_place(PHOTO)


@pytest.mark.parametrize(
    ("align", "expected"),
    [
        # The wide subject in 300x300: x3.75 -> 300x225, vertical slack 75.
        (("center", "start"), (0, 0, 300, 225)),
        (("center", "center"), (0, 38, 300, 263)),
        (("center", "end"), (0, 75, 300, 300)),
    ],
)
def test_vertical_alignment(fake, align, expected):
    assert box_of(fake, WIDE, Place(size=(300, 300), align=align)) == ((300, 300), expected)


@pytest.mark.parametrize(
    ("align", "expected"),
    [
        # The tall subject in 300x300: x5 -> 200x300, horizontal slack 100.
        (("start", "center"), (0, 0, 200, 300)),
        (("end", "center"), (100, 0, 300, 300)),
    ],
)
def test_horizontal_alignment(fake, align, expected):
    assert box_of(fake, TALL, Place(size=(300, 300), align=align)) == ((300, 300), expected)


def test_an_alignment_on_a_snapped_axis_gives_way_to_the_cropped_side(fake):
    cropped = (40, 40, 120, 100)  # touching the bottom
    place = Place(size=(300, 300), padding=pct(10), align=("center", "start"))
    assert box_of(fake, cropped, place)[1] == (30, 120, 270, 300)
    # The dialect turns snapping off on an axis it is given an alignment for; then the alignment holds.
    place = Place(size=(300, 300), padding=pct(10), align=("center", "start"), snap_cropped=(True, False))
    assert box_of(fake, cropped, place)[1] == (30, 30, 270, 210)


def test_reference_original_fits_the_whole_photo_keeping_the_subject_where_it_was(fake):
    # The 200x100 photo x2 -> 400x200 at y = 100; the subject (60, 20, 100, 80) lands at (120, 140, 200, 260).
    place = Place(size=(400, 400), reference="original")
    assert box_of(fake, TALL, place) == ((400, 400), (120, 140, 200, 260))


def test_reference_original_with_fill_can_lose_the_subject(fake):
    # The photo x4 -> 800x400 at x = -200: the subject on its left third (x 0-40) is off the canvas.
    picture, result = placed(fake, scene(PHOTO, (5, 20, 45, 80)), Place(size=(400, 400), reference="original", scaling="fill"))
    assert opaque_box(np.asarray(picture.getchannel("A"))) is None
    assert result.foreground is None


def test_frame_subject_is_the_subject_plus_its_paddings_and_margins(fake):
    # Padding 25% of the margin box: 80 / 0.5 = 160 wide, 60 / 0.5 = 120 high; margins 20 px: 200x160.
    # Target (20 + 40, 20 + 30, 180 - 40, 140 - 30): the subject at scale 1.
    place = Place(frame="subject", margin=px(20), padding=pct(25))
    assert box_of(fake, WIDE, place) == ((200, 160), (60, 50, 140, 110))
    assert box_of(fake, WIDE, Place(frame="subject")) == ((80, 60), (0, 0, 80, 60))


def test_max_size_bounds_a_frame_keeping_its_aspect_ratio(fake):
    # Frame subject with 25% margins: 160x120, at most 80 wide -> 80x60; margins 20/15 -> target 40x30; x0.5.
    place = Place(frame="subject", margin=pct(25), max_size=(80, None))
    assert box_of(fake, WIDE, place) == ((80, 60), (20, 15, 60, 45))
    # Frame original, at most 50 high: 100x50; the tall subject x5/6 -> 33x50 at x = round(67/2) = 34.
    assert box_of(fake, TALL, Place(max_size=(None, 50))) == ((100, 50), (34, 0, 67, 50))


def test_no_subject_gives_the_canvas_asked_for_with_nothing_on_it(fake):
    photo = Image.new("RGB", PHOTO, BACKDROP)
    picture, result = placed(fake, photo, Place(size=(300, 200), padding=pct(10)), Background(color=(0, 0, 255, 255)))
    assert picture.size == (300, 200)
    assert picture.getcolors() == [(300 * 200, (0, 0, 255))]
    assert result.foreground is None


def test_without_segment_the_whole_photo_is_placed_and_padding_is_kept():
    photo = Image.new("RGB", PHOTO, (200, 30, 30))  # opaque: touches every border, yet nothing snaps
    edit = Edit((Place(size=(300, 300), padding=pct(10)), Background(color=(255, 255, 255, 255)), Encode(OutputSpec("png"))))
    picture = decode(run(edit, encode(photo), segmenter=lambda rgb: 1 / 0).data).convert("RGB")
    # Target (30, 30, 270, 270); 200x100 x1.2 -> 240x120 at y = 30 + 60; the padding areas take the colour.
    rgb = np.asarray(picture).astype(int)
    photo_area = (np.abs(rgb - (200, 30, 30)).sum(axis=2) < 10)
    assert opaque_box(photo_area.astype(np.uint8) * 255) == (30, 90, 270, 210)
    assert tuple(rgb[10, 150]) == (255, 255, 255) and tuple(rgb[250, 150]) == (255, 255, 255)


def test_plan_place_is_pure_geometry():
    plan = plan_place((200, 100), (60, 20, 100, 80), Place(size=(300, 300), padding=pct(10)))
    assert (plan.canvas, plan.box, plan.size, plan.offset, plan.clip) == ((300, 300), TALL, (160, 240), (70, 30), None)
    # No subject: the photo's box is the reference, and nothing counts as cropped.
    plan = plan_place((200, 100), None, Place(size=(300, 300), padding=pct(10)))
    assert (plan.box, plan.size, plan.offset) == ((0, 0, 200, 100), (240, 120), (30, 90))


def test_margins_and_paddings_that_leave_no_room_are_refused(fake):
    with pytest.raises(OptionError, match="padding"):
        plan_place((200, 100), TALL, Place(frame="subject", padding=((0, "%"), (50, "%"), (0, "%"), (50, "%"))))
    with pytest.raises(OptionError, match="margin"):
        plan_place((200, 100), TALL, Place(size=(100, 100), margin=px(50)))


def test_the_real_model_on_a_photo(model, photos):
    """u2netp's matte on a real photo: the subject fills the target on one axis and snaps where it was cut."""
    data = photos["chelsea.png"]
    plain = run(Edit((Segment(), Encode(OutputSpec("png")))), data, segmenter=model)
    x, y, w, h = plain.foreground
    photo_w, photo_h = plain.width, plain.height
    cut = {"left": x == 0, "top": y == 0, "right": x + w == photo_w, "bottom": y + h == photo_h}
    result = run(Edit((Segment(), Place(size=(500, 500), padding=pct(10)), Encode(OutputSpec("png")))), data, segmenter=model)
    fx, fy, fw, fh = result.foreground
    assert (result.width, result.height) == (500, 500)
    # A side the photo cut drops its 50 px padding; the subject fits what is left, keeping its shape.
    target_w = 500 - 50 * (not cut["left"]) - 50 * (not cut["right"])
    target_h = 500 - 50 * (not cut["top"]) - 50 * (not cut["bottom"])
    ratio = min(target_w / w, target_h / h)
    assert abs(fw - w * ratio) <= 1 and abs(fh - h * ratio) <= 1
    # On each axis: cut on one side only, it sits on that edge; otherwise it is centred in its target.
    for start, end, position, size, target in (("left", "right", fx, fw, target_w), ("top", "bottom", fy, fh, target_h)):
        if cut[start] != cut[end]:
            assert position == (0 if cut[start] else 500 - size), (start, end, position)
        else:
            assert abs(position - (500 - target) / 2 - (target - size) / 2) <= 1, (start, end, position)
    assert any(cut.values()) and not all(cut.values())  # the photo exercises both kinds of side
    alpha = np.asarray(decode(result.data).getchannel("A"))
    ys, xs = np.nonzero(alpha > 25)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (fx, fy, fx + fw, fy + fh)


def test_json_round_trip_of_the_photoroom_steps():
    from service.engine import Outline, Shadow, edit_from_json, edit_to_json

    edit = Edit((
        Segment(unless_transparent=True),
        Place(size=None, frame="subject", max_size=(800, None), margin=((5, "%"), (10, "px"), (5, "%"), (10, "px")),
              padding=pct(10), scaling="fill", reference="subject", snap_cropped=(False, True), align=("end", "start")),
        Outline(color=(255, 0, 0, 200), width=0.05, blur=0.01),
        Shadow(style="floating"),
        Background(has_image=True, image_url="https://example.com/bg.jpg", scaling="fit", blur=("bokeh", 0.02)),
        Encode(OutputSpec("avif", quality=70, dpi=300), keep_metadata="exif+xmp", keep_icc=True),
    ))
    assert edit_from_json(edit_to_json(edit)) == edit


def test_a_canvas_over_the_limits_is_refused(fake):
    from service.engine import Limits

    data = encode(scene(PHOTO, TALL))
    # croppedSubject with 49% paddings each side: 50 times the subject's size along each axis.
    huge = Place(frame="subject", padding=pct(49))
    with pytest.raises(OptionError, match="size: the result would be 2000x3000 pixels"):
        run(Edit((Segment(), huge, Encode())), data, segmenter=fake, limits=Limits(max_megapixels=5))
    with pytest.raises(OptionError, match="limit is 1000 per side"):
        run(Edit((Segment(), Place(size=(1001, 10)), Encode())), data, segmenter=fake, limits=Limits(max_side=1000))
