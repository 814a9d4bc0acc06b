"""Each option's geometry and colour, on synthetic scenes with the fake segmenter (exact pixels)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from service.engine import OptionError, parse_options, remove_background
from service.engine.compose import decontaminate, hard_edges, plan_layout

from .conftest import BACKDROP, decode, encode, opaque_box, scene

WHITE = (250, 250, 250)


def cut(image: Image.Image, fake, bg_image: bytes | None = None, **raw: object) -> Image.Image:
    result = remove_background(encode(image), parse_options(raw, has_bg_image=bg_image is not None), segmenter=fake, bg_image=bg_image)
    picture = decode(result.data)
    assert (picture.width, picture.height) == (result.width, result.height)
    assert result.has_alpha == (picture.mode == "RGBA")
    return picture


def alpha_of(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.getchannel("A"))


def test_plain_cutout_keeps_the_subject_in_place(fake):
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake)
    assert picture.mode == "RGBA" and picture.size == (200, 100)
    assert opaque_box(alpha_of(picture)) == (40, 30, 80, 70)
    assert picture.getpixel((60, 50)) == (*WHITE, 255)
    # Fully transparent pixels carry no hidden colour.
    assert picture.getpixel((5, 5)) == (0, 0, 0, 0)


def test_crop_to_the_subject(fake):
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, crop=True)
    assert picture.size == (40, 40)
    assert alpha_of(picture).min() == 255


def test_crop_margin_px_and_percent(fake):
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, crop=True, crop_margin="10px")
    assert picture.size == (60, 60)
    assert opaque_box(alpha_of(picture)) == (10, 10, 50, 50)
    # 10% of the 40 px subject on top/bottom, 5 px left/right.
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, crop=True, crop_margin="10% 5px")
    assert picture.size == (50, 48)
    assert opaque_box(alpha_of(picture)) == (5, 4, 45, 44)


def test_crop_margin_past_the_photo_edge_is_transparent(fake):
    picture = cut(scene((100, 100), (0, 0, 40, 40)), fake, crop=True, crop_margin="20px")
    assert picture.size == (80, 80)
    assert opaque_box(alpha_of(picture)) == (20, 20, 60, 60)
    assert alpha_of(picture)[5, 5] == 0


def test_scale_centres_the_subject(fake):
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, scale="50%")
    # Fits in 50% of the canvas: 0.5 * min(200/40, 100/40) = 1.25 -> 50x50, centred.
    assert picture.size == (200, 100)
    assert opaque_box(alpha_of(picture)) == (75, 25, 125, 75)


def test_position_percentages_align_like_css(fake):
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, scale="50%", position="0% 100%")
    assert opaque_box(alpha_of(picture)) == (0, 50, 50, 100)
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, position="100%")
    assert opaque_box(alpha_of(picture)) == (160, 60, 200, 100)


def test_position_original_scales_about_the_subject_centre(fake):
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, scale="50%", position="original")
    assert opaque_box(alpha_of(picture)) == (35, 25, 85, 75)


def test_position_center_without_scale(fake):
    picture = cut(scene((200, 100), (10, 10, 50, 50)), fake, position="center")
    assert opaque_box(alpha_of(picture)) == (80, 30, 120, 70)


def test_bg_color_opaque_gives_rgb(fake):
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, bg_color="ff0000")
    assert picture.mode == "RGB"
    assert picture.getpixel((5, 5)) == (255, 0, 0)
    assert picture.getpixel((60, 50)) == WHITE


def test_bg_color_with_alpha_stays_rgba(fake):
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, bg_color="0000ff80")
    assert picture.mode == "RGBA"
    assert picture.getpixel((5, 5)) == (0, 0, 255, 0x80)
    assert picture.getpixel((60, 50)) == (*WHITE, 255)


def test_bg_image_covers_the_canvas_centred(fake):
    # Left half red, right half blue, at a different aspect ratio than the photo.
    background = Image.new("RGB", (50, 50), (255, 0, 0))
    background.paste((0, 0, 255), (25, 0, 50, 50))
    picture = cut(scene((200, 100), (80, 30, 120, 70)), fake, bg_image=encode(background), format="jpg")
    picture = decode(remove_background(
        encode(scene((200, 100), (80, 30, 120, 70))),
        parse_options({}, has_bg_image=True),
        segmenter=fake,
        bg_image=encode(background),
    ).data)
    assert picture.mode == "RGB" and picture.size == (200, 100)
    assert picture.getpixel((5, 50)) == (255, 0, 0)
    assert picture.getpixel((195, 50)) == (0, 0, 255)
    assert picture.getpixel((100, 50)) == WHITE


def test_roi_drops_what_is_outside(fake):
    image = scene((200, 100), (20, 30, 60, 70))
    image.paste(WHITE, (140, 30, 180, 70))
    picture = cut(image, fake, roi="0 0 50% 100%")
    assert opaque_box(alpha_of(picture)) == (20, 30, 60, 70)
    picture = cut(image, fake, roi="100px 0px 200px 100px")
    assert opaque_box(alpha_of(picture)) == (140, 30, 180, 70)


def test_channels_alpha_is_the_mask(fake):
    picture = cut(scene((200, 100), (40, 30, 80, 70)), fake, channels="alpha", bg_color="f00", add_shadow=True)
    assert picture.mode == "L"
    mask = np.asarray(picture)
    expected = np.zeros((100, 200), dtype=np.uint8)
    expected[30:70, 40:80] = 255
    assert np.array_equal(mask, expected)


def test_shadow_is_under_the_subject_not_above(fake):
    picture = cut(scene((200, 120), (80, 20, 120, 60)), fake, add_shadow=True, bg_color="fff")
    grey = np.asarray(picture.convert("L"), dtype=np.int16)
    assert (grey[:20] == 255).all(), "nothing above the subject"
    assert (grey[:40, :78] == 255).all() and (grey[:40, 122:] == 255).all(), "nothing beside its upper half"
    below = grey[60:70, 80:120]
    assert below.min() < 200, "a visible shadow just under the base"
    assert (grey[60:75, 100] <= grey[60:75, 85]).all(), "darkest under the centre of the base"
    assert (grey[110:] == 255).all(), "a contact shadow, not a long cast one"
    assert picture.getpixel((100, 40)) == WHITE


def test_semitransparency_false_gives_hard_alpha_with_a_thin_rim():
    ramp = np.tile(np.linspace(0, 1, 100, dtype=np.float32), (20, 1))
    soft = (ramp * 255).astype(np.uint8)
    hard = hard_edges(soft)
    partial = np.nonzero((hard > 0) & (hard < 255))[1]
    crossing = int(np.argmax(soft[0] >= 128))
    assert partial.size > 0 and set(partial) <= {crossing - 1, crossing}
    assert (hard[:, : crossing - 1] == 0).all() and (hard[:, crossing + 1 :] == 255).all()


def test_semitransparency_false_through_the_pipeline():
    soft_mask = np.tile(np.linspace(0, 1, 100, dtype=np.float32), (40, 1))

    def ramp_segmenter(rgb: Image.Image) -> np.ndarray:
        return soft_mask

    image = Image.new("RGB", (100, 40), (120, 120, 120))
    data = encode(image)
    soft = alpha_of(decode(remove_background(data, parse_options({}), segmenter=ramp_segmenter).data))
    hard = alpha_of(decode(remove_background(data, parse_options({"semitransparency": "false"}), segmenter=ramp_segmenter).data))
    assert ((soft > 0) & (soft < 255)).sum() > 40 * 80
    assert ((hard > 0) & (hard < 255)).sum() <= 40 * 2


def test_edges_are_decontaminated_so_white_shows_no_green_halo():
    # A light subject on saturated green, blended through a soft radial edge.
    size = 160
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    radius = np.hypot(xx - size / 2, yy - size / 2)
    alpha = np.clip((50 - radius) / 12, 0, 1).astype(np.float32)
    subject = np.array([235, 225, 215], dtype=np.float32)
    green = np.array(BACKDROP, dtype=np.float32)
    observed = alpha[..., None] * subject + (1 - alpha[..., None]) * green
    image = Image.fromarray((observed + 0.5).astype(np.uint8))

    picture = decode(remove_background(encode(image), parse_options({"bg_color": "fff"}), segmenter=lambda rgb: alpha).data)
    result = np.asarray(picture, dtype=np.float32)
    edge = (alpha > 0.05) & (alpha < 0.95)
    green_excess = result[..., 1] - (result[..., 0] + result[..., 2]) / 2
    assert green_excess[edge].max() < 12

    # The same composite without decontamination is the halo this guards against.
    naive = alpha[..., None] * observed + (1 - alpha[..., None]) * 255
    naive_excess = naive[..., 1] - (naive[..., 0] + naive[..., 2]) / 2
    assert naive_excess[edge].max() > 40


def test_decontaminate_leaves_opaque_and_clear_pixels_alone():
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., :3] = 77
    rgba[:5, :, 3] = 255
    before = rgba.copy()
    decontaminate(rgba)
    assert np.array_equal(rgba, before)


def test_no_subject_keeps_the_canvas(fake):
    picture = cut(Image.new("RGB", (30, 20), BACKDROP), fake, crop=True, scale="50%")
    assert picture.size == (30, 20)
    assert alpha_of(picture).max() == 0


def test_layout_with_crop_and_scale():
    layout = plan_layout((200, 100), (40, 30, 80, 70), parse_options({"crop": True, "crop_margin": "20px", "scale": "50%"}))
    assert layout.canvas == (80, 80) and layout.size == (40, 40) and layout.offset == (20, 20)


@pytest.mark.parametrize(("fmt", "mime", "mode"), [("png", "image/png", "RGBA"), ("webp", "image/webp", "RGBA")])
def test_transparent_formats(fake, fmt, mime, mode):
    result = remove_background(encode(scene((64, 64), (16, 16, 48, 48))), parse_options({"format": fmt}), segmenter=fake)
    assert result.mime == mime and result.format == fmt and result.has_alpha
    assert decode(result.data).mode == mode


def test_auto_format_picks_jpg_for_opaque_results(fake):
    data = encode(scene((64, 64), (16, 16, 48, 48)))
    opaque = remove_background(data, parse_options({"format": "auto", "bg_color": "white"}), segmenter=fake)
    assert (opaque.mime, opaque.format, opaque.has_alpha) == ("image/jpeg", "jpg", False)
    clear = remove_background(data, parse_options({"format": "auto"}), segmenter=fake)
    assert (clear.mime, clear.has_alpha) == ("image/png", True)


def test_jpg_with_a_transparent_result_is_refused_at_run_time(fake):
    with pytest.raises(OptionError) as caught:
        remove_background(encode(scene((64, 64), (16, 16, 48, 48))), parse_options({"format": "jpg"}, has_bg_image=True), segmenter=fake)
    assert caught.value.option == "format"


def test_large_photos_are_segmented_on_a_reduced_view(fake):
    picture = cut(scene((3000, 1500), (1000, 500, 2000, 1000)), fake)
    assert fake.calls == [(1500, 750)]  # box-reduced 2x (short side stays >= 640) before the model
    assert picture.size == (3000, 1500)
    x0, y0, x1, y1 = opaque_box(alpha_of(picture))
    assert abs(x0 - 1000) <= 2 and abs(y0 - 500) <= 2 and abs(x1 - 2000) <= 2 and abs(y1 - 1000) <= 2


def test_large_jpegs_are_decoded_at_reduced_scale_for_the_model(fake):
    data = encode(scene((2800, 1400), (700, 350, 2100, 1050)), "JPEG", quality=95)
    picture = decode(remove_background(data, parse_options({}), segmenter=fake).data)
    assert fake.calls == [(1400, 700)]  # JPEG DCT scaling by 1/2 keeps both sides >= 640
    x0, y0, x1, y1 = opaque_box(alpha_of(picture))
    assert abs(x0 - 700) <= 3 and abs(y0 - 350) <= 3 and abs(x1 - 2100) <= 3 and abs(y1 - 1050) <= 3
