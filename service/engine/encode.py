"""Encoding results and thumbnails."""

from __future__ import annotations

import functools
import io
import itertools
import os
import struct
import zipfile
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

from .errors import OptionError
from .icc import IccProfiles
from .pixels import row_blocks

# PNG: zlib level 1 with the run-length strategy, which suits the long runs of
# cleared background (smaller and faster than level 1's default strategy).
PNG_COMPRESS_LEVEL = 1
PNG_ZLIB_RLE = zlib.Z_RLE
# Pictures are compressed in one segment per core (at most one per this many
# bytes), in parallel: zlib releases the GIL, and a segment's lost history
# costs well under 1% of the file.
PNG_SEGMENT_BYTES = 1 << 19
# PNG `compression` -> (zlib level, strategy), all through the parallel Up-filter encoder. Measured on a
# 12 MP cut-out (bench/io.py) on 2 cores: "optimal" (level 6) is 29% smaller than "fast" in five times its
# time (1.4 s), and smaller than Pillow's encoder at level 6 (whose per-row filter choice does not pay on
# photos) in less than half its time; "best" (level 9) is 5% smaller again, for nine times "optimal"'s
# time, and still smaller and faster than Pillow at level 9. libvips' PNG writer (zlib-ng) gives the same
# sizes at levels 6 and 9 in up to half the time, but writes its own pHYs and XMP chunks. The RLE
# strategy ignores the level, so it is fast's alone.
PNG_COMPRESSION = {
    "fast": (PNG_COMPRESS_LEVEL, PNG_ZLIB_RLE),
    "optimal": (6, zlib.Z_DEFAULT_STRATEGY),
    "best": (9, zlib.Z_DEFAULT_STRATEGY),
}
WEBP_QUALITY = 90
JPEG_QUALITY = 90
AVIF_QUALITY = 90
TIFF_QUALITY = JPEG_QUALITY  # JPEG-compressed TIFF
# libavif's speed 0-10: 8 keeps a 12 MP picture to about a second on one core, the files a few percent larger than 6.
AVIF_SPEED = 8
# Lossless AVIF goes through libvips (pyvips): Pillow's AVIF encoder always converts to YCbCr, which
# rounds, so its "quality 100" is off by a few levels; libvips writes identity-matrix 4:4:4, which
# decodes to the very pixels. Effort 0 takes about 2 s on a 12 MP cut-out; 2 saves 12% in six times that.
AVIF_LOSSLESS_EFFORT = 0
# EXIF's default resolution (what a file without the tags means); libvips writes one into any EXIF block.
EXIF_DEFAULT_DPI = 72
# Pixel densities a JPEG's JFIF header can hold (16 bits); the other formats hold more.
MAX_DPI = 65535

_MIME = {
    "png": "image/png",
    "webp": "image/webp",
    "jpg": "image/jpeg",
    "avif": "image/avif",
    "tiff": "image/tiff",
    "zip": "application/zip",
}
ALIASES = {"jpeg": "jpg", "tif": "tiff"}
FORMATS = (*_MIME, "auto")
COLOR_SPACES = ("RGB", "CMYK")
_LOSSLESS_FORMATS = ("webp", "avif", "tiff")
# EXIF tags: IFD0 XResolution, YResolution, ResolutionUnit (2: inches), Copyright; the Exif IFD and its UserComment.
_X_RESOLUTION, _Y_RESOLUTION, _RESOLUTION_UNIT, _COPYRIGHT = 0x011A, 0x011B, 0x0128, 0x8298
_EXIF_IFD, _USER_COMMENT = 0x8769, 0x9286
_INCHES = 2
_METRES_PER_INCH = 0.0254
# remove.bg's ZIP result: the colour image and its matte, which a client joins itself.
ZIP_COLOR, ZIP_ALPHA = "color.jpg", "alpha.png"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow mode -> (bytes per pixel, PNG colour type), 8 bits per channel.
_PNG_MODES = {"L": (1, 0), "RGB": (3, 2), "RGBA": (4, 6)}
_FILTER_UP = 2
_ZLIB_CMF = 0x78  # deflate, 32 kB window
_ADLER_BASE = 65521


