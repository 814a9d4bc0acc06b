"""Service benchmark (SPEC 11.2 and 11.3): `python -m service` under load vs the engine alone and `rembg s`.

    python bench/service.py [--quick] [--queue-jobs N] [--queue-model stub|real] [--hostile-only]

Everything runs on 127.0.0.1 with temp data dirs and stops by itself:

1. upload -> SUCCESS webhook latency (p50/p95): sequential remove-bg uploads
   of the sample photos resized to 1 MP JPEG, each with a webhookUrl on a
   receiver in this process; alongside, upload -> "Version 2" as seen by
   polling GET /v1/files/{id}/details every 20 ms.
2. sustained images/s through the API (N uploads at once, first upload to
   last Version 2) vs the engine alone in a fresh process, same images, same
   parallelism (a pool of CUTOUT_WORKERS threads sharing one session with
   threads_per_job onnxruntime threads, as the service's runner does).
3. plain-upload (no extensions) latency p50/p99 with idle workers vs with the
   workers saturated (a feeder keeps the remove-bg queue non-empty), in
   alternating idle/saturated blocks.
4. peak RSS (VmHWM from /proc) of the service vs rembg's own server
   (`rembg s --no-ui`, model u2netp, in its own venv, see bench/peer.py) under
   the same images: sequentially, then with one request per core in flight
   (whatever CUTOUT_WORKERS is), then all at once; the peer's throughput and
   per-image latency alongside.
5. queue: N remove-bg jobs of 64x64 PNGs enqueued by a few client threads,
   then drained, VmRSS sampled every second. U2-Net-p costs ~0.4 s per image
   on one thread whatever the image size (its input is always 320x320), so
   10,000 real jobs would take over half an hour on 2 cores; by default this
   phase loads a one-node stub ONNX model with the same contract through
   CUTOUT_MODEL_PATH, so it measures the queue, not the model
   (`--queue-model real` uses U2-Net-p).
6. hostile burst: uploads tiny on the wire and huge when decoded (7000x7000
   one-colour PNG, TIFF and WebP) through ImageKit's upload API and
   Uploadcare's `/base/` (public key only), with thumbnail GETs of a 50 MP
   file, all at once; peak RSS (VmRSS sampled every 10 ms, and VmHWM) and the
   worst `/healthz` latency (polled every 50 ms) during the burst, against
   idle RSS and idle `/healthz` latency of the same server. `--hostile-only`
   runs this phase alone and updates its row in the results file.

Prints a markdown table and writes it to bench/results/service.md.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import resource
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "fixtures" / "photos"
RESULTS = ROOT / "bench" / "results" / "service.md"
HOST = "127.0.0.1"
REMOVE_BG = json.dumps([{"name": "remove-bg"}])
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Plan:
    latency_rounds: int  # phase 1: passes over the 4 photos
    throughput_images: int  # phase 2: images per run
    throughput_rounds: int  # phase 2: engine/service alternations
    upload_samples: int  # phase 3: plain uploads per condition
    burst_images: int  # phase 4: peer requests all at once
    queue_jobs: int  # phase 5
    hostile_uploads: int  # phase 6: uploads per dialect
    hostile_thumbnails: int  # phase 6


QUICK = Plan(latency_rounds=2, throughput_images=12, throughput_rounds=2, upload_samples=80,
             burst_images=12, queue_jobs=1_000, hostile_uploads=16, hostile_thumbnails=8)  # fmt: skip
FULL = Plan(latency_rounds=4, throughput_images=40, throughput_rounds=4, upload_samples=300,
            burst_images=24, queue_jobs=10_000, hostile_uploads=24, hostile_thumbnails=16)  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def proc_status(pid: int, key: str) -> int:
    """A kB figure (VmRSS, VmHWM) from /proc/<pid>/status; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mb(kb: float) -> str:
    return f"{kb / 1024:.0f}"


# ---- inputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Image_:
    name: str
    data: bytes
    mime: str


def photos_at(megapixels: float) -> list[Image_]:
    """The sample photos resized to `megapixels` as JPEG quality 92."""
    from PIL import Image

    out = []
    for path in sorted(p for p in PHOTOS.iterdir() if p.suffix in (".png", ".jpg")):
        with Image.open(path) as photo:
            photo = photo.convert("RGB")
            scale = math.sqrt(megapixels * 1e6 / (photo.width * photo.height))
            size = (round(photo.width * scale), round(photo.height * scale))
            buffer = io.BytesIO()
            photo.resize(size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=92)
        out.append(Image_(f"{path.stem}-{megapixels:g}mp.jpg", buffer.getvalue(), "image/jpeg"))
    return out


def originals() -> list[Image_]:
    out = []
    for path in sorted(p for p in PHOTOS.iterdir() if p.suffix in (".png", ".jpg")):
        out.append(Image_(path.name, path.read_bytes(), "image/png" if path.suffix == ".png" else "image/jpeg"))
    return out


