"""What a decode will hold in memory, learnt from the image's header before any pixel is decoded.

The figures are peak bytes per decoded pixel, measured as the growth of a
process's VmHWM while each path ran on a 7000x7000 image (bench/service.py
and the README's "Memory" section have the method). Pillow keeps RGB and
RGBA alike at 4 bytes a pixel.
"""

from __future__ import annotations

from enum import StrEnum

from .encode import OutputSpec
from .errors import ImageRejected
from .load import Limits, open_image

THUMBNAIL_SIDE = 256
# Pillow's own copy of the pixels.
PILLOW_BYTES_PER_PIXEL = 4
# Decoders with buffers of their own beside Pillow's copy: libwebp's canvas (16 bytes a pixel at the
# peak), libavif's and libheif's YUV planes and RGB conversion (9.6 and 8.7, measured at 9 MP).
DECODER_BYTES_PER_PIXEL = {"webp": 16, "avif": 10, "heic": 9}
# A PNG upload is verified by streaming its IDAT through zlib (load.verify_png): a bounded buffer,
# whatever the image's size.
STREAMED_CHECK_BYTES = 2 * 1024 * 1024


class Work(StrEnum):
    """The paths that decode an image, each with its own peak."""

    INSPECT = "inspect"  # proving an upload decodes
    THUMBNAIL = "thumbnail"  # a 256 px preview
    BACKGROUND = "background"  # a background image, decoded and scaled to the canvas
    CUT_OUT = "cut-out"  # decode, model view, mask and composition at full size


# Bytes a pixel held by the path after decoding (measured: a thumbnail's mode and orientation copies
# and its reduction reach 8-12; a cut-out's RGBA picture, mask and composition 13 for RGB, 17 for RGBA).
WORK_BYTES_PER_PIXEL = {Work.INSPECT: 4, Work.THUMBNAIL: 12, Work.BACKGROUND: 12, Work.CUT_OUT: 17}


def decode_cost(data: bytes, limits: Limits, work: Work, *, thumbnail_side: int = THUMBNAIL_SIDE) -> int:
    """Peak bytes `work` will hold for this image; ImageRejected when the header is bad or over the limits."""
    fmt, im = open_image(data, limits)
    return _decode_cost(fmt, im.width, im.height, work, thumbnail_side)


def _decode_cost(fmt: str, width: int, height: int, work: Work, thumbnail_side: int = THUMBNAIL_SIDE) -> int:
    if fmt == "png" and work is Work.INSPECT:
        return STREAMED_CHECK_BYTES
    pixels = width * height
    if fmt == "jpeg" and work in (Work.INSPECT, Work.THUMBNAIL):
        # Both decode at reduced DCT scale (1/8 to inspect, the largest scale that keeps the preview's size).
        target = 1 if work is Work.INSPECT else thumbnail_side
        scale = 1
        while scale < 8 and min(width, height) // (scale * 2) >= target:
            scale *= 2
        pixels //= scale * scale
    per_pixel = max(DECODER_BYTES_PER_PIXEL.get(fmt, PILLOW_BYTES_PER_PIXEL), WORK_BYTES_PER_PIXEL[work])
    return pixels * per_pixel


# Writing the result: the picture (4 bytes a pixel) and the encoder's own buffers, measured as VmHWM
# growth at 12 MP: lossless AVIF (libvips) 52, lossy AVIF 30, WebP 22, JPEG flattened or in CMYK 12; PNG
# and TIFF stay under 3, inside the cut-out's own figure.
ENCODE_BYTES_PER_PIXEL: dict[object, int] = {("avif", True): 52, ("avif", False): 30, "webp": 22, "jpg": 12}


def encode_bytes_per_pixel(output: OutputSpec) -> int:
    """Peak bytes a pixel while `output` is written, the picture included."""
    fmt = "jpg" if output.format == "jpeg" else output.format
    extra = ENCODE_BYTES_PER_PIXEL.get((fmt, output.lossless)) or ENCODE_BYTES_PER_PIXEL.get(fmt, 0)
    return PILLOW_BYTES_PER_PIXEL + extra


def cut_out_cost(data: bytes, bg_image: bytes | None, limits: Limits, output: OutputSpec | None = None) -> int:
    """Peak bytes of `remove_background(data, ..., bg_image=bg_image)`, writing `output` (PNG when None)."""
    fmt, im = open_image(data, limits)
    cost = _decode_cost(fmt, im.width, im.height, Work.CUT_OUT)
    if output is not None:
        cost = max(cost, im.width * im.height * encode_bytes_per_pixel(output))
    if bg_image is not None:
        try:
            cost += decode_cost(bg_image, limits, Work.BACKGROUND)
        except ImageRejected:
            pass  # the cut-out refuses it itself, saying it is the background image
    return cost