@dataclass(frozen=True)
class OutputSpec:
    """What file to write: a format and its options.

    `format` is png, webp, jpg (alias jpeg), avif, zip (remove.bg's pair of
    files: `color.jpg`, the picture's colour, opaque, and `alpha.png`, its
    alpha as greyscale), or `auto` (jpg when the picture is opaque, png
    otherwise; resolved by `resolved`), or tiff (alias tif). `quality`
    None means the format's default (WEBP_QUALITY, JPEG_QUALITY, also for
    zip's colour image, AVIF_QUALITY, TIFF_QUALITY; PNG has none and ignores
    one). `dpi` goes into PNG's pHYs chunk, JPEG's JFIF density, TIFF's
    XResolution/YResolution, and EXIF XResolution/YResolution (inches) in
    WebP and AVIF, which have no field of their own. `max_pixels` bounds the
    result's area: a bigger picture is scaled down to fit, keeping its
    aspect ratio (never up).

    `progressive` (jpg) writes a progressive scan, its Huffman tables
    optimized. `compression` (png) is fast, optimal or best (PNG_COMPRESSION).
    `lossless`: WebP and AVIF decode to the very pixels (WebP keeps the colour
    of transparent pixels too); TIFF is LZW-compressed when set, JPEG-compressed
    otherwise. `color_space` CMYK (jpg only) converts the picture, taken as
    sRGB, to `color_profile` (None: the bundled default; otherwise a name of
    icc.PROFILE_FILES, installed in the profile directory) and embeds that
    profile. `flatten_onto` is the RGB colour a picture with alpha is put on
    where the output cannot hold alpha (jpg, CMYK); None refuses such a
    picture. `check_output` says which combinations are valid. New formats add
    an encoder to `_ENCODERS`, new options a field with a default that keeps
    today's bytes, so callers that build a spec do not change.
    """

    format: str = "png"
    quality: int | None = None
    dpi: int | None = None  # pixel density written into the file; None writes none
    max_pixels: int | None = None
    progressive: bool = False  # JPEG: a progressive scan (Huffman tables optimized too)
    compression: str | None = None  # PNG zlib effort: fast | optimal | best; None: fast
    lossless: bool = False  # WEBP / AVIF pixel-exact; TIFF: LZW when True, JPEG-compressed otherwise
    color_space: str = "RGB"  # RGB | CMYK (jpg only)
    color_profile: str | None = None  # CMYK: None = the bundled profile, or a name from IccProfiles
    flatten_onto: tuple[int, int, int] | None = None  # alpha composited onto this where it cannot be kept

    def resolved(self, image: Image.Image) -> OutputSpec:
        """This spec with `auto` decided for `image`, and an alias (jpeg) as its format's own name."""
        if self.format in ALIASES:
            return replace(self, format=ALIASES[self.format])
        if self.format != "auto":
            return self
        return replace(self, format="jpg" if image.mode in ("RGB", "L") else "png")


