"""Slow-loris clients: a request body that stalls or trickles is cut off with a 408 in the path's dialect,
while a slow but steady upload earns the time it needs."""

from __future__ import annotations

import base64
import json
import socket
import time

import httpx

from .conftest import RunningServer, ServiceProcess, image_bytes

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


def request_head(key: str | None, path: str, content_type: str, length: int, *, close: bool = False) -> bytes:
    """A POST's head, with Basic auth by `key` unless it is None."""
    lines = [f"POST {path} HTTP/1.1", "Host: cutout", f"Content-Type: {content_type}", f"Content-Length: {length}"]
    if key is not None:
        lines.append("Authorization: Basic " + base64.b64encode(f"{key}:".encode()).decode())
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_slowly(server: RunningServer | ServiceProcess, head: bytes, body: bytes, *, chunk: int, every: float,
                limit: float = 30.0) -> tuple[bytes, float]:  # fmt: skip
    """Send `head`, then `body` in `chunk`-byte pieces `every` seconds, stopping early when the server
    answers; then read until the server closes. Returns what it answered and the seconds that took."""
    started = time.monotonic()
    address = ("127.0.0.1", server.port if isinstance(server, ServiceProcess) else server.settings.port)
    with socket.create_connection(address, timeout=limit) as sock:
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
    head = request_head(server.auth()[0], "/api/v1/files/upload", content_type, len(body))
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
    head = request_head(None, "/base/", content_type, len(body))
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
    head = request_head(server.auth()[0], "/api/v1/files/upload", content_type, len(body), close=True)
    # ~16 KB/s: slower than the 1.5 s base allows for the whole body, four times the minimum rate.
    answer, seconds = send_slowly(server, head, body, chunk=800, every=0.05)
    status, _, payload = status_and_body(answer)
    assert status == 200, answer[:300]
    assert json.loads(payload)["size"] == len(picture)  # all of it arrived
    assert seconds > BODY_SECONDS  # it took longer than the base timeout
    assert server.file_count() == 1


def test_python_m_service_bounds_request_heads_and_bodies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    service = ServiceProcess(tmp_path / "data", CUTOUT_HEADER_TIMEOUT_SECONDS="1", CUTOUT_BODY_TIMEOUT_SECONDS="1")
    service.start()
    try:
        # A connection that never sends a head, and one that trickles it (which also defeats keep-alive's timer).
        silent, seconds = send_slowly(service, b"", b"", chunk=1, every=0.05)
        assert silent == b"" and 0.9 <= seconds < 4
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 1000
        trickled, seconds = send_slowly(service, b"", head, chunk=1, every=0.05)
        assert trickled == b"" and 0.9 <= seconds < 4
        # After a response the next head has the same deadline.
        answer, seconds = send_slowly(service, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"", chunk=1, every=0.05)
        assert answer.startswith(b"HTTP/1.1 200") and 0.9 <= seconds < 4
        # The body deadline holds in the real process too.
        body, content_type = multipart({"fileName": "a.png"}, image_bytes())
        head = request_head(service.auth[0], "/api/v1/files/upload", content_type, len(body))
        answer, _ = send_slowly(service, head, body[:50], chunk=50, every=0.05)
        assert status_and_body(answer)[0] == 408
        # A client with ordinary manners is served across pauses shorter than the deadlines.
        with httpx.Client(base_url=service.url) as client:
            for _ in range(3):
                assert client.get("/healthz").status_code == 200
                time.sleep(0.5)
    finally:
        service.stop()
