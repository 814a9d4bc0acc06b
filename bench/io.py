"""Image I/O benchmark: encode time and size per output format and option, ours vs Pillow's defaults vs libvips.

    python bench/io.py [--quick] [--out PATH]

The input is a 12 MP cut-out made from a sample photo and its stored matte
(fixtures/photos/coffee.png, fixtures/masks/coffee.png, both resized with
LANCZOS): RGBA with real edges and a cleared background, what the engine
writes. JPEG rows (which hold no alpha) get it flattened onto white first, the
same RGB picture for all three encoders. For each format and option, one
process times, back to back:

- ours: `service.engine.encode.encode` with that `OutputSpec`;
- Pillow's defaults: `Image.save` with the format alone (PNG zlib level 6 with
  its adaptive filters, JPEG quality 75 baseline, WebP quality 80, AVIF
  quality 75 speed 6, TIFF uncompressed), the same figure on each row of a format;
- libvips (pyvips, when installed) with the nearest options: pngsave
  compression 1/6/9 with the Up filter (ours), jpegsave Q with interlace + optimize_coding for
  progressive, the bundled CMYK profile through icc_transform for CMYK,
  webpsave Q or lossless (exact), heifsave AV1 Q or lossless, tiffsave LZW with
  horizontal predictor or JPEG Q (libvips drops the alpha there and writes
  YCbCr; ours keeps the alpha, in RGB, which Pillow's libtiff writer needs).

Each figure is the median of `--repeats` runs (1 with --quick, which also
uses a 2 MP picture). Ours writes PNG on every core, libvips runs its own
thread pool, Pillow one thread: the machine's cores are in the header.
Prints a markdown table and writes it to bench/results/io.md.
"""

from __future__ import annotations

import argparse
import functools
import io
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from service.engine.encode import OutputSpec, encode, flattened  # noqa: E402
from service.engine.icc import DEFAULT_PROFILE_PATH  # noqa: E402

try:
    import pyvips
except ImportError:  # the comparison is left out, not the benchmark
    pyvips = None

RESULTS = ROOT / "bench" / "results" / "io.md"
PHOTO = ROOT / "fixtures" / "photos" / "coffee.png"
MATTE = ROOT / "fixtures" / "masks" / "coffee.png"
CORES = os.cpu_count() or 1
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Case:
    """One row: our spec, and libvips' nearest call (None: no counterpart)."""

    label: str
    spec: OutputSpec
    vips: Callable[[object], bytes] | None


def cut_out(megapixels: float) -> Image.Image:
    photo = Image.open(PHOTO).convert("RGB")
    scale = math.sqrt(megapixels * 1e6 / (photo.width * photo.height))
    size = (round(photo.width * scale), round(photo.height * scale))
    picture = photo.resize(size, Image.Resampling.LANCZOS)
    picture.putalpha(Image.open(MATTE).convert("L").resize(size, Image.Resampling.LANCZOS))
    return picture


def cases() -> list[Case]:
    profile = str(DEFAULT_PROFILE_PATH)

    def cmyk_jpeg(image: object) -> bytes:
        converted = image.icc_transform(profile, intent="relative", black_point_compensation=True)  # type: ignore[attr-defined]
        return converted.jpegsave_buffer(Q=85, profile=profile)

    return [
        Case(
            "png fast", OutputSpec("png", compression="fast"), lambda im: im.pngsave_buffer(compression=1, filter="up")
        ),
        Case(
            "png optimal",
            OutputSpec("png", compression="optimal"),
            lambda im: im.pngsave_buffer(compression=6, filter="up"),
        ),
        Case(
            "png best", OutputSpec("png", compression="best"), lambda im: im.pngsave_buffer(compression=9, filter="up")
        ),
        Case("jpg q85 baseline", OutputSpec("jpg", quality=85), lambda im: im.jpegsave_buffer(Q=85)),
        Case(
            "jpg q85 progressive",
            OutputSpec("jpg", quality=85, progressive=True),
            lambda im: im.jpegsave_buffer(Q=85, interlace=True, optimize_coding=True),
        ),
        Case("jpg q85 CMYK (bundled profile)", OutputSpec("jpg", quality=85, color_space="CMYK"), cmyk_jpeg),
        Case("webp q75", OutputSpec("webp", quality=75), lambda im: im.webpsave_buffer(Q=75, effort=4)),
        Case(
            "webp lossless",
            OutputSpec("webp", lossless=True),
            lambda im: im.webpsave_buffer(lossless=True, exact=True, effort=4),
        ),
        # libvips' effort 1 is libaom's speed 8, which ours uses for lossy AVIF.
        Case(
            "avif q50", OutputSpec("avif", quality=50), lambda im: im.heifsave_buffer(Q=50, compression="av1", effort=1)
        ),
        Case(
            "avif lossless",
            OutputSpec("avif", lossless=True),
            lambda im: im.heifsave_buffer(lossless=True, compression="av1", effort=0),
        ),
        Case(
            "tiff lzw",
            OutputSpec("tiff", lossless=True),
            lambda im: im.tiffsave_buffer(compression="lzw", predictor="horizontal"),
        ),
        Case("tiff jpeg q75", OutputSpec("tiff", quality=75), lambda im: im.tiffsave_buffer(compression="jpeg", Q=75)),
    ]


