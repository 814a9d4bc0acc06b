"""Fixtures for the engine tests: the real model once per session, photos, a fake segmenter."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from service.engine import U2NetSegmenter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")

# The synthetic scenes: a saturated green backdrop with subjects in other colours.
BACKDROP = (0, 200, 0)


class BackdropSegmenter:
    """Deterministic stand-in for the model: subject = every pixel far from the green backdrop."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, rgb: Image.Image) -> np.ndarray:
        self.calls.append(rgb.size)
        pixels = np.asarray(rgb.convert("RGB"), dtype=np.float32)
        distance = np.abs(pixels - np.array(BACKDROP, dtype=np.float32)).sum(axis=2)
        return (distance > 120).astype(np.float32)


@pytest.fixture(scope="session")
def model() -> U2NetSegmenter:
    segmenter = U2NetSegmenter()
    segmenter.session()
    return segmenter


@pytest.fixture
def fake() -> BackdropSegmenter:
    return BackdropSegmenter()


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    return {name: (FIXTURES / "photos" / name).read_bytes() for name in PHOTOS}


@pytest.fixture(scope="session")
def reference_masks() -> dict[str, np.ndarray]:
    """rembg's own u2netp masks, stored once (fixtures/masks/SOURCES.md)."""
    return {
        name: np.asarray(Image.open(FIXTURES / "masks" / f"{Path(name).stem}.png"), dtype=np.float32) / 255
        for name in PHOTOS
    }


def scene(size: tuple[int, int], box: tuple[int, int, int, int], colour=(250, 250, 250)) -> Image.Image:
    """A green backdrop with one solid rectangle (x0, y0, x1, y1) as the subject."""
    image = Image.new("RGB", size, BACKDROP)
    image.paste(colour, box)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def opaque_box(alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box of alpha >= 128 as (x0, y0, x1, y1), exclusive ends."""
    ys, xs = np.nonzero(alpha >= 128)
    if ys.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
