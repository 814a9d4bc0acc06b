"""Render the README's pictures of Photoroom's positioning rules and looks, with the engine itself.

    python docs/positioning.py            # writes docs/positioning/*.png

Each picture is one `run` of an edit on a synthetic photo, through the same
code the API uses; a segmenter that returns the photo's own drawn mask stands
in for the model, so the pictures show the rules and not the model. A
transparent result is shown on a checkerboard; the canvas is framed in grey,
the margin box drawn in blue and the target area in green where they say
something. tests/engine/test_docs_pictures.py checks the committed pictures
are what the engine draws today.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.engine import Background, Edit, Encode, Outline, OutputSpec, Place, Segment, Shadow, Step, run  # noqa: E402
from service.engine.compose import target_area  # noqa: E402

OUT = Path(__file__).with_name("positioning")
SIDE = 200  # the square canvases
BLUE, GREEN = (40, 90, 230), (20, 170, 60)


def photo(cropped: bool = False) -> tuple[Image.Image, np.ndarray]:
    """A 300x200 photo of a vase on a dark, speckled backdrop, and its mask; `cropped`: cut by the bottom edge."""
    rng = np.random.default_rng(7)
    ys, xs = np.mgrid[0:200, 0:300]
    backdrop = np.stack([40 + xs // 6, 50 + ys // 5, 90 + 0 * xs], axis=2).astype(np.uint8)
    image = Image.fromarray(backdrop, mode="RGB")
    draw = ImageDraw.Draw(image)
    for x, y in rng.integers(0, (300, 200), (40, 2)):  # highlights, for the blurs to show
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(255, 240, 200))
    mask = Image.new("L", image.size, 0)
    shape = ImageDraw.Draw(mask)
    top = 70 if cropped else 40
    bottom = 200 if cropped else 170
    shape.ellipse((110, top + 40, 190, bottom + (40 if cropped else 0)), fill=255)  # the body
    shape.rectangle((135, top, 165, top + 60), fill=255)  # the neck
    shape.ellipse((128, top - 6, 172, top + 10), fill=255)  # the lip
    vase = Image.new("RGB", image.size, (235, 120, 40))
    ImageDraw.Draw(vase).rectangle((110, top + 70, 190, top + 80), fill=(250, 220, 120))  # a band
    image.paste(vase, (0, 0), mask)
    return image, np.asarray(mask, dtype=np.float32) / 255


def drawn(mask: np.ndarray) -> Callable[[Image.Image], np.ndarray]:
    def segmenter(view: Image.Image) -> np.ndarray:
        grey = Image.fromarray((mask * 255).astype(np.uint8), mode="L").resize(view.size, Image.Resampling.BILINEAR)
        return np.asarray(grey, dtype=np.float32) / 255

    return segmenter


def checkerboard(size: tuple[int, int]) -> Image.Image:
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
    cells = ((xs // 10 + ys // 10) % 2 * 30 + 205).astype(np.uint8)
    return Image.fromarray(np.stack([cells] * 3 + [np.full_like(cells, 255)], axis=2), mode="RGBA")


def render(steps: tuple[Step, ...], *, cropped: bool = False, segment: bool = True, guides: Place | None = None,
           background: bytes | None = None) -> Image.Image:
    source, mask = photo(cropped)
    data = io.BytesIO()
    source.save(data, "PNG")
    edit = Edit(((Segment(),) if segment else ()) + steps + (Encode(OutputSpec("png")),))
    result = Image.open(io.BytesIO(run(edit, data.getvalue(), segmenter=drawn(mask), background=background).data))
    picture = checkerboard(result.size)
    picture.alpha_composite(result.convert("RGBA"))
    draw = ImageDraw.Draw(picture)
    if guides is not None:
        width, height = picture.size
        draw.rectangle(target_area((width, height), guides.margin, ((0, "px"),) * 4), outline=BLUE)
        x0, y0, x1, y1 = target_area((width, height), guides.margin, guides.padding)
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=GREEN)
    draw.rectangle((0, 0, picture.width - 1, picture.height - 1), outline=(120, 120, 120))
    return picture.convert("RGB")


def pct(amount: float) -> tuple[tuple[float, str], ...]:
    return ((amount, "%"),) * 4


def pictures() -> dict[str, Image.Image]:
    """Every picture the README shows, by file name."""
    square = (SIDE, SIDE)
    padded = Place(size=square, padding=pct(10))
    framed = Place(size=square, margin=pct(10), padding=pct(10))
    filled = Place(size=square, padding=pct(10), scaling="fill")
    snapped = Place(size=square, padding=pct(15))
    unsnapped = Place(size=square, padding=pct(15), snap_cropped=(True, False))
    corner = Place(size=square, padding=pct(10), align=("start", "start"))
    original = Place(size=square, padding=pct(10), reference="original")
    subject = Place(frame="subject", padding=pct(10))
    bounded = Place(max_size=(150, None))
    white = Background(color=(255, 255, 255, 255))
    texture = io.BytesIO()
    stripes = np.arange(300)[None, :, None] // 20 % 2 * np.array([60, 40, -40]) + np.array([120, 160, 200])
    Image.fromarray(np.repeat(stripes, 120, axis=0).astype(np.uint8), mode="RGB").save(texture, "PNG")  # 300x120
    source, _ = photo()
    return {
        "photo.png": source,
        "photo-cropped.png": photo(cropped=True)[0],
        "default.png": render((Place(),)),
        "size-padding.png": render((padded,), guides=padded),
        "margin-padding.png": render((framed,), guides=framed),
        "fill.png": render((filled,), guides=filled),
        "snap.png": render((snapped,), cropped=True, guides=snapped),
        "no-snap.png": render((unsnapped,), cropped=True, guides=unsnapped),
        "align-start.png": render((corner,), guides=corner),
        "reference-original.png": render((original,), guides=original),
        "frame-subject.png": render((subject,)),
        "max-size.png": render((bounded,)),
        "no-segment.png": render((padded, white), segment=False, guides=padded),
        "outline.png": render((padded, Outline(color=(255, 255, 255, 255), width=0.03))),
        "outline-glow.png": render((padded, Outline(color=(255, 220, 0, 255), width=0.02, blur=0.02))),
        "shadow-contact.png": render((padded, Shadow(style="contact"), white)),
        "shadow-soft.png": render((padded, Shadow(style="soft"), white)),
        "shadow-hard.png": render((padded, Shadow(style="hard"), white)),
        "shadow-floating.png": render((padded, Shadow(style="floating"), white)),
        "blur-gaussian.png": render((Background(blur=("gaussian", 0.02)),)),
        "blur-bokeh.png": render((Background(blur=("bokeh", 0.02)),)),
        "blur-moves.png": render((padded, Background(blur=("gaussian", 0.02)))),
        "background-fit.png": render((padded, Background(has_image=True, scaling="fit")), background=texture.getvalue()),
    }


def saved(picture: Image.Image) -> bytes:
    """A small PNG: the picture in at most 64 colours."""
    out = io.BytesIO()
    picture.quantize(64, dither=Image.Dither.NONE).save(out, "PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, picture in pictures().items():
        (OUT / name).write_bytes(saved(picture))
        print(OUT / name)


if __name__ == "__main__":
    main()