def tiny_pngs(count: int = 16) -> list[Image_]:
    """64x64 PNGs of noise on a gradient, each different."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    out = []
    for i in range(count):
        ramp = np.linspace(0, 255, 64, dtype=np.float32)
        base = np.stack(np.meshgrid(ramp, ramp[::-1]), -1).mean(-1)[..., None].repeat(3, -1)
        pixels = np.clip(base + rng.normal(0, 30, (64, 64, 3)), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "PNG")
        out.append(Image_(f"tiny-{i}.png", buffer.getvalue(), "image/png"))
    return out


def huge_when_decoded(fmt: str, index: int, side: int = 7000) -> Image_:
    """A one-colour side x side image: a few hundred kB at most on the wire, 49 MP decoded."""
    from PIL import Image

    buffer = io.BytesIO()
    options = {"WEBP": {"lossless": True}, "TIFF": {"compression": "tiff_deflate"}}.get(fmt, {})
    Image.new("RGB", (side, side), (index % 256, 90, 160)).save(buffer, fmt, **options)
    return Image_(f"huge-{index}.{fmt.lower()}", buffer.getvalue(), f"image/{fmt.lower()}")


# ---- a stub model with U2-Net-p's contract (for the queue phase) -------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _pb_bytes(number: int, value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def stub_model() -> bytes:
    """ONNX: float32 [1,3,320,320] 'input' -> ReduceMean over channels -> [1,1,320,320] (hand-encoded protobuf)."""

    def value_info(name: str, shape: list[int]) -> bytes:
        dims = b"".join(_pb_bytes(1, _pb_int(1, d)) for d in shape)  # TensorShapeProto.dim.dim_value
        tensor = _pb_int(1, 1) + _pb_bytes(2, dims)  # elem_type FLOAT, shape
        return _pb_bytes(1, name) + _pb_bytes(2, _pb_bytes(1, tensor))  # name, type.tensor_type

    axes = _pb_bytes(1, "axes") + _pb_int(8, 1) + _pb_int(20, 7)  # name, ints=[1], type INTS
    node = _pb_bytes(1, "input") + _pb_bytes(2, "saliency") + _pb_bytes(4, "ReduceMean") + _pb_bytes(5, axes)
    graph = (
        _pb_bytes(1, node)
        + _pb_bytes(2, "stub")
        + _pb_bytes(11, value_info("input", [1, 3, 320, 320]))
        + _pb_bytes(12, value_info("saliency", [1, 1, 320, 320]))
    )
    return _pb_int(1, 7) + _pb_bytes(7, graph) + _pb_bytes(8, _pb_int(2, 13))  # ir 7, graph, opset 13


# ---- the service under test ---------------------------------------------------------


class _Process:
    """A server subprocess with a log file; subclasses start it in __enter__."""

    proc: subprocess.Popen[bytes] | None
    _log: typing.IO[bytes]

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)
        self._log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class Server(_Process):
    """`python -m service` on 127.0.0.1 with its own data dir; a context manager."""

    def __init__(self, folder: Path, name: str, **env: str):
        self.folder = folder / name
        self.folder.mkdir()
        self.port = free_port()
        self.key = "private_bench_" + secrets.token_hex(8)
        self.base = f"http://{HOST}:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CUTOUT_") and k != "PORT"}
        self.env.update(
            CUTOUT_HOST=HOST,
            CUTOUT_PORT=str(self.port),
            CUTOUT_DATA_DIR=str(self.folder / "data"),
            CUTOUT_IMAGEKIT_PRIVATE_KEY=self.key,
            CUTOUT_LOG_LEVEL="warning",
            **env,
        )
        self.log_path = self.folder / "server.log"
        self.db_path = self.folder / "data" / "cutout.db"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        log(f"starting the service on {self.base}")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service"], cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_ready(self.base + "/readyz", self.proc, self.log_path)
        return self


    def client(self, timeout: float = 60.0):
        import httpx

        return httpx.Client(base_url=self.base, auth=(self.key, ""), timeout=timeout)

    def metrics(self, client) -> dict[str, float]:
        text = client.get("/metrics").text
        out = {}
        for match in re.finditer(r'^(cutout_queue_depth|cutout_jobs\{state="(\w+)"\}) (\S+)$', text, re.M):
            out[match.group(2) or "depth"] = float(match.group(3))
        return out


def wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 180.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise SystemExit(f"{url} not ready after {timeout} s:\n{log_path.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def upload(client, image: Image_, extensions: bool, *, webhook_url: str | None = None, retries: int = 50) -> dict:
    """POST /api/v1/files/upload; waits out 429s (bounded)."""
    form = {"fileName": image.name}
    if extensions:
        form["extensions"] = REMOVE_BG
    if webhook_url:
        form["webhookUrl"] = webhook_url
    for _ in range(retries):
        response = client.post("/api/v1/files/upload", data=form, files={"file": (image.name, image.data, image.mime)})
        if response.status_code == 429:
            time.sleep(min(5.0, float(response.headers.get("retry-after", "1"))))
            continue
        if response.status_code != 200:
            raise SystemExit(f"upload failed: {response.status_code} {response.text[:500]}")
        body = response.json()
        if extensions and body.get("extensionStatus", {}).get("remove-bg") != "pending":
            raise SystemExit(f"upload did not queue remove-bg: {body}")
        return body
    raise SystemExit("upload: still 429 after retries")


def wait_version2(client, file_id: str, timeout: float = 120.0, poll: float = 0.02) -> float:
    """Poll the file's details until its current version is Version 2; returns the time seen (perf_counter)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        details = client.get(f"/v1/files/{file_id}/details").json()
        if details.get("versionInfo", {}).get("name") == "Version 2":
            return time.perf_counter()
        time.sleep(poll)
    raise SystemExit(f"file {file_id} has no Version 2 after {timeout} s: {details}")


