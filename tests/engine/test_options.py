"""Option parsing: every option, both key spellings, form strings, and errors that name the option."""

from __future__ import annotations

import pytest

from service.engine import OptionError, Options, Position, parse_options


def test_defaults_are_a_plain_png_cutout():
    options = parse_options({})
    assert options == Options()
    assert options.format == "png" and options.semitransparency and not options.crop
    assert options.placement() == Position("original")


@pytest.mark.parametrize(
    ("value", "rgba"),
    [
        ("81d4fa", (0x81, 0xD4, 0xFA, 255)),
        ("#fff", (255, 255, 255, 255)),
        ("81d4fa77", (0x81, 0xD4, 0xFA, 0x77)),
        ("red", (255, 0, 0, 255)),
        ("LightBlue", (173, 216, 230, 255)),
    ],
)
def test_bg_color_forms(value, rgba):
    assert parse_options({"bg_color": value}).bg_color == rgba


def test_camel_case_keys_and_form_strings():
    options = parse_options(
        {"bgColor": "000", "addShadow": "true", "semitransparency": "false", "cropMargin": "5px", "crop": "1", "typeLevel": "2"}
    )
    assert options.bg_color == (0, 0, 0, 255)
    assert options.add_shadow is True and options.semitransparency is False and options.crop is True
    assert options.crop_margin == ((5.0, "px"),) * 4
    assert options.type_level == "2"


def test_crop_margin_css_shorthand():
    assert parse_options({"crop_margin": "10px 5%"}).crop_margin == (
        (10.0, "px"), (5.0, "%"), (10.0, "px"), (5.0, "%"),
    )
    assert parse_options({"crop_margin": "1px 2px 3px 4px"}).crop_margin == (
        (1.0, "px"), (2.0, "px"), (3.0, "px"), (4.0, "px"),
    )


def test_scale_and_position():
    options = parse_options({"scale": "50%"})
    assert options.scale == 0.5 and options.placement() == Position("center")
    assert parse_options({"scale": "original"}).scale is None
    options = parse_options({"scale": "80%", "position": "10% 90%"})
    assert options.placement() == Position("fraction", 0.1, 0.9)
    assert parse_options({"position": "25%"}).position == Position("fraction", 0.25, 0.25)


def test_roi_in_px_and_percent():
    assert parse_options({"roi": "0 10px 50% 100%"}).roi == (
        (0.0, "px"), (10.0, "px"), (50.0, "%"), (100.0, "%"),
    )


def test_type_is_accepted_but_changes_nothing_else():
    options = parse_options({"type": "product", "type_level": "latest"})
    assert (options.type, options.type_level) == ("product", "latest")
    assert not hasattr(options, "foreground_type")


def test_jpg_allowed_with_an_opaque_background():
    assert parse_options({"format": "jpg", "bg_color": "fff"}).format == "jpg"
    assert parse_options({"format": "jpeg", "bg_image_url": "https://example.com/a.jpg"}).format == "jpg"
    assert parse_options({"format": "jpg"}, has_bg_image=True).format == "jpg"
    assert parse_options({"format": "jpg", "channels": "alpha"}).format == "jpg"


@pytest.mark.parametrize(
    ("raw", "option", "says"),
    [
        ({"bg_colour": "fff"}, "bg_colour", "unknown option"),
        ({"bgColor": "nope"}, "bgColor", "neither a hex colour"),
        ({"bg_color": "12345"}, "bg_color", "neither a hex colour"),
        ({"bg_color": "fff", "bg_image_url": "https://x.test/a.png"}, "bg_image_url", "cannot be combined"),
        ({"bg_image_url": "ftp://x.test/a.png"}, "bg_image_url", "http(s) URL"),
        ({"add_shadow": "maybe"}, "add_shadow", "true or false"),
        ({"semitransparency": 2}, "semitransparency", "true or false"),
        ({"crop_margin": "600px"}, "crop_margin", "maximum of 500px"),
        ({"crop_margin": "51%"}, "crop_margin", "maximum of 50%"),
        ({"crop_margin": "1px 2px 3px"}, "crop_margin", "1, 2 or 4"),
        ({"cropMargin": "ten"}, "cropMargin", "not a length"),
        ({"scale": "5%"}, "scale", "10%..100%"),
        ({"scale": "120%"}, "scale", "10%..100%"),
        ({"scale": "0.5"}, "scale", "percentage"),
        ({"position": "top"}, "position", "percentage"),
        ({"position": "10% 20% 30%"}, "position", "x% y%"),
        ({"position": "150%"}, "position", "0%..100%"),
        ({"roi": "1 2 3"}, "roi", "4 values"),
        ({"roi": "50% 0 10% 100%"}, "roi", "empty"),
        ({"roi": "0 0 " + "9" * 400 + " 10"}, "roi", "too large"),
        ({"roi": "0 0 \u0665\u0660 \u0665\u0660"}, "roi", "not a length"),  # Arabic-Indic digits
        ({"scale": "\u0665\u0660%"}, "scale", "percentage"),
        ({"channels": "rgb"}, "channels", "alpha, rgba"),
        ({"format": "gif"}, "format", "one of"),
        ({"format": "jpg"}, "format", "opaque background"),
        ({"format": "jpg", "bg_color": "ffffff80"}, "format", "opaque background"),
        ({"type": "spaceship"}, "type", "one of"),
        ({"type_level": "3"}, "type_level", "one of"),
        ({"bg_color": "fff", "bgColor": "000"}, "bgColor", "given twice"),
    ],
)
def test_errors_name_the_option(raw, option, says):
    with pytest.raises(OptionError) as caught:
        parse_options(raw)
    assert caught.value.option == option
    assert says in caught.value.message
    assert caught.value.message.startswith(option)


def test_errors_do_not_quote_a_huge_value_or_key_whole():
    for raw in ({"crop_margin": "x" * 10_000}, {"k" * 10_000: 1}):
        with pytest.raises(OptionError) as caught:
            parse_options(raw)
        assert len(caught.value.message) < 300 and len(caught.value.option) <= 64
