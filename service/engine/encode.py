"""Encoding results and thumbnails."""

from __future__ import annotations

import io
import itertools
import os
import struct
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from .pixels import row_blocks

# PNG: zlib level 1 with the run-length strategy, which suits the long runs of
# cleared background (smaller and faster than level 1's default strategy).
PNG_COMPRESS_LEVEL = 1
PNG_ZLIB_RLE = zlib.Z_RLE
# Pictures are compressed in one segment per core (at most one per this many
# bytes), in parallel: zlib releases the GIL, and a segment's lost history
# costs well under 1% of the file.
PNG_SEGMENT_BYTES = 1 << 19
WEBP_QUALITY = 90
JPEG_QUALITY = 90

_MIME = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg", "zip": "application/zip"}
# remove.bg's ZIP result: the colour image and its matte, which a client joins itself.
ZIP_COLOR, ZIP_ALPHA = "color.jpg", "alpha.png"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow mode -> (bytes per pixel, PNG colour type), 8 bits per channel.
_PNG_MODES = {"L": (1, 0), "RGB": (3, 2), "RGBA": (4, 6)}
_FILTER_UP = 2
_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 kB window, fastest level
_ADLER_BASE = 65521


@dataclass(frozen=True)
class OutputSpec:
    """What file to write: a format and its options.

    `format` is png, webp, jpg, zip (remove.bg's pair of files: `color.jpg`,
    the picture's colour, opaque, and `alpha.png`, its alpha as greyscale), or
    `auto` (jpg when the picture is opaque, png otherwise; resolved by
    `resolved`). `quality` None means the format's default (WEBP_QUALITY,
    JPEG_QUALITY, also for zip's colour image; PNG has none). `max_pixels`
    bounds the result's area: a bigger picture is scaled down to fit,
    keeping its aspect ratio (never up). New formats add an
    encoder to `_ENCODERS`, new options a field with a default that keeps
    today's bytes, so callers that build a spec do not change.
    """

    format: str = "png"
    quality: int | None = None
    dpi: int | None = None  # pixel density written into the file; None writes none
    max_pixels: int | None = None

    def resolved(self, image: Image.Image) -> OutputSpec:
        """This spec with `auto` decided for `image`."""
        if self.format != "auto":
            return self
        return replace(self, format="jpg" if image.mode in ("RGB", "L") else "png")


@dataclass(frozen=True)
class Encoded:
    data: bytes
    mime: str
    format: str


@dataclass(frozen=True)
class _Segment:
    """Raw deflate output for some rows, and what the zlib trailer needs of them."""

    parts: list[bytes]
    adler: int
    length: int


def encode(image: Image.Image, spec: OutputSpec | str) -> Encoded:
    """Write `image` as `spec` asks (a bare format name means its default options); jpg only without alpha."""
    if isinstance(spec, str):
        spec = OutputSpec(spec)
    spec = spec.resolved(image)
    if spec.format not in _ENCODERS:
        raise ValueError(f"unknown output format {spec.format!r}")
    return Encoded(_ENCODERS[spec.format](image, spec), _MIME[spec.format], spec.format)


def _png(image: Image.Image, spec: OutputSpec) -> bytes:
    return encode_png(image)


def _webp(image: Image.Image, spec: OutputSpec) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=spec.quality if spec.quality is not None else WEBP_QUALITY, method=4)
    return out.getvalue()


def _jpg(image: Image.Image, spec: OutputSpec) -> bytes:
    if image.mode not in ("RGB", "L"):
        raise ValueError(f"jpg cannot hold a {image.mode} image")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=spec.quality if spec.quality is not None else JPEG_QUALITY, optimize=False)
    return out.getvalue()


def _zip(image: Image.Image, spec: OutputSpec) -> bytes:
    """color.jpg (the colour channels; a greyscale picture stays grey) and alpha.png (opaque without alpha)."""
    color = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    alpha = image.getchannel("A") if image.mode == "RGBA" else Image.new("L", image.size, 255)
    out = io.BytesIO()
    # Stored, not deflated: both members are compressed already. A fixed date keeps the bytes reproducible.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo(ZIP_COLOR, ZIP_DATE), _jpg(color, spec))
        archive.writestr(zipfile.ZipInfo(ZIP_ALPHA, ZIP_DATE), encode_png(alpha))
    return out.getvalue()