class Hooks:
    """A webhook receiver on 127.0.0.1: when the SUCCESS webhook of each file arrived (perf_counter)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.arrived: dict[str, float] = {}
        self.changed = threading.Condition()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.perf_counter()
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if payload.get("status") == "SUCCESS":
                    with hooks.changed:
                        hooks.arrived.setdefault(payload["fileObject"]["fileId"], at)
                        hooks.changed.notify_all()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, file_id: str, timeout: float = 120.0) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: file_id in self.arrived, timeout=timeout):
                raise SystemExit(f"no SUCCESS webhook for {file_id} within {timeout} s")
            return self.arrived[file_id]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_jobs(server: Server, client, until: Callable[[dict[str, float]], bool], timeout: float, poll: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = server.metrics(client)
        if counts.get("failed", 0):
            raise SystemExit(f"jobs failed: {counts}\n{server.log_path.read_text()[-3000:]}")
        if until(counts):
            return counts
        time.sleep(poll)
    raise SystemExit(f"jobs did not finish within {timeout} s: {server.metrics(client)}")


# ---- phases ----------------------------------------------------------------------------


def phase_latency(server: Server, hooks: Hooks, images: list[Image_], rounds: int) -> dict[str, list[float]]:
    """1: sequential upload -> SUCCESS webhook, and -> Version 2 seen by polling, one at a time."""
    seconds: dict[str, list[float]] = {"webhook": [], "version2": []}
    with server.client() as client:
        for _ in range(rounds):
            for image in images:
                started = time.perf_counter()
                body = upload(client, image, True, webhook_url=hooks.url)
                seconds["version2"].append(wait_version2(client, body["fileId"]) - started)
                seconds["webhook"].append(hooks.wait(body["fileId"]) - started)
    return seconds


def phase_throughput(server: Server, images: list[Image_], count: int) -> float:
    """2: `count` remove-bg uploads as fast as accepted; images/s from the first upload to the last Version 2.

    The end is the last of these jobs' `updated_at` in the service's SQLite file (millisecond stamps), so the
    bench can poll lazily instead of loading the server with fast polling.
    """
    with server.client() as client:
        before = server.metrics(client).get("succeeded", 0)
        started_wall = time.time()
        started_iso = iso(started_wall)
        for i in range(count):
            upload(client, images[i % len(images)], True)
        wait_jobs(server, client, lambda c: c.get("succeeded", 0) >= before + count, 60 + 10 * count, 0.25)
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
        done, last = db.execute(
            "SELECT count(*), max(updated_at) FROM jobs WHERE status = 'succeeded' AND created_at >= ?", [started_iso]
        ).fetchone()
    if done != count:
        raise SystemExit(f"expected {count} succeeded jobs since {started_iso}, found {done}")
    ended = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
    return count / (ended - started_wall)


def iso(seconds: float) -> str:
    """The service's timestamp format (UTC, milliseconds, Z), rounded down."""
    stamp = datetime.fromtimestamp(math.floor(seconds * 1000) / 1000, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def engine_alone(images: list[Image_], count: int, workers: int, threads: int, folder: Path) -> dict:
    """2: the same images through remove_background in a fresh process, `workers` threads sharing one session."""
    paths = []
    for i, image in enumerate(images):
        path = folder / f"engine-{i}-{image.name}"
        path.write_bytes(image.data)
        paths.append(str(path))
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "engine", str(count), str(workers),
               str(threads), *paths]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"engine worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker_engine(count: int, workers: int, threads: int, files: list[str]) -> dict:
    from service.engine import U2NetSegmenter, parse_options, remove_background

    segmenter = U2NetSegmenter(threads=threads)
    options = parse_options({})
    datas = [Path(name).read_bytes() for name in files]
    remove_background(datas[0], options, segmenter=segmenter)  # session and first-run costs
    with ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        list(pool.map(lambda i: remove_background(datas[i % len(datas)], options, segmenter=segmenter), range(count)))
        elapsed = time.perf_counter() - started
    return {"rate": count / elapsed, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


@dataclass
class Feeder:
    """Keeps the remove-bg queue at least `target` deep until stopped; records the depth it sees."""

    server: Server
    images: list[Image_]
    target: int
    depths: list[float] = field(default_factory=list)
    fed: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        with self.server.client() as client:
            while not self._stop.is_set():
                depth = self.server.metrics(client).get("depth", 0)
                self.depths.append(depth)
                for _ in range(max(0, self.target - int(depth))):
                    upload(client, self.images[self.fed % len(self.images)], True)
                    self.fed += 1
                self._stop.wait(0.2)


def plain_uploads(server: Server, images: list[Image_], count: int) -> list[float]:
    seconds = []
    with server.client() as client:
        for i in range(count):
            started = time.perf_counter()
            upload(client, images[i % len(images)], False)
            seconds.append(time.perf_counter() - started)
    return seconds


def phase_uploads(server: Server, plain: list[Image_], heavy: list[Image_], count: int, workers: int,
                  blocks: int = 3) -> dict:  # fmt: skip
    """3: plain-upload latency with the workers idle, then saturated, in alternating blocks.

    `count` uploads per condition, split into `blocks` idle/saturated pairs, so
    that a neighbour's load on the shared machine falls on both conditions alike.
    """
    idle: list[float] = []
    busy: list[float] = []
    during: list[float] = []
    fed = 0
    plain_uploads(server, plain, 5)  # warm the path
    for block in range(blocks):
        size = count // blocks + (1 if block < count % blocks else 0)
        with server.client() as client:
            wait_jobs(server, client, lambda c: c.get("depth", 0) == 0, 300, 0.1)
        idle += plain_uploads(server, plain, size)
        feeder = Feeder(server, heavy, target=2 * workers + 2)
        feeder.start()
        deadline = time.monotonic() + 60
        while (not feeder.depths or feeder.depths[-1] < workers + 1) and time.monotonic() < deadline:
            time.sleep(0.1)
        mark = len(feeder.depths)
        try:
            busy += plain_uploads(server, plain, size)
        finally:
            feeder.stop()
        during += feeder.depths[mark:] or feeder.depths[-1:]
        fed += feeder.fed
    with server.client() as client:
        done = wait_jobs(server, client, lambda c: c.get("depth", 0) == 0, 300, 0.2)
    return {"idle": idle, "busy": busy, "min_depth": min(during), "fed": fed, "counts": done, "blocks": blocks}


class Peer(_Process):
    """`rembg s --no-ui` (u2netp) from the peer venv on 127.0.0.1."""

    def __init__(self, folder: Path):
        # bench/peer.py; appended, not prepended: this file must not shadow the service package
        sys.path.append(str(Path(__file__).resolve().parent))
        from peer import model_home, peer_script

        self.exe = peer_script("rembg", ("cpu", "cli"))
        self.home = model_home(folder)
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log_path = folder / "rembg.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Peer:
        log(f"starting rembg s on {self.base}")
        env = {**os.environ, "U2NET_HOME": str(self.home), "BROWSER": "true"}  # startup calls webbrowser.open
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(self.exe), "s", "--host", HOST, "--port", str(self.port), "--no-ui", "--log_level", "warning"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_ready(self.base + "/api", self.proc, self.log_path)
        return self


    def remove(self, client, image: Image_) -> float:
        started = time.perf_counter()
        files = {"file": (image.name, image.data, image.mime)}
        response = client.post("/api/remove", data={"model": "u2netp"}, files=files)
        if response.status_code != 200 or not response.content.startswith(b"\x89PNG"):
            raise SystemExit(f"rembg s failed: {response.status_code} {response.text[:300]}")
        return time.perf_counter() - started

    def run(self, images: list[Image_], count: int, concurrency: int) -> tuple[float, list[float]]:
        """`count` requests with `concurrency` in flight: images/s and per-request seconds."""
        import httpx

        local = threading.local()

        def one(i: int) -> float:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=self.base, timeout=600)
            return self.remove(local.client, images[i % len(images)])

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            seconds = list(pool.map(one, range(count)))
        return count / (time.perf_counter() - started), seconds


