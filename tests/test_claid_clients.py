"""The `claidai` client from PyPI against Cutout: only its base URL constant names the test server.

Also the README's "Claid API" examples, run as written (the curl one with bash, the claidai one with python).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import claidai
import claidai.client
import numpy as np
import pytest
from PIL import Image

from service.engine import U2NetSegmenter

from .conftest import PHOTOS, ROOT, RunningServer
from .receiver import Origin

KEY = "claid_test_key"


@pytest.fixture
def real(make_server: Callable[..., RunningServer], real_model: U2NetSegmenter) -> RunningServer:
    return make_server(real_model, egress_allow=("127.0.0.0/8",))


@pytest.fixture
def client(real: RunningServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[claidai.Claid]:
    monkeypatch.setattr(claidai.client, "BASE_URL", f"{real.url}/v1")
    yield claidai.Claid(KEY)


def saved(result: claidai.EditResult, path: Path) -> Image.Image:
    result.save(path)
    with Image.open(path) as image:
        image.load()
    return image


def test_remove_bg_cuts_out_the_subject_with_the_real_model(client: claidai.Claid, tmp_path: Path) -> None:
    result = client.remove_bg(PHOTOS / "coffee.png")  # products, clipping, transparent, png: its defaults
    assert result.input_meta.format == "png" and result.output_meta.format == "png"
    image = saved(result, tmp_path / "out.png")
    alpha = np.asarray(image.getchannel("A"))
    with Image.open(PHOTOS / "coffee.png") as photo:
        # clipping=True: cropped to the subject, so smaller than the photo, and mostly the subject.
        assert image.width < photo.width or image.height < photo.height
    assert (result.output_meta.width, result.output_meta.height) == image.size
    assert (alpha == 255).mean() > 0.3 and (alpha == 0).any()


def test_remove_bg_onto_a_colour_as_jpeg(client: claidai.Claid, tmp_path: Path) -> None:
    result = client.remove_bg(PHOTOS / "chelsea.png", bg_color="#ff0000", clipping=False, output_format="jpeg")
    image = saved(result, tmp_path / "out.jpg")
    assert image.format == "JPEG" and image.mode == "RGB"
    with Image.open(PHOTOS / "chelsea.png") as photo:
        assert image.size == photo.size
    red = np.all(np.abs(np.asarray(image, dtype=int) - (255, 0, 0)) < 40, axis=2)
    assert 0.05 < red.mean() < 0.95  # the background is red, the cat is not


@pytest.mark.parametrize(("fmt", "pil"), [("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("avif", "AVIF"),
                                          ("tiff", "TIFF")])  # fmt: skip
def test_convert(client: claidai.Claid, tmp_path: Path, fmt: str, pil: str) -> None:
    # claidai sends {"type": fmt, "quality": 85} for every format, PNG too: tolerated there.
    result = client.convert(PHOTOS / "rocket.jpg", output_format=fmt)  # type: ignore[arg-type]
    image = saved(result, tmp_path / f"out.{fmt}")
    assert image.format == pil and result.output_meta.format == fmt
    with Image.open(PHOTOS / "rocket.jpg") as photo:
        assert image.size == photo.size


def test_convert_quality_changes_the_file(client: claidai.Claid, tmp_path: Path) -> None:
    low = client.convert(PHOTOS / "rocket.jpg", output_format="jpeg", quality=20).save(tmp_path / "low.jpg")
    high = client.convert(PHOTOS / "rocket.jpg", output_format="jpeg", quality=95).save(tmp_path / "high.jpg")
    assert low.stat().st_size < high.stat().st_size


def test_refusals_reach_the_clients_exceptions(client: claidai.Claid, real: RunningServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    with pytest.raises(claidai.ClaidValidationError, match=r"operations\.restorations\.upscale"):
        client.upscale(PHOTOS / "rocket.jpg")
    with pytest.raises(claidai.ClaidValidationError, match=r"operations\.adjustments\.hdr"):
        client.enhance(PHOTOS / "rocket.jpg", hdr=50)
    with pytest.raises(claidai.ClaidValidationError, match=r"operations\.resizing\.fit"):
        client.outpaint(PHOTOS / "rocket.jpg")
    with pytest.raises(claidai.ClaidAuthError):
        claidai.Claid("not-the-key").convert(PHOTOS / "rocket.jpg", output_format="png")


def test_the_clients_other_edits_work(client: claidai.Claid, tmp_path: Path) -> None:
    smart = client.resize(PHOTOS / "coffee.png", width=100, height=100, smart=True, output_format="png")
    assert saved(smart, tmp_path / "smart.png").size == (100, 100)
    blurred = client.blur_bg(PHOTOS / "chelsea.png", level="high")
    assert saved(blurred, tmp_path / "blur.jpg").format == "JPEG"
    brighter = client.enhance(PHOTOS / "rocket.jpg", exposure=40, output_format="png")
    with Image.open(PHOTOS / "rocket.jpg") as photo:
        plain = np.asarray(photo.convert("RGB"), dtype=float).mean()
    assert np.asarray(saved(brighter, tmp_path / "bright.png").convert("RGB"), dtype=float).mean() > plain + 10


# ---- the README's examples ----------------------------------------------------------------------


def section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Claid API")
    return text[start : text.index("\n## ", start + 5)]


def test_the_readme_claidai_example_runs_as_written(real: RunningServer, tmp_path: Path) -> None:
    example = re.search(r"```python\n(.+?)```", section(), re.S)
    assert example is not None
    code = example.group(1).replace("http://127.0.0.1:8000", real.url)
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    env = {**os.environ, "CLAID_API_KEY": KEY}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "cutout.png") as image:
        assert image.mode == "RGBA"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_example_runs_as_written(real: RunningServer, tmp_path: Path) -> None:
    script = re.search(r"```sh\n(CLAID_KEY=.+?)```", section(), re.S)
    assert script is not None
    shop = Origin((PHOTOS / "coffee.png").read_bytes())
    try:
        commands = script.group(1).replace("http://127.0.0.1:8000", real.url).replace(
            "https://example.com/mug.png", f"{shop.url}/mug.png")  # fmt: skip
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "keys.json").write_text(json.dumps({"claid_api_key": KEY}))
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300, env={**os.environ, "PATH": path})  # fmt: skip
        assert done.returncode == 0, done.stderr
    finally:
        shop.close()
    with Image.open(io.BytesIO((tmp_path / "mug.jpg").read_bytes())) as image:
        assert image.format == "JPEG" and image.size == (500, 500)
