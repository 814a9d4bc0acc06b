"""Every output format and option, decoded again: format, quality, scan, compression, lossless, DPI, CMYK."""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image, ImageCms

from service.engine import (
    Background,
    Edit,
    Encode,
    IccProfiles,
    OptionError,
    OutputSpec,
    Segment,
    check_output,
    edit_from_json,
    edit_to_json,
    run,
)
from service.engine.encode import Metadata, encode
from service.engine.icc import DEFAULT_PROFILE_NAME, DEFAULT_PROFILE_PATH, FLAGS, INTENT, PROFILE_FILES

from .conftest import BACKDROP, FIXTURES, decode, scene
from .conftest import encode as save

TIFF_COMPRESSION, TIFF_PREDICTOR, TIFF_EXTRA_SAMPLES = 259, 317, 338
TIFF_LZW, TIFF_JPEG, UNASSOCIATED_ALPHA = 5, 7, 2
X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT, COPYRIGHT = 0x011A, 0x011B, 0x0128, 0x8298


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A real photo with a real matte: the kind of picture these encoders see."""
    picture = Image.open(FIXTURES / "photos" / "coffee.png").convert("RGB").resize((240, 160))
    picture.putalpha(Image.open(FIXTURES / "masks" / "coffee.png").convert("L").resize((240, 160)))
    return picture


def noisy(mode: str, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """Random pixels, including colour under fully transparent alpha: hard for anything not truly lossless."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    if mode == "RGBA":
        pixels[:8, :, 3] = 0  # transparent, with colours that a lossy encoder may drop
    return Image.fromarray(pixels, mode)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


# ---- JPEG ----------------------------------------------------------------------------------------


def test_jpeg_progressive_scan_and_quality(photo):
    rgb = photo.convert("RGB")
    baseline = decode(encode(rgb, OutputSpec("jpg", quality=85)).data)
    progressive = encode(rgb, OutputSpec("jpeg", quality=85, progressive=True))
    image = decode(progressive.data)
    assert (image.format, progressive.mime, progressive.format) == ("JPEG", "image/jpeg", "jpg")
    assert image.info.get("progressive") == 1 and image.info.get("progression") == 1
    assert "progressive" not in baseline.info and "progression" not in baseline.info
    low = encode(rgb, OutputSpec("jpg", quality=30, progressive=True)).data
    assert len(low) < len(progressive.data)


def test_jpeg_quality_is_the_quality_asked_for(photo):
    rgb = photo.convert("RGB")
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=85, optimize=False)
    assert encode(rgb, OutputSpec("jpg", quality=85)).data == out.getvalue()


# ---- PNG -----------------------------------------------------------------------------------------


def test_png_compression_efforts_are_lossless_and_ordered(photo):
    sizes = {}
    for compression in ("fast", "optimal", "best"):
        data = encode(photo, OutputSpec("png", compression=compression)).data
        assert np.array_equal(pixels(decode(data)), pixels(photo))
        sizes[compression] = len(data)
    assert sizes["best"] <= sizes["optimal"] < sizes["fast"]
    assert encode(photo, OutputSpec("png")).data == encode(photo, OutputSpec("png", compression="fast")).data


@pytest.mark.parametrize(("compression", "flevel"), [("fast", 0), ("optimal", 2), ("best", 3)])
def test_png_zlib_header_names_the_level(photo, compression, flevel):
    data = encode(photo, OutputSpec("png", compression=compression)).data
    start = data.index(b"IDAT") + 4
    header = data[start : start + 2]
    assert header[0] == 0x78 and header[1] >> 6 == flevel and struct.unpack(">H", header)[0] % 31 == 0
    idat_length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    assert zlib.decompress(data[start : start + idat_length])  # one valid zlib stream across the segments


def test_png_tolerates_a_quality():
    """Claid's clients send a quality with PNG; PNG has none, so it is accepted and changes nothing."""
    image = noisy("RGBA")
    assert encode(image, OutputSpec("png", quality=80)).data == encode(image, OutputSpec("png")).data