def phase_queue(folder: Path, jobs: int, model: str, clients: int = 4) -> dict:
    """5: enqueue `jobs` remove-bg uploads of 64x64 PNGs, then drain; VmRSS every second."""
    env = {"CUTOUT_MAX_QUEUE": str(max(20_000, jobs))}
    if model == "stub":
        stub = folder / "stub.onnx"
        stub.write_bytes(stub_model())
        env["CUTOUT_MODEL_PATH"] = str(stub)
    images = tiny_pngs()
    samples: list[tuple[float, int, float]] = []  # (t, rss kB, depth)
    with Server(folder, "queue", **env) as server:
        stop_sampling = threading.Event()

        def sample() -> None:
            with server.client() as client:
                while not stop_sampling.is_set():
                    depth = server.metrics(client).get("depth", -1)
                    samples.append((time.perf_counter(), proc_status(server.pid, "VmRSS"), depth))
                    stop_sampling.wait(1.0)

        with server.client() as client:  # one job first: model loaded and warm, as in production
            upload(client, images[0], True)
            wait_jobs(server, client, lambda c: c.get("succeeded", 0) >= 1, 120, 0.1)
        rss_start = proc_status(server.pid, "VmRSS")
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        log(f"queue: enqueueing {jobs} jobs with {clients} clients")
        started = time.perf_counter()

        def enqueue(start: int) -> None:
            with server.client() as client:
                for i in range(start, jobs, clients):
                    upload(client, images[i % len(images)], True)

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(enqueue, range(clients)))
        enqueued = time.perf_counter()
        rss_enqueued = proc_status(server.pid, "VmRSS")
        with server.client() as client:
            depth_enqueued = server.metrics(client).get("depth", 0)
            log(f"queue: enqueued in {enqueued - started:.1f} s, depth {depth_enqueued:.0f}; draining")
            counts = wait_jobs(server, client, lambda c: c.get("depth", 0) == 0, max(600.0, jobs * 1.0), 0.2)
        drained = time.perf_counter()
        time.sleep(1.5)
        stop_sampling.set()
        sampler.join(timeout=30)
        rss_end = proc_status(server.pid, "VmRSS")
        hwm = proc_status(server.pid, "VmHWM")
    rss_values = [rss for _, rss, _ in samples if rss]
    return {
        "jobs": jobs,
        "model": model,
        "succeeded": counts.get("succeeded", 0) - 1,
        "enqueue_s": enqueued - started,
        "drain_s": drained - enqueued,
        "total_s": drained - started,
        "depth_enqueued": depth_enqueued,
        "rss_start": rss_start,
        "rss_enqueued": rss_enqueued,
        "rss_max": max([*rss_values, rss_enqueued, rss_end]),
        "rss_end": rss_end,
        "hwm": hwm,
        "samples": [(t - started, rss, depth) for t, rss, depth in samples],
    }


