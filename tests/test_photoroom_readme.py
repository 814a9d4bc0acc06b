"""The README's Photoroom section: its curl examples work as written, and its two lists are the parameter table."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from service.dialects.photoroom.edit_params import IMPLEMENTED, REFUSED
from service.engine import U2NetSegmenter

from .conftest import ROOT, RunningServer, photo_bytes
from .receiver import Origin


def section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Photoroom API") : text.index("\n## ", text.index("## Photoroom API") + 5)]


def test_the_lists_are_the_parameter_table() -> None:
    text = section()
    implemented = text[text.index("parameters implemented") : text.index("Refused, with a 400")]
    refused = text[text.index("Refused, with a 400") : text.index("Rules, each a 400")]
    listed = set(re.findall(r"^- `([^`]+)`:", implemented, re.M))
    assert listed == set(IMPLEMENTED)
    names = {name for line in re.findall(r"^- (.+?): ", refused, re.M) for name in re.findall(r"`([^`]+)`", line)}
    assert names == set(REFUSED)
    assert f"The {len(IMPLEMENTED)} parameters implemented" in text


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_examples_work_as_written(make_server: Callable[..., RunningServer], real_model: U2NetSegmenter,
                                           tmp_path: Path) -> None:  # fmt: skip
    server = make_server(real_model, egress_allow=("127.0.0.0/8",))
    cat = Origin(photo_bytes("chelsea.png"))
    try:
        script = re.search(r"```sh\n(PR_KEY=.+?)```", section(), re.S)
        assert script is not None
        # Only where the server and the example photo live changes.
        commands = script.group(1).replace("http://127.0.0.1:8000", server.url).replace(
            "https://example.com/cat.png", f"{cat.url}/cat.png")  # fmt: skip
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "keys.json").write_text(json.dumps({"photoroom_api_key": "photoroom_test_key"}))
        (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # `python` is the venv's
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300, env={**os.environ, "PATH": path})  # fmt: skip
        assert done.returncode == 0, done.stderr
    finally:
        cat.close()
    assert Image.open(io.BytesIO((tmp_path / "coffee-cutout.png").read_bytes())).size == (600, 400)
    answer = json.loads((tmp_path / "coffee-cutout.json").read_text())
    cropped = Image.open(io.BytesIO(base64.b64decode(answer["base64img"])))
    assert cropped.format == "PNG" and cropped.width < 600
    square = Image.open(io.BytesIO((tmp_path / "coffee-square.jpg").read_bytes()))
    assert square.size == (1000, 1000) and square.format == "JPEG" and round(square.info["dpi"][0]) == 300
    sticker = Image.open(io.BytesIO((tmp_path / "cat-sticker.png").read_bytes()))
    assert sticker.size == (451, 300) and sticker.format == "PNG"
    assert json.loads(done.stdout)["plan"] == "self-hosted"
