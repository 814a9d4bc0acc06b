"""Looks: outlines, shadow styles, fitted and blurred backgrounds, portrait blur, keeping a photo's own alpha."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from service.engine import Background, Edit, Encode, Outline, OutputSpec, Place, Segment, Shadow, run
from service.engine.looks import blurred, with_outline

from .conftest import decode, encode, opaque_box, scene


def refuse(rgb: Image.Image) -> np.ndarray:
    raise AssertionError("the model must not run")


def cut(fake, photo: Image.Image, *steps, background: bytes | None = None) -> Image.Image:
    edit = Edit((Segment(), *steps, Encode(OutputSpec("png"))))
    return decode(run(edit, encode(photo), segmenter=fake, background=background).data)


def textured(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """Coarse random blocks: a background whose blur shows."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, (size[1] // 10 + 1, size[0] // 10 + 1, 3), dtype=np.uint8)
    return Image.fromarray(np.kron(cells, np.ones((10, 10, 1), np.uint8))[: size[1], : size[0]], mode="RGB")


# ---- outline ----------------------------------------------------------------------------------------


def test_outline_surrounds_the_subject_behind_it(fake):
    # 0.05 of the larger side (200) is a 10 px outline around the 40 px square.
    picture = np.asarray(cut(fake, scene((200, 200), (80, 80, 120, 120)), Outline(color=(255, 0, 0, 255), width=0.05)))
    assert (picture[80:120, 80:120] == (250, 250, 250, 255)).all()  # the subject is on top, unchanged
    for y, x in ((100, 72), (100, 127), (72, 100), (127, 100), (75, 75)):  # up to 8 px out, and a corner
        assert tuple(picture[y, x]) == (255, 0, 0, 255), (y, x)
    for y, x in ((100, 68), (100, 131), (68, 100), (131, 100), (71, 71)):  # 12 px out, and 12.7 at the corner
        assert picture[y, x, 3] == 0, (y, x)


def test_outline_blur_softens_its_edge_into_a_glow(fake):
    photo = scene((200, 200), (80, 80, 120, 120))
    sharp = np.asarray(cut(fake, photo, Outline(color=(255, 0, 0, 255), width=0.05)))[..., 3]
    glow = np.asarray(cut(fake, photo, Outline(color=(255, 0, 0, 255), width=0.05, blur=0.02)))[..., 3]
    partial = lambda alpha: np.count_nonzero((alpha > 10) & (alpha < 245))  # noqa: E731
    assert partial(glow) > 4 * partial(sharp)
    assert glow[100, 62] > 0 == sharp[100, 62]  # it reaches further out, fading
    assert (glow[80:120, 80:120] == 255).all()


def test_outline_colour_alpha_is_kept(fake):
    picture = np.asarray(cut(fake, scene((200, 200), (80, 80, 120, 120)), Outline(color=(0, 0, 255, 128), width=0.05)))
    assert tuple(picture[100, 74]) == (0, 0, 255, 128)


def test_outline_on_a_big_picture_is_fast():
    alpha = np.zeros((3000, 4000), np.uint8)
    alpha[800:2600, 1200:2800] = 255
    picture = Image.new("RGBA", (4000, 3000), (200, 200, 200, 0))
    picture.putalpha(Image.fromarray(alpha, mode="L"))
    started = time.perf_counter()
    out = with_outline(picture, (0, 0, 0, 255), 0.1, 0.025)
    assert time.perf_counter() - started < 4  # well under a second here; a full-size disc filter takes minutes
    assert out.getpixel((1000, 1700))[3] > 200  # 200 px out of a 400 px outline


# ---- background blur and scaling ---------------------------------------------------------------------


def test_blur_changes_the_background_image_and_not_the_subject(fake):
    photo = scene((200, 150), (80, 40, 120, 110))
    ground = encode(textured((200, 150)))
    plain = np.asarray(cut(fake, photo, Background(has_image=True), background=ground)).astype(int)
    soft = np.asarray(cut(fake, photo, Background(has_image=True, blur=("gaussian", 0.02)), background=ground)).astype(int)
    assert (plain[40:110, 80:120] == soft[40:110, 80:120]).all()
    outside = np.ones(plain.shape[:2], bool)
    outside[40:110, 80:120] = False
    assert np.abs(plain - soft)[outside].mean() > 10
    # Blurred, the blocks' hard steps become ramps: far less energy between neighbouring pixels.
    assert (np.diff(soft[:, :60], axis=1) ** 2).mean() < (np.diff(plain[:, :60], axis=1) ** 2).mean() / 4