# ---- TIFF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_tiff_lossless_is_lzw_and_exact(mode):
    image = noisy(mode)
    encoded = encode(image, OutputSpec("tiff", lossless=True))
    back = decode(encoded.data)
    assert (back.format, encoded.mime, back.mode) == ("TIFF", "image/tiff", mode)
    assert back.tag_v2[TIFF_COMPRESSION] == TIFF_LZW and back.info["compression"] == "tiff_lzw"
    assert back.tag_v2[TIFF_PREDICTOR] == 2
    if mode == "RGBA":
        assert back.tag_v2[TIFF_EXTRA_SAMPLES] == (UNASSOCIATED_ALPHA,)
    assert np.array_equal(pixels(back), pixels(image))


def test_tiff_lossy_is_jpeg_with_its_quality_and_keeps_alpha(photo):
    high = encode(photo, OutputSpec("tif", quality=90))
    low = encode(photo, OutputSpec("tiff", quality=40))
    back = decode(high.data)
    assert (back.format, back.mode, high.format) == ("TIFF", "RGBA", "tiff")
    assert back.tag_v2[TIFF_COMPRESSION] == TIFF_JPEG and back.info["compression"] == "jpeg"
    # JPEG-compressed too, the alpha is close, not exact.
    alpha_error = np.abs(pixels(back.getchannel("A")).astype(int) - pixels(photo.getchannel("A")))
    assert alpha_error.mean() < 1 and alpha_error.max() < 40
    assert len(low.data) < len(high.data)


# ---- WEBP and AVIF -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["webp", "avif"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_lossless_webp_and_avif_decode_to_the_very_pixels(fmt, mode):
    image = noisy(mode)
    encoded = encode(image, OutputSpec(fmt, lossless=True))
    back = decode(encoded.data)
    assert back.format == fmt.upper() and back.mode == mode
    assert np.array_equal(pixels(back), pixels(image))
    if fmt == "avif":  # a second decoder (libvips' libheif) agrees
        theirs = pyvips.Image.new_from_buffer(encoded.data, "").numpy()
        assert np.array_equal(theirs, pixels(image))


@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_lossy_webp_and_avif_are_smaller_at_lower_quality(photo, fmt):
    high = encode(photo, OutputSpec(fmt, quality=90)).data
    low = encode(photo, OutputSpec(fmt, quality=30)).data
    assert decode(low).format == fmt.upper()
    assert len(low) < len(high)


def test_lossless_avif_carries_the_kept_metadata_and_profile(photo):
    sRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    metadata = Metadata(icc=sRGB, copyright="(c) Example Studio")
    back = decode(encode(photo, OutputSpec("avif", lossless=True, dpi=150), metadata).data)
    exif = back.getexif()
    assert exif[COPYRIGHT] == "(c) Example Studio" and float(exif[X_RESOLUTION]) == 150.0
    assert back.info["icc_profile"] == sRGB
    plain = decode(encode(photo, OutputSpec("avif", lossless=True)).data)
    assert not plain.getexif() and not plain.info.get("icc_profile")


# ---- DPI in every format -------------------------------------------------------------------------

DPI_SPECS = [
    OutputSpec("png", dpi=300),
    OutputSpec("png", dpi=300, compression="best"),
    OutputSpec("jpg", dpi=300),
    OutputSpec("jpg", dpi=300, progressive=True),
    OutputSpec("jpg", dpi=300, color_space="CMYK"),
    OutputSpec("webp", dpi=300),
    OutputSpec("webp", dpi=300, lossless=True),
    OutputSpec("avif", dpi=300),
    OutputSpec("avif", dpi=300, lossless=True),
    OutputSpec("tiff", dpi=300, lossless=True),
    OutputSpec("tiff", dpi=300),
]


