"""Background removal: pure functions over image bytes (SPEC 6). No I/O, no HTTP."""

from .cost import Work, cut_out_cost, decode_cost
from .errors import EngineError, ImageRejected, OptionError
from .load import ImageInfo, Limits, inspect_image
from .model import Segmenter, U2NetSegmenter, default_segmenter
from .options import Options, Position, parse_options
from .pipeline import Result, remove_background, thumbnail

__all__ = [
    "EngineError",
    "ImageInfo",
    "ImageRejected",
    "Limits",
    "OptionError",
    "Options",
    "Position",
    "Result",
    "Segmenter",
    "U2NetSegmenter",
    "Work",
    "cut_out_cost",
    "decode_cost",
    "default_segmenter",
    "inspect_image",
    "parse_options",
    "remove_background",
    "thumbnail",
]