HOSTILE_UC_KEY = "uc_bench_public"


def phase_hostile(folder: Path, uploads_per_dialect: int, thumbnails: int) -> dict:
    """6: a burst of huge-when-decoded uploads through both dialects and thumbnail GETs of a 50 MP file."""
    import httpx

    with Server(folder, "hostile", CUTOUT_UPLOADCARE_PUBLIC_KEY=HOSTILE_UC_KEY) as server:
        with server.client() as client:
            big = huge_when_decoded("PNG", 0, 7070)
            assert client.post("/api/v1/files/upload", files={"file": ("big.png", big.data)},
                               data={"fileName": "big.png", "useUniqueFileName": "false"}).status_code == 200  # fmt: skip
            idle_healthz = []
            for _ in range(40):
                started = time.perf_counter()
                client.get("/healthz")
                idle_healthz.append(time.perf_counter() - started)
        rss_idle = proc_status(server.pid, "VmRSS")
        payloads = [huge_when_decoded(("PNG", "TIFF", "TIFF", "WEBP")[i % 4], i) for i in range(uploads_per_dialect)]
        stop_watching = threading.Event()
        peak = [rss_idle]
        healthz: list[float] = []

        def sample() -> None:
            while not stop_watching.is_set():
                peak[0] = max(peak[0], proc_status(server.pid, "VmRSS"))
                time.sleep(0.01)

        def poll() -> None:
            with httpx.Client(base_url=server.base, timeout=30) as client:
                while not stop_watching.is_set():
                    started = time.perf_counter()
                    client.get("/healthz")
                    healthz.append(time.perf_counter() - started)
                    time.sleep(0.05)

        def request(call: tuple[str, int]) -> int:
            kind, i = call
            if kind == "thumbnail":
                return httpx.get(f"{server.base}/media/tr:n-ik_ml_thumbnail/big.png", timeout=120).status_code
            files = {"file": (payloads[i].name, payloads[i].data)}
            if kind == "imagekit":
                return httpx.post(f"{server.base}/api/v1/files/upload", auth=(server.key, ""), files=files,
                                  data={"fileName": payloads[i].name}, timeout=120).status_code  # fmt: skip
            return httpx.post(f"{server.base}/base/", files=files, data={"UPLOADCARE_PUB_KEY": HOSTILE_UC_KEY},
                              timeout=120).status_code  # fmt: skip

        watchers = [threading.Thread(target=sample), threading.Thread(target=poll)]
        for thread in watchers:
            thread.start()
        calls = [(kind, i) for kind in ("imagekit", "uploadcare") for i in range(uploads_per_dialect)]
        calls += [("thumbnail", i) for i in range(thumbnails)]
        started = time.perf_counter()
        with ThreadPoolExecutor(len(calls)) as pool:
            statuses = list(pool.map(request, calls))
        seconds = time.perf_counter() - started
        stop_watching.set()
        for thread in watchers:
            thread.join()
        deadline = time.monotonic() + 10
        while (settled := proc_status(server.pid, "VmRSS")) > 1.2 * 1024 * 1024 and time.monotonic() < deadline:
            time.sleep(0.1)
        hwm = proc_status(server.pid, "VmHWM")
    return {
        "requests": len(calls), "uploads": 2 * uploads_per_dialect, "thumbnails": thumbnails, "seconds": seconds,
        "statuses": {code: statuses.count(code) for code in sorted(set(statuses))}, "rss_idle": rss_idle,
        "rss_peak": max(peak[0], hwm), "rss_settled": settled, "healthz_idle": max(idle_healthz),
        "healthz_worst": max(healthz), "healthz_polls": len(healthz),
    }  # fmt: skip


