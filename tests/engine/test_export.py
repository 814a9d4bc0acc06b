"""Export: dpi in every format, AVIF, the jpeg alias, and the photo's metadata and ICC profile carried over."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from service.engine import Background, Edit, Encode, OutputSpec, Segment, run
from service.engine.encode import Metadata, carried, encode

from .conftest import decode, scene
from .conftest import encode as save

COPYRIGHT, USER_COMMENT, MAKE, EXIF_IFD = 0x8298, 0x9286, 0x010F, 0x8769
PHOTO_XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
    b' xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Model="Camera 1"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def srgb() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo_with_metadata(fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif[COPYRIGHT] = "(c) Example Studio"
    exif[MAKE] = "Example Camera Co"
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = b"ASCII\x00\x00\x00shot on a Tuesday"
    return save(scene((80, 60), (20, 10, 60, 50)), fmt, exif=exif, xmp=PHOTO_XMP, icc_profile=srgb())


def cut(fake, data: bytes, fmt: str, **encode_options) -> bytes:
    steps = (Segment(), Background(color=(255, 255, 255, 255)), Encode(OutputSpec(fmt), **encode_options))
    return run(Edit(steps), data, segmenter=fake).data


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp", "avif"])
def test_dpi_reads_back(fmt):
    picture = Image.new("RGBA" if fmt != "jpg" else "RGB", (40, 30), (10, 200, 30, 255))
    image = decode(encode(picture, OutputSpec(fmt, dpi=300)).data)
    if fmt in ("png", "jpg"):
        assert tuple(round(value) for value in image.info["dpi"]) == (300, 300)  # pHYs / JFIF density
    exif = image.getexif()
    if fmt in ("webp", "avif"):
        assert (float(exif[0x011A]), float(exif[0x011B]), exif[0x0128]) == (300.0, 300.0, 2)  # inches


def test_no_dpi_writes_no_density():
    image = decode(encode(Image.new("RGB", (40, 30)), OutputSpec("png")).data)
    assert "dpi" not in image.info


@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_webp_and_avif_decode_with_their_alpha(fake, fmt):
    edit = Edit((Segment(), Encode(OutputSpec(fmt))))
    result = run(edit, save(scene((80, 60), (20, 10, 60, 50))), segmenter=fake)
    image = decode(result.data)
    assert (result.mime, image.format, image.mode, image.size) == (f"image/{fmt}", fmt.upper(), "RGBA", (80, 60))
    alpha = np.asarray(image.getchannel("A"))
    assert alpha[30, 40] > 240 and alpha[5, 5] < 15
    rgb = np.asarray(image.convert("RGB")).astype(int)
    assert np.abs(rgb[30, 40] - (250, 250, 250)).max() < 12


def test_avif_quality_is_per_call():
    picture = Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8), mode="RGB")
    low = encode(picture, OutputSpec("avif", quality=30)).data
    high = encode(picture, OutputSpec("avif", quality=95)).data
    assert len(low) < len(high)


def test_jpeg_is_an_alias_of_jpg(fake):
    result = run(Edit((Segment(), Background(color=(255, 255, 255, 255)), Encode(OutputSpec("jpeg")))),
                 save(scene((80, 60), (20, 10, 60, 50))), segmenter=fake)
    assert (result.format, result.mime, decode(result.data).format) == ("jpg", "image/jpeg", "JPEG")


def test_by_default_nothing_of_the_photo_is_kept(fake):
    data = cut(fake, photo_with_metadata(), "png")
    image = decode(data)
    assert not {"icc_profile", "exif", "xmp"} & set(image.info)


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp", "avif"])
def test_xmp_is_the_photos_packet_unchanged(fake, fmt):
    image = decode(cut(fake, photo_with_metadata(), fmt, keep_metadata="xmp"))
    assert image.info["xmp"] == PHOTO_XMP
    assert not image.getexif()


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp", "avif"])
def test_exif_keeps_only_copyright_and_user_comment(fake, fmt):
    image = decode(cut(fake, photo_with_metadata(), fmt, keep_metadata="exif"))
    exif = image.getexif()
    assert exif[COPYRIGHT] == "(c) Example Studio"
    assert exif.get_ifd(EXIF_IFD)[USER_COMMENT] == b"ASCII\x00\x00\x00shot on a Tuesday"
    assert MAKE not in exif
    assert "xmp" not in image.info


def test_exif_with_xmp_also_writes_them_as_xmp(fake):
    image = decode(cut(fake, photo_with_metadata(), "png", keep_metadata="exif+xmp"))
    assert image.getexif()[COPYRIGHT] == "(c) Example Studio"
    xmp = image.info["xmp"].decode()
    assert "<dc:rights><rdf:Alt><rdf:li xml:lang=\"x-default\">(c) Example Studio</rdf:li>" in xmp
    assert "<exif:UserComment><rdf:Alt><rdf:li xml:lang=\"x-default\">shot on a Tuesday</rdf:li>" in xmp
    assert "Camera 1" not in xmp  # the photo's own packet is not what is written


def test_dpi_and_kept_exif_share_one_block_in_webp(fake):
    image = decode(cut(fake, photo_with_metadata(), "webp", keep_metadata="exif"))
    assert image.getexif()[COPYRIGHT] == "(c) Example Studio"
    data = run(Edit((Segment(), Encode(OutputSpec("webp", dpi=150), keep_metadata="exif"))), photo_with_metadata(),
               segmenter=fake).data
    exif = decode(data).getexif()
    assert (float(exif[0x011A]), exif[COPYRIGHT]) == (150.0, "(c) Example Studio")


@pytest.mark.parametrize("source", ["JPEG", "PNG", "WEBP"])
def test_icc_profile_round_trips_unchanged(fake, source):
    profile = srgb()
    data = run(Edit((Segment(), Encode(OutputSpec("png"), keep_icc=True))), photo_with_metadata(source),
               segmenter=fake).data
    assert decode(data).info["icc_profile"] == profile
    kinds = [kind for kind, _ in png_chunks(data)]
    assert kinds.count(b"iCCP") == 1 and kinds.index(b"iCCP") < kinds.index(b"IDAT")
    body = dict(png_chunks(data))[b"iCCP"]
    assert zlib.decompress(body.split(b"\x00", 1)[1][1:]) == profile  # name, NUL, method 0, zlib data


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def test_metadata_survives_an_exif_rotation(fake):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate a quarter turn
    exif[COPYRIGHT] = "(c) Turned"
    data = save(scene((80, 60), (20, 10, 60, 50)), "JPEG", exif=exif, icc_profile=srgb())
    image = decode(run(Edit((Segment(), Encode(OutputSpec("png"), keep_metadata="exif", keep_icc=True))), data,
                       segmenter=fake).data)
    assert image.size == (60, 80) and image.getexif()[COPYRIGHT] == "(c) Turned" and "icc_profile" in image.info


def test_carried_reads_a_unicode_user_comment():
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = b"UNICODE\x00" + "caf\u00e9".encode("utf-16-be")
    kept = carried({"exif": exif.tobytes()}, "exif+xmp", icc=False)
    assert kept.user_comment == b"UNICODE\x00" + "caf\u00e9".encode("utf-16-be")
    assert "caf\u00e9" in kept.xmp.decode()
    assert carried({}, "exif+xmp", icc=True) == Metadata()


def test_png_with_metadata_still_decodes_exactly():
    picture = Image.fromarray(np.random.default_rng(5).integers(0, 256, (30, 40, 4), dtype=np.uint8), mode="RGBA")
    metadata = Metadata(icc=srgb(), xmp=PHOTO_XMP, copyright="x", user_comment=b"ASCII\x00\x00\x00y")
    data = encode(picture, OutputSpec("png", dpi=72), metadata).data
    assert decode(data).tobytes() == picture.tobytes()
    for mode in ("P", "LA"):  # modes Pillow writes, with the chunks put in after its header
        other = picture.convert(mode)
        image = Image.open(io.BytesIO(encode(other, OutputSpec("png", dpi=72), metadata).data))
        image.load()
        assert image.info["xmp"] == PHOTO_XMP and image.tobytes() == other.tobytes()


@pytest.mark.parametrize("source", ["png", "webp"])
def test_metadata_is_read_from_png_and_webp_photos_too(fake, source):
    kept = Metadata(xmp=PHOTO_XMP, copyright="(c) Example Studio", user_comment=b"ASCII\x00\x00\x00hello")
    data = encode(scene((80, 60), (20, 10, 60, 50)), OutputSpec(source, quality=95), kept).data
    image = decode(cut(fake, data, "png", keep_metadata="xmp"))
    assert image.info["xmp"] == PHOTO_XMP
    exif = decode(cut(fake, data, "png", keep_metadata="exif")).getexif()
    assert exif[COPYRIGHT] == "(c) Example Studio" and exif.get_ifd(EXIF_IFD)[USER_COMMENT] == b"ASCII\x00\x00\x00hello"


def test_unreadable_exif_keeps_nothing_and_is_no_error(fake):
    data = save(scene((80, 60), (20, 10, 60, 50)), "JPEG", exif=b"Exif\x00\x00not a tiff header")
    image = decode(cut(fake, data, "png", keep_metadata="exif+xmp"))
    assert not image.getexif() and "xmp" not in image.info