def check_output(spec: OutputSpec, profiles: IccProfiles | None = None) -> None:
    """Raise OptionError, naming the field, unless every option of `spec` is valid and fits its format.

    Dialects call it before anything is queued; `encode` calls it too. A CMYK
    profile is loaded here (once per file), so a missing or unreadable one is
    refused up front.
    """
    fmt = ALIASES.get(spec.format, spec.format)
    if fmt not in FORMATS:
        raise OptionError("format", f"{spec.format!r} is not one of {', '.join(FORMATS)}")
    _check_int("quality", spec.quality, 1, 100)
    _check_int("dpi", spec.dpi, 1, MAX_DPI)
    _check_int("max_pixels", spec.max_pixels, 1, None)
    if not isinstance(spec.progressive, bool):
        raise OptionError("progressive", "must be true or false")
    if spec.progressive and fmt not in ("jpg", "auto"):
        raise OptionError("progressive", f"a progressive scan is for jpg, not {fmt}")
    if spec.compression is not None:
        if spec.compression not in PNG_COMPRESSION:
            raise OptionError("compression", f"{spec.compression!r} is not one of {', '.join(PNG_COMPRESSION)}")
        if fmt not in ("png", "auto"):
            raise OptionError("compression", f"compression is for png, not {fmt}")
    if not isinstance(spec.lossless, bool):
        raise OptionError("lossless", "must be true or false")
    if spec.lossless:
        if fmt not in _LOSSLESS_FORMATS:
            raise OptionError("lossless", f"lossless is for {', '.join(_LOSSLESS_FORMATS)}, not {fmt}")
        if spec.quality is not None:
            raise OptionError("quality", f"lossless {fmt} has no quality")
    if spec.color_space not in COLOR_SPACES:
        raise OptionError("color_space", f"{spec.color_space!r} is not one of {', '.join(COLOR_SPACES)}")
    if spec.color_space == "CMYK":
        if fmt != "jpg":
            raise OptionError("color_space", f"CMYK is for jpg only, not {fmt}")
        (profiles or IccProfiles(None)).profile(spec.color_profile)
    elif spec.color_profile is not None:
        raise OptionError("color_profile", "a colour profile is for the CMYK colour space only")
    if spec.flatten_onto is not None:
        color = spec.flatten_onto
        if (
            not isinstance(color, tuple)
            or len(color) != 3
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)
        ):
            raise OptionError("flatten_onto", f"must be three integers 0-255 (red, green, blue), not {color!r}")


def _check_int(name: str, value: object, low: int, high: int | None) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bounds = f"{low}-{high}" if high is not None else f"at least {low}"
        raise OptionError(name, f"must be an integer {bounds}, not {value!r}")


@dataclass(frozen=True)
class Metadata:
    """What of the photo's own metadata the file carries (`carried` picks it); empty: none.

    `xmp` is a whole XMP packet; `copyright` (EXIF IFD0 Copyright) and
    `user_comment` (Exif IFD UserComment, its raw bytes: an 8-byte character
    code, then the text) are written as EXIF.
    """

    icc: bytes | None = None
    xmp: bytes | None = None
    copyright: str | None = None
    user_comment: bytes | None = None


def carried(info: Mapping[Any, Any], keep: str, icc: bool) -> Metadata:
    """The metadata to write, from a decoded photo's `info`.

    `keep`: "none"; "xmp" (the photo's XMP packet, unchanged); "exif" (EXIF
    Copyright and UserComment only); "exif+xmp" (those two, also as an XMP
    packet of dc:rights and exif:UserComment, instead of the photo's XMP).
    `icc`: the photo's ICC profile, unchanged (the pixels are not converted).
    """
    profile = info.get("icc_profile") or None if icc else None
    if keep == "xmp":
        xmp = info.get("xmp")
        return Metadata(icc=profile, xmp=xmp.encode() if isinstance(xmp, str) else xmp or None)
    if keep not in ("exif", "exif+xmp") or not info.get("exif"):
        return Metadata(icc=profile)
    exif = Image.Exif()
    try:
        exif.load(info["exif"])
    except (SyntaxError, ValueError, OSError, struct.error):
        return Metadata(icc=profile)  # EXIF that cannot be read has nothing to keep
    owner = exif.get(_COPYRIGHT)
    owner = owner.decode("latin-1") if isinstance(owner, bytes) else owner
    comment = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    comment = comment.encode() if isinstance(comment, str) else comment
    packet = _xmp_packet(owner, _comment_text(comment)) if keep == "exif+xmp" and (owner or comment) else None
    return Metadata(icc=profile, xmp=packet, copyright=owner or None, user_comment=comment or None)