def hostile_row(h: dict) -> str:
    answers = ", ".join(f"{count} x {code}" for code, count in h["statuses"].items())
    ok = h["rss_peak"] < 2 * 1024 * 1024 and h["healthz_worst"] < 2.0 and set(h["statuses"]) <= {200, 429}
    return (
        f"| hostile burst: {h['uploads']} huge-when-decoded uploads (7000x7000, both dialects) + {h['thumbnails']} "
        f"thumbnail GETs of a 50 MP file at once ({h['seconds']:.1f} s; {answers}): peak RSS (MB) / worst /healthz "
        f"(ms, {h['healthz_polls']} polls); RSS after (MB) {mb(h['rss_settled'])} | {mb(h['rss_peak'])} / "
        f"{h['healthz_worst'] * 1000:.0f} | {mb(h['rss_idle'])} / {h['healthz_idle'] * 1000:.0f} (idle) | "
        f"{h['rss_peak'] / h['rss_idle']:.1f} / {h['healthz_worst'] / h['healthz_idle']:.0f} | "
        f"< 2048 MB, < 2000 ms, 200 or 429: {'met' if ok else '**missed**'} |"
    )


def update_row(path: Path, row: str) -> None:
    """Replace the hostile burst row of an existing results table (or add it at the table's end)."""
    lines = path.read_text().splitlines() if path.exists() else ["| figure | ours | reference | ratio | target |",
                                                                  "|---|---|---|---|---|"]  # fmt: skip
    kept = [line for line in lines if not line.startswith("| hostile burst")]
    last = max(i for i, line in enumerate(kept) if line.startswith("|"))
    kept.insert(last + 1, row)
    path.write_text("\n".join(kept) + "\n")


