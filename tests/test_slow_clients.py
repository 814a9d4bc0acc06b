"""Slow-loris clients: a request body that stalls or trickles is cut off with a 408 in the path's dialect,
while a slow but steady upload earns the time it needs."""

from __future__ import annotations

import base64
import json
import socket
import time

import httpx

from .conftest import RunningServer, image_bytes

BODY_SECONDS = 1.5
BODY_RATE = 4096  # bytes that earn one more second
SLOW = {"body_timeout_seconds": BODY_SECONDS, "body_min_rate": BODY_RATE}


def multipart(fields: dict[str, str], file: bytes) -> tuple[bytes, str]:
    boundary = "cutoutboundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bmp"\r\n'
        "Content-Type: image/bmp\r\n\r\n".encode() + file + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def request_head(server: RunningServer, path: str, content_type: str, length: int, *, auth: bool = True,
                 close: bool = False) -> bytes:  # fmt: skip
    lines = [f"POST {path} HTTP/1.1", "Host: cutout", f"Content-Type: {content_type}", f"Content-Length: {length}"]
    if auth:
        lines.append("Authorization: Basic " + base64.b64encode(f"{server.auth()[0]}:".encode()).decode())
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_slowly(server: RunningServer, head: bytes, body: bytes, *, chunk: int, every: float,
                limit: float = 30.0) -> tuple[bytes, float]:  # fmt: skip
    """Send `head`, then `body` in `chunk`-byte pieces `every` seconds, stopping early when the server
    answers; then read until the server closes. Returns what it answered and the seconds that took."""
    started = time.monotonic()
    with socket.create_connection((server.settings.host, server.settings.port), timeout=limit) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        sent, answer = 0, b""
        while time.monotonic() - started < limit:
            try:
                if not (data := sock.recv(65536)):
                    break  # the server closed the connection
                answer += data
                continue
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
            if sent < len(body):
                try:
                    sock.sendall(body[sent : sent + chunk])
                    sent += chunk
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    pass
            time.sleep(every)
    return answer, time.monotonic() - started


def status_and_body(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}
    return int(status_line.split(" ")[1]), headers, body


def test_a_stalled_body_is_answered_408_and_the_connection_closed(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**SLOW)
    body, content_type = multipart({"fileName": "a.png"}, image_bytes())
    head = request_head(server, "/api/v1/files/upload", content_type, len(body))
    answer, seconds = send_slowly(server, head, body[:100], chunk=100, every=0.05)  # then nothing more
    status, headers, payload = status_and_body(answer)
    assert status == 408, answer[:300]
    assert headers["connection"] == "close"  # and the server closed it: send_slowly returned before its limit
    error = json.loads(payload)
    assert "did not arrive in time" in error["message"] and "CUTOUT_BODY_TIMEOUT_SECONDS" in error["help"]
    assert BODY_SECONDS - 0.1 <= seconds < BODY_SECONDS + 3
    assert server.file_count() == 0 and httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_trickled_body_is_cut_off_by_its_rate(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**SLOW)
    body, content_type = multipart({"UPLOADCARE_PUB_KEY": server.settings.uploadcare_public_key}, image_bytes())
    head = request_head(server, "/base/", content_type, len(body), auth=False)
    # A byte every 50 ms never lets the connection idle, but earns almost no time.
    answer, seconds = send_slowly(server, head, body, chunk=1, every=0.05)
    status, headers, payload = status_and_body(answer)
    assert status == 408, answer[:300]
    assert headers["content-type"].startswith("text/plain") and b"did not arrive in time" in payload  # Upload API shape
    assert seconds < BODY_SECONDS + 3
    assert server.file_count() == 0


def test_a_slow_but_steady_upload_succeeds(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**SLOW)
    picture = image_bytes((120, 100), "BMP")  # 36 KB that does not compress
    body, content_type = multipart({"fileName": "steady.bmp"}, picture)
    head = request_head(server, "/api/v1/files/upload", content_type, len(body), close=True)
    # ~16 KB/s: slower than the 1.5 s base allows for the whole body, four times the minimum rate.
    answer, seconds = send_slowly(server, head, body, chunk=800, every=0.05)
    status, _, payload = status_and_body(answer)
    assert status == 200, answer[:300]
    assert json.loads(payload)["size"] == len(picture)  # all of it arrived
    assert seconds > BODY_SECONDS  # it took longer than the base timeout
    assert server.file_count() == 1
