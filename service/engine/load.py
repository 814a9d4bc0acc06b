"""Decoding bytes into upright images, with limits checked before pixels are decoded."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps

from .errors import ImageRejected

SUPPORTED = "JPEG, PNG, WebP, GIF, BMP, TIFF, AVIF, HEIC"

# Pillow plugin names per sniffed format: opening with `formats=` stops Pillow
# from guessing (a file is what its bytes say, never what its name says).
_PILLOW_FORMATS = {
    "jpeg": ("JPEG", "MPO"),
    "png": ("PNG",),
    "webp": ("WEBP",),
    "gif": ("GIF",),
    "bmp": ("BMP",),
    "tiff": ("TIFF",),
    "avif": ("AVIF",),
    "heic": ("HEIF",),
}

MIME = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "avif": "image/avif",
    "heic": "image/heic",
}

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

_heif_lock = threading.Lock()
_heif_registered = False


@dataclass(frozen=True)
class Limits:
    """Input limits (SPEC 6.3); the service builds one from its settings."""

    max_megapixels: float = 50.0
    max_side: int = 12000


@dataclass(frozen=True)
class ImageInfo:
    """What an upload is, learnt from its bytes."""

    format: str
    mime: str
    width: int
    height: int
    has_alpha: bool


def sniff_format(data: bytes) -> str | None:
    """Name the container from its magic bytes, or None when it is none we accept."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        box_size = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {
            head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)
        }
        # AVIF files often also list mif1, so the AVIF brands must win.
        if brands & _AVIF_BRANDS:
            return "avif"
        if brands & _HEIC_BRANDS:
            return "heic"
    return None


def _register_heif() -> None:
    # Registration mutates Pillow's plugin table, so do it once, lazily, on the
    # first HEIC rather than as an import side effect.
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            from pillow_heif import register_heif_opener

            register_heif_opener()
            _heif_registered = True


def open_image(data: bytes, limits: Limits) -> tuple[str, Image.Image]:
    """Open (not decode) the bytes and check the header against the limits."""
    if not data:
        raise ImageRejected("file is empty")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected(f"not a supported image format ({SUPPORTED})", "format")
    if fmt == "heic":
        _register_heif()
    try:
        im = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"image is a decompression bomb: {exc}") from exc
    except Exception as exc:  # Pillow's plugins raise many types for bad headers.
        raise ImageRejected(f"file is truncated or corrupt ({fmt}: {exc})") from exc
    check_size(im.size, limits)
    return fmt, im


def check_size(size: tuple[int, int], limits: Limits) -> None:
    """Reject images over the limits, with the numbers in the message."""
    width, height = size
    if width < 1 or height < 1:
        raise ImageRejected(f"image has no pixels ({width}x{height})")
    if max(width, height) > limits.max_side:
        raise ImageRejected(f"image is {width}x{height} pixels; the limit is {limits.max_side} per side", "too_large")
    megapixels = width * height / 1_000_000
    if megapixels > limits.max_megapixels:
        raise ImageRejected(f"image is {megapixels:.1f} megapixels; the limit is {limits.max_megapixels:g}", "too_large")


def has_alpha(im: Image.Image) -> bool:
    """True when the image carries transparency (alpha band or transparent palette entry)."""
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def load_pixels(im: Image.Image, fmt: str) -> Image.Image:
    """Decode fully, turning every decoder failure into ImageRejected."""
    try:
        # LOAD_TRUNCATED_IMAGES is a process-wide switch that someone may have
        # flipped; a truncated upload must still fail here.
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            raise ImageRejected("Pillow is set to accept truncated images; refusing to guess")
        im.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"image is a decompression bomb: {exc}") from exc
    except Exception as exc:
        raise ImageRejected(f"file is truncated or corrupt ({fmt}: {exc})") from exc
    return im


def inspect_image(data: bytes, limits: Limits) -> ImageInfo:
    """Identify an upload and prove it decodes, strictly and cheaply (header check first)."""
    fmt, im = open_image(data, limits)
    width, height = im.size
    transparent = has_alpha(im)
    if fmt == "png":
        # Streaming the pixel data through zlib proves as much as decoding it,
        # in a bounded buffer instead of 4 bytes a pixel.
        exif = verify_png(data)
        if exif is not None:
            im.info["exif"] = exif
        # Image.getexif, not PngImageFile's, which would decode the pixels to find EXIF.
        orientation = Image.Image.getexif(im).get(0x0112, 1)
    else:
        if fmt == "jpeg":
            # A 1/8-scale decode still walks every entropy-coded segment, so it
            # finds truncation at a fraction of the cost of a full decode.
            im.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        load_pixels(im, fmt)
        orientation = im.getexif().get(0x0112, 1)
    # Read after decoding: PNG keeps EXIF past the pixel data. Orientations
    # 5-8 turn the picture a quarter, swapping the sides the client sees.
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ImageInfo(fmt, MIME[fmt], width, height, transparent)


# PNG channels per colour type, and Adam7's passes as (x0, y0, dx, dy).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_INFLATE_BLOCK = 1 << 20


