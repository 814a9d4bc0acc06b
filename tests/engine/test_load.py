"""Decoding: formats sniffed from bytes, limits before decoding, awkward modes, EXIF, thumbnails."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from service.engine import ImageRejected, Limits, inspect_image, parse_options, remove_background, thumbnail
from service.engine.load import upright

from .conftest import decode, encode, opaque_box, scene


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims another size (pixels never decoded)."""
    data = bytearray(encode(Image.new("L", (1, 1))))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize(
    ("fmt", "save_as", "mime"),
    [
        ("jpeg", "JPEG", "image/jpeg"),
        ("png", "PNG", "image/png"),
        ("webp", "WEBP", "image/webp"),
        ("gif", "GIF", "image/gif"),
        ("bmp", "BMP", "image/bmp"),
        ("tiff", "TIFF", "image/tiff"),
        ("avif", "AVIF", "image/avif"),
    ],
)
def test_inspect_sniffs_each_format(fmt, save_as, mime):
    info = inspect_image(encode(Image.new("RGB", (30, 20), (10, 20, 30)), save_as), Limits())
    assert (info.format, info.mime, info.width, info.height, info.has_alpha) == (fmt, mime, 30, 20, False)


def test_inspect_and_cut_heic(fake):
    out = io.BytesIO()
    pillow_heif.from_pillow(scene((64, 48), (16, 16, 48, 40))).save(out, quality=95)
    info = inspect_image(out.getvalue(), Limits())
    assert (info.format, info.mime, info.width, info.height) == ("heic", "image/heic", 64, 48)
    picture = decode(remove_background(out.getvalue(), parse_options({}), segmenter=fake).data)
    assert picture.size == (64, 48)


def test_inspect_reports_alpha():
    assert inspect_image(encode(Image.new("RGBA", (4, 4))), Limits()).has_alpha
    palette = Image.new("P", (4, 4))
    assert inspect_image(encode(palette, transparency=0), Limits()).has_alpha


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "file is empty"),
        (b"hello, world", "not a supported image format (JPEG, PNG, WebP, GIF, BMP, TIFF, AVIF, HEIC)"),
        (b"%PDF-1.7\n" + b"0" * 100, "not a supported image format"),
        (png_claiming(8000, 7600), "image is 60.8 megapixels; the limit is 50"),
        (png_claiming(12001, 10), "image is 12001x10 pixels; the limit is 12000 per side"),
        (png_claiming(100_000, 100_000), "decompression bomb"),
    ],
)
def test_inspect_rejects_with_a_clear_message(data, says):
    with pytest.raises(ImageRejected) as caught:
        inspect_image(data, Limits())
    assert says in caught.value.message


