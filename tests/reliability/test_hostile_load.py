"""Hostile load on a real `python -m service`: images tiny on the wire and huge when decoded.

Uploads through both dialects (ImageKit's upload API with its private key, Uploadcare's `/base/`
with the public key only) and concurrent thumbnail GETs of a 50 MP file, all at once. The server's
memory stays bounded (peak RSS under 2 GB, back under 1.2 GB afterwards), `/healthz` keeps
answering within 2 s, and every request gets a 200 or the documented 429 with Retry-After in its
dialect's shape. Run with `-s` to see the figures.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from ..conftest import ServiceProcess, wait_for

UC_PUBLIC = "uc_hostile_public"
UPLOADS_PER_DIALECT = 18
THUMBNAIL_GETS = 12
THUMBNAIL_TRIES = 4  # the first try and three comebacks after Retry-After
PEAK_LIMIT = 2 * 1024**3
SETTLED_LIMIT = int(1.2 * 1024**3)
HEALTHZ_LIMIT = 2.0
# Past this the server is stopped at once, so that a regression fails the test instead of the machine.
KILL_ABOVE = 3 * 1024**3


def huge(fmt: str, index: int, side: int = 7000) -> bytes:
    """A one-colour image of side x side pixels (49 MP): a few hundred kB at most on the wire."""
    out = io.BytesIO()
    options = {"WEBP": {"lossless": True}, "TIFF": {"compression": "tiff_deflate"}}.get(fmt, {})
    Image.new("RGB", (side, side), (index % 256, 90, 160)).save(out, fmt, **options)
    return out.getvalue()


def kib(status: Path, key: str) -> int:
    for line in status.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{key} not in {status}")


@dataclass
class Watch:
    """Samples the server's RSS and polls /healthz on threads of their own until stopped."""

    pid: int
    url: str
    peak_rss: int = 0
    worst_healthz: float = 0.0
    healthz_failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def rss(self) -> int:
        return kib(Path(f"/proc/{self.pid}/status"), "VmRSS")

    def sample(self, kill: Callable[[], None]) -> None:
        while not self.stop.is_set():
            self.peak_rss = max(self.peak_rss, self.rss())
            if self.peak_rss > KILL_ABOVE:
                kill()
                return
            time.sleep(0.01)

    def poll(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    ok = http.get("/healthz").status_code == 200
                except httpx.HTTPError as exc:
                    ok = False
                    self.healthz_failures.append(repr(exc))
                elapsed = time.monotonic() - started
                self.worst_healthz = max(self.worst_healthz, elapsed)
                if not ok and not self.healthz_failures:
                    self.healthz_failures.append("not 200")
                time.sleep(0.05)


def check_answer(dialect: str, response: httpx.Response) -> None:
    """A 200, or the 429 every dialect documents: Retry-After, and the dialect's own error shape."""
    if response.status_code == 200:
        return
    assert response.status_code == 429, (dialect, response.status_code, response.text[:300])
    assert int(response.headers["retry-after"]) >= 1
    if dialect == "uploadcare":  # the Upload API answers errors in plain text
        assert response.headers["content-type"].startswith("text/plain") and "Retry later" in response.text
    else:
        body = response.json()
        assert set(body) == {"message", "help"} and "Retry later" in body["message"]


def test_hostile_burst_keeps_memory_bounded_and_the_server_responsive(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path / "data", CUTOUT_UPLOADCARE_PUBLIC_KEY=UC_PUBLIC)
    service.start()
    assert service.process is not None
    status = Path(f"/proc/{service.process.pid}/status")
    watch = Watch(service.process.pid, service.url)
    try:
        with httpx.Client(base_url=service.url, auth=service.auth, timeout=60) as http:
            big = http.post("/api/v1/files/upload", files={"file": ("big.png", huge("PNG", 0, 7070))},
                            data={"fileName": "big.png", "useUniqueFileName": "false"})  # fmt: skip
            assert big.status_code == 200, big.text
            idle_rss = watch.rss()
            # Every format that is tiny when solid: PNG is verified streamed, TIFF and WebP decode in full.
            payloads = [huge(("PNG", "TIFF", "TIFF", "WEBP")[i % 4], i) for i in range(UPLOADS_PER_DIALECT)]

            def imagekit(i: int) -> tuple[str, httpx.Response]:
                files = {"file": (f"ik{i}.img", payloads[i])}
                return "imagekit", http.post("/api/v1/files/upload", files=files, data={"fileName": f"ik{i}.img"})

            def uploadcare(i: int) -> tuple[str, httpx.Response]:
                files = {"file": (f"uc{i}.img", payloads[i])}
                return "uploadcare", httpx.post(f"{service.url}/base/", files=files,
                                                data={"UPLOADCARE_PUB_KEY": UC_PUBLIC}, timeout=60)  # fmt: skip

            def thumbnail(_: int) -> tuple[str, httpx.Response]:
                # A preview client (a browser, a CDN) comes back after the documented Retry-After: whether the
                # first try finds the budget free depends on how the machine schedules the burst's uploads.
                for _attempt in range(THUMBNAIL_TRIES):
                    response = httpx.get(f"{service.url}/media/tr:n-ik_ml_thumbnail/big.png", timeout=60)
                    if response.status_code != 429:
                        break
                    time.sleep(min(float(response.headers["Retry-After"]), 5.0))
                return "imagekit", response

            watchers = [threading.Thread(target=watch.sample, args=(service.kill,)),
                        threading.Thread(target=watch.poll)]  # fmt: skip
            for thread in watchers:
                thread.start()
            started = time.monotonic()
            calls = [(imagekit, i) for i in range(UPLOADS_PER_DIALECT)] + [
                (uploadcare, i) for i in range(UPLOADS_PER_DIALECT)
            ] + [(thumbnail, i) for i in range(THUMBNAIL_GETS)]

            def send(call: tuple[Callable[[int], tuple[str, httpx.Response]], int]) -> tuple[str, httpx.Response] | str:
                try:
                    return call[0](call[1])
                except httpx.TransportError as exc:  # the server went away: told below, after its memory
                    return repr(exc)

            with ThreadPoolExecutor(len(calls)) as pool:
                sent = list(pool.map(send, calls))
            burst = time.monotonic() - started
            watch.stop.set()
            for thread in watchers:
                thread.join()
            assert watch.peak_rss < KILL_ABOVE, f"RSS passed {KILL_ABOVE / 2**30:.0f} GB: the server was stopped"
            settled = wait_for(lambda: (rss := watch.rss()) < SETTLED_LIMIT and rss, timeout=10)
            hwm = kib(status, "VmHWM")
        failures = [answer for answer in sent if isinstance(answer, str)]
        assert not failures, failures[:3]
        answers = [answer for answer in sent if not isinstance(answer, str)]
        codes = [r.status_code for _, r in answers]
        counts = {code: codes.count(code) for code in sorted(set(codes))}
        print(
            f"\nhostile burst: {len(answers)} requests in {burst:.1f} s, answers {counts}; RSS idle "
            f"{idle_rss / 2**20:.0f} MB, peak {watch.peak_rss / 2**20:.0f} MB (VmHWM {hwm / 2**20:.0f} MB), "
            f"settled {settled / 2**20:.0f} MB; worst /healthz {watch.worst_healthz * 1000:.0f} ms"
        )
        assert watch.peak_rss < PEAK_LIMIT and hwm < PEAK_LIMIT
        assert watch.worst_healthz < HEALTHZ_LIMIT and not watch.healthz_failures, watch.healthz_failures
        for dialect, response in answers:
            check_answer(dialect, response)
        thumbnails = [r for _, r in answers[-THUMBNAIL_GETS:] if r.status_code == 200]
        assert thumbnails and all(r.headers["content-type"] == "image/jpeg" for r in thumbnails)
        assert counts.get(200, 0) >= UPLOADS_PER_DIALECT, "most of the burst is served, not refused"
    finally:
        watch.stop.set()
        service.stop()