def verify_png(data: bytes) -> bytes | None:
    """Prove a PNG's pixel data is whole without holding it; return its EXIF (eXIf chunk), if any.

    Checks what a decode would find: chunk lengths and CRCs, an IDAT stream
    that inflates to exactly the rows IHDR promises, and a valid filter byte
    on each row. ImageRejected otherwise.
    """
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if colour not in _PNG_CHANNELS or interlace not in (0, 1):
        raise ImageRejected(f"file is truncated or corrupt (png: colour type {colour}, interlace {interlace})")
    rows = list(_png_rows(width, height, depth * _PNG_CHANNELS[colour], interlaced=interlace == 1))
    inflater = zlib.decompressobj()
    done, left, exif = 0, 0, None  # rows begun, and bytes still due in the last of them

    def take(out: bytes) -> None:
        nonlocal done, left
        pos = 0
        while pos < len(out) and (left or done < len(rows)):  # bytes past the last row are ignored, as decoders do
            if left == 0:
                if out[pos] > 4:
                    raise ImageRejected(f"file is truncated or corrupt (png: row filter {out[pos]})")
                left, done = rows[done], done + 1
            step = min(left, len(out) - pos)
            left, pos = left - step, pos + step

    def complete() -> bool:
        return left == 0 and done == len(rows)

    for kind, body in _png_chunks(data, until_pixels_complete=complete):
        if kind == b"eXIf":
            exif = b"Exif\x00\x00" + bytes(body)
        elif kind == b"IDAT" and not complete():
            pending: bytes | memoryview = body
            try:
                while True:
                    out = inflater.decompress(pending, _INFLATE_BLOCK)
                    take(out)
                    pending = inflater.unconsumed_tail
                    if complete() or inflater.eof or (not pending and len(out) < _INFLATE_BLOCK):
                        break
            except zlib.error as exc:
                raise ImageRejected(f"file is truncated or corrupt (png: {exc})") from None
    if not complete():
        raise ImageRejected("file is truncated or corrupt (png: the pixel data ends early)")
    return exif


def _png_rows(width: int, height: int, bits_per_pixel: int, *, interlaced: bool) -> Iterator[int]:
    """The length of each filtered row (filter byte included), in the order they are stored."""
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    for x0, y0, dx, dy in passes:
        pass_width, pass_height = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if pass_width > 0 and pass_height > 0:
            row = 1 + (pass_width * bits_per_pixel + 7) // 8
            for _ in range(pass_height):
                yield row


def _png_chunks(data: bytes, until_pixels_complete: Callable[[], bool]) -> Iterator[tuple[bytes, memoryview]]:
    """(type, body) of each chunk after the signature, up to IEND.

    A chunk cut short or with a bad CRC is an ImageRejected while the pixel
    data is not yet complete; after it, the walk just ends (decoders ignore
    a damaged tail).
    """
    pos = 8
    while True:
        head = data[pos : pos + 8]
        length, kind = struct.unpack(">I4s", head) if len(head) == 8 else (0, b"")
        end = pos + 8 + length
        whole = len(head) == 8 and end + 4 <= len(data)
        if whole and kind in (b"IDAT", b"eXIf"):
            whole = zlib.crc32(data[pos + 4 : end]) == struct.unpack(">I", data[end : end + 4])[0]
        if not whole:
            if until_pixels_complete():
                return
            raise ImageRejected("file is truncated or corrupt (png: a chunk is cut short or fails its CRC)")
        if kind == b"IEND":
            return
        yield kind, memoryview(data)[pos + 8 : end]
        pos = end + 4


def decode(data: bytes, limits: Limits) -> tuple[str, Image.Image]:
    """Bytes -> upright image in RGB, or RGBA when the source has transparency."""
    fmt, im = open_image(data, limits)
    return fmt, normalise_mode(upright(load_pixels(im, fmt)))


def decode_for_model(data: bytes, limits: Limits, at_least: int) -> Image.Image | None:
    """A JPEG decoded at reduced DCT scale so each side stays >= `at_least`, or None.

    Returns None when no reduction is possible; the caller then shrinks the
    full decode instead.
    """
    fmt, im = open_image(data, limits)
    if fmt != "jpeg" or min(im.size) < 2 * at_least:
        return None
    im.draft("RGB", (at_least, at_least))
    return normalise_mode(upright(load_pixels(im, fmt)))


def upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation so the pixels are the way the photo is viewed; `im` itself, turned in place.

    In place, because a photo that is upright already (most are) would
    otherwise be copied whole: 48 MB of fresh memory at 12 MP.
    """
    ImageOps.exif_transpose(im, in_place=True)
    return im


def normalise_mode(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB, or RGBA when the source has transparency."""
    if im.mode in ("RGB", "RGBA"):
        return im
    if has_alpha(im):
        return im.convert("RGBA")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: Pillow's convert("L") clips at 255 rather than
        # scaling, so scale the full range down explicitly.
        return _sixteen_bit_to_rgb(im)
    return im.convert("RGB")


def _sixteen_bit_to_rgb(im: Image.Image) -> Image.Image:
    values = np.asarray(im.convert("I"), dtype=np.int64)
    # "I;16*" is 16-bit by definition; plain "I" says nothing of its range.
    wide = im.mode.startswith("I;16") or values.max(initial=0) > 255
    peak = 65535 if wide else 255
    grey = np.clip(values * 255 // peak, 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")
