"""Image I/O benchmark: encoding per format and option, and a batch from S3 to S3 through Claid's API.

    python bench/io.py [--part encode|batch|all] [--quick] [--images N] [--repeats N] [--out PATH]

**Encoding.** The input is a 12 MP cut-out made from a sample photo and its stored matte
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

**Batch.** `--images` objects (50; 10 with --quick), the 4 sample photos
resized to 1 MP as JPEG q92 and copied round-robin, are put in a bucket of
moto's S3 server on 127.0.0.1 (IAM signatures checked,
tests/storage_servers.py). `python -m service` runs with a temp data dir, two
s3 storages (`in`, `out`, one bucket each) and
CUTOUT_EGRESS_ALLOW=127.0.0.1/32. One `POST /v1/image/edit/batch` (input
`storage://in/`, background removed, PNG into `storage://out/`) is timed from
the POST to the first GET that answers DONE (polled every 0.5 s, every 20 ms
once one item is left), after one synchronous edit from the same storage has
warmed the server up; then the answer's results and errors and every object in
the out bucket are checked. The engine alone is `engine.run` with the same
edit (parsed from the same body by the Claid dialect), one image after the
other in a fresh process with the service's segmenter, threads, limits and
profiles, after one warm-up run; it runs before and after the batch, and the
batch is compared with their mean, so that a drift in the machine's load falls
on both sides. Target: the batch at >= 0.9x the engine.

Prints markdown and writes it to bench/results/io.md; a run of one part
replaces that part's section and keeps the other.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
TITLE = "# Image I/O benchmark"
ENCODING = "Encoding"
BATCH = "Batch: S3 to S3 through Claid's batch API vs the engine alone"
BATCH_TARGET = 0.9
# The batch request; the engine alone runs the edit the Claid dialect makes of it.
BATCH_BODY: dict[str, Any] = {
    "input": "storage://in/",
    "operations": {"background": {"remove": True}},
    "output": {"destination": "storage://out/", "format": "png"},
}
# Seconds between GETs: slow while items remain (each GET costs the server a little CPU), fast for the last.
POLL_SECONDS = (0.5, 0.02)


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


# ---- batch: S3 to S3 through the service vs the engine alone --------------------------------------


def batch_edit() -> Any:
    """The engine edit the Claid dialect makes of BATCH_BODY."""
    from service.dialects.claid.params import parse_edit

    return parse_edit(BATCH_BODY, folder=True).edit


def engine_worker(count: int, files: list[str]) -> dict[str, float]:
    """In a fresh process: `engine.run` with the batch's edit over `count` images, one after the other."""
    from service import engine
    from service.settings import Settings

    settings = Settings.from_env({})
    segmenter = engine.U2NetSegmenter(settings.model_path or None, threads=settings.threads_per_job)
    limits = engine.Limits(max_megapixels=settings.max_megapixels, max_side=settings.max_side)
    profiles = engine.IccProfiles(settings.icc_dir)
    edit = batch_edit()
    datas = [Path(name).read_bytes() for name in files]
    engine.run(edit, datas[0], segmenter=segmenter, limits=limits, profiles=profiles)  # session and first-run costs
    started = time.perf_counter()
    for index in range(count):
        engine.run(edit, datas[index % len(datas)], segmenter=segmenter, limits=limits, profiles=profiles)
    return {"seconds": time.perf_counter() - started}


