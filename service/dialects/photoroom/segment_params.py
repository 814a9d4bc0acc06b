"""Photoroom's `/v1/segment` fields -> one edit.

`size` bounds the result to Photoroom's pixel counts: `preview` 0.25
megapixels, `medium` 1.5, `hd` 4, `full` 36 (the default). A bigger result
(after `crop`) is scaled down, keeping its aspect ratio, to fit. `despill` is
accepted and changes nothing: every cut-out already has the background's
colour taken out of its semi-transparent edge pixels, where a green screen's
spill shows most; spill inside the opaque subject stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ... import engine
from ...engine.options import Rgba
from ...errors import BadRequest
from .edit_params import WHITE, parse_colour

FIELDS = ("image_file", "format", "channels", "bg_color", "size", "crop", "despill")
PIXELS = {"preview": 250_000, "medium": 1_500_000, "hd": 4_000_000, "full": 36_000_000}
CHOICES = {
    "format": ("png", "jpg", "webp"),
    "channels": ("rgba", "alpha"),
    "size": tuple(PIXELS),
    "crop": ("true", "false"),
    "despill": ("true", "false"),
}
DEFAULTS = {"format": "png", "channels": "rgba", "size": "full", "crop": "false", "despill": "false"}


def invalid(name: str, message: str) -> BadRequest:
    return BadRequest(f"{name} {message}", field=name, extra={"type": "invalid_parameter"})


@dataclass(frozen=True)
class SegmentRequest:
    """The validated fields."""

    format: str
    channels: str
    bg_color: Rgba | None
    max_pixels: int
    crop: bool

    def edit(self) -> engine.Edit:
        steps: list[engine.Step] = [engine.Segment()]
        if self.crop:
            steps.append(engine.Place(frame="subject"))  # the subject's box, no padding: a crop
        if self.channels == "alpha":
            steps.append(engine.Channels("alpha"))
        if self.bg_color is not None:
            steps.append(engine.Background(self.bg_color))
        # JPEG has no alpha: what is still transparent shows white.
        flatten = WHITE[:3] if self.format == "jpg" else None
        steps.append(engine.Encode(engine.OutputSpec(self.format, max_pixels=self.max_pixels, flatten_onto=flatten)))
        return engine.Edit(tuple(steps))


def parse_segment(values: Mapping[str, str], files: frozenset[str]) -> SegmentRequest:
    """Validate the form: text `values` and the names of file parts; each error names its field."""
    for name in [*values, *files]:
        if name not in FIELDS:
            raise BadRequest(f"{name[:64]} is not a field of /v1/segment; the fields are {', '.join(FIELDS)}.",
                             field=name[:64], extra={"type": "invalid_parameter"})  # fmt: skip
    if "image_file" in values:
        raise invalid("image_file", "must be a file part, not a text field.")
    for name in files - {"image_file"}:
        raise invalid(name, "must be a text field, not a file.")
    chosen = {}
    for name, allowed in CHOICES.items():
        value = values.get(name, DEFAULTS[name])
        if value not in allowed:
            raise invalid(name, f"must be one of {', '.join(allowed)}, got {value[:40]!r}.")
        chosen[name] = value
    colour = None
    if values.get("bg_color"):
        try:
            colour = parse_colour("bg_color", values["bg_color"])
        except BadRequest as exc:
            raise invalid("bg_color", exc.message.removeprefix("bg_color ")) from None
    if "image_file" not in files:
        raise BadRequest("Please provide an image.", field="image_file", extra={"type": "missing_image"})
    return SegmentRequest(chosen["format"], chosen["channels"], colour, PIXELS[chosen["size"]], chosen["crop"] == "true")
