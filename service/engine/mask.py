"""Model input and output: rembg's u2netp pre- and post-processing, in float32."""

from __future__ import annotations

import numpy as np
from PIL import Image

MODEL_SIDE = 320
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def model_input(rgb: Image.Image) -> np.ndarray:
    """RGB image -> [1, 3, 320, 320] float32 normalised exactly as rembg does."""
    small = rgb.convert("RGB").resize((MODEL_SIDE, MODEL_SIDE), Image.Resampling.LANCZOS)
    pixels = np.asarray(small)
    # rembg divides by the brightest value in the image rather than 255: a dark
    # photo is stretched before normalising, and we must match its masks.
    peak = max(int(pixels.max()), 1)
    tensor = np.empty((1, 3, MODEL_SIDE, MODEL_SIDE), dtype=np.float32)
    np.copyto(tensor[0], pixels.transpose(2, 0, 1))
    # (x / peak - mean) / std as one multiply and one subtract per value.
    tensor *= (np.float32(1.0 / peak) / STD)[:, None, None]
    tensor -= (MEAN / STD)[:, None, None]
    return tensor


def saliency_to_mask(saliency: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[h, w] saliency -> float32 [H, W] mask in [0, 1] for an image of `size` (W, H).

    Min-max stretch as rembg does; a flat map has no salient region, so it
    becomes an empty mask instead of 0/0.
    """
    low = float(saliency.min())
    high = float(saliency.max())
    if not high > low:
        return np.zeros((size[1], size[0]), dtype=np.float32)
    stretched = (saliency.astype(np.float32) - low) * np.float32(1.0 / (high - low))
    grey = Image.fromarray((stretched * 255.0).astype(np.uint8), mode="L")
    if grey.size != size:
        # BILINEAR upsampling of a 320-pixel map gives rembg's LANCZOS mask to
        # within a grey level or two (IoU >= 0.99, see bench/engine.py) at a
        # third of the cost, and without LANCZOS's ringing.
        grey = grey.resize(size, Image.Resampling.BILINEAR)
    mask = np.array(grey, dtype=np.float32)
    mask *= np.float32(1.0 / 255.0)
    return mask