_ENCODERS = {"png": _png, "webp": _webp, "jpg": _jpg, "zip": _zip}


def encode_png(image: Image.Image) -> bytes:
    """An 8-bit L, RGB or RGBA image as PNG, every row with the Up filter.

    Pillow's encoder tries four filters on every row in scalar C before
    compressing, which costs more than the compression itself at level 1
    (bench/engine.py compares the two); one numpy subtraction per block of
    rows gives files within about a fifth of its size in less than half the
    time. Big pictures are compressed in parallel segments, each ending on a
    byte boundary (a sync flush), so that their raw deflate streams join
    into one. Other modes go through Pillow.
    """
    if image.mode not in _PNG_MODES:
        out = io.BytesIO()
        image.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_ZLIB_RLE)
        return out.getvalue()
    channels, colour_type = _PNG_MODES[image.mode]
    width, height = image.size
    count = max(1, min(os.cpu_count() or 1, height, width * channels * height // PNG_SEGMENT_BYTES))
    bounds = [height * index // count for index in range(count + 1)]
    spans = list(itertools.pairwise(bounds))
    if count == 1:
        segments = [_deflate_rows(image, 0, height)]
    else:
        with ThreadPoolExecutor(count, thread_name_prefix="png") as pool:
            segments = list(pool.map(lambda span: _deflate_rows(image, *span), spans))
    checksum = segments[0].adler
    for segment in segments[1:]:
        checksum = _adler32_combine(checksum, segment.adler, segment.length)
    idat = [_ZLIB_HEADER, *(part for segment in segments for part in segment.parts), struct.pack(">I", checksum)]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join([_PNG_SIGNATURE, *_chunk(b"IHDR", [header]), *_chunk(b"IDAT", idat), *_chunk(b"IEND", [])])


def _deflate_rows(image: Image.Image, start: int, stop: int) -> _Segment:
    """Up-filter and deflate rows start..stop, block by block (no full-size copy, each block still in cache)."""
    width, height = image.size
    stride = width * _PNG_MODES[image.mode][0]
    compressor = zlib.compressobj(PNG_COMPRESS_LEVEL, zlib.DEFLATED, -15, 9, PNG_ZLIB_RLE)
    if start == 0:
        above = np.zeros(stride, dtype=np.uint8)  # the row above the first is zeros (PNG spec)
    else:
        above = np.frombuffer(image.crop((0, start - 1, width, start)).tobytes(), dtype=np.uint8)
    parts, adler, length = [], zlib.adler32(b""), 0
    for _, pixels in row_blocks(image, start=start, stop=stop):
        block = pixels.reshape(len(pixels), stride)
        filtered = np.empty((len(block), stride + 1), dtype=np.uint8)
        filtered[:, 0] = _FILTER_UP
        np.subtract(block[0], above, out=filtered[0, 1:])
        np.subtract(block[1:], block[:-1], out=filtered[1:, 1:])
        above = block[-1]
        adler = zlib.adler32(filtered.data, adler)
        length += filtered.size
        parts.append(compressor.compress(filtered.data))
    parts.append(compressor.flush(zlib.Z_FINISH if stop == height else zlib.Z_SYNC_FLUSH))
    return _Segment(parts, adler, length)


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine)."""
    rem = second_length % _ADLER_BASE
    low1, high1 = first & 0xFFFF, first >> 16
    low2, high2 = second & 0xFFFF, second >> 16
    low = (low1 + low2 - 1) % _ADLER_BASE
    high = (high1 + high2 + rem * (low1 - 1)) % _ADLER_BASE
    return low | high << 16


def _chunk(kind: bytes, parts: list[bytes]) -> list[bytes]:
    """A PNG chunk as pieces to join (the compressed data is not copied twice)."""
    crc = zlib.crc32(kind)
    for part in parts:
        crc = zlib.crc32(part, crc)
    length = sum(len(part) for part in parts)
    return [struct.pack(">I", length), kind, *parts, struct.pack(">I", crc)]