# ---- driver -------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (a few minutes)")
    parser.add_argument("--queue-jobs", type=int, help="jobs in the queue phase (default 10000, quick 1000)")
    parser.add_argument("--queue-model", choices=("stub", "real"), default="stub",
                        help="model for the queue phase (default: a one-node stub, see above)")  # fmt: skip
    parser.add_argument("--skip-peer", action="store_true", help="do not run rembg s")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the markdown table")
    parser.add_argument("--hostile-only", action="store_true",
                        help="run only the hostile burst (6) and update its row in the results file")  # fmt: skip
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    queue_jobs = args.queue_jobs or plan.queue_jobs
    if args.hostile_only:
        with tempfile.TemporaryDirectory(prefix="cutout-bench-") as temp:
            row = hostile_row(phase_hostile(Path(temp), plan.hostile_uploads, plan.hostile_thumbnails))
        print(row)
        update_row(args.out, row)
        log(f"updated {args.out}")
        return 0

    from service.settings import Settings

    settings = Settings.from_env({})
    workers, threads = settings.workers, settings.threads_per_job
    log(f"{CORES} cores: CUTOUT_WORKERS={workers}, threads per job {threads}; {'quick' if args.quick else 'full'} run")
    heavy = photos_at(1.0)
    plain = originals()
    began = time.perf_counter()
    load_start = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="cutout-bench-") as temp:
        folder = Path(temp)
        hooks = Hooks()
        with Server(folder, "main", CUTOUT_EGRESS_ALLOW=f"{HOST}/32") as server:
            rss_idle = proc_status(server.pid, "VmRSS")
            log("1: upload -> SUCCESS webhook latency")
            phase_latency(server, hooks, heavy[:1], 1)  # warm-up
            latency = phase_latency(server, hooks, heavy, plan.latency_rounds)
            log("2: sustained images/s, service vs engine alone")
            api_rates, engine_runs = [], []
            for _ in range(plan.throughput_rounds):
                engine_runs.append(engine_alone(heavy, plan.throughput_images, workers, threads, folder))
                api_rates.append(phase_throughput(server, heavy, plan.throughput_images))
                log(f"   engine {engine_runs[-1]['rate']:.2f} img/s, API {api_rates[-1]:.2f} img/s")
            hwm_load = proc_status(server.pid, "VmHWM")
            log("3: plain-upload latency, idle vs saturated")
            uploads = phase_uploads(server, plain, heavy, plan.upload_samples, workers)
            hwm_all = proc_status(server.pid, "VmHWM")
        hooks.close()

        peer = None
        if not args.skip_peer:
            with Peer(folder) as rembg:
                peer_idle = proc_status(rembg.pid, "VmRSS")
                log("4: rembg s: same images, sequentially, then concurrently")
                import httpx

                with httpx.Client(base_url=rembg.base, timeout=600) as client:
                    rembg.remove(client, heavy[0])  # warm-up: session creation
                    peer_latency = [rembg.remove(client, image) for _ in range(plan.latency_rounds) for image in heavy]
                peer_hwm_seq = proc_status(rembg.pid, "VmHWM")
                peer_rate, peer_seconds = rembg.run(heavy, plan.throughput_images, CORES)
                peer_hwm_load = proc_status(rembg.pid, "VmHWM")
                burst_rate, burst_seconds = rembg.run(heavy, plan.burst_images, plan.burst_images)
                peer_hwm_burst = proc_status(rembg.pid, "VmHWM")
                peer = {"idle": peer_idle, "latency": peer_latency, "hwm_seq": peer_hwm_seq, "rate": peer_rate,
                        "seconds": peer_seconds, "hwm_load": peer_hwm_load, "burst_rate": burst_rate,
                        "burst_seconds": burst_seconds, "hwm_burst": peer_hwm_burst}  # fmt: skip

        log(f"5: queue of {queue_jobs} jobs ({args.queue_model} model)")
        queue = phase_queue(folder, queue_jobs, args.queue_model)
        log("6: hostile burst")
        hostile = phase_hostile(folder, plan.hostile_uploads, plan.hostile_thumbnails)

    args.load = (load_start, os.getloadavg()[0])
    report = render(args, plan, workers, threads, rss_idle, latency, api_rates, engine_runs, hwm_load, uploads,
                    hwm_all, peer, queue, hostile, time.perf_counter() - began)  # fmt: skip
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    log(f"wrote {args.out}")
    return 0


