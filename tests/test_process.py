"""The real server process: `python -m service` on a free port, spoken to over a socket."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from imagekitio import ImageKit

from .conftest import ROOT, free_port, image_bytes, wait_for


def test_python_m_service_serves_generates_keys_once_and_keeps_files(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CUTOUT_")},
        "CUTOUT_PORT": str(port),
        "CUTOUT_DATA_DIR": str(tmp_path / "data"),
    }
    url = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "service"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    first = start()
    try:
        wait_for(healthy, timeout=30)
        keys = (tmp_path / "data" / "keys.json").read_text()
        private_key = __import__("json").loads(keys)["imagekit_private_key"]
        client = ImageKit(private_key=private_key, base_url=url, max_retries=0)
        uploaded = client.files.upload(file=image_bytes(), file_name="proc.png")
        assert httpx.get(uploaded.url).content == image_bytes()
    finally:
        first.terminate()
        output = first.communicate(timeout=20)[0]
    assert private_key in output  # printed once, on the start that generated it

    second = start()
    try:
        wait_for(healthy, timeout=30)
        client = ImageKit(private_key=private_key, base_url=url, max_retries=0)
        assert [f.file_id for f in client.assets.list()] == [uploaded.file_id]
    finally:
        second.terminate()
        output = second.communicate(timeout=20)[0]
    assert private_key not in output


def test_bad_setting_is_a_clear_startup_error(tmp_path: Path) -> None:
    env = {**os.environ, "CUTOUT_PORT": "eighty", "CUTOUT_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "service"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "CUTOUT_PORT" in result.stderr
