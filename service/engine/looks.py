"""Looks drawn around the subject: outlines and blurred backgrounds.

Both need filters whose cost grows with the square of their radius, which at
12 MP and a radius of a few percent of the picture would take seconds. So
they run on a copy box-reduced until the radius is a dozen pixels there
(`REDUCED_RADIUS`), and the result is scaled back up: a blur or an outline's
body has no detail that the reduction loses, and an outline's edge is
sharpened again after the upscale (`_sharpened`).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from .options import Rgba

BlurMode = Literal["gaussian", "bokeh"]
# Radius in reduced pixels at which the reduced copy is worked on. A disc
# needs more pixels than a gaussian for its rim to stay round.
REDUCED_RADIUS: dict[str, float] = {"gaussian": 8.0, "bokeh": 16.0, "outline": 12.0}


def _reduction(radius: float, kind: str) -> int:
    return max(1, int(radius // REDUCED_RADIUS[kind]))


def _scaled_back(small: Image.Image, factor: int, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    """A reduced copy back at `size`; `reduce` keeps a partial last box, so the source box is exact."""
    if factor == 1:
        return small
    return small.resize(size, resample, box=(0, 0, size[0] / factor, size[1] / factor))


def disc_sums(values: np.ndarray, radius: float) -> tuple[np.ndarray, int]:
    """Sums of `values` (h, w[, c]) over a disc of `radius` px around each pixel (edges repeated), and the disc's area.

    One running sum along each row, then for each row offset of the disc
    one difference of it: (2 r + 1) whole-array steps instead of (2 r + 1)^2.
    """
    reach = int(radius)
    padded = np.pad(values, [(reach, reach), (reach, reach)] + [(0, 0)] * (values.ndim - 2), mode="edge")
    running = np.zeros((padded.shape[0], padded.shape[1] + 1, *padded.shape[2:]), dtype=np.float32)
    np.cumsum(padded, axis=1, dtype=np.float32, out=running[:, 1:])
    height, width = values.shape[:2]
    total = np.zeros(values.shape, dtype=np.float32)
    area = 0
    for dy in range(-reach, reach + 1):
        half = int(math.sqrt(max(radius * radius - dy * dy, 0.0)))
        rows = running[reach + dy : reach + dy + height]
        total += rows[:, reach + half + 1 : reach + half + 1 + width] - rows[:, reach - half : reach - half + width]
        area += 2 * half + 1
    return total, area


def blurred(image: Image.Image, mode: BlurMode, radius: float) -> Image.Image:
    """`image` (RGB or RGBA) blurred: `gaussian` with a standard deviation of `radius` px, `bokeh` over a disc of that radius.

    A bokeh blur spreads each point evenly over a disc, as an out-of-focus
    lens does, so highlights become discs with a rim; a gaussian fades them
    out. RGBA is blurred premultiplied, so hidden colour does not bleed in.
    Radii over REDUCED_RADIUS px work on a reduced copy (module docstring).
    """
    if radius < 0.5:
        return image
    alpha = image.mode == "RGBA"
    work = image.convert("RGBa") if alpha else image
    factor = _reduction(radius, mode)
    small = work.reduce(factor) if factor > 1 else work
    if mode == "gaussian":
        small = small.filter(ImageFilter.GaussianBlur(radius / factor))
    else:
        total, area = disc_sums(np.asarray(small, dtype=np.float32), radius / factor)
        total *= np.float32(1.0 / area)
        total += np.float32(0.5)
        small = Image.fromarray(total.astype(np.uint8), mode=small.mode)
    out = _scaled_back(small, factor, image.size, Image.Resampling.BICUBIC)
    return out.convert("RGBA") if alpha else out


def _sharpened(grey: Image.Image, factor: int) -> Image.Image:
    """Steepen an upscaled edge that a reduction by `factor` spread over about `factor` px back to about two."""
    gain = max(1.0, factor / 2)
    return grey.point([min(255, max(0, round((v - 127.5) * gain + 127.5))) for v in range(256)])


def with_outline(picture: Image.Image, color: Rgba, width: float, blur: float) -> Image.Image:
    """The RGBA picture over an outline of its subject: `width` and `blur` are fractions of its larger side.

    The outline is the subject's shape (alpha at least half) grown by a disc
    of `width` px, in `color`, behind the subject, so it shows only around
    it; `blur` softens it with a gaussian of that standard deviation (a glow).
    """
    side = max(picture.size)
    reach, soften = width * side, blur * side
    if reach < 0.5 and soften < 0.5:
        return picture
    alpha = picture.getchannel("A")
    factor = _reduction(max(reach, soften), "outline")
    small = alpha.reduce(factor) if factor > 1 else alpha
    solid = (np.asarray(small) >= 128).astype(np.float32)
    grown, _ = disc_sums(solid, reach / factor)
    shape = Image.fromarray(np.where(grown > 0.5, 255, 0).astype(np.uint8), mode="L")
    if soften / factor >= 0.5:
        shape = shape.filter(ImageFilter.GaussianBlur(soften / factor))
        shape = _scaled_back(shape, factor, picture.size, Image.Resampling.BILINEAR)
    else:
        shape = _scaled_back(shape, factor, picture.size, Image.Resampling.BILINEAR)
        shape = _sharpened(shape, factor) if factor > 1 else shape.filter(ImageFilter.BoxBlur(0.5))
    # Under the subject itself the outline is solid too, so a soft matte edge shows the outline, not what is behind.
    shape = ImageChops.lighter(shape, alpha)
    if color[3] != 255:
        shape = shape.point([(v * color[3] + 127) // 255 for v in range(256)])
    ground = Image.new("RGBA", picture.size, (*color[:3], 0))
    ground.putalpha(shape)
    ground.alpha_composite(picture)
    return ground