PILLOW_DEFAULT = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "avif": "AVIF", "tiff": "TIFF"}


def timed(repeats: int, work: Callable[[], bytes]) -> tuple[float, int]:
    """Median seconds of `repeats` runs, and the size of what the last one wrote."""
    runs, size = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        size = len(work())
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), size


def ours_bytes(image: Image.Image, spec: OutputSpec) -> bytes:
    return encode(image, spec).data


def pillow_default(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, PILLOW_DEFAULT[fmt])
    return out.getvalue()


def encoding_section(megapixels: float, repeats: int) -> str:
    """The encoding table: one row per format and option."""
    rgba = cut_out(megapixels)
    rgb = flattened(rgba, WHITE)
    pictures = {"RGBA": rgba, "RGB": rgb}
    vips_pictures = {}
    if pyvips is not None:
        for mode, picture in pictures.items():
            vips_pictures[mode] = pyvips.Image.new_from_memory(
                picture.tobytes(), picture.width, picture.height, len(mode), "uchar"
            ).copy(interpretation="srgb")
    defaults: dict[str, tuple[float, int]] = {}
    rows = []
    for case in cases():
        fmt = case.spec.format
        mode = "RGB" if fmt == "jpg" else "RGBA"
        picture = pictures[mode]
        ours = timed(repeats, functools.partial(ours_bytes, picture, case.spec))
        if fmt not in defaults:
            defaults[fmt] = timed(repeats, functools.partial(pillow_default, picture, fmt))
        theirs = None
        if case.vips is not None and mode in vips_pictures:
            theirs = timed(repeats, functools.partial(case.vips, vips_pictures[mode]))
        rows.append((case.label, mode, ours, defaults[fmt], theirs))
        print(f"{case.label}: ours {ours[0]:.2f}s {ours[1] / 1e6:.2f} MB", file=sys.stderr, flush=True)

    def cell(figure: tuple[float, int] | None) -> str:
        return "-" if figure is None else f"{figure[0]:.2f} s, {figure[1] / 1e6:.2f} MB"

    def ratio(ours: tuple[float, int], other: tuple[float, int] | None) -> str:
        return "-" if other is None else f"{ours[0] / other[0]:.2f} / {ours[1] / other[1]:.2f}"

    lines = [
        "| format, option | input | ours | Pillow defaults | libvips, nearest options | ours / Pillow (time / size) "
        "| ours / libvips (time / size) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, mode, ours, default, theirs in rows:
        lines.append(
            f"| {label} | {mode} | {cell(ours)} | {cell(default)} | {cell(theirs)} | {ratio(ours, default)} "
            f"| {ratio(ours, theirs)} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 2 MP picture, one run per figure: checks the script")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the markdown")
    args = parser.parse_args(argv)
    megapixels, repeats = (2.0, 1) if args.quick else (12.0, args.repeats)
    began, load_start = time.perf_counter(), os.getloadavg()[0]
    table = encoding_section(megapixels, repeats)
    elapsed, load_end = time.perf_counter() - began, os.getloadavg()[0]
    libvips = (
        f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}" if pyvips else "libvips not installed"
    )
    text = (
        "# Image I/O benchmark\n\n## Encoding\n\n"
        f"`python bench/io.py{' --quick' if args.quick else ''}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{CORES} cores, Pillow {Image.__version__}, {libvips}; a {megapixels:g} MP cut-out of "
        f"{PHOTO.name} (RGBA; flattened onto white, RGB, for JPEG); median of {repeats} run(s) per figure; "
        f"took {elapsed / 60:.1f} min; 1-min load average {load_start:.1f} at start, {load_end:.1f} at end "
        "(shared machine: noise).\n\n"
        f"{table}\n"
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
