"""The README's positioning pictures (docs/positioning/*.png) are what the engine draws today."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

from PIL import Image

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "positioning.py"


def test_committed_pictures_match_a_fresh_render():
    spec = importlib.util.spec_from_file_location("positioning_pictures", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rendered = script.pictures()
    committed = {path.name for path in script.OUT.glob("*.png")}
    assert committed == set(rendered), "re-run python docs/positioning.py"
    for name, picture in rendered.items():
        fresh = Image.open(io.BytesIO(script.saved(picture))).convert("RGB")
        on_disk = Image.open(script.OUT / name).convert("RGB")
        assert on_disk.tobytes() == fresh.tobytes(), f"{name} changed: re-run python docs/positioning.py"
        assert (script.OUT / name).stat().st_size < 20_000, name