@pytest.mark.parametrize("save_as", ["PNG", "JPEG", "WEBP", "GIF"])
def test_inspect_rejects_truncated_files(save_as):
    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 300, 3), dtype=np.uint8))
    data = encode(noisy, save_as)
    with pytest.raises(ImageRejected, match="file is truncated or corrupt"):
        inspect_image(data[: len(data) // 2], Limits())


def test_limits_are_settings():
    data = encode(Image.new("RGB", (2000, 1000)), "JPEG")
    with pytest.raises(ImageRejected, match=r"image is 2\.0 megapixels; the limit is 1\.5"):
        inspect_image(data, Limits(max_megapixels=1.5))
    with pytest.raises(ImageRejected, match="the limit is 1500 per side"):
        remove_background(data, parse_options({}), limits=Limits(max_side=1500))


def test_exif_rotated_input_comes_out_upright(fake):
    # Stored landscape with the subject on the left; orientation 6 shows it rotated 90 degrees clockwise.
    stored = scene((60, 40), (0, 10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", exif=exif, quality=95)
    assert (inspect_image(data, Limits()).width, inspect_image(data, Limits()).height) == (40, 60)
    picture = decode(remove_background(data, parse_options({}), segmenter=fake).data)
    assert picture.size == (40, 60)
    x0, y0, x1, y1 = opaque_box(np.asarray(picture.getchannel("A")))
    assert y0 <= 1 and 18 <= y1 <= 22 and 8 <= x0 <= 12 and 28 <= x1 <= 32
    preview, mime = thumbnail(data, 30)
    assert mime == "image/jpeg" and decode(preview).size == (20, 30)


def test_an_upright_photo_is_not_copied_to_be_made_upright():
    photo = Image.open(io.BytesIO(encode(scene((60, 40), (0, 10, 20, 30)), "JPEG")))
    assert upright(photo) is photo


def _modes() -> list[tuple[str, Image.Image, str]]:
    base = scene((40, 30), (10, 5, 30, 25))
    rgba = base.convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    transparent = palette.copy()
    transparent.info["transparency"] = palette.getpixel((0, 0))
    grey16 = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257)
    return [
        ("RGBA", rgba, "PNG"),
        ("P", palette, "PNG"),
        ("P+transparency", transparent, "PNG"),
        ("CMYK", base.convert("CMYK"), "JPEG"),
        ("CMYK-TIFF", base.convert("CMYK"), "TIFF"),
        ("I;16", grey16, "PNG"),
        ("L", base.convert("L"), "PNG"),
        ("LA", base.convert("LA"), "PNG"),
        ("1", base.convert("1"), "PNG"),
    ]


@pytest.mark.parametrize(("label", "image", "save_as"), _modes(), ids=[m[0] for m in _modes()])
def test_awkward_modes_work(label, image, save_as, model):
    params = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    result = remove_background(encode(image, save_as, **params), parse_options({}), segmenter=model)
    picture = decode(result.data)
    assert picture.mode == "RGBA" and picture.size == (40, 30)
    alpha = np.asarray(picture.getchannel("A"))
    assert np.isfinite(alpha).all()
    if label == "RGBA":
        assert alpha[0, 0] == 0, "transparent input stays transparent"


def test_sixteen_bit_grey_keeps_its_range(fake):
    grey16 = Image.fromarray(np.full((10, 10), 65535, dtype=np.uint16))
    picture = decode(remove_background(encode(grey16), parse_options({"bg_color": "000"}), segmenter=lambda rgb: np.ones((10, 10), np.float32)).data)
    assert picture.getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255)])
def test_one_pixel_image(colour, model):
    result = remove_background(encode(Image.new("RGB", (1, 1), colour)), parse_options({"crop": True, "add_shadow": True}), segmenter=model)
    picture = decode(result.data)
    assert picture.size == (1, 1) and (result.width, result.height) == (1, 1)


def test_thumbnail_sizes_and_formats():
    preview, mime = thumbnail(encode(Image.new("RGB", (1200, 600), (5, 6, 7)), "JPEG"))
    assert mime == "image/jpeg" and decode(preview).size == (256, 128)
    preview, mime = thumbnail(encode(Image.new("RGBA", (100, 400))), 64)
    assert mime == "image/png" and decode(preview).size == (16, 64) and decode(preview).mode == "RGBA"
    with pytest.raises(ImageRejected):
        thumbnail(b"nope")


def test_background_image_is_checked_too(fake):
    with pytest.raises(ImageRejected, match="background image: not a supported image format"):
        remove_background(encode(scene((20, 20), (5, 5, 15, 15))), parse_options({}), segmenter=fake, bg_image=b"junk")


def _chunks(data: bytes) -> list[bytes]:
    chunks, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        chunks.append(data[pos : pos + 12 + length])
        pos += 12 + length
    return chunks


def test_png_is_inspected_without_decoding_its_pixels(monkeypatch):
    from PIL import PngImagePlugin

    def no_decoding(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the PNG was decoded")

    data = encode(Image.new("RGBA", (7000, 5000), (1, 2, 3, 4)))
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    info = inspect_image(data, Limits())
    assert (info.width, info.height, info.has_alpha) == (7000, 5000, True)


def test_png_exif_after_the_pixel_data_still_turns_the_sides():
    exif = Image.Exif()
    exif[0x0112] = 6
    chunks = _chunks(encode(Image.new("RGB", (60, 40)), exif=exif))
    kinds = [c[4:8] for c in chunks]
    exif_chunk = chunks.pop(kinds.index(b"eXIf"))
    chunks.insert(len(chunks) - 1, exif_chunk)  # just before IEND
    info = inspect_image(b"\x89PNG\r\n\x1a\n" + b"".join(chunks), Limits())
    assert (info.width, info.height) == (40, 60)