def _comment_text(comment: bytes | None) -> str | None:
    """A UserComment's text: its first 8 bytes name the character code (ASCII, UNICODE as UTF-16, or none)."""
    if not comment:
        return None
    code, body = comment[:8], comment[8:]
    if code.startswith(b"UNICODE"):
        # UCS-2 in the file's byte order, which the tag does not carry: text that is mostly
        # ASCII has its zero bytes second when little-endian.
        little = body[1:2] == b"\x00" and body[:1] != b"\x00"
        text = body.decode("utf-16-le" if little else "utf-16-be", "replace")
    else:
        text = body.decode("utf-8", "replace")
    return text.rstrip("\x00 ") or None


def _xmp_packet(owner: str | None, comment: str | None) -> bytes:
    """An XMP packet holding just dc:rights and exif:UserComment (language alternatives, x-default)."""

    def alt(tag: str, text: str | None) -> str:
        if text is None:
            return ""
        return f'<{tag}><rdf:Alt><rdf:li xml:lang="x-default">{escape(text)}</rdf:li></rdf:Alt></{tag}>'

    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:exif="http://ns.adobe.com/exif/1.0/">'
        f"{alt('dc:rights', owner)}{alt('exif:UserComment', comment)}"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _exif(spec: OutputSpec, metadata: Metadata, *, resolution: bool) -> Image.Exif | None:
    """An EXIF block with the kept tags, and the resolution too when the format has no density field of its own."""
    exif = Image.Exif()
    if resolution and spec.dpi is not None:
        exif[_X_RESOLUTION] = exif[_Y_RESOLUTION] = float(spec.dpi)
        exif[_RESOLUTION_UNIT] = _INCHES
    if metadata.copyright is not None:
        exif[_COPYRIGHT] = metadata.copyright
    if metadata.user_comment is not None:
        exif.get_ifd(_EXIF_IFD)[_USER_COMMENT] = metadata.user_comment
    return exif if len(exif) else None


@dataclass(frozen=True)
class Encoded:
    data: bytes
    mime: str
    format: str


@dataclass(frozen=True)
class _Segment:
    """Raw deflate output for some rows, and what the zlib trailer needs of them."""

    parts: list[bytes]
    adler: int
    length: int


def encode(
    image: Image.Image,
    spec: OutputSpec | str,
    metadata: Metadata | None = None,
    profiles: IccProfiles | None = None,
) -> Encoded:
    """Write `image` as `spec` asks (a bare format name means its default options).

    jpg holds no alpha: a picture with alpha is put on `spec.flatten_onto`,
    or refused (ValueError) without it. `profiles` are where a named CMYK
    profile is found. An invalid spec is an OptionError (`check_output`).
    """
    if isinstance(spec, str):
        spec = OutputSpec(spec)
    check_output(spec, profiles)
    spec = spec.resolved(image)
    metadata = metadata or Metadata()
    if spec.format == "jpg" and spec.flatten_onto is not None and _has_alpha(image):
        image = flattened(image, spec.flatten_onto)
    if spec.color_space == "CMYK":
        if _has_alpha(image):
            raise ValueError("a CMYK jpg cannot hold alpha: give flatten_onto")
        profile = (profiles or IccProfiles(None)).profile(spec.color_profile)
        # The pixels are converted, so the photo's own profile no longer describes them.
        image, metadata = profile.convert(image), replace(metadata, icc=profile.data)
    return Encoded(_ENCODERS[spec.format](image, spec, metadata), _MIME[spec.format], spec.format)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def flattened(image: Image.Image, color: tuple[int, int, int]) -> Image.Image:
    """`image` composited onto an opaque `color`, as RGB."""
    ground = Image.new("RGBA", image.size, (*color, 255))
    ground.alpha_composite(image if image.mode == "RGBA" else image.convert("RGBA"))
    return ground.convert("RGB")


def _png(image: Image.Image, spec: OutputSpec, metadata: Metadata) -> bytes:
    return encode_png(image, dpi=spec.dpi, metadata=metadata, compression=spec.compression)


