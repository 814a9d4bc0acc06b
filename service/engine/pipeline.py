"""The engine's entry points: bytes in, bytes out."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .compose import compose
from .cost import THUMBNAIL_SIDE
from .encode import encode
from .errors import EngineError, ImageRejected, OptionError
from .load import Limits, decode, decode_for_model, load_pixels, normalise_mode, open_image, upright
from .mask import MODEL_SIDE
from .model import Segmenter, default_segmenter
from .options import Options

# The model sees 320x320; twice that per side is all the detail its LANCZOS
# downscale can use, so bigger photos are reduced cheaply (DCT scaling for
# JPEG, box reduction otherwise) before the model's own resize.
MODEL_VIEW_SIDE = 2 * MODEL_SIDE


@dataclass(frozen=True)
class Result:
    """An encoded cutout."""

    data: bytes
    mime: str
    width: int
    height: int
    has_alpha: bool
    format: str


def model_view(image: Image.Image) -> Image.Image:
    """A reduced RGB copy for the model; transparent pixels are shown to it as white."""
    factor = min(image.width, image.height) // MODEL_VIEW_SIDE
    view = image.reduce(factor) if factor > 1 else image
    if view.mode == "RGBA":
        flat = Image.new("RGBA", view.size, (255, 255, 255, 255))
        flat.alpha_composite(view)
        view = flat
    return view.convert("RGB") if view.mode != "RGB" else view


def segment(segmenter: Segmenter, view: Image.Image) -> np.ndarray:
    """Run the segmenter and hold it to its contract."""
    mask = np.asarray(segmenter(view), dtype=np.float32)
    if mask.shape != (view.height, view.width):
        raise EngineError(
            f"segmenter returned a {mask.shape} mask for a {view.width}x{view.height} image"
        )
    return mask


def _background(data: bytes, limits: Limits) -> Image.Image:
    try:
        return decode(data, limits)[1]
    except ImageRejected as exc:
        raise ImageRejected(f"background image: {exc.message}") from exc


def output_format(options: Options, picture: Image.Image) -> str:
    """Resolve `auto` and refuse jpg for a picture that has transparency."""
    opaque = picture.mode in ("RGB", "L")
    if options.format == "auto":
        return "jpg" if opaque else "png"
    if options.format == "jpg" and not opaque:
        raise OptionError("format", "jpg needs an opaque background (bg_color or a background image)")
    return options.format


def remove_background(
    data: bytes,
    options: Options,
    *,
    segmenter: Segmenter | None = None,
    bg_image: bytes | None = None,
    limits: Limits | None = None,
) -> Result:
    """Cut the subject out of an encoded image and encode the result as `options` ask."""
    limits = limits or Limits()
    _, image = decode(data, limits)
    view = decode_for_model(data, limits, MODEL_VIEW_SIDE)
    if view is None:
        view = model_view(image)
    mask = segment(segmenter or default_segmenter(), view)
    background = _background(bg_image, limits) if bg_image is not None else None
    picture = compose(image, mask, options, background)
    encoded = encode(picture, output_format(options, picture))
    return Result(
        data=encoded.data,
        mime=encoded.mime,
        width=picture.width,
        height=picture.height,
        has_alpha=picture.mode in ("RGBA", "LA"),
        format=encoded.format,
    )


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