@pytest.mark.parametrize("spec", DPI_SPECS, ids=lambda s: f"{s.format}-{s.lossless}-{s.progressive}-{s.color_space}")
def test_dpi_reads_back_in_every_format(spec):
    image = scene((40, 30), (10, 5, 30, 25))
    back = decode(encode(image, spec).data)
    if spec.format in ("png", "jpg", "tiff"):  # pHYs, JFIF density, TIFF resolution tags
        assert tuple(round(value) for value in back.info["dpi"]) == (300, 300)
    else:  # EXIF, the only place WebP and AVIF have
        exif = back.getexif()
        assert (float(exif[X_RESOLUTION]), float(exif[Y_RESOLUTION]), exif[RESOLUTION_UNIT]) == (300.0, 300.0, 2)


# ---- CMYK ----------------------------------------------------------------------------------------

# In the press's gamut: a skin tone, a muted red, green and blue, greys, paper white.
PATCHES = [(224, 172, 142), (178, 60, 58), (82, 140, 76), (70, 96, 150), (128, 128, 128), (60, 60, 60), (255, 255, 255)]
# Per channel, out of 255: the JPEG, and the profile's two directions, which are measured tables that do
# not invert each other exactly (mid grey comes back 9 levels darker).
TOLERANCE = 12


def patches() -> Image.Image:
    image = Image.new("RGB", (16 * len(PATCHES), 16))
    for index, colour in enumerate(PATCHES):
        image.paste(colour, (16 * index, 0, 16 * index + 16, 16))
    return image


def as_srgb(cmyk: Image.Image) -> Image.Image:
    """The CMYK picture back in sRGB, through the profile embedded in its file."""
    embedded = ImageCms.ImageCmsProfile(io.BytesIO(cmyk.info["icc_profile"]))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    back = ImageCms.profileToProfile(cmyk, embedded, srgb, renderingIntent=INTENT, outputMode="RGB", flags=FLAGS)
    assert back is not None
    return back


def assert_patches(image: Image.Image) -> None:
    for index, colour in enumerate(PATCHES):
        got = image.getpixel((16 * index + 8, 8))
        assert max(abs(a - b) for a, b in zip(got, colour)) <= TOLERANCE, (colour, got)


def test_cmyk_jpeg_converts_back_to_the_colours_with_its_embedded_profile():
    encoded = encode(patches(), OutputSpec("jpg", quality=95, color_space="CMYK"))
    cmyk = decode(encoded.data)
    assert (cmyk.format, cmyk.mode, encoded.mime) == ("JPEG", "CMYK", "image/jpeg")
    assert "adobe" in cmyk.info  # Adobe's APP14 marker, which tells readers how the CMYK values are stored
    assert cmyk.info["icc_profile"] == DEFAULT_PROFILE_PATH.read_bytes()
    assert ImageCms.getProfileDescription(io.BytesIO(cmyk.info["icc_profile"])).strip() == DEFAULT_PROFILE_NAME
    assert_patches(as_srgb(cmyk))
    # libvips reads the same ink values: the file is a CMYK JPEG as other software expects one.
    theirs = pyvips.Image.new_from_buffer(encoded.data, "")
    assert theirs.interpretation == "cmyk"
    assert np.abs(theirs.numpy().astype(int) - pixels(cmyk).astype(int)).max() <= 1


def test_cmyk_replaces_the_photos_own_profile():
    sRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(patches(), OutputSpec("jpg", color_space="CMYK"), Metadata(icc=sRGB)).data
    assert decode(data).info["icc_profile"] == DEFAULT_PROFILE_PATH.read_bytes()


def without_tags(profile: bytes, removed: set[bytes]) -> bytes:
    """An ICC profile rebuilt without some tags: a new tag table, shared data kept shared, 4-byte aligned."""
    count = struct.unpack(">I", profile[128:132])[0]
    entries = [struct.unpack(">4sII", profile[132 + 12 * i : 144 + 12 * i]) for i in range(count)]
    kept = [entry for entry in entries if entry[0] not in removed]
    start, data, placed, table = 132 + 12 * len(kept), bytearray(), {}, []
    for signature, offset, size in kept:
        if (offset, size) not in placed:
            data += b"\0" * (-(start + len(data)) % 4)
            placed[(offset, size)] = start + len(data)
            data += profile[offset : offset + size]
        table.append(struct.pack(">4sII", signature, placed[(offset, size)], size))
    body = profile[4:128] + struct.pack(">I", len(kept)) + b"".join(table) + bytes(data)
    return struct.pack(">I", 4 + len(body)) + body