def test_bokeh_is_a_disc_and_gaussian_is_not():
    point = Image.new("RGB", (201, 201), (0, 0, 0))
    point.paste((255, 255, 255), (99, 99, 102, 102))  # a 3x3 highlight
    disc = np.asarray(blurred(point, "bokeh", 5))[..., 0].astype(int)
    bell = np.asarray(blurred(point, "gaussian", 5))[..., 0].astype(int)
    # The disc covers the whole highlight up to 3 px from its centre (flat), and nothing 7 px out;
    # the bell falls off all the way and still reaches there.
    assert disc[100, 100] > 20 and disc[100, 100] == disc[100, 103] == disc[103, 100]
    assert disc[100, 107] == 0 and disc[107, 100] == 0
    assert bell[100, 100] > bell[100, 103] > bell[100, 107] > 0
    # A big radius runs on a reduced copy and is still a disc: flat, then nothing past its rim.
    wide = np.asarray(blurred(point.resize((1608, 1608), Image.Resampling.NEAREST), "bokeh", 80))[..., 0].astype(int)
    assert abs(wide[804, 804] - wide[804, 834]) <= 2 and wide[804, 804 + 80 + 12 + 12] == 0


def test_a_bokeh_background_differs_from_a_gaussian_one(fake):
    photo = scene((200, 150), (80, 40, 120, 110))
    ground = encode(textured((200, 150)))
    one = cut(fake, photo, Background(has_image=True, blur=("gaussian", 0.03)), background=ground)
    other = cut(fake, photo, Background(has_image=True, blur=("bokeh", 0.03)), background=ground)
    assert np.abs(np.asarray(one).astype(int) - np.asarray(other).astype(int)).mean() > 2


def test_fit_shows_the_whole_background_with_transparent_bands(fake):
    ground = encode(textured((100, 50)))
    picture = cut(fake, scene((200, 200), (80, 80, 120, 120)), Background(has_image=True, scaling="fit"), background=ground)
    alpha = np.asarray(picture.getchannel("A"))
    assert picture.mode == "RGBA"
    assert (alpha[:50] == 0).all() and (alpha[150:] == 0).all()  # 100x50 scaled to 200x100, centred
    assert (alpha[50:150] == 255).all()
    filled = cut(fake, scene((200, 200), (80, 80, 120, 120)), Background(has_image=True), background=ground)
    assert filled.mode == "RGB"


def test_fit_with_a_colour_shows_the_colour_in_the_bands(fake):
    ground = encode(textured((100, 50)))
    step = Background(color=(0, 0, 255, 255), has_image=True, scaling="fit")
    picture = cut(fake, scene((200, 200), (80, 80, 120, 120)), step, background=ground)
    assert picture.mode == "RGB" and picture.getpixel((5, 5)) == (0, 0, 255)


def only_white(rgb: Image.Image) -> np.ndarray:
    """The subject is the white box alone (the backdrop segmenter would take a red mark for subject too)."""
    return (np.asarray(rgb)[..., 1] > 240).astype(np.float32)


def test_portrait_blur_puts_the_subject_on_its_own_photo_blurred():
    photo = scene((200, 150), (80, 40, 120, 110))
    photo.paste((220, 30, 30), (20, 20, 30, 30))  # a red mark on the backdrop, away from the subject
    picture = cut(only_white, photo, Background(blur=("gaussian", 0.01)))
    rgb = np.asarray(picture).astype(int)
    assert picture.mode == "RGB"  # the photo fills the canvas: opaque
    assert (rgb[40:110, 80:120] == 250).all()
    # The mark is there, blurred: its centre still reddish, its edge mixed with the green around it.
    assert rgb[25, 25, 0] > 150 and 30 < rgb[20, 25, 0] < 200
    # The white subject does not bleed into a halo: just outside it the backdrop is still green.
    for y, x in ((75, 78), (75, 122), (38, 100), (112, 100)):
        assert np.abs(rgb[y, x] - (0, 200, 0)).max() <= 2, (y, x, rgb[y, x])  # premultiplied rounding


