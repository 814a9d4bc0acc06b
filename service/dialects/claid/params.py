"""Claid's request body -> the engine's edit, the input and the output destination.

`operations` becomes edit steps (README "Claid API" says what each does);
operations that need a model this server lacks, and fields Claid does not
have, are refused with a 422 naming them. `output` becomes the engine's
OutputSpec with Claid's defaults (JPEG 85 and progressive, PNG "optimal",
WEBP 75, AVIF 50, TIFF LZW, lossy TIFF 75). Everything is checked here,
before anything is fetched or queued.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ... import engine
from ...engine.options import Length, Rgba, parse_color, parse_crop_margin
from .shapes import ValidationFailed

MAX_URI = 4096
FORMATS = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "webp": "webp", "avif": "avif", "tiff": "tiff"}
JPEG_QUALITY, WEBP_QUALITY, AVIF_QUALITY, TIFF_QUALITY = 85, 75, 50, 75
PNG_COMPRESSION = ("fast", "optimal", "best")
FITS = ("bounds", "cover", "canvas", "crop")
BLUR_TYPES: dict[str, Literal["gaussian", "bokeh"]] = {"regular": "gaussian", "lens": "bokeh"}
# A blur's radius as a fraction of the picture's larger side.
BLUR_LEVELS = {"low": 0.005, "medium": 0.01, "high": 0.02}
CATEGORIES = ("general", "products", "cars")
COLOR_SPACES = ("RGB", "CMYK")
WHITE = (255, 255, 255)
MAX_DPI = 10_000
# Operations (and values) that need a model this server does not have.
NEEDS_MODEL = "needs a model this server does not have"
OPERATIONS = ("restorations", "resizing", "adjustments", "background", "padding", "privacy", "generative",
              "outpaint")  # fmt: skip
MODEL_OPERATIONS = ("restorations", "privacy", "generative", "outpaint")


@dataclass(frozen=True)
class EditRequest:
    """A checked request: the edit, where its input is, and where its result goes (None: a temporary result)."""

    edit: engine.Edit
    destination: str | None


def refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details={field: [message]})


def _object(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise refused_type(field, "an object", value)
    return value


def refused_type(field: str, expected: str, value: object) -> ValidationFailed:
    return refuse(field, f"expected {expected}, got {_shown(value)}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def only(value: Mapping[str, Any], field: str, allowed: tuple[str, ...]) -> None:
    """Refuse every key of `value` Claid's schema does not have there, naming them all."""
    extra = [name for name in value if name not in allowed]
    if extra:
        names = [f"{field}.{name}"[:128] for name in extra]
        raise ValidationFailed(
            f"{', '.join(names)}: extra fields not permitted (allowed here: {', '.join(allowed)})",
            details={name: ["extra fields not permitted"] for name in names},
        )


def uri(value: object, field: str) -> str:
    """An http(s) URL or a storage:// URI."""
    if not isinstance(value, str) or not value.strip():
        raise refused_type(field, "a URL or a storage:// URI", value)
    text = value.strip()
    if len(text) > MAX_URI:
        raise refuse(field, f"ensure this value has at most {MAX_URI} characters")
    if not text.startswith(("http://", "https://", "storage://")):
        raise refuse(field, "expected an http(s) URL or a storage://name/path URI")
    return text


