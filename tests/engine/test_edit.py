"""Edits as data: step order, steps left out, the output spec, JSON round trips, the option schema."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from service.engine import (
    Background,
    Channels,
    Edit,
    Encode,
    EngineError,
    Layout,
    OptionError,
    OutputSpec,
    Position,
    Segment,
    Shadow,
    edit_from_json,
    edit_to_json,
    parse_options,
    remove_bg_edit,
    remove_bg_schema,
    run,
)
from service.engine.encode import encode
from service.engine.options import _PARSERS

from .conftest import decode, scene
from .conftest import encode as save
from .test_golden import CASES


def refuse(rgb: Image.Image) -> np.ndarray:
    raise AssertionError("the model must not run for an edit without Segment")


def cut_out_png() -> tuple[bytes, Image.Image]:
    """An already transparent PNG: a red disc-ish square with a soft rim on clear ground."""
    alpha = np.zeros((40, 60), np.uint8)
    alpha[10:30, 20:40] = 255
    alpha[9, 20:40] = alpha[30, 20:40] = 128
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 0] = 220
    rgba[..., 3] = alpha
    image = Image.fromarray(rgba, mode="RGBA")
    return save(image), image


def test_background_behind_a_transparent_png_without_the_model():
    data, image = cut_out_png()
    edit = Edit((Background(color=(0, 0, 255, 255)), Encode(OutputSpec("png"))))
    result = run(edit, data, segmenter=refuse)
    expected = Image.new("RGBA", image.size, (0, 0, 255, 255))
    expected.alpha_composite(image)
    picture = decode(result.data)
    assert (picture.mode, result.has_alpha, result.format) == ("RGB", False, "png")
    assert picture.tobytes() == expected.convert("RGB").tobytes()


def test_edit_without_segment_keeps_the_photos_alpha_and_colours():
    data, image = cut_out_png()
    picture = decode(run(Edit(()), data, segmenter=refuse).data)
    assert picture.mode == "RGBA" and picture.tobytes() == image.tobytes()
    alpha = decode(run(Edit((Channels("alpha"),)), data, segmenter=refuse).data)
    assert alpha.mode == "L" and alpha.tobytes() == image.getchannel("A").tobytes()


def test_crop_without_segment_uses_the_photos_own_alpha():
    data, _ = cut_out_png()
    picture = decode(run(Edit((Layout(crop=True),)), data, segmenter=refuse).data)
    assert picture.size == (20, 22)  # the square and its two half-transparent rim rows


def test_a_shadow_after_an_opaque_background_is_hidden(fake):
    data = save(scene((80, 60), (20, 10, 60, 50)))
    on_white = Background(color=(255, 255, 255, 255))
    before = run(Edit((Segment(), Shadow(), on_white)), data, segmenter=fake)
    after = run(Edit((Segment(), on_white, Shadow())), data, segmenter=fake)
    plain = run(Edit((Segment(), on_white)), data, segmenter=fake)
    assert after.data == plain.data != before.data


def test_steps_out_of_order_are_refused():
    with pytest.raises(EngineError):
        Edit((Shadow(), Segment()))
    with pytest.raises(EngineError):
        Edit((Encode(), Shadow()))
    with pytest.raises(EngineError):
        Edit((Layout(), Layout()))


def test_output_spec_defaults_are_todays_encoders_and_quality_is_an_option():
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8), mode="RGB")
    for fmt in ("png", "webp", "jpg"):
        assert encode(image, OutputSpec(fmt)).data == encode(image, fmt).data
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, optimize=False)
    assert encode(image, OutputSpec("jpg")).data == out.getvalue()
    assert len(encode(image, OutputSpec("jpg", quality=20)).data) < len(out.getvalue())
    assert encode(image, OutputSpec("auto")).format == "jpg"
    assert encode(image.convert("RGBA"), OutputSpec("auto")).format == "png"


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case[0]}-{case[1]}-{case[2]}")
def test_json_round_trip(case):
    _, options, with_background = case
    edit = remove_bg_edit(options, has_bg_image=with_background)
    data = edit_to_json(edit)
    assert data["v"] == 1
    assert edit_from_json(data) == edit


def test_json_round_trip_of_every_step():
    edit = remove_bg_edit(
        {"roi": "0 10px 50% 100%", "semitransparency": False, "crop": True, "crop_margin": "10px 5%",
         "scale": "80%", "position": "10% 90%", "add_shadow": True, "bg_image_url": "https://example.com/bg.png",
         "format": "webp"}
    )
    assert [step["step"] for step in edit_to_json(edit)["steps"]] == [
        "segment", "roi", "edges", "layout", "shadow", "background", "encode"
    ]
    assert edit_from_json(edit_to_json(edit)) == edit
    assert edit.find(Layout).position == Position("fraction", 0.1, 0.9)
    assert edit.background_url == "https://example.com/bg.png"


def test_json_round_trip_of_every_output_option():
    spec = OutputSpec(
        "jpg",
        quality=85,
        dpi=300,
        max_pixels=4_000_000,
        progressive=True,
        compression=None,
        lossless=False,
        color_space="CMYK",
        color_profile="ISO_Coated",
        flatten_onto=(255, 250, 240),
    )
    edit = Edit((Segment(), Encode(spec)))
    data = edit_to_json(edit)
    assert data["steps"][-1]["output"]["flatten_onto"] == [255, 250, 240]
    assert edit_from_json(data) == edit
    png = Edit((Encode(OutputSpec("png", compression="best")),))
    assert edit_from_json(edit_to_json(png)) == png


def test_rows_stored_before_the_output_options_still_load():
    output = {"format": "webp", "quality": 80, "dpi": None, "max_pixels": None}
    row = {"v": 1, "steps": [{"step": "encode", "output": output, "keep_metadata": "none", "keep_icc": False}]}
    assert edit_from_json(row).output == OutputSpec("webp", quality=80)


def test_version_0_is_raw_remove_bg_options_parsed_once():
    raw = {"bgColor": "81d4fa", "crop": "true"}
    assert edit_from_json({"v": 0, "remove_bg": raw}) == remove_bg_edit(raw)
    with pytest.raises(OptionError) as caught:
        edit_from_json({"v": 0, "remove_bg": {"scale": "300%"}})
    assert caught.value.option == "scale"
    with pytest.raises(EngineError):
        edit_from_json({"v": 99, "steps": []})
    with pytest.raises(EngineError):
        edit_from_json({"v": 1, "steps": [{"step": "sparkle"}]})


@pytest.mark.parametrize(
    "raw",
    [{"sparkle": True}, {"scale": "300%"}, {"bg_color": "fff", "bg_image_url": "https://a.example/c.png"},
     {"format": "jpg"}, {"bg_color": "fff", "bgColor": "000"}, {"roi": "10 10 5 5"}],
)
def test_remove_bg_edit_refuses_exactly_as_parse_options(raw):
    with pytest.raises(OptionError) as expected:
        parse_options(raw)
    with pytest.raises(OptionError) as caught:
        remove_bg_edit(raw)
    assert (caught.value.option, caught.value.message) == (expected.value.option, expected.value.message)


def test_schema_covers_the_parser_table():
    schema = remove_bg_schema()
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    for name in _PARSERS:
        assert name in schema["properties"]
    assert "bgColor" in schema["properties"] and "cropMargin" in schema["properties"]
    channels = schema["properties"]["channels"]["anyOf"][0]
    assert channels["enum"] == ["alpha", "rgba"]


def test_schema_accepts_what_the_parser_accepts_and_refuses_unknown_options():
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    validator = jsonschema_rs.validator_for(remove_bg_schema())
    good = [options for _, options, _ in CASES] + [
        {"bg_image_url": "https://example.com/bg.png", "format": "jpeg", "crop": "TRUE", "semitransparency": 0,
         "crop_margin": "1px 2px 3px 4px", "position": "Centre", "scale": "original", "type_level": "latest"},
        {"roi": [0, 0, 10, 10], "cropMargin": "", "bgColor": None},
    ]
    for options in good:
        parse_options(options, has_bg_image=True)
        assert validator.is_valid(options), options
    for options in ({"sparkle": True}, {"scale": "300"}, {"channels": "rgb"}, {"crop": "maybe"}):
        assert not validator.is_valid(options), options
