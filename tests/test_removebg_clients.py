"""remove.bg's own clients against Cutout: the npm package `remove.bg` under Node, and `removebg` from PyPI.

Each keeps its requests as they are; only the endpoint constant names the test server.
"""

from __future__ import annotations

import base64
import gc
import json
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from .conftest import ROOT, RunningServer, photo_bytes
from .receiver import Origin

NPM_CLIENT = "remove.bg@1.3.0"
NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH")
KEY = "removebg_test_key"


def image_at(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
    return image


@pytest.fixture(scope="session")
def npm_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The npm client installed from the registry into a temp dir, once per session."""
    npm = shutil.which("npm")
    assert npm is not None and shutil.which("node") is not None, "Node and npm are needed for this test"
    where = tmp_path_factory.mktemp("npm-removebg")
    done = subprocess.run(
        [npm, "install", "--prefix", str(where), "--no-audit", "--no-fund", "--no-save", NPM_CLIENT],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0 and any(code in done.stderr for code in NETWORK_ERRORS):
        pytest.skip(f"the npm registry is unreachable: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr
    return where


@pytest.fixture
def served(make_server, real_model) -> Iterator[tuple[RunningServer, Origin]]:  # type: ignore[no-untyped-def]
    server = make_server(real_model, egress_allow=("127.0.0.0/8",))
    origin = Origin(photo_bytes("coffee.png"))
    yield server, origin
    origin.close()


def test_the_npm_client_removes_backgrounds_from_a_file_base64_and_a_url(npm_client: Path, served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, origin = served
    photo = tmp_path / "rocket.jpg"
    photo.write_bytes(photo_bytes("rocket.jpg"))
    done = subprocess.run(
        ["node", str(ROOT / "tests" / "clients" / "removebg.js"), str(npm_client), f"{server.url}/v1.0/removebg", KEY,
         str(photo), f"{origin.url}/coffee.png", str(tmp_path)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for name, mode in (("file", "RGBA"), ("base64", "RGB"), ("url", "RGBA")):
        result = out[name]
        image = image_at(tmp_path / f"{name}.png")
        assert image.format == ("PNG" if mode == "RGBA" else "JPEG")  # auto: jpg once the background is opaque
        assert image.mode == mode
        assert (int(result["resultWidth"]), int(result["resultHeight"])) == image.size
        assert result["creditsCharged"] == "0" and result["detectedType"] is None
    assert image_at(tmp_path / "base64.png").size == (640, 427)  # size=full
    cropped = image_at(tmp_path / "file.png")
    assert cropped.width < 640 and cropped.height < 427  # crop=true
    assert image_at(tmp_path / "url.png").size == (600, 400)  # preview: the photo is under 0.25 MP
    assert origin.hits == ["/coffee.png"]
    assert out["wrongKey"] == [{"title": "API Key invalid", "code": "auth_failed",
                                "detail": "The API key in the X-Api-Key header is not valid."}]  # fmt: skip
    [bad_size] = out["badSize"]
    assert bad_size["code"] == "invalid_size" and "size" in bad_size["detail"]
    assert server.blob_count() == 0 and server.file_count() == 0


def test_the_pypi_client_removes_backgrounds_from_a_file_a_url_and_base64(served, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from removebg import RemoveBg
    from removebg import removebg as client_module

    server, origin = served
    monkeypatch.setattr(client_module, "API_ENDPOINT", f"{server.url}/v1.0/removebg")
    monkeypatch.chdir(tmp_path)
    client = RemoveBg(KEY, str(tmp_path / "errors.log"))
    photo = tmp_path / "rocket.jpg"
    photo.write_bytes(photo_bytes("rocket.jpg"))
    client.remove_background_from_img_file(str(photo), size="full")
    client.remove_background_from_img_url(f"{origin.url}/coffee.png", new_file_name="url.png", bg_color="white")
    client.remove_background_from_base64_img(base64.b64encode(photo.read_bytes()).decode(), new_file_name="b64.png")
    from_file = image_at(tmp_path / "rocket.jpg_no_bg.png")
    assert (from_file.format, from_file.mode, from_file.size) == ("PNG", "RGBA", (640, 427))
    from_url = image_at(tmp_path / "url.png")  # the client names it .png; remove.bg's auto made a jpg
    assert (from_url.format, from_url.mode, from_url.size) == ("JPEG", "RGB", (600, 400))
    from_b64 = image_at(tmp_path / "b64.png")  # size=regular: preview's 0.25 MP
    assert (from_b64.format, from_b64.size) == ("PNG", (612, 408))
    with warnings.catch_warnings():
        # The client leaves the photo open when a request fails: it raises before closing it.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            RemoveBg("wrong", str(tmp_path / "errors.log")).remove_background_from_img_file(str(photo))
        except requests.HTTPError as exc:
            status, body = exc.response.status_code, exc.response.json()
        else:
            pytest.fail("a wrong key was accepted")
        gc.collect()
    assert status == 403 and body["errors"][0]["code"] == "auth_failed"
    assert server.blob_count() == 0 and server.file_count() == 0