def engine_alone(files: list[Path], count: int) -> float:
    """Seconds for `count` images through the engine alone, in a fresh process of this script."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(count), *map(str, files)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"engine worker failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


@dataclass(frozen=True)
class BatchRun:
    images: int
    engine_seconds: tuple[float, float]  # before and after the batch
    batch_seconds: float
    workers: int
    threads: int

    def rate(self, seconds: float) -> float:
        return self.images / seconds

    @property
    def engine_rate(self) -> float:
        return self.rate(statistics.mean(self.engine_seconds))

    @property
    def batch_rate(self) -> float:
        return self.rate(self.batch_seconds)


def object_name(index: int) -> str:
    return f"img-{index:02d}.jpg"


def run_batch(base: str, headers: dict[str, str], timeout: float = 1800.0) -> tuple[float, dict[str, Any]]:
    """POST the batch, poll its GET until it ends: seconds from the POST to the first DONE, and that answer."""
    import httpx

    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        warm = dict(BATCH_BODY, input=f"storage://in/{object_name(0)}", output={"format": "png"})
        response = client.post("/v1/image/edit", json=warm)  # model, S3 client and first-run costs
        if response.status_code != 200:
            raise SystemExit(f"warm-up edit: {response.status_code} {response.text}")
        started = time.perf_counter()
        submitted = client.post("/v1/image/edit/batch", json=BATCH_BODY)
        if submitted.status_code != 200:
            raise SystemExit(f"batch: {submitted.status_code} {submitted.text}")
        path = f"/v1/image/edit/batch/{submitted.json()['data']['id']}"
        deadline = time.monotonic() + timeout
        while True:
            data = client.get(path).json()["data"]
            if data["status"] in ("DONE", "ERROR"):
                return time.perf_counter() - started, data
            if time.monotonic() > deadline:
                raise SystemExit(f"batch not done after {timeout:.0f} s: {data['status']}")
            ended = len(data["results"]) + len(data["errors"])
            time.sleep(POLL_SECONDS[1] if ended >= data["total"] - 1 else POLL_SECONDS[0])


def check_batch(answer: dict[str, Any], s3: Any, bucket: str, count: int) -> None:
    """All `count` items succeeded, and the out bucket holds each one's PNG with alpha, under its own name."""
    problems = []
    if answer["status"] != "DONE" or answer["errors"] or answer["total"] != count or len(answer["results"]) != count:
        problems.append(f"status {answer['status']}, total {answer['total']}, {len(answer['results'])} results, "
                        f"errors {answer['errors'][:3]}")  # fmt: skip
    client = s3.client()
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", ()))
    expected = sorted(object_name(index).replace(".jpg", ".png") for index in range(count))
    if keys != expected:
        problems.append(f"out bucket holds {len(keys)} objects, not the {count} expected: {keys[:5]}...")
    for key in keys:
        with Image.open(io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read())) as picture:
            if picture.format != "PNG" or picture.mode != "RGBA":
                problems.append(f"{key} is {picture.format} {picture.mode}, not an RGBA PNG")
    if problems:
        raise SystemExit("batch results:\n" + "\n".join(problems))


def batch_figures(count: int) -> BatchRun:
    """The batch through `python -m service` on a moto S3 server, bracketed by the engine alone."""
    import httpx

    from bench.service import HOST, Server, log, photos_at
    from service.settings import Settings
    from tests.storage_servers import serve, start_s3

    settings = Settings.from_env({})
    photos = photos_at(1.0)
    key = "claid_bench_" + os.urandom(8).hex()
    headers = {"Authorization": f"Bearer {key}"}
    with tempfile.TemporaryDirectory(prefix="cutout-bench-") as temp, contextlib.contextmanager(serve)(start_s3) as s3:
        folder = Path(temp)
        files = []
        for photo in photos:
            files.append(folder / photo.name)
            files[-1].write_bytes(photo.data)
        source, target = s3.bucket(), s3.bucket()
        client = s3.client()
        for index in range(count):
            client.put_object(Bucket=source, Key=object_name(index), Body=photos[index % len(photos)].data,
                              ContentType="image/jpeg")  # fmt: skip
        log(f"batch: {count} images in s3://{source} on {s3.endpoint}; the engine alone")
        before = engine_alone(files, count)
        log(f"   engine alone {count / before:.2f} img/s")
        env = {"CUTOUT_EGRESS_ALLOW": f"{HOST}/32", "CUTOUT_CLAID_API_KEY": key}
        with Server(folder, "batch", **env) as server:
            for name, bucket in (("in", source), ("out", target)):
                made = httpx.post(f"{server.base}/v1/storage/storages", headers=headers, timeout=30,
                                  json={"name": name, "type": "s3", "parameters": s3.parameters(bucket)})  # fmt: skip
                if made.status_code != 201:
                    raise SystemExit(f"storage {name}: {made.status_code} {made.text}")
            seconds, answer = run_batch(server.base, headers)
        log(f"   batch API {count / seconds:.2f} img/s; checking the out bucket")
        check_batch(answer, s3, target, count)
        after = engine_alone(files, count)
        log(f"   engine alone {count / after:.2f} img/s")
    return BatchRun(count, (before, after), seconds, settings.workers, settings.threads_per_job)


