"""Classic adjustments of a photo's colours and detail (the `Adjust` step), each on a -100..100 scale.

- exposure e: every channel times 2^(e/50) in linear light (sRGB decoded, scaled, encoded again,
  clipped): +-50 is one photographic stop brighter or darker, +-100 two.
- saturation s: Pillow's ImageEnhance.Color with factor 1 + s/100: -100 is greyscale, +100 twice as
  saturated (each pixel's distance from its own grey doubled).
- contrast c: ImageEnhance.Contrast with factor 1 + c/100: every value's distance from the picture's
  mean grey times that factor (-100 a flat grey, +100 doubled).
- sharpness h: ImageEnhance.Sharpness with factor 1 + h/50 above 0 (+100: three times Pillow's
  sharpening kernel), 1 + h/100 below (-100: Pillow's 3x3 smoothing).

The alpha channel is never touched: it is set aside and put back.
"""

from __future__ import annotations

from PIL import Image, ImageEnhance

LIMIT = 100.0


def _srgb_to_linear(value: float) -> float:
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def _linear_to_srgb(value: float) -> float:
    return value * 12.92 if value <= 0.0031308 else 1.055 * value ** (1 / 2.4) - 0.055


def exposure_table(exposure: float) -> list[int]:
    """The 8-bit lookup table of `exposure` (the same for each channel)."""
    gain = 2.0 ** (exposure / 50.0)
    table = []
    for value in range(256):
        linear = min(1.0, _srgb_to_linear(value / 255) * gain)
        table.append(round(_linear_to_srgb(linear) * 255))
    return table


def sharpness_factor(sharpness: float) -> float:
    return 1 + sharpness / 50 if sharpness > 0 else 1 + sharpness / 100


def adjusted(
    image: Image.Image, *, exposure: float = 0.0, saturation: float = 0.0, contrast: float = 0.0,
    sharpness: float = 0.0,
) -> Image.Image:  # fmt: skip
    """`image` (RGB or RGBA) with the adjustments applied in this order: exposure, saturation, contrast,
    sharpness; the same image when all are 0."""
    if not any((exposure, saturation, contrast, sharpness)):
        return image
    alpha = image.getchannel("A") if image.mode == "RGBA" else None
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    if exposure:
        rgb = rgb.point(exposure_table(exposure) * 3)
    if saturation:
        rgb = ImageEnhance.Color(rgb).enhance(1 + saturation / 100)
    if contrast:
        rgb = ImageEnhance.Contrast(rgb).enhance(1 + contrast / 100)
    if sharpness:
        rgb = ImageEnhance.Sharpness(rgb).enhance(sharpness_factor(sharpness))
    if alpha is not None:
        rgb = rgb.convert("RGBA")
        rgb.putalpha(alpha)
    return rgb
