"""Results bounded to a pixel count (remove.bg's sizes) and remove.bg's ZIP of colour and matte."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

from service.engine import Edit, Encode, OutputSpec, Segment, edit_from_json, edit_to_json, run
from service.engine.compose import within_pixels
from service.engine.encode import encode


def block_on_clear(size: tuple[int, int] = (400, 300)) -> Image.Image:
    """An opaque white block on fully transparent pixels of zero colour, as cut-outs are."""
    picture = Image.new("RGBA", size, (0, 0, 0, 0))
    picture.paste((255, 255, 255, 255), (100, 75, 300, 225))
    return picture


def test_a_picture_that_fits_is_left_as_it_is() -> None:
    picture = block_on_clear()
    assert within_pixels(picture, 120_000) is picture
    assert within_pixels(picture, None) is picture


def test_a_bigger_picture_is_scaled_down_to_fit_keeping_its_aspect_ratio() -> None:
    scaled = within_pixels(block_on_clear((640, 427)), 250_000)
    assert scaled.size == (612, 408) and scaled.width * scaled.height <= 250_000


def test_scaling_down_does_not_darken_edges_with_the_hidden_zero_colour() -> None:
    scaled = np.asarray(within_pixels(block_on_clear(), 30_000))
    edge = (scaled[..., 3] > 0) & (scaled[..., 3] < 255)
    assert edge.any()
    assert scaled[edge][:, :3].min() >= 250  # white stays white where it fades out


class Box:
    """A segmenter whose subject is a fixed share of the view: (0.25, 0.25) to (0.75, 0.75)."""

    def __call__(self, view: Image.Image) -> np.ndarray:
        mask = np.zeros((view.height, view.width), np.float32)
        mask[view.height // 4 : view.height * 3 // 4, view.width // 4 : view.width * 3 // 4] = 1
        return mask


def photo(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def test_run_bounds_the_result_and_scales_the_foreground_box_with_it() -> None:
    edit = Edit((Segment(), Encode(OutputSpec("png", max_pixels=10_000))))
    result = run(edit, photo((400, 200)), segmenter=Box())
    assert (result.width, result.height) == (141, 70)
    assert result.foreground == (35, 18, 71, 35)
    full = run(Edit((Segment(),)), photo((400, 200)), segmenter=Box())
    assert (full.width, full.height) == (400, 200) and full.foreground == (100, 50, 200, 100)


def test_the_bound_survives_the_stored_json_form() -> None:
    edit = Edit((Segment(), Encode(OutputSpec("zip", max_pixels=250_000))))
    assert edit_from_json(edit_to_json(edit)) == edit


def test_zip_holds_the_colour_as_jpg_and_the_alpha_as_png() -> None:
    picture = block_on_clear()
    encoded = encode(picture, OutputSpec("zip"))
    assert (encoded.mime, encoded.format) == ("application/zip", "zip")
    archive = zipfile.ZipFile(io.BytesIO(encoded.data))
    assert archive.namelist() == ["color.jpg", "alpha.png"]
    color, alpha = Image.open(archive.open("color.jpg")), Image.open(archive.open("alpha.png"))
    assert (color.format, color.mode, color.size) == ("JPEG", "RGB", picture.size)
    assert (alpha.format, alpha.mode) == ("PNG", "L")
    assert np.array_equal(np.asarray(alpha), np.asarray(picture.getchannel("A")))
    assert encode(picture, OutputSpec("zip")).data == encoded.data  # reproducible: no clock in the archive


def test_an_opaque_picture_zips_with_an_opaque_alpha() -> None:
    archive = zipfile.ZipFile(io.BytesIO(encode(Image.new("RGB", (8, 8), "red"), OutputSpec("zip")).data))
    assert np.asarray(Image.open(archive.open("alpha.png"))).min() == 255