def batch_section(run: BatchRun) -> str:
    ratio = run.batch_rate / run.engine_rate
    verdict = "meets" if ratio >= BATCH_TARGET else "misses"
    lines = [
        "| path | images | seconds | images/s |",
        "|---|---|---|---|",
        f"| engine alone, before the batch | {run.images} | {run.engine_seconds[0]:.1f} "
        f"| {run.rate(run.engine_seconds[0]):.2f} |",
        f"| Claid batch API, S3 to S3 | {run.images} | {run.batch_seconds:.1f} | {run.batch_rate:.2f} |",
        f"| engine alone, after the batch | {run.images} | {run.engine_seconds[1]:.1f} "
        f"| {run.rate(run.engine_seconds[1]):.2f} |",
        "",
        f"Batch / engine alone (mean of its two runs): **{ratio:.2f}** ({verdict} the target of >= {BATCH_TARGET}); "
        f"all {run.images} outputs in the out bucket as RGBA PNGs, no item failed.",
    ]
    return "\n".join(lines)


# ---- the results file ------------------------------------------------------------------------------


def merged(old: str, new: dict[str, str]) -> str:
    """The results file with `new`'s sections (heading -> body) replacing those of `old`, in a fixed order."""
    sections = {}
    for chunk in old.split("\n## ")[1:]:
        heading, _, body = chunk.partition("\n")
        sections[heading] = body.strip("\n")
    sections.update(new)
    order = [ENCODING, BATCH, *(heading for heading in sections if heading not in (ENCODING, BATCH))]
    parts = [f"## {heading}\n\n{sections[heading]}\n" for heading in order if heading in sections]
    return f"{TITLE}\n\n" + "\n".join(parts)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("encode", "batch", "all"), default="all", help="which part to run")
    parser.add_argument("--quick", action="store_true",
                        help="a 2 MP picture, one run per figure, a batch of 10: checks the script")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="runs per encoding figure (the median is shown)")
    parser.add_argument("--images", type=int, help="images in the batch (default 50, quick 10)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the markdown")
    args = parser.parse_args(argv)
    megapixels, repeats = (2.0, 1) if args.quick else (12.0, args.repeats)
    images = args.images or (10 if args.quick else 50)
    command = "python bench/io.py" + "".join(
        flag for flag, on in ((f" --part {args.part}", args.part != "all"), (" --quick", args.quick)) if on
    )
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sections = {}

    def conditions(began: float, load_start: float) -> str:
        elapsed, load_end = time.perf_counter() - began, os.getloadavg()[0]
        return (
            f"took {elapsed / 60:.1f} min; 1-min load average {load_start:.1f} at start, {load_end:.1f} at end "
            "(shared machine: noise)"
        )

    if args.part in ("encode", "all"):
        began, load_start = time.perf_counter(), os.getloadavg()[0]
        table = encoding_section(megapixels, repeats)
        libvips = (
            f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
            if pyvips
            else "libvips not installed"
        )
        sections[ENCODING] = (
            f"`{command}` on {stamp}, {CORES} cores, Pillow {Image.__version__}, {libvips}; a {megapixels:g} MP "
            f"cut-out of {PHOTO.name} (RGBA; flattened onto white, RGB, for JPEG); median of {repeats} run(s) per "
            f"figure; {conditions(began, load_start)}.\n\n{table}"
        )
    if args.part in ("batch", "all"):
        began, load_start = time.perf_counter(), os.getloadavg()[0]
        run = batch_figures(images)
        sections[BATCH] = (
            f"`{command}` on {stamp}, {CORES} cores, CUTOUT_WORKERS={run.workers}, {run.threads} onnxruntime "
            f"thread(s) per job; {run.images} objects (the 4 sample photos at 1 MP, JPEG q92, round-robin) in a "
            f"moto S3 server on 127.0.0.1; `POST /v1/image/edit/batch` with `{json.dumps(BATCH_BODY)}`, timed from "
            f"the POST to the first GET answering DONE (polled every {POLL_SECONDS[0]:g} s, every {POLL_SECONDS[1] * 1000:.0f} ms once one item is left), after one "
            "warm-up edit; the engine alone is `engine.run` with the same edit, one image after the other in a fresh "
            f"process, after one warm-up run; {conditions(began, load_start)}.\n\n{batch_section(run)}"
        )
    old = args.out.read_text() if args.out.exists() else ""
    text = merged(old, sections)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        count, *names = sys.argv[2:]
        print(json.dumps(engine_worker(int(count), names)))
        raise SystemExit(0)
    raise SystemExit(main(sys.argv[1:]))
