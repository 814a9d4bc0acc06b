"""Synchronous dialects benchmark: Photoroom `/v2/edit` and remove.bg `/v1.0/removebg` vs `rembg s`, same model.

    python bench/sync.py [--quick] [--skip-peer] [--out PATH]

One `python -m service` and one `rembg s --no-ui` (u2netp, its own venv, see
bench/peer.py) run side by side on 127.0.0.1. For each size (the 4 sample
photos resized to 1 MP and to 12 MP, JPEG q92):

1. latency: one request at a time, interleaved per image (Photoroom,
   remove.bg, rembg s, in turn), so that the machine's noise falls on all
   three alike; p50 / p95 of the client-measured seconds, full-resolution
   PNG out everywhere (remove.bg `size=full`);
2. images/s: `CORES` requests in flight against each, one after the other;
3. peak RSS: each process's VmHWM after the size's phases.

Targets: p50 at most 0.6x `rembg s` at 1 MP and 0.35x at 12 MP.
Prints a markdown table and writes it to bench/results/sync.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "sync.md"
CORES = os.cpu_count() or 1
TARGETS = {1.0: 0.6, 12.0: 0.35}
PNG = b"\x89PNG"


def main(argv: list[str]) -> int:
    from bench.service import HOST, Image_, Peer, Server, log, mb, pct, photos_at, proc_status

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one pass over the photos per size")
    parser.add_argument("--skip-peer", action="store_true", help="do not run rembg s")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the markdown table")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else 3
    key = "bench_" + secrets.token_hex(8)
    began, load_start = time.perf_counter(), os.getloadavg()[0]
    rows: list[dict[str, object]] = []
    import httpx

    def photoroom(client: httpx.Client, image: Image_) -> float:
        started = time.perf_counter()
        response = client.post("/v2/edit", headers={"x-api-key": key},
                               files={"imageFile": (image.name, image.data, image.mime)})  # fmt: skip
        return _checked("photoroom", response, started)

    def removebg(client: httpx.Client, image: Image_) -> float:
        started = time.perf_counter()
        response = client.post("/v1.0/removebg", headers={"X-Api-Key": key}, data={"size": "full", "format": "png"},
                               files={"image_file": (image.name, image.data, image.mime)})  # fmt: skip
        return _checked("remove.bg", response, started)

    with tempfile.TemporaryDirectory(prefix="cutout-bench-") as temp:
        folder = Path(temp)
        env = {"CUTOUT_PHOTOROOM_API_KEY": key, "CUTOUT_REMOVEBG_API_KEY": key}
        peer_process = contextlib.nullcontext() if args.skip_peer else Peer(folder)
        with Server(folder, "sync", **env) as server, peer_process as peer:
            ours = httpx.Client(base_url=server.base, timeout=600)
            theirs = httpx.Client(base_url=peer.base, timeout=600) if peer else None
            for megapixels in (1.0, 12.0):
                images = photos_at(megapixels)
                log(f"{megapixels:g} MP: warm-up")
                photoroom(ours, images[0])
                if peer and theirs:
                    peer.remove(theirs, images[0])
                seconds: dict[str, list[float]] = {"photoroom": [], "removebg": [], "rembg": []}
                log(f"{megapixels:g} MP: latency, {rounds} x {len(images)} images, interleaved")
                for _ in range(rounds):
                    for image in images:
                        seconds["photoroom"].append(photoroom(ours, image))
                        seconds["removebg"].append(removebg(ours, image))
                        if peer and theirs:
                            seconds["rembg"].append(peer.remove(theirs, image))
                count = CORES * (4 if megapixels < 4 else 2)
                log(f"{megapixels:g} MP: images/s, {CORES} in flight, {count} each")
                rates = {
                    "photoroom": _rate(server.base, photoroom, images, count),
                    "removebg": _rate(server.base, removebg, images, count),
                }
                if peer:
                    rates["rembg"], _ = peer.run(images, count, CORES)
                rows.append({
                    "mp": megapixels, "n": len(seconds["photoroom"]), "seconds": seconds, "rates": rates,
                    "hwm": proc_status(server.pid, "VmHWM"), "peer_hwm": proc_status(peer.pid, "VmHWM") if peer else 0,
                })  # fmt: skip
            ours.close()
            if theirs:
                theirs.close()
    report = render(rows, args, rounds, time.perf_counter() - began, (load_start, os.getloadavg()[0]), pct, mb, HOST)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    log(f"wrote {args.out}")
    return 0


def _checked(name: str, response: object, started: float) -> float:
    elapsed = time.perf_counter() - started
    status, content = response.status_code, response.content  # type: ignore[attr-defined]
    if status != 200 or not content.startswith(PNG):
        raise SystemExit(f"{name} failed: {status} {content[:300]!r}")
    return elapsed


def _rate(base: str, call: Callable[..., float], images: list, count: int) -> float:
    """`count` requests with CORES in flight, each thread its own client: images/s."""
    import httpx

    local = threading.local()

    def one(i: int) -> float:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=600)
        return call(local.client, images[i % len(images)])

    started = time.perf_counter()
    with ThreadPoolExecutor(CORES) as pool:
        list(pool.map(one, range(count)))
    return count / (time.perf_counter() - started)


def render(rows, args, rounds, elapsed, load, pct, mb, host) -> str:
    lines = [
        "# Synchronous dialects benchmark",
        "",
        f"`python bench/sync.py{' --quick' if args.quick else ''}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{CORES} cores, defaults (CUTOUT_WORKERS=1); the 4 sample photos resized to each size as JPEG q92, "
        f"{rounds} pass(es) interleaved per image; PNG out at full resolution everywhere; run took "
        f"{elapsed / 60:.1f} min; 1-min load average {load[0]:.1f} at start, {load[1]:.1f} at end (shared machine).",
        "",
        "| figure | Photoroom /v2/edit | remove.bg /v1.0/removebg | rembg s | ratio to rembg s (Photoroom; remove.bg) | target |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        mp, seconds, rates = row["mp"], row["seconds"], row["rates"]
        target = TARGETS[mp]
        p50 = {name: statistics.median(values) for name, values in seconds.items() if values}
        p95 = {name: pct(values, 95) for name, values in seconds.items() if values}
        if "rembg" in p50:
            ratios = (p50["photoroom"] / p50["rembg"], p50["removebg"] / p50["rembg"])
            verdict = "met" if max(ratios) <= target else "**missed**"
            ratio_text, target_text = f"{ratios[0]:.2f}; {ratios[1]:.2f}", f"p50 <= {target}x: {verdict}"
            peer_text = f"{p50['rembg']:.3f} / {p95['rembg']:.3f}"
        else:
            ratio_text, target_text, peer_text = "-", f"p50 <= {target}x", "-"
        lines.append(f"| {mp:g} MP latency p50 / p95 (s), one at a time, n={row['n']} each | "
                     f"{p50['photoroom']:.3f} / {p95['photoroom']:.3f} | {p50['removebg']:.3f} / {p95['removebg']:.3f} | "
                     f"{peer_text} | {ratio_text} | {target_text} |")  # fmt: skip
        peer_rate = rates.get("rembg")
        rate_ratio = f"{rates['photoroom'] / peer_rate:.2f}; {rates['removebg'] / peer_rate:.2f}" if peer_rate else "-"
        lines.append(f"| {mp:g} MP images/s, {CORES} in flight | {rates['photoroom']:.2f} | {rates['removebg']:.2f} | "
                     f"{f'{peer_rate:.2f}' if peer_rate else '-'} | {rate_ratio} | - |")  # fmt: skip
        hwm, peer_hwm = row["hwm"], row["peer_hwm"]
        peer_text, ratio_text = (mb(peer_hwm), f"{hwm / peer_hwm:.2f}") if peer_hwm else ("-", "-")
        lines.append(f"| peak RSS (MB, VmHWM) after the {mp:g} MP phases (one process serves both dialects) | "
                     f"{mb(hwm)} | | {peer_text} | {ratio_text} | - |")  # fmt: skip
    lines += [
        "",
        f"Notes: client-measured on {host}, each request a whole HTTP exchange (upload, cut-out, PNG download). "
        "Both Cutout dialects run in one server process with the default single worker; rembg s runs u2netp "
        "from its own venv with the same u2netp.onnx and its shipped thread settings. Peak RSS is "
        "/proc/<pid>/status VmHWM, cumulative over the run.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