def _number(value: object, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise refused_type(field, f"a number from {low:g} to {high:g}", value)
    if not low <= value <= high:
        raise refuse(field, f"ensure this value is from {low:g} to {high:g}, got {value:g}")
    return float(value)


def _integer(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise refused_type(field, f"a whole number from {low} to {high}", value)
    if not low <= value <= high:
        raise refuse(field, f"ensure this value is from {low} to {high}, got {value}")
    return value


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise refused_type(field, "true or false", value)
    return value


def _choice(value: object, field: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise refuse(field, f"expected one of {', '.join(allowed)}, got {_shown(value)}")
    return value


# ---- operations ---------------------------------------------------------------------------------


@dataclass
class _Plan:
    segment: engine.Segment | None = None
    adjust: engine.Adjust | None = None
    resize: engine.Resize | None = None
    background: engine.Background | None = None
    flatten: tuple[int, int, int] = WHITE


def parse_operations(value: object) -> _Plan:
    plan = _Plan()
    if value is None:
        return plan
    ops = _object(value, "operations")
    only(ops, "operations", OPERATIONS)
    for name in MODEL_OPERATIONS:
        _refuse_model_operation(ops.get(name), f"operations.{name}")
    resizing = _object(ops["resizing"], "operations.resizing") if ops.get("resizing") is not None else {}
    adjustments = ops.get("adjustments")
    background = ops.get("background")
    clip = False
    if background is not None:
        clip = _background(_object(background, "operations.background"), plan)
    if adjustments is not None:
        plan.adjust = _adjustments(_object(adjustments, "operations.adjustments"))
    padding = _padding(ops.get("padding"))
    if resizing or padding is not None or clip:
        plan.resize = _resizing(resizing, padding, clip, plan)
    return plan


def _refuse_model_operation(value: object, field: str) -> None:
    """Any value that asks for something (not null, false, 0 or an empty object) is refused, naming it."""
    if value in (None, False, 0, "", {}):
        return
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _refuse_model_operation(inner, f"{field}.{key}")
        return
    raise refuse(field, NEEDS_MODEL)


def _background(spec: Mapping[str, Any], plan: _Plan) -> bool:
    """The background steps; True when the result is clipped to the subject."""
    only(spec, "operations.background", ("remove", "color", "blur"))
    remove, clip = spec.get("remove"), False
    removing = False
    if isinstance(remove, Mapping):
        only(remove, "operations.background.remove", ("category", "clipping", "selective"))
        _refuse_model_operation(remove.get("selective"), "operations.background.remove.selective")
        if remove.get("category") is not None:
            _choice(remove["category"], "operations.background.remove.category", CATEGORIES)
        if remove.get("clipping") is not None:
            clip = _flag(remove["clipping"], "operations.background.remove.clipping")
        removing = True
    elif remove is not None:
        removing = _flag(remove, "operations.background.remove")
    color: Rgba | None = None
    if spec.get("color") is not None:
        color = _color(spec["color"], "operations.background.color")
        if color is not None and color[3] == 255:
            plan.flatten = color[:3]
    blur = _blur(spec.get("blur"))
    if blur is not None and (removing or color is not None):
        other = "operations.background.remove" if removing else "operations.background.color"
        raise refuse("operations.background.blur",
                     f"blurs the photo's own background; it cannot be combined with {other}")  # fmt: skip
    if removing or blur is not None:
        plan.segment = engine.Segment()
    if blur is not None:
        plan.background = engine.Background(blur=blur)
    elif color is not None:
        plan.background = engine.Background(color=color)
    return clip


def _color(value: object, field: str) -> Rgba | None:
    """A hex colour or a colour name; "transparent" is None (nothing under the picture)."""
    if isinstance(value, str) and value.strip().lower() == "transparent":
        return None
    try:
        return parse_color(value)
    except ValueError as exc:
        raise refuse(field, str(exc)) from None


def _blur(value: object) -> tuple[Literal["gaussian", "bokeh"], float] | None:
    field = "operations.background.blur"
    if value is None or value is False:
        return None
    if value is True:
        return ("gaussian", BLUR_LEVELS["medium"])
    spec = _object(value, field)
    only(spec, field, ("category", "type", "level"))
    if spec.get("category") is not None:
        _choice(spec["category"], f"{field}.category", CATEGORIES)
    kind = _choice(spec.get("type", "regular"), f"{field}.type", tuple(BLUR_TYPES))
    level = _choice(spec.get("level", "medium"), f"{field}.level", tuple(BLUR_LEVELS))
    return (BLUR_TYPES[kind], BLUR_LEVELS[level])


def _adjustments(spec: Mapping[str, Any]) -> engine.Adjust | None:
    field = "operations.adjustments"
    only(spec, field, ("hdr", "exposure", "saturation", "contrast", "sharpness"))
    _refuse_model_operation(spec.get("hdr"), f"{field}.hdr")
    values = {name: _number(spec[name], f"{field}.{name}", -100, 100) for name in
              ("exposure", "saturation", "contrast", "sharpness") if spec.get(name) is not None}  # fmt: skip
    return engine.Adjust(**values) if any(values.values()) else None


def _side(value: object, field: str) -> Length | None:
    """px (a whole number), "N%", or "auto" / null."""
    if value is None or value == "auto":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 100_000:
            raise refuse(field, f"ensure this value is from 1 to 100000 pixels, got {value}")
        return (float(value), "px")
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            amount = float(value.strip()[:-1])
        except ValueError:
            amount = math.nan
        if not math.isfinite(amount) or not 0 < amount <= 1000:
            raise refuse(field, f"expected a percentage above 0% and at most 1000%, got {_shown(value)}")
        return (amount, "%")
    raise refused_type(field, 'pixels (500), a percentage ("150%") or "auto"', value)


def _fit(value: object) -> tuple[str, Literal["center", "subject"]]:
    field = "operations.resizing.fit"
    if value is None:
        return "bounds", "center"
    if isinstance(value, str):
        if value == "outpaint":
            raise refuse(field, f"outpaint {NEEDS_MODEL}")
        return _choice(value, field, FITS), "center"
    spec = _object(value, field)
    only(spec, field, ("type", "crop", "feathering"))
    kind = spec.get("type", "crop")
    if kind == "outpaint":
        raise refuse(field, f"outpaint {NEEDS_MODEL}")
    if kind != "crop" or "feathering" in spec:
        raise refuse(field, 'an object fit is {"type": "crop", "crop": "center" | "smart"}')
    crop = _choice(spec.get("crop", "center"), f"{field}.crop", ("center", "smart"))
    return "crop", "subject" if crop == "smart" else "center"


def _padding(value: object) -> engine.steps.Sides | None:
    if value is None:
        return None
    try:
        return parse_crop_margin(value)
    except ValueError as exc:
        raise refuse("operations.padding", f'{exc} (like "10%" or "5% 25%")') from None


def _resizing(spec: Mapping[str, Any], padding: engine.steps.Sides | None, clip: bool, plan: _Plan) -> engine.Resize:
    field = "operations.resizing"
    only(spec, field, ("width", "height", "fit"))
    width, height = _side(spec.get("width"), f"{field}.width"), _side(spec.get("height"), f"{field}.height")
    fit, focus = _fit(spec.get("fit"))
    if focus == "subject" and plan.segment is None:
        plan.segment = engine.Segment(measure_only=True)  # the subject is measured, the photo stays whole
    return engine.Resize(width=width, height=height, fit=fit, focus=focus, clip=clip,  # type: ignore[arg-type]
                         padding=padding or ((0, "px"),) * 4)  # fmt: skip


# ---- output -------------------------------------------------------------------------------------


def parse_output(
    value: object, flatten: tuple[int, int, int], *, folder: bool = False
) -> tuple[engine.OutputSpec, str | None]:
    """The output spec and the destination (None: a temporary result); `folder`: the destination must be one."""
    field = "output"
    destination: str | None = None
    fmt: object = "jpeg"
    metadata: Mapping[str, Any] = {}
    if isinstance(value, str):
        destination = uri(value, field)
    elif value is not None:
        spec = _object(value, field)
        only(spec, field, ("destination", "format", "metadata"))
        if spec.get("destination") is not None:
            destination = uri(spec["destination"], "output.destination")
        fmt = spec.get("format", "jpeg")
        metadata = _object(spec["metadata"], "output.metadata") if spec.get("metadata") is not None else {}
    dest_field = "output.destination" if isinstance(value, Mapping) else "output"
    if destination is not None and not destination.startswith("storage://"):
        raise refuse(dest_field, "results are written to a storage: expected a storage://name/path URI")
    if folder and destination is not None and not destination.endswith("/"):
        raise refuse(dest_field, "a batch writes into a folder: end the storage:// URI with /")
    options = _format(fmt)
    options.update(_metadata(metadata))
    options["flatten_onto"] = flatten
    try:
        output = engine.OutputSpec(**options)
    except (TypeError, ValueError) as exc:
        raise refuse("output.format", str(exc)) from None
    return output, destination


def _format(value: object) -> dict[str, Any]:
    field = "output.format"
    if isinstance(value, str):
        kind, spec = value, {}
    else:
        spec = dict(_object(value, field))
        kind = spec.pop("type", None)
        if kind is None:
            raise refuse(f"{field}.type", "field required")
    name = _choice(kind.lower() if isinstance(kind, str) else kind, f"{field}.type" if spec else field,
                   tuple(FORMATS))  # fmt: skip
    engine_format = FORMATS[name]
    if engine_format == "jpg":
        only(spec, field, ("quality", "progressive"))
        jpeg_quality = _integer(spec.get("quality", JPEG_QUALITY), f"{field}.quality", 1, 100)
        progressive = _flag(spec.get("progressive", True), f"{field}.progressive")
        return {"format": "jpg", "quality": jpeg_quality, "progressive": progressive}
    if engine_format == "png":
        # claidai sends `quality` with every format; PNG has none, so it is checked and changes nothing.
        only(spec, field, ("compression", "quality"))
        if spec.get("quality") is not None:
            _integer(spec["quality"], f"{field}.quality", 1, 100)
        compression = _choice(spec.get("compression", "optimal"), f"{field}.compression", PNG_COMPRESSION)
        return {"format": "png", "compression": compression}
    default = {"webp": WEBP_QUALITY, "avif": AVIF_QUALITY, "tiff": TIFF_QUALITY}[engine_format]
    only(spec, field, ("compression", "quality"))
    compression = spec.get("compression", "lossless" if engine_format == "tiff" else "lossy")
    quality: object = spec.get("quality", default)
    if isinstance(compression, Mapping):
        only(compression, f"{field}.compression", ("type", "quality"))
        kind = _choice(compression.get("type", "lossy"), f"{field}.compression.type", ("lossy",))
        quality = compression.get("quality", quality)
        compression = kind
    lossless = _choice(compression, f"{field}.compression", ("lossy", "lossless")) == "lossless"
    if lossless:
        return {"format": engine_format, "lossless": True}
    return {"format": engine_format, "quality": _integer(quality, f"{field}.quality", 1, 100), "lossless": False}


def _metadata(spec: Mapping[str, Any]) -> dict[str, Any]:
    field = "output.metadata"
    only(spec, field, ("dpi", "color_space"))
    options: dict[str, Any] = {}
    if spec.get("dpi") is not None:
        options["dpi"] = _integer(spec["dpi"], f"{field}.dpi", 1, MAX_DPI)
    space = spec.get("color_space")
    if space is None:
        return options
    if isinstance(space, str):
        options["color_space"] = _choice(space, f"{field}.color_space", COLOR_SPACES)
        return options
    profile = _object(space, f"{field}.color_space")
    only(profile, f"{field}.color_space", ("type", "color_profile"))
    options["color_space"] = _choice(profile.get("type"), f"{field}.color_space.type", COLOR_SPACES)
    if profile.get("color_profile") is not None:
        if not isinstance(profile["color_profile"], str):
            raise refused_type(f"{field}.color_space.color_profile", "a profile name", profile["color_profile"])
        options["color_profile"] = profile["color_profile"]
    return options


# ---- the whole request --------------------------------------------------------------------------


def parse_edit(body: Mapping[str, Any], *, folder: bool = False) -> EditRequest:
    """`operations` and `output` of a request (the caller takes `input`) as one edit."""
    plan = parse_operations(body.get("operations"))
    output, destination = parse_output(body.get("output"), plan.flatten, folder=folder)
    steps: list[engine.Step] = [step for step in (plan.segment, plan.adjust, plan.resize, plan.background) if step]
    try:
        edit = engine.Edit((*steps, engine.Encode(output)))
    except engine.EngineError as exc:
        raise refuse("operations", exc.message) from None
    return EditRequest(edit, destination)