def _pillow_metadata(spec: OutputSpec, metadata: Metadata, *, resolution: bool) -> dict[str, Any]:
    """Save options for what Pillow writes itself; only those set, so files without metadata keep today's bytes."""
    options: dict[str, Any] = {}
    exif = _exif(spec, metadata, resolution=resolution)
    if exif is not None:
        options["exif"] = exif
    if metadata.xmp is not None:
        options["xmp"] = metadata.xmp
    if metadata.icc is not None:
        options["icc_profile"] = metadata.icc
    return options


def _webp(image: Image.Image, spec: OutputSpec, metadata: Metadata) -> bytes:
    out = io.BytesIO()
    options = _pillow_metadata(spec, metadata, resolution=True)
    if spec.lossless:
        # `exact`: transparent pixels keep their colour, so the file decodes to the very pixels given.
        image.save(out, "WEBP", lossless=True, exact=True, method=4, **options)
        return out.getvalue()
    quality = spec.quality if spec.quality is not None else WEBP_QUALITY
    image.save(out, "WEBP", quality=quality, method=4, **options)
    return out.getvalue()


def _avif(image: Image.Image, spec: OutputSpec, metadata: Metadata) -> bytes:
    if spec.lossless:
        return _avif_lossless(image, spec, metadata)
    out = io.BytesIO()
    quality = spec.quality if spec.quality is not None else AVIF_QUALITY
    options = {"icc_profile": b"", **_pillow_metadata(spec, metadata, resolution=True)}  # not the picture's own info
    image.save(out, "AVIF", quality=quality, speed=AVIF_SPEED, **options)
    return out.getvalue()


@functools.cache
def _libvips() -> Any:
    """pyvips, loaded (libvips is tens of MB) only for the files that need it.

    Its operation cache is turned off: each picture is encoded once, and a
    cached operation would keep the picture's pixels alive after the call.
    """
    import pyvips

    pyvips.cache_set_max(0)
    return pyvips


def _avif_lossless(image: Image.Image, spec: OutputSpec, metadata: Metadata) -> bytes:
    """Identity-matrix 4:4:4 AVIF through libvips, which decodes to exactly these pixels (AVIF_LOSSLESS_EFFORT)."""
    pyvips = _libvips()
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    picture = pyvips.Image.new_from_array(np.asarray(image), interpretation="srgb")
    # libvips writes its own resolution into any EXIF block it writes, so it is given the one asked for.
    per_mm = (spec.dpi if spec.dpi is not None else EXIF_DEFAULT_DPI) / 25.4
    picture = picture.copy(xres=per_mm, yres=per_mm)
    keep = []
    exif = _exif(spec, metadata, resolution=True)
    if exif is not None:
        picture.set_type(pyvips.GValue.blob_type, "exif-data", exif.tobytes())
        keep.append("exif")
    if metadata.xmp is not None:
        picture.set_type(pyvips.GValue.blob_type, "xmp-data", metadata.xmp)
        keep.append("xmp")
    if metadata.icc is not None:
        picture.set_type(pyvips.GValue.blob_type, "icc-profile-data", metadata.icc)
        keep.append("icc")
    data = picture.heifsave_buffer(
        compression="av1", lossless=True, effort=AVIF_LOSSLESS_EFFORT, keep=":".join(keep) or "none"
    )
    return bytes(data)


def _jpg(image: Image.Image, spec: OutputSpec, metadata: Metadata) -> bytes:
    if image.mode not in ("RGB", "L", "CMYK"):
        raise ValueError(f"jpg cannot hold a {image.mode} image")
    out = io.BytesIO()
    options = _pillow_metadata(spec, metadata, resolution=False)
    if spec.dpi is not None:
        options["dpi"] = (spec.dpi, spec.dpi)
    quality = spec.quality if spec.quality is not None else JPEG_QUALITY
    # A CMYK picture is written the way Adobe's software does (an APP14 marker, inverted values),
    # which is what Pillow writes for CMYK and what readers expect of a CMYK JPEG.
    image.save(out, "JPEG", quality=quality, optimize=spec.progressive, progressive=spec.progressive, **options)
    return out.getvalue()


