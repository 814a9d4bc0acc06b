"""The engine's entry points for callers that hold `Options` rather than an edit, and thumbnails."""

from __future__ import annotations

import io

from PIL import Image

from .cost import THUMBNAIL_SIDE
from .edit import MODEL_VIEW_SIDE, Result, model_view, run, segment
from .load import Limits, load_pixels, normalise_mode, open_image, upright
from .model import Segmenter
from .options import Options
from .remove_bg import edit_from_options

__all__ = ["MODEL_VIEW_SIDE", "Result", "model_view", "remove_background", "segment", "thumbnail"]


def remove_background(
    data: bytes,
    options: Options,
    *,
    segmenter: Segmenter | None = None,
    bg_image: bytes | None = None,
    limits: Limits | None = None,
) -> Result:
    """Cut the subject out of an encoded image and encode the result as `options` ask."""
    edit = edit_from_options(options, has_bg_image=bg_image is not None)
    return run(edit, data, segmenter=segmenter, background=bg_image, limits=limits)


def thumbnail(data: bytes, size: int = THUMBNAIL_SIDE, limits: Limits | None = None) -> tuple[bytes, str]:
    """A small upright preview fitting size x size: JPEG when opaque, PNG with alpha."""
    limits = limits or Limits()
    fmt, im = open_image(data, limits)
    if fmt == "jpeg":
        im.draft("RGB", (size, size))
    image = normalise_mode(upright(load_pixels(im, fmt)))
    transparent = image.mode == "RGBA"
    image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    out = io.BytesIO()
    if transparent:
        image.save(out, "PNG", optimize=False)
        return out.getvalue(), "image/png"
    image.save(out, "JPEG", quality=85)
    return out.getvalue(), "image/jpeg"
