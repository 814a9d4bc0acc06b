"""Golden results: every remove-bg option combination the suite covers, on the sample photos, with the real model.

`golden.json` holds, per case, the SHA-256 of the encoded file and of its
decoded pixels (mode, size and bytes). It was recorded on the engine before
edits became step lists, so any change in the bytes a client gets shows here.
Re-record only for a deliberate change of output:

    python -m tests.engine.test_golden --record
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from service.engine import U2NetSegmenter, edit_from_json, edit_to_json, remove_bg_edit, run

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
GOLDEN = Path(__file__).with_name("golden.json")
# The background image of the bg_image cases (the CLI's --bg-image, the runner's fetched bg_image_url).
BACKGROUND = "coffee.png"

# (photo, options, uses the background image). Each photo gets the plain cutout;
# each option set runs on one or two photos to keep the model runs few.
CASES: list[tuple[str, dict[str, object], bool]] = [
    ("astronaut.png", {}, False),
    ("chelsea.png", {}, False),
    ("coffee.png", {}, False),
    ("rocket.jpg", {}, False),
    ("chelsea.png", {"bg_color": "81d4fa"}, False),
    ("astronaut.png", {"bg_color": "81d4fa77"}, False),
    ("rocket.jpg", {"bg_color": "white", "format": "jpg"}, False),
    ("chelsea.png", {}, True),
    ("astronaut.png", {"format": "jpg"}, True),
    ("chelsea.png", {"add_shadow": True}, False),
    ("rocket.jpg", {"add_shadow": True, "bg_color": "fff"}, False),
    ("astronaut.png", {"semitransparency": "false"}, False),
    ("chelsea.png", {"crop": True}, False),
    ("astronaut.png", {"crop": True, "crop_margin": "20px"}, False),
    ("rocket.jpg", {"crop": True, "crop_margin": "10px 5%", "scale": "50%"}, False),
    ("chelsea.png", {"crop": True, "add_shadow": True}, False),
    ("coffee.png", {"scale": "50%"}, False),
    ("astronaut.png", {"scale": "80%", "position": "10% 90%"}, False),
    ("chelsea.png", {"position": "25%"}, False),
    ("coffee.png", {"roi": "0 10px 50% 100%"}, False),
    ("chelsea.png", {"channels": "alpha"}, False),
    ("rocket.jpg", {"channels": "alpha", "crop": True, "format": "jpg"}, False),
    ("chelsea.png", {"format": "webp"}, False),
    ("coffee.png", {"format": "webp", "bg_color": "000"}, False),
    ("astronaut.png", {"format": "auto"}, False),
    ("rocket.jpg", {"format": "auto", "bg_color": "white"}, False),
    ("coffee.png", {"type": "product", "type_level": "latest"}, False),
]


def case_id(case: tuple[str, dict[str, object], bool]) -> str:
    photo, options, with_background = case
    words = [f"{key}={value}" for key, value in options.items()]
    if with_background:
        words.append(f"bg_image={BACKGROUND}")
    return f"{photo}[{','.join(words) or 'plain'}]"


def fingerprint(data: bytes) -> dict[str, str]:
    """SHA-256 of the file and of its decoded pixels (mode, size and bytes)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    pixels = hashlib.sha256(f"{image.mode} {image.width}x{image.height}\n".encode())
    pixels.update(image.tobytes())
    return {"file": hashlib.sha256(data).hexdigest(), "pixels": pixels.hexdigest()}


def cut(case: tuple[str, dict[str, object], bool], segmenter: U2NetSegmenter) -> bytes:
    photo, options, with_background = case
    background = (FIXTURES / "photos" / BACKGROUND).read_bytes() if with_background else None
    # The way a job goes: parsed once, stored as JSON, read back and run.
    edit = edit_from_json(edit_to_json(remove_bg_edit(options, has_bg_image=with_background)))
    data = (FIXTURES / "photos" / photo).read_bytes()
    return run(edit, data, segmenter=segmenter, background=background).data


@pytest.fixture(scope="module")
def golden() -> dict[str, dict[str, str]]:
    return json.loads(GOLDEN.read_text())


def test_every_case_is_recorded(golden: dict[str, dict[str, str]]) -> None:
    assert sorted(golden) == sorted(case_id(case) for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_result_is_unchanged(case, golden, model) -> None:
    assert fingerprint(cut(case, model)) == golden[case_id(case)]


def record() -> None:
    segmenter = U2NetSegmenter()
    results = {case_id(case): fingerprint(cut(case, segmenter)) for case in CASES}
    GOLDEN.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(results)} cases in {GOLDEN}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python -m tests.engine.test_golden --record")
    record()