def test_the_bundled_profile_is_libvips_public_domain_cmyk_profile_without_its_chart_readings():
    ours = DEFAULT_PROFILE_PATH.read_bytes()
    colours = pyvips.Image.new_from_array(pixels(patches()), interpretation="srgb")
    by_libvips = colours.icc_transform("cmyk")  # libvips' built-in CMYK profile
    theirs = by_libvips.get("icc-profile-data")
    assert without_tags(theirs, {b"targ", b"DevD", b"CIED"}) == ours
    profile = ImageCms.ImageCmsProfile(io.BytesIO(ours))
    assert ImageCms.getProfileDescription(profile).strip() == DEFAULT_PROFILE_NAME
    assert "Graeme W. Gill. Released into the public domain" in ImageCms.getProfileCopyright(profile)
    # Nothing a conversion reads is gone: LittleCMS and libvips convert with it as with the whole profile.
    whole = ImageCms.ImageCmsProfile(io.BytesIO(theirs))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    converted = [
        ImageCms.profileToProfile(patches(), srgb, target, renderingIntent=INTENT, outputMode="CMYK", flags=FLAGS)
        for target in (whole, profile)
    ]
    assert np.array_equal(pixels(converted[0]), pixels(converted[1]))
    assert np.array_equal(by_libvips.numpy(), colours.icc_transform(str(DEFAULT_PROFILE_PATH)).numpy())


@pytest.fixture
def icc_dir(tmp_path) -> Path:
    """A profile directory holding the bundled profile under one of the named profiles' file names."""
    shutil.copy(DEFAULT_PROFILE_PATH, tmp_path / PROFILE_FILES["ISO_Coated"])
    return tmp_path


def test_a_named_profile_comes_from_the_profile_directory(icc_dir):
    profiles = IccProfiles(icc_dir)
    assert profiles.available("ISO_Coated") and not profiles.available("USWeb_Coated")
    spec = OutputSpec("jpg", color_space="CMYK", color_profile="ISO_Coated")
    check_output(spec, profiles)
    cmyk = decode(encode(patches(), spec, profiles=profiles).data)
    assert cmyk.info["icc_profile"] == (icc_dir / "ISO_Coated.icc").read_bytes()
    assert_patches(as_srgb(cmyk))


@pytest.mark.parametrize("directory", [None, "empty"])
def test_a_named_profile_that_is_not_installed_is_refused(tmp_path, directory):
    profiles = IccProfiles(tmp_path if directory else None)
    spec = OutputSpec("jpg", color_space="CMYK", color_profile="USWeb_Uncoated")
    assert not profiles.available("USWeb_Uncoated")
    with pytest.raises(OptionError) as caught:
        check_output(spec, profiles)
    assert caught.value.option == "color_profile" and "USWeb_Uncoated.icc" in caught.value.reason
    with pytest.raises(OptionError):
        encode(patches(), spec, profiles=profiles)


def test_a_profile_file_that_is_not_cmyk_is_refused(tmp_path):
    (tmp_path / "ISO_Uncoated.icc").write_bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (tmp_path / "USWeb_Coated.icc").write_bytes(b"not a profile")
    profiles = IccProfiles(tmp_path)
    for name, words in (("ISO_Uncoated", "not a CMYK one"), ("USWeb_Coated", "not a readable ICC profile")):
        with pytest.raises(OptionError) as caught:
            check_output(OutputSpec("jpg", color_space="CMYK", color_profile=name), profiles)
        assert caught.value.option == "color_profile" and words in caught.value.reason


# ---- alpha where the output cannot hold it -------------------------------------------------------


