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
# filter's cost grows with its radius (disc_sums), a gaussian's does not:
# the bokeh's rim is left a little soft (the bicubic upscale) to keep
# Photoroom's default radius (1% of the larger side) a fraction of a second
# at 12 MP.
REDUCED_RADIUS: dict[str, float] = {"gaussian": 8.0, "bokeh": 6.0, "outline": 10.0}
# Above this many pixels even a small bokeh works on a half-size copy: at full size a 12 MP photo's
# disc of 8 px takes seconds, at half size a disc of 4 px looks the same once scaled back.
BOKEH_FULL_SIZE_PIXELS = 4_000_000


def _reduction(radius: float, kind: str) -> int:
    return max(1, math.ceil(radius / REDUCED_RADIUS[kind] - 0.5))


def scaled_back(small: Image.Image, factor: int, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
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
    if mode == "bokeh" and image.width * image.height > BOKEH_FULL_SIZE_PIXELS:
        factor = max(factor, 2)
    small = work.reduce(factor) if factor > 1 else work
    if mode == "gaussian":
        small = small.filter(ImageFilter.GaussianBlur(radius / factor))
    else:
        total, area = disc_sums(np.asarray(small, dtype=np.float32), radius / factor)
        total *= np.float32(1.0 / area)
        total += np.float32(0.5)
        small = Image.fromarray(total.astype(np.uint8), mode=small.mode)
    out = scaled_back(small, factor, image.size, Image.Resampling.BICUBIC)
    return out.convert("RGBA") if alpha else out


def background_blurred(photo: Image.Image, subject: np.ndarray, mode: BlurMode, radius: float) -> Image.Image:
    """The photo blurred from its background alone (RGBA, the photo's own alpha kept): portrait mode.

    Each pixel counts in proportion to how much it is background (255 less
    the subject's alpha, `subject`), so the subject's colours do not bleed
    into a halo around it: a premultiplied blur with that weight as alpha is
    exactly this normalised average. Where a blur sees no background at all
    (deep inside the subject, which covers it) the colour is black.
    """
    own = photo.getchannel("A") if photo.mode == "RGBA" else None
    weight = Image.fromarray(np.subtract(255, subject, dtype=np.uint8), mode="L")
    if own is not None:
        weight = ImageChops.multiply(weight, own)
    layer = photo.convert("RGBA")
    layer.putalpha(weight)
    out = blurred(layer, mode, radius)
    out.putalpha(own if own is not None else 255)
    return out


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
    alpha = picture.getchannel("A")
    found = alpha.point([0] * 128 + [255] * 128).getbbox()
    if found is None or (reach < 0.5 and soften < 0.5):
        return picture
    # Only the subject's box grown by the outline's reach is worked on.
    extra = math.ceil(reach + 3 * soften) + 2
    region = (
        max(0, found[0] - extra),
        max(0, found[1] - extra),
        min(picture.width, found[2] + extra),
        min(picture.height, found[3] + extra),
    )
    crop = alpha.crop(region)
    factor = _reduction(max(reach, soften), "outline")
    small = crop.reduce(factor) if factor > 1 else crop
    grown, _ = disc_sums((np.asarray(small) >= 128).astype(np.float32), reach / factor)
    part = Image.fromarray(np.where(grown > 0.5, 255, 0).astype(np.uint8), mode="L")
    if soften / factor >= 0.5:
        part = part.filter(ImageFilter.GaussianBlur(soften / factor))
        part = scaled_back(part, factor, crop.size, Image.Resampling.BILINEAR)
    else:
        part = scaled_back(part, factor, crop.size, Image.Resampling.BILINEAR)
        part = _sharpened(part, factor) if factor > 1 else part.filter(ImageFilter.BoxBlur(0.5))
    shape = Image.new("L", picture.size, 0)
    shape.paste(part, region[:2])
    # Under the subject itself the outline is solid too, so a soft matte edge shows the outline, not what is behind.
    shape = ImageChops.lighter(shape, alpha)
    if color[3] != 255:
        shape = shape.point([(v * color[3] + 127) // 255 for v in range(256)])
    ground = Image.new("RGBA", picture.size, (*color[:3], 0))
    ground.putalpha(shape)
    ground.alpha_composite(picture)
    return ground
