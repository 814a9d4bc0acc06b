"""Our PNG writer: lossless for every mode it handles, valid for any size, Pillow for the rest."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from service.engine import encode as encode_module
from service.engine import pixels
from service.engine.compose import decontaminate
from service.engine.encode import encode, encode_png

from .conftest import decode


def noise(mode: str, size: tuple[int, int], seed: int = 1) -> Image.Image:
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (1, 300), (700, 1), (333, 517)])
def test_png_round_trips_exactly(mode, size):
    image = noise(mode, size)
    back = decode(encode_png(image))
    assert back.format == "PNG" and back.mode == mode and back.size == size
    assert np.array_equal(np.asarray(back), np.asarray(image))


def test_png_rows_carry_across_blocks(monkeypatch):
    # Tiny blocks: every block's first row is filtered against the last row of the one before.
    monkeypatch.setattr(pixels, "BLOCK_BYTES", 100)
    image = noise("RGBA", (40, 57))
    assert np.array_equal(np.asarray(decode(encode_png(image))), np.asarray(image))


def chunks(data: bytes) -> dict[bytes, bytes]:
    """PNG chunks by type (IDATs joined), each checked against its CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found: dict[bytes, bytes] = {}
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body)
        found[kind] = found.get(kind, b"") + body
        position += 12 + length
    return found


@pytest.mark.parametrize("segment_bytes", [1 << 30, 1000])
def test_png_is_one_valid_zlib_stream_in_one_or_many_segments(monkeypatch, segment_bytes):
    # Many segments: compressed in parallel, joined by sync flushes, one Adler-32 for all.
    monkeypatch.setattr(encode_module, "PNG_SEGMENT_BYTES", segment_bytes)
    monkeypatch.setattr(encode_module.os, "cpu_count", lambda: 3)
    image = noise("RGB", (50, 41))
    data = encode_png(image)
    raw = zlib.decompress(chunks(data)[b"IDAT"])  # checks the Adler-32 trailer
    assert len(raw) == 41 * (50 * 3 + 1)
    assert np.array_equal(np.asarray(decode(data)), np.asarray(image))


def test_png_of_other_modes_goes_through_pillow():
    image = Image.new("LA", (9, 7), (120, 200))
    back = decode(encode(image, "png").data)
    assert back.mode == "LA" and back.getpixel((3, 3)) == (120, 200)


def test_png_compresses_cleared_background():
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    image.paste(noise("RGBA", (100, 100)), (150, 100))
    assert len(encode_png(image)) < 0.4 * 400 * 300


def test_decontaminate_reads_the_same_proxy_from_the_source_image():
    rgb = noise("RGB", (300, 200), seed=3)
    yy, xx = np.mgrid[0:200, 0:300]
    alpha = np.clip((80 - np.hypot(xx - 150, yy - 100)) * 8, 0, 255).astype(np.uint8)
    with_array = np.dstack([np.asarray(rgb), alpha])
    with_source = with_array.copy()
    decontaminate(with_array)
    decontaminate(with_source, rgb)
    assert np.array_equal(with_array, with_source)
    assert not np.array_equal(with_array[..., :3], np.asarray(rgb))
