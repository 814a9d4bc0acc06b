"""`python -m service remove-bg`, run as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from .conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "remove-bg", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cutouts_are_written_and_a_bad_file_is_reported(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    out = tmp_path / "out"
    done = run(
        str(FIXTURES / "photos" / "coffee.png"),
        str(bad),
        str(FIXTURES / "photos" / "rocket.jpg"),
        "--out", str(out), "--bg-color", "white", "--format", "auto", "--crop", "--crop-margin", "10px",
    )
    assert done.returncode == 1, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["coffee.jpg", "rocket.jpg"]
    with Image.open(out / "coffee.jpg") as cup:
        assert cup.mode == "RGB" and cup.width < 600
    assert "broken.png: file is truncated or corrupt" in done.stderr
    assert "3/3" in done.stderr and "1 of 3 failed" in done.stderr


def test_all_good_exits_zero_with_png_by_default(tmp_path):
    done = run(str(FIXTURES / "photos" / "chelsea.png"), "--out", str(tmp_path), "--add-shadow", "--no-semitransparency")
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "chelsea.png") as cat:
        assert cat.mode == "RGBA" and cat.size == (451, 300)


def test_a_bad_option_names_it_and_writes_nothing(tmp_path):
    done = run(str(FIXTURES / "photos" / "chelsea.png"), "--out", str(tmp_path / "o"), "--scale", "500%")
    assert done.returncode == 2
    assert "scale: 500% is outside 10%..100%" in done.stderr
    assert not (tmp_path / "o").exists()


def test_help():
    done = run("--help")
    assert done.returncode == 0 and "--bg-color" in done.stdout and "--out" in done.stdout