def _tiff(image: Image.Image, spec: OutputSpec, metadata: Metadata) -> bytes:
    """LZW with horizontal differencing (a third of plain LZW's size on photos) or JPEG; alpha is kept.

    JPEG-compressed TIFF is stored as RGB, not YCbCr: Pillow's libtiff writer
    cannot write YCbCr, and YCbCr would not hold the alpha. Such files are
    several times larger than a YCbCr one (bench/io.py) for the same quality.
    """
    out = io.BytesIO()
    options = _pillow_metadata(spec, metadata, resolution=False)
    if spec.dpi is not None:
        options["dpi"] = (spec.dpi, spec.dpi)
    if spec.lossless:
        image.save(out, "TIFF", compression="tiff_lzw", tiffinfo={_TIFF_PREDICTOR: _HORIZONTAL}, **options)
    else:
        quality = spec.quality if spec.quality is not None else TIFF_QUALITY
        image.save(out, "TIFF", compression="jpeg", quality=quality, **options)
    return out.getvalue()


def _zip(image: Image.Image, spec: OutputSpec, metadata: Metadata) -> bytes:
    """color.jpg (the colour channels; a greyscale picture stays grey) and alpha.png (opaque without alpha)."""
    color = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    alpha = image.getchannel("A") if image.mode == "RGBA" else Image.new("L", image.size, 255)
    out = io.BytesIO()
    # Stored, not deflated: both members are compressed already. A fixed date keeps the bytes reproducible.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo(ZIP_COLOR, ZIP_DATE), _jpg(color, spec, metadata))
        archive.writestr(zipfile.ZipInfo(ZIP_ALPHA, ZIP_DATE), encode_png(alpha))
    return out.getvalue()


_ENCODERS = {"png": _png, "webp": _webp, "jpg": _jpg, "avif": _avif, "tiff": _tiff, "zip": _zip}
_TIFF_PREDICTOR, _HORIZONTAL = 317, 2


def _png_metadata(dpi: int | None, metadata: Metadata) -> list[bytes]:
    """The chunks that go before the pixel data: iCCP, pHYs, eXIf, and iTXt for XMP."""
    chunks: list[bytes] = []
    if metadata.icc is not None:
        chunks += _chunk(b"iCCP", [b"ICC Profile\x00\x00", zlib.compress(metadata.icc)])
    if dpi is not None:
        per_metre = round(dpi / _METRES_PER_INCH)
        chunks += _chunk(b"pHYs", [struct.pack(">IIB", per_metre, per_metre, 1)])
    exif = _exif(OutputSpec(), metadata, resolution=False)
    if exif is not None:
        chunks += _chunk(b"eXIf", [exif.tobytes()[6:]])  # the TIFF structure, without JPEG's "Exif\0\0"
    if metadata.xmp is not None:
        chunks += _chunk(b"iTXt", [b"XML:com.adobe.xmp\x00\x00\x00\x00\x00", metadata.xmp])
    return chunks


