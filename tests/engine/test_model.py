"""The real u2netp model on real photos: subject kept, background gone, same masks as rembg."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from service.engine import EngineError, U2NetSegmenter, parse_options, remove_background
from service.engine.mask import model_input, saliency_to_mask

from .conftest import decode

# (x0, y0, x1, y1) boxes read off the photos: where the subject is, where only background is.
SUBJECT = {
    "coffee.png": [(270, 130, 330, 170), (270, 280, 310, 310)],  # crema, saucer by the handle
    "astronaut.png": [(205, 95, 245, 125), (130, 380, 170, 420)],  # face, orange suit
    "rocket.jpg": [(316, 150, 326, 260)],  # rocket body
    "chelsea.png": [(230, 130, 270, 170), (80, 80, 120, 120)],  # nose and cheek
}
BACKGROUND = {
    "coffee.png": [(0, 0, 20, 20), (580, 0, 600, 20), (0, 380, 20, 400), (580, 380, 600, 400)],
    "astronaut.png": [(480, 0, 512, 30), (380, 20, 420, 40)],  # studio backdrop
    "rocket.jpg": [(80, 80, 120, 120), (530, 40, 550, 80)],  # sky
    "chelsea.png": [(420, 20, 450, 40), (430, 240, 450, 260)],  # blurred room behind
}


def _mean(alpha: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    return float(alpha[y0:y1, x0:x1].mean()) / 255


@pytest.mark.parametrize("name", sorted(SUBJECT))
def test_cutout_keeps_subject_and_drops_background(name, photos, model):
    result = remove_background(photos[name], parse_options({}), segmenter=model)
    picture = decode(result.data)
    assert (result.mime, picture.mode, picture.size) == ("image/png", "RGBA", (result.width, result.height))
    alpha = np.asarray(picture.getchannel("A"))
    for box in SUBJECT[name]:
        assert _mean(alpha, box) > 0.95, (name, box)
    for box in BACKGROUND[name]:
        assert _mean(alpha, box) < 0.05, (name, box)


@pytest.mark.parametrize("name", sorted(SUBJECT))
def test_masks_agree_with_rembg(name, photos, model, reference_masks):
    image = decode(photos[name]).convert("RGB")
    ours = model(image)
    theirs = reference_masks[name]
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    a, b = ours >= 0.5, theirs >= 0.5
    iou = (a & b).sum() / (a | b).sum()
    assert iou >= 0.99, iou
    assert float(np.abs(ours - theirs).mean()) <= 0.02


def test_model_input_matches_rembg_normalisation():
    # rembg divides by the image's own brightest value, then applies mean/std.
    image = Image.new("RGB", (320, 320), (100, 50, 0))
    tensor = model_input(image)
    assert tensor.shape == (1, 3, 320, 320) and tensor.dtype == np.float32
    expected = [(1.0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.0 - 0.406) / 0.225]
    assert np.allclose(tensor[0, :, 10, 10], expected, atol=1e-5)


def test_black_image_input_has_no_nan():
    tensor = model_input(Image.new("RGB", (50, 40)))
    assert np.isfinite(tensor).all()


def test_flat_saliency_is_an_empty_mask_not_nan():
    mask = saliency_to_mask(np.full((320, 320), 0.7, dtype=np.float32), (64, 48))
    assert mask.shape == (48, 64) and not mask.any()


def test_saliency_is_stretched_and_resized():
    saliency = np.zeros((320, 320), dtype=np.float32)
    saliency[:, 160:] = 0.6
    mask = saliency_to_mask(saliency + 0.2, (100, 50))
    assert mask.shape == (50, 100)
    assert mask[:, :40].max() == 0 and mask[:, 60:].min() == 1


def test_all_black_photo_gives_a_valid_cutout(model):
    from .conftest import encode

    result = remove_background(encode(Image.new("RGB", (64, 48))), parse_options({}), segmenter=model)
    picture = decode(result.data)
    assert picture.size == (64, 48) and picture.mode == "RGBA"


def test_a_missing_custom_model_is_a_clear_error(tmp_path):
    segmenter = U2NetSegmenter(model_path=str(tmp_path / "nope.onnx"), threads=1)
    with pytest.raises(EngineError, match="model file not found"):
        segmenter(Image.new("RGB", (8, 8)))


def test_the_session_is_created_once(model):
    assert model.session() is model.session()
