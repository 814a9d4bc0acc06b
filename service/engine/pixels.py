"""Pillow images to numpy arrays, a few rows at a time.

`np.asarray(image)` goes through one full-size bytes object
(`Image.tobytes`); at 12 MP that is several times slower than copying blocks
of rows small enough to stay in the CPU cache, and it briefly holds a second
full-size copy.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

# About 256 kB of pixels per block: measured on 12 MP photos, blocks of a
# megabyte or more are as slow as one full-size copy.
BLOCK_BYTES = 1 << 18
# Raw modes read from 8-bit images, and their bytes per pixel. RGBX reads an
# RGB image four bytes to a pixel, ready to take an alpha channel.
CHANNELS = {"L": 1, "RGB": 3, "RGBA": 4, "RGBX": 4}


def row_blocks(
    image: Image.Image, rawmode: str | None = None, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, uint8 array [rows, width, channels]) for successive blocks of rows start..stop."""
    rawmode = rawmode or image.mode
    channels = CHANNELS[rawmode]
    width, height = image.size
    stop = height if stop is None else stop
    rows = max(1, BLOCK_BYTES // (width * channels))
    for top in range(start, stop, rows):
        count = min(rows, stop - top)
        data = image.crop((0, top, width, top + count)).tobytes("raw", rawmode)
        yield top, np.frombuffer(data, dtype=np.uint8).reshape(count, width, channels)


def to_array(image: Image.Image) -> np.ndarray:
    """A writable uint8 copy of an L ([h, w]), RGB or RGBA ([h, w, c]) image."""
    channels = CHANNELS[image.mode]
    out = np.empty((image.height, image.width, channels), dtype=np.uint8)
    for top, block in row_blocks(image):
        out[top : top + len(block)] = block
    return out[..., 0] if channels == 1 else out