def encode_png(
    image: Image.Image, *, dpi: int | None = None, metadata: Metadata | None = None, compression: str | None = None
) -> bytes:
    """An 8-bit L, RGB or RGBA image as PNG, every row with the Up filter, at a PNG_COMPRESSION effort (None: fast).

    Pillow's encoder tries four filters on every row in scalar C before
    compressing, which costs more than the compression itself at level 1
    (bench/engine.py compares the two); one numpy subtraction per block of
    rows gives files within about a fifth of its size in less than half the
    time. Big pictures are compressed in parallel segments, each ending on a
    byte boundary (a sync flush), so that their raw deflate streams join
    into one. Other modes go through Pillow.
    """
    extra = _png_metadata(dpi, metadata or Metadata())
    level, strategy = PNG_COMPRESSION[compression or "fast"]
    if image.mode not in _PNG_MODES:
        out = io.BytesIO()
        image.save(out, "PNG", compress_level=level, compress_type=strategy)
        data = out.getvalue()
        return data[:33] + b"".join(extra) + data[33:]  # after the signature and IHDR
    channels, colour_type = _PNG_MODES[image.mode]
    width, height = image.size
    count = max(1, min(os.cpu_count() or 1, height, width * channels * height // PNG_SEGMENT_BYTES))
    bounds = [height * index // count for index in range(count + 1)]
    spans = list(itertools.pairwise(bounds))
    if count == 1:
        segments = [_deflate_rows(image, 0, height, level, strategy)]
    else:
        with ThreadPoolExecutor(count, thread_name_prefix="png") as pool:
            segments = list(pool.map(lambda span: _deflate_rows(image, span[0], span[1], level, strategy), spans))
    checksum = segments[0].adler
    for segment in segments[1:]:
        checksum = _adler32_combine(checksum, segment.adler, segment.length)
    idat = [_zlib_header(level), *(part for segment in segments for part in segment.parts), struct.pack(">I", checksum)]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    chunks = [*_chunk(b"IHDR", [header]), *extra, *_chunk(b"IDAT", idat), *_chunk(b"IEND", [])]
    return b"".join([_PNG_SIGNATURE, *chunks])


def _zlib_header(level: int) -> bytes:
    """The two bytes before raw deflate data: a 32 kB window, the level's FLEVEL, and the check bits."""
    flevel = 0 if level <= 1 else 1 if level <= 5 else 2 if level == 6 else 3
    header = (_ZLIB_CMF << 8) | (flevel << 6)
    return struct.pack(">H", header + (31 - header % 31) % 31)


def _deflate_rows(image: Image.Image, start: int, stop: int, level: int, strategy: int) -> _Segment:
    """Up-filter and deflate rows start..stop, block by block (no full-size copy, each block still in cache)."""
    width, height = image.size
    stride = width * _PNG_MODES[image.mode][0]
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
    if start == 0:
        above = np.zeros(stride, dtype=np.uint8)  # the row above the first is zeros (PNG spec)
    else:
        above = np.frombuffer(image.crop((0, start - 1, width, start)).tobytes(), dtype=np.uint8)
    parts, adler, length = [], zlib.adler32(b""), 0
    for _, pixels in row_blocks(image, start=start, stop=stop):
        block = pixels.reshape(len(pixels), stride)
        filtered = np.empty((len(block), stride + 1), dtype=np.uint8)
        filtered[:, 0] = _FILTER_UP
        np.subtract(block[0], above, out=filtered[0, 1:])
        np.subtract(block[1:], block[:-1], out=filtered[1:, 1:])
        above = block[-1]
        adler = zlib.adler32(filtered.data, adler)
        length += filtered.size
        parts.append(compressor.compress(filtered.data))
    parts.append(compressor.flush(zlib.Z_FINISH if stop == height else zlib.Z_SYNC_FLUSH))
    return _Segment(parts, adler, length)


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine)."""
    rem = second_length % _ADLER_BASE
    low1, high1 = first & 0xFFFF, first >> 16
    low2, high2 = second & 0xFFFF, second >> 16
    low = (low1 + low2 - 1) % _ADLER_BASE
    high = (high1 + high2 + rem * (low1 - 1)) % _ADLER_BASE
    return low | high << 16


def _chunk(kind: bytes, parts: list[bytes]) -> list[bytes]:
    """A PNG chunk as pieces to join (the compressed data is not copied twice)."""
    crc = zlib.crc32(kind)
    for part in parts:
        crc = zlib.crc32(part, crc)
    length = sum(len(part) for part in parts)
    return [struct.pack(">I", length), kind, *parts, struct.pack(">I", crc)]
