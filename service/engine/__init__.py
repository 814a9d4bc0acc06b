"""Background removal: pure functions over image bytes (SPEC 6). No I/O, no HTTP.

Callers build an `Edit` (ordered step records, edit.py) - from remove.bg-style
options with `remove_bg_edit` - and apply it with `run`.
"""

from .cost import Work, cut_out_cost, decode_cost
from .edit import Edit, Result, edit_from_json, edit_to_json, run
from .encode import OutputSpec, check_output
from .errors import EngineError, ImageRejected, OptionError
from .icc import IccProfiles
from .load import ImageInfo, Limits, inspect_image
from .model import Segmenter, U2NetSegmenter, default_segmenter
from .options import Options, Position, parse_color, parse_options, remove_bg_schema
from .pipeline import remove_background, thumbnail
from .remove_bg import remove_bg_edit
from .steps import (
    Adjust,
    Background,
    Channels,
    Edges,
    Encode,
    Layout,
    Outline,
    Place,
    Resize,
    Roi,
    Segment,
    Shadow,
    Step,
)

__all__ = [
    "Adjust",
    "Background",
    "Channels",
    "Edges",
    "Edit",
    "Encode",
    "EngineError",
    "IccProfiles",
    "ImageInfo",
    "ImageRejected",
    "Layout",
    "Limits",
    "OptionError",
    "Options",
    "Outline",
    "OutputSpec",
    "Place",
    "Position",
    "Resize",
    "Result",
    "Roi",
    "Segment",
    "Segmenter",
    "Shadow",
    "Step",
    "U2NetSegmenter",
    "Work",
    "check_output",
    "cut_out_cost",
    "decode_cost",
    "default_segmenter",
    "edit_from_json",
    "edit_to_json",
    "inspect_image",
    "parse_color",
    "parse_options",
    "remove_background",
    "remove_bg_edit",
    "remove_bg_schema",
    "run",
    "thumbnail",
]