def render(args, plan, workers, threads, rss_idle, latency, api_rates, engine_runs, hwm_load, uploads, hwm_all,
           peer, queue, hostile, elapsed) -> str:  # fmt: skip
    def check(ok: bool) -> str:
        return "met" if ok else "**missed**"

    api_rate, engine = statistics.median(api_rates), max(engine_runs, key=lambda r: r["rate"])
    engine_rate = statistics.median(r["rate"] for r in engine_runs)
    pair_ratio = statistics.median(a / e["rate"] for a, e in zip(api_rates, engine_runs))
    idle, busy = uploads["idle"], uploads["busy"]
    lines = [
        "# Service benchmark",
        "",
        f"`python bench/service.py{' --quick' if args.quick else ''}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{CORES} cores, CUTOUT_WORKERS={workers}, {threads} onnxruntime thread(s) per job; "
        f"remove-bg inputs are the 4 sample photos at 1 MP JPEG q92; run took {elapsed / 60:.1f} min; "
        f"1-min load average {args.load[0]:.1f} at start, {args.load[1]:.1f} at end (shared machine: noise).",
        "",
        "| figure | ours | rembg s / reference | ratio | target |",
        "|---|---|---|---|---|",
    ]
    row = lines.append
    for kind, label in (("webhook", "SUCCESS webhook"), ("version2", "Version 2 (polled)")):
        seconds = latency[kind]
        p50, p95 = statistics.median(seconds), pct(seconds, 95)
        if peer:
            pl50, pl95 = statistics.median(peer["latency"]), pct(peer["latency"], 95)
            row(f"| upload -> {label} latency p50 / p95 (s), sequential, n={len(seconds)} | {p50:.3f} / {p95:.3f} | "
                f"{pl50:.3f} / {pl95:.3f} (rembg s request) | {p50 / pl50:.2f} / {p95 / pl95:.2f} | - |")  # fmt: skip
        else:
            row(f"| upload -> {label} latency p50 / p95 (s), n={len(seconds)} | {p50:.3f} / {p95:.3f} | | | - |")
    ratio = pair_ratio
    row(f"| sustained images/s through the API ({plan.throughput_images} uploads at once; median of "
        f"{len(api_rates)} alternations) vs engine alone ({workers} threads x {threads}); ratio = median of the "
        f"per-round ratios | {api_rate:.2f} | {engine_rate:.2f} (engine alone) | {ratio:.2f} | "
        f">= 0.90: {check(ratio >= 0.90)} |")  # fmt: skip
    if peer:
        r = api_rate / peer["rate"]
        row(f"| images/s vs rembg s ({CORES} requests in flight) | {api_rate:.2f} | {peer['rate']:.2f} | {r:.2f} | - |")
        row(f"| rembg s per-image latency p50 / p95 (s), {CORES} in flight | | "
            f"{statistics.median(peer['seconds']):.3f} / {pct(peer['seconds'], 95):.3f} | | - |")  # fmt: skip
        row(f"| rembg s, all {plan.burst_images} at once: images/s; latency p50 / p95 (s) | | "
            f"{peer['burst_rate']:.2f}; {statistics.median(peer['burst_seconds']):.3f} / "
            f"{pct(peer['burst_seconds'], 95):.3f} | {api_rate / peer['burst_rate']:.2f} (img/s) | - |")  # fmt: skip
    i50, i99, b50, b99 = statistics.median(idle), pct(idle, 99), statistics.median(busy), pct(busy, 99)
    row(f"| plain upload p50 (ms), idle vs saturated, n={len(idle)} each | {b50 * 1000:.1f} (saturated) | "
        f"{i50 * 1000:.1f} (idle) | {b50 / i50:.2f} | - |")  # fmt: skip
    row(f"| plain upload p99 (ms), idle vs saturated (queue depth >= {uploads['min_depth']:.0f} throughout; "
        f"{uploads['blocks']} alternating blocks each) | "
        f"{b99 * 1000:.1f} (saturated) | {i99 * 1000:.1f} (idle) | {b99 / i99:.2f} | <= 3: {check(b99 / i99 <= 3)} |")  # fmt: skip
    if peer:
        r = hwm_load / peer["hwm_load"]
        row(f"| peak RSS (MB), VmHWM after latency + throughput load; rembg s with {CORES} in flight | "
            f"{mb(hwm_load)} | {mb(peer['hwm_load'])} | {r:.2f} | <= 0.5: {check(r <= 0.5)} |")  # fmt: skip
        r = hwm_all / peer["hwm_burst"]
        row(f"| peak RSS (MB): ours after all phases vs rembg s after {plan.burst_images} at once | "
            f"{mb(hwm_all)} | {mb(peer['hwm_burst'])} | {r:.2f} | <= 0.5: {check(r <= 0.5)} |")  # fmt: skip
        row(f"| RSS at idle after start (MB) | {mb(rss_idle)} | {mb(peer['idle'])} | {rss_idle / peer['idle']:.2f} | - |")
    else:
        row(f"| peak RSS (MB) after load / after all phases | {mb(hwm_load)} / {mb(hwm_all)} | | | - |")
    row(f"| engine alone peak RSS (MB), same load | | {mb(engine['rss_kb'])} | {hwm_load / engine['rss_kb']:.2f} | - |")
    q = queue
    drain_rate = q["depth_enqueued"] / q["drain_s"] if q["drain_s"] > 0 else float("nan")
    row(f"| queue: {q['jobs']} jobs ({q['model']} model), enqueue rate (jobs/s) | {q['jobs'] / q['enqueue_s']:.1f} | | | - |")
    row(f"| queue: drain rate after enqueue (jobs/s; {q['depth_enqueued']:.0f} left); overall jobs/s | "
        f"{drain_rate:.1f}; {q['jobs'] / q['total_s']:.1f} | | | - |")  # fmt: skip
    flat = q["rss_max"] / q["rss_start"]
    row(f"| queue: RSS (MB) start / after enqueue / max / end | {mb(q['rss_start'])} / {mb(q['rss_enqueued'])} / "
        f"{mb(q['rss_max'])} / {mb(q['rss_end'])} | | max/start {flat:.2f} | flat: {check(flat <= 1.25)} |")  # fmt: skip
    row(hostile_row(hostile))
    samples = q["samples"]
    if samples:
        step = max(1, len(samples) // 12)
        trace = ", ".join(f"{t:.0f}s {rss / 1024:.0f}MB d={depth:.0f}" for t, rss, depth in samples[::step])
        lines += ["", f"Queue RSS trace (time since first enqueue, VmRSS, queue depth): {trace}."]
    lines += [
        "",
        "Notes: latencies are measured by the client on 127.0.0.1; the SUCCESS webhook is a per-request "
        "webhookUrl on a receiver in the benchmark process, timed at arrival; Version 2 is detected by polling "
        "file details every 20 ms. Engine alone runs in a fresh process "
        "with the same images, a thread pool of CUTOUT_WORKERS sharing one U2NetSegmenter(threads=threads_per_job). "
        "rembg s runs u2netp from its own venv with the same u2netp.onnx; its default thread limiter and "
        "onnxruntime threads are left as shipped. Peak RSS is /proc/<pid>/status VmHWM. 'flat' means max RSS "
        "within 25% of the start.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:2] == ["--worker"]:
        _, _, _, count, workers, threads, *files = sys.argv
        print(json.dumps(worker_engine(int(count), int(workers), int(threads), files)))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
