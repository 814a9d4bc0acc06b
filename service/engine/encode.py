"""Encoding results and thumbnails."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

# zlib level 1 makes full-resolution cutouts several times faster to write than
# Pillow's default 6 (bench/engine.py measures both); the run-length strategy
# suits the long runs of cleared background, smaller and a little faster still.
PNG_COMPRESS_LEVEL = 1
PNG_ZLIB_RLE = 3
WEBP_QUALITY = 90
JPEG_QUALITY = 90

_MIME = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg"}


@dataclass(frozen=True)
class Encoded:
    data: bytes
    mime: str
    format: str


def encode(image: Image.Image, fmt: str) -> Encoded:
    """Write `image` as png, webp or jpg (jpg only for images without alpha)."""
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_ZLIB_RLE)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    elif fmt == "jpg":
        if image.mode not in ("RGB", "L"):
            raise ValueError(f"jpg cannot hold a {image.mode} image")
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return Encoded(out.getvalue(), _MIME[fmt], fmt)