def test_portrait_blur_moves_with_the_subject():
    photo = scene((200, 100), (60, 20, 100, 80))
    photo.paste((220, 30, 30), (10, 45, 20, 55))  # a mark left of the subject
    edit = Edit((Segment(), Place(size=(400, 400), reference="original"), Background(blur=("gaussian", 0.005)), Encode(OutputSpec("png"))))
    picture = decode(run(edit, encode(photo), segmenter=only_white).data)
    rgb = np.asarray(picture.convert("RGB")).astype(int)
    # The photo x2 at y = 100: the mark (10-20, 45-55) lands at (20-40, 190-210), the subject at (120-200, 140-260).
    assert rgb[200, 30, 0] > 150 and rgb[200, 30, 1] < 100
    assert (rgb[150:250, 130:190] == 250).all()
    alpha = np.asarray(picture.getchannel("A"))
    assert (alpha[:95] == 0).all() and (alpha[105:295] == 255).all()  # the photo's own box is all there is


# ---- shadows ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["contact", "soft", "hard", "floating"])
def test_each_shadow_lies_below_the_subjects_top_never_above(fake, style):
    box = (80, 40, 130, 140)
    picture = np.asarray(cut(fake, scene((220, 220), box), Shadow(style=style)))
    alpha = picture[..., 3].astype(float)
    subject = np.zeros(alpha.shape, bool)
    subject[40:140, 80:130] = True
    shadow = np.where(subject, 0, alpha)
    assert shadow.sum() > 200
    assert (picture[subject][:, :3] == 250).all()  # the subject is on top
    assert shadow[:40].sum() == 0  # never above the subject's top
    rows = np.arange(alpha.shape[0])[:, None]
    centroid = (shadow * rows).sum() / shadow.sum()
    assert centroid > 90  # below the subject's centre
    if style in ("contact", "soft", "floating"):
        assert shadow[130:].sum() > 0.5 * shadow.sum()  # mostly at or below the base


def test_shadow_styles_look_different(fake):
    photo = scene((220, 220), (80, 40, 130, 140))
    looks = {style: np.asarray(cut(fake, photo, Shadow(style=style)))[..., 3] for style in ("contact", "soft", "hard", "floating")}
    hard = looks["hard"][40:140, 130:]
    assert hard.max() > 100  # the cast shadow shows right of the subject, crisp
    peak = {style: int(np.argmax(alpha[:, :80].sum(axis=1) + alpha[:, 130:].sum(axis=1))) for style, alpha in looks.items()}
    assert peak["floating"] >= 145 and peak["contact"] <= 142  # a pool detached below the base (140), or touching it
    for one in looks:
        for other in looks:
            if one < other:
                assert not np.array_equal(looks[one], looks[other]), (one, other)


# ---- Segment.unless_transparent ---------------------------------------------------------------------


def test_unless_transparent_keeps_a_photos_own_alpha_without_the_model():
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[10:30, 20:40] = (220, 0, 0, 255)
    data = encode(Image.fromarray(rgba, mode="RGBA"))
    result = run(Edit((Segment(unless_transparent=True), Encode(OutputSpec("png")))), data, segmenter=refuse)
    alpha = np.asarray(decode(result.data).getchannel("A"))
    assert opaque_box(alpha) == (20, 10, 40, 30) and result.uncertainty is None


def test_unless_transparent_still_segments_an_opaque_photo(fake):
    data = encode(scene((60, 40), (20, 10, 40, 30)))
    result = run(Edit((Segment(unless_transparent=True), Encode(OutputSpec("png")))), data, segmenter=fake)
    assert fake.calls and result.uncertainty is not None
    # A fully opaque alpha channel is not transparency: the model runs.
    opaque = encode(scene((60, 40), (20, 10, 40, 30)).convert("RGBA"))
    run(Edit((Segment(unless_transparent=True), Encode(OutputSpec("png")))), opaque, segmenter=fake)
    assert len(fake.calls) == 2


def test_unless_transparent_places_the_photos_own_subject():
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[10:30, 20:40] = (220, 0, 0, 255)
    data = encode(Image.fromarray(rgba, mode="RGBA"))
    edit = Edit((Segment(unless_transparent=True), Place(frame="subject"), Encode(OutputSpec("png"))))
    assert decode(run(edit, data, segmenter=refuse).data).size == (20, 20)