@pytest.mark.parametrize("color_space", ["RGB", "CMYK"])
def test_alpha_is_flattened_onto_the_colour_asked_for(fake, color_space):
    data = save(scene((80, 60), (20, 10, 60, 50)))
    spec = OutputSpec("jpg", quality=95, color_space=color_space, flatten_onto=(255, 0, 0))
    result = run(Edit((Segment(), Encode(spec))), data, segmenter=fake)
    image = decode(result.data)
    assert (result.format, result.has_alpha) == ("jpg", False)
    image = as_srgb(image) if color_space == "CMYK" else image
    corner, subject = image.getpixel((3, 3)), image.getpixel((40, 30))
    assert corner[0] > 200 and corner[1] < 60 and corner[2] < 60  # the backdrop is cut out: red shows
    assert min(subject) > 220  # the light grey subject stays


def test_without_a_flatten_colour_jpg_still_needs_an_opaque_background(fake):
    data = save(scene((80, 60), (20, 10, 60, 50)))
    with pytest.raises(OptionError) as caught:
        run(Edit((Segment(), Encode(OutputSpec("jpg")))), data, segmenter=fake)
    assert caught.value.option == "format"
    opaque = Edit((Segment(), Background(color=(*BACKDROP, 255)), Encode(OutputSpec("jpg", color_space="CMYK"))))
    assert decode(run(opaque, data, segmenter=fake).data).mode == "CMYK"


def test_a_bad_spec_is_refused_before_the_model_runs():
    def refuse(rgb: Image.Image) -> np.ndarray:
        raise AssertionError("the model must not run for an edit whose output is invalid")

    edit = Edit((Segment(), Encode(OutputSpec("png", color_space="CMYK"))))
    with pytest.raises(OptionError) as caught:
        run(edit, save(scene((40, 30), (10, 5, 30, 25))), segmenter=refuse)
    assert caught.value.option == "color_space"


# ---- validation ----------------------------------------------------------------------------------

INVALID = [
    (OutputSpec("bmp"), "format"),
    (OutputSpec("png", color_space="CMYK"), "color_space"),
    (OutputSpec("webp", color_space="CMYK"), "color_space"),
    (OutputSpec("tiff", color_space="CMYK"), "color_space"),
    (OutputSpec("jpg", color_space="LAB"), "color_space"),
    (OutputSpec("jpg", color_profile="ISO_Coated"), "color_profile"),
    (OutputSpec("jpg", color_space="CMYK", color_profile="FOGRA39"), "color_profile"),
    (OutputSpec("jpg", quality=0), "quality"),
    (OutputSpec("jpg", quality=101), "quality"),
    (OutputSpec("webp", quality=True), "quality"),
    (OutputSpec("png", compression="max"), "compression"),
    (OutputSpec("jpg", compression="best"), "compression"),
    (OutputSpec("jpg", lossless=True), "lossless"),
    (OutputSpec("png", lossless=True), "lossless"),
    (OutputSpec("webp", lossless=True, quality=80), "quality"),
    (OutputSpec("png", progressive=True), "progressive"),
    (OutputSpec("png", dpi=0), "dpi"),
    (OutputSpec("jpg", dpi=70_000), "dpi"),
    (OutputSpec("png", max_pixels=0), "max_pixels"),
    (OutputSpec("jpg", flatten_onto=(256, 0, 0)), "flatten_onto"),
    (OutputSpec("jpg", flatten_onto=(255, 255)), "flatten_onto"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("spec", "field"), INVALID, ids=lambda v: v if isinstance(v, str) else None)
def test_each_invalid_combination_names_its_field(spec, field):
    with pytest.raises(OptionError) as caught:
        check_output(spec)
    assert caught.value.option == field


VALID = [
    OutputSpec(),
    OutputSpec("auto", progressive=True, compression="best"),
    OutputSpec("jpeg", quality=1, progressive=True, dpi=65535),
    OutputSpec("jpg", quality=100, color_space="CMYK", flatten_onto=(0, 0, 0)),
    OutputSpec("tiff", lossless=True),
    OutputSpec("tiff", quality=75),
    OutputSpec("avif", lossless=True),
    OutputSpec("zip", quality=80),
]


@pytest.mark.parametrize("spec", VALID)
def test_valid_specs_pass_and_round_trip_as_json(spec):
    check_output(spec)
    edit = Edit((Encode(spec),))
    assert edit_from_json(edit_to_json(edit)) == edit
