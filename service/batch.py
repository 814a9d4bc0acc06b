"""`python -m service remove-bg IMAGE... --out DIR`: cut out local files with the engine."""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
from pathlib import Path
from typing import TextIO

from . import memory
from .budget import DecodeBudget
from .engine import EngineError, Limits, cut_out_cost, remove_bg_edit, run
from .settings import Settings, SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m service remove-bg",
        description="Remove the background of local images with the same engine and options "
        "as the API. Writes DIR/<input name>.<png|webp|jpg>; a file that fails is reported "
        "and the others go on; the exit status is 1 if any failed.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", type=Path, help="input image files")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created if missing)")
    parser.add_argument("--bg-color", metavar="COLOR", help="background colour: hex (81d4fa, fff, 81d4fa77) or a CSS name")
    parser.add_argument("--bg-image", type=Path, metavar="FILE", help="background image file, scaled to cover and centred")
    parser.add_argument("--add-shadow", action="store_true", help="add a soft contact shadow under the subject")
    parser.add_argument("--no-semitransparency", action="store_true", help="hard alpha except a thin anti-aliased edge")
    parser.add_argument("--crop", action="store_true", help="crop to the subject")
    parser.add_argument("--crop-margin", metavar="MARGIN", help="margin around a crop: 30px, 10%%, or 2/4 CSS-style values")
    parser.add_argument("--scale", metavar="PERCENT", help="subject size relative to the canvas, 10%%..100%% or original")
    parser.add_argument("--position", metavar="POS", help="original, center, x%% or 'x%% y%%'")
    parser.add_argument("--roi", metavar="BOX", help="region of interest 'x1 y1 x2 y2' in px or %%")
    parser.add_argument("--channels", choices=("rgba", "alpha"), help="rgba (default) or alpha for the mask only")
    parser.add_argument("--format", choices=("png", "webp", "jpg", "auto"), help="output format (default png)")
    parser.add_argument("--max-megapixels", type=float, default=Limits.max_megapixels, help="input limit (default %(default)s)")
    return parser


def options_from_args(args: argparse.Namespace) -> dict[str, object]:
    """The API's option names for the flags that were given."""
    raw: dict[str, object] = {
        "bg_color": args.bg_color,
        "crop_margin": args.crop_margin,
        "scale": args.scale,
        "position": args.position,
        "roi": args.roi,
        "channels": args.channels,
        "format": args.format,
    }
    if args.add_shadow:
        raw["add_shadow"] = True
    if args.no_semitransparency:
        raw["semitransparency"] = False
    if args.crop:
        raw["crop"] = True
    return {key: value for key, value in raw.items() if value is not None}


class Progress:
    """A one-line text progress bar on stderr (redrawn in place on a terminal)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.live = stream.isatty()
        self.started = time.monotonic()

    def show(self, done: int, label: str) -> None:
        width = 30
        filled = width * done // self.total
        elapsed = time.monotonic() - self.started
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {elapsed:5.1f}s {label}"
        if self.live:
            self.stream.write("\r\x1b[K" + line)
            if done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def report(self, message: str) -> None:
        self.stream.write(("\r\x1b[K" if self.live else "") + message + "\n")
        self.stream.flush()


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    bg_image = None
    if args.bg_image is not None:
        if args.bg_color is not None:
            print("remove-bg: --bg-image and --bg-color cannot be combined", file=sys.stderr)
            return 2
        try:
            bg_image = args.bg_image.read_bytes()
        except OSError as exc:
            print(f"remove-bg: cannot read --bg-image: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        edit = remove_bg_edit(options_from_args(args), has_bg_image=bg_image is not None)
    except EngineError as exc:
        print(f"remove-bg: {exc.message}", file=sys.stderr)
        return 2
    limits = Limits(max_megapixels=args.max_megapixels)
    try:
        budget = DecodeBudget(Settings.from_env().decode_budget_megapixels, wait_seconds=0)
    except SettingsError as exc:
        print(f"remove-bg: {exc}", file=sys.stderr)
        return 2
    memory.tune_allocator()
    args.out.mkdir(parents=True, exist_ok=True)

    progress = Progress(len(args.images), sys.stderr)
    failed = 0
    for done, path in enumerate(args.images, start=1):
        try:
            data = path.read_bytes()
            cut = functools.partial(run, edit, data, background=bg_image, limits=limits)
            result = asyncio.run(budget.run(cut_out_cost(data, bg_image, limits), cut, bounded=False))
            (args.out / f"{path.stem}.{result.format}").write_bytes(result.data)
        except EngineError as exc:
            failed += 1
            progress.report(f"{path}: {exc.message}")
        except OSError as exc:
            failed += 1
            progress.report(f"{path}: {exc.strerror or exc}")
        progress.show(done, path.name)
    if failed:
        progress.report(f"{failed} of {len(args.images)} failed")
    return 1 if failed else 0
