"""An edit is an ordered tuple of step records (steps.py), folded over one layer by `run`.

    Edit((Segment(), Roi(box), Edges(), Layout(crop=True), Shadow(), Background(color), Encode(OutputSpec("png"))))

The layer starts as the upright photo with its own alpha (opaque when it has
none). Steps come in three phases, in this order, and any step may be absent:

1. matte: `Segment` (the model's matte times the photo's alpha), `Roi`,
   `Edges` work on the alpha alone, in the order given;
2. geometry, at most one: `Layout` (remove.bg's crop, scale and position) or
   `Place` (Photoroom's positioning), planned from the subject's box in the
   alpha at that point (`Place` without `Segment`: the whole photo);
3. picture: `Outline`, `Shadow` and `Background` in the order given (a
   shadow after an opaque background is hidden by it); `Channels("alpha")`
   turns the result into the alpha itself, so the steps after it do not apply.

`Encode` comes last (default: PNG); the metadata it keeps comes from the
photo as decoded (`image.info`), not from a second read. The picture is built once, when phase 3
starts: a segmented photo gets its edges decontaminated there; an edit
without `Segment` (a background behind an already transparent PNG) keeps the
photo's colours as they are. Without `Segment` the model never runs.

The JSON form (`edit_to_json`, `edit_from_json`) is what jobs store. Its
`"v"` is 1; version 0 exists only for jobs queued before edits were stored:
their rows hold the raw remove.bg options, `{"v": 0, "remove_bg": {...}}`,
parsed once when they run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from .adjust import adjusted
from .compose import (
    Plan,
    alpha_from_mask,
    apply_roi,
    arrange,
    clear_outside,
    cutout_layer,
    hard_edges,
    plan_layout,
    plan_place,
    plan_resize,
    put_on_background,
    subject_box,
    with_shadow,
    within_pixels,
)
from .encode import Metadata, OutputSpec, carried, check_output, encode, flattened
from .errors import EngineError, ImageRejected, OptionError
from .icc import IccProfiles
from .load import Limits, decode, decode_for_model
from .looks import BlurMode, background_blurred, with_outline
from .mask import MODEL_SIDE
from .model import Segmenter, default_segmenter
from .options import Position
from .steps import (
    GEOMETRY,
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

EDIT_VERSION = 1
S = TypeVar("S", bound=Step)


@dataclass(frozen=True)
class Edit:
    """Validated, ordered steps (see the module docstring for the order)."""

    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        phases = [step.phase for step in self.steps]
        if phases != sorted(phases):
            raise EngineError("edit steps are out of order: matte steps, layout, picture steps, encode")
        if phases.count(GEOMETRY) > 1:
            raise EngineError("an edit has at most one geometry step (Layout or Place)")
        if sum(isinstance(step, Encode) for step in self.steps) > 1:
            raise EngineError("an edit has at most one Encode step")

    def find(self, kind: type[S]) -> S | None:
        """The first step of this kind, or None."""
        return next((step for step in self.steps if isinstance(step, kind)), None)

    @property
    def output(self) -> OutputSpec:
        encode_step = self.find(Encode)
        return encode_step.output if encode_step is not None else OutputSpec()

    @property
    def background_url(self) -> str | None:
        """The background image the caller must fetch and pass to `run`, if any."""
        return next((s.image_url for s in self.steps if isinstance(s, Background) and s.image_url), None)


@dataclass(frozen=True)
class Result:
    """An encoded cutout.

    `foreground` is the subject's box in the result's pixels, (left, top,
    width, height), None when the model did not run or found nothing.
    `uncertainty` is how unsure the model was, 0 to 1: the share of the
    subject's matte pixels (model output above 0.1) that are neither clearly
    subject nor clearly background (below 0.9); None when the model did not run.
    """

    data: bytes
    mime: str
    width: int
    height: int
    has_alpha: bool
    format: str
    foreground: tuple[int, int, int, int] | None = None
    uncertainty: float | None = None


@dataclass
class _Layer:
    """What the fold carries: its inputs, the photo's alpha as steps change it, then the picture once built."""

    data: bytes
    photo: Image.Image  # upright RGB or RGBA
    photo_alpha: np.ndarray | None  # the photo's own alpha, None when it has none
    alpha: np.ndarray  # uint8 (h, w)
    limits: Limits
    segmenter: Segmenter | None
    background_data: bytes | None
    segmented: bool = False  # the model's matte is in `alpha`
    matted: bool = False  # a Segment step ran: `alpha` is the subject (the model's or the photo's own)
    uncertainty: float | None = None
    plan: Plan | None = None  # once Layout ran
    subject: tuple[np.ndarray, tuple[int, int, int, int] | None] | None = None  # an alpha and its subject box
    picture: Image.Image | None = None  # RGBA, or L for an alpha output
    alpha_only: bool = False
    opaque: bool = False  # every picture pixel is opaque: written as RGB
    background: Image.Image | None = None  # the decoded background image, once a step asked for it
    measured: np.ndarray | None = None
    adjusted: bool = False  # an Adjust step changed `photo`'s colours  # a measuring Segment's matte: the subject's shape, not applied


# The model sees 320x320; twice that per side is all the detail its LANCZOS
# downscale can use, so bigger photos are reduced cheaply (DCT scaling for
# JPEG, box reduction otherwise) before the model's own resize.
MODEL_VIEW_SIDE = 2 * MODEL_SIDE


def model_view(image: Image.Image) -> Image.Image:
    """A reduced RGB copy for the model; transparent pixels are shown to it as white."""
    factor = min(image.width, image.height) // MODEL_VIEW_SIDE
    view = image.reduce(factor) if factor > 1 else image
    if view.mode == "RGBA":
        flat = Image.new("RGBA", view.size, (255, 255, 255, 255))
        flat.alpha_composite(view)
        view = flat
    return view.convert("RGB") if view.mode != "RGB" else view


def segment(segmenter: Segmenter, view: Image.Image) -> np.ndarray:
    """Run the segmenter and hold it to its contract."""
    mask = np.asarray(segmenter(view), dtype=np.float32)
    if mask.shape != (view.height, view.width):
        raise EngineError(f"segmenter returned a {mask.shape} mask for a {view.width}x{view.height} image")
    return mask


def _decode_background(data: bytes, limits: Limits) -> Image.Image:
    try:
        return decode(data, limits)[1]
    except ImageRejected as exc:
        raise ImageRejected(f"background image: {exc.message}", exc.kind) from exc


def run(
    edit: Edit,
    data: bytes,
    *,
    segmenter: Segmenter | None = None,
    background: bytes | None = None,
    limits: Limits | None = None,
    profiles: IccProfiles | None = None,
) -> Result:
    """Apply `edit` to an encoded image; `background` is the image a `Background` step with an image asks for.

    `profiles` are the named CMYK profiles installed (none when None).
    """
    limits = limits or Limits()
    check_output(edit.output, profiles)  # before the model runs
    _, image = decode(data, limits)
    photo_alpha = np.asarray(image.getchannel("A")) if image.mode == "RGBA" else None
    alpha = photo_alpha if photo_alpha is not None else np.full((image.height, image.width), 255, np.uint8)
    layer = _Layer(data, image, photo_alpha, alpha, limits, segmenter, background)
    for step in edit.steps:
        _APPLY[type(step)](layer, step)
    picture = _picture(layer)
    if not layer.matted and not layer.alpha_only and picture.mode == "RGBA":
        # Nothing was cut out: an opaque photo resized or adjusted is still opaque unless geometry left room.
        layer.opaque = layer.opaque or picture.getchannel("A").getextrema()[0] == 255
    if layer.opaque:
        picture = picture.convert("RGB")
    full_size = picture.size
    picture = within_pixels(picture, edit.output.max_pixels)
    spec = edit.output.resolved(picture)
    if spec.format == "jpg" and picture.mode not in ("RGB", "L"):
        if spec.flatten_onto is None:
            raise OptionError("format", "jpg needs an opaque background (bg_color or a background image)")
        picture = flattened(picture, spec.flatten_onto)
    encoding = edit.find(Encode)
    # `decode` keeps the photo's info (ICC profile, EXIF, XMP) through orientation and mode changes.
    metadata = carried(image.info, encoding.keep_metadata, encoding.keep_icc) if encoding else Metadata()
    encoded = encode(picture, spec, metadata, profiles)
    return Result(
        data=encoded.data,
        mime=encoded.mime,
        width=picture.width,
        height=picture.height,
        has_alpha=picture.mode in ("RGBA", "LA"),
        format=encoded.format,
        foreground=_scaled(_foreground(layer), full_size, picture.size),
        uncertainty=layer.uncertainty,
    )


def _foreground(layer: _Layer) -> tuple[int, int, int, int] | None:
    """The subject's box where it ended up in the result, from the matte and the layout plan."""
    if not layer.segmented:
        return None
    box = _subject_box(layer)
    if box is None:
        return None
    shown = layer.plan.visible(box) if layer.plan is not None else box
    if shown is None:
        return None
    x0, y0, x1, y1 = shown
    return (x0, y0, x1 - x0, y1 - y0)


def _scaled(
    box: tuple[int, int, int, int] | None, full: tuple[int, int], size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """A box in the picture's pixels, in those of the picture scaled from `full` to `size`."""
    if box is None or full == size:
        return box
    sx, sy = size[0] / full[0], size[1] / full[1]
    left, top = math.floor(box[0] * sx + 0.5), math.floor(box[1] * sy + 0.5)  # halves up, not to even
    right, bottom = math.floor((box[0] + box[2]) * sx + 0.5), math.floor((box[1] + box[3]) * sy + 0.5)
    return (left, top, max(1, right - left), max(1, bottom - top))


def uncertainty(mask: np.ndarray) -> float:
    """Share of the matte's subject pixels (above 0.1) that are not clearly subject (at or above 0.9)."""
    subject = mask > 0.1
    count = int(np.count_nonzero(subject))
    if count == 0:
        return 0.0
    unsure = np.count_nonzero(subject & (mask < 0.9))
    return round(unsure / count, 3)


# ---- steps: each changes the layer in place -------------------------------------------------------


def _segment(layer: _Layer, step: Segment) -> None:
    if step.measure_only:
        layer.measured = _matte(layer)
        return
    layer.matted = True
    if step.unless_transparent and layer.photo_alpha is not None and int(layer.photo_alpha.min()) < 255:
        return  # the photo's own transparency is the cut-out
    alpha = _matte(layer)
    if layer.photo_alpha is not None:
        # Transparent input stays transparent whatever the model says.
        alpha = ((alpha.astype(np.uint16) * layer.photo_alpha + 127) // 255).astype(np.uint8)
    layer.alpha, layer.segmented = alpha, True


def _matte(layer: _Layer) -> np.ndarray:
    """The model's matte of the photo, at the photo's size."""
    view = decode_for_model(layer.data, layer.limits, MODEL_VIEW_SIDE)
    if view is None:
        view = model_view(layer.photo)
    mask = segment(layer.segmenter or default_segmenter(), view)
    layer.uncertainty = uncertainty(mask)
    return alpha_from_mask(mask, layer.photo.size)


def _adjust(layer: _Layer, step: Adjust) -> None:
    layer.photo = adjusted(layer.photo, exposure=step.exposure, saturation=step.saturation,
                           contrast=step.contrast, sharpness=step.sharpness)  # fmt: skip


def _roi(layer: _Layer, step: Roi) -> None:
    layer.alpha = apply_roi(layer.alpha, step.box)


def _edges(layer: _Layer, step: Edges) -> None:
    layer.alpha = hard_edges(layer.alpha)


def _subject_box(layer: _Layer) -> tuple[int, int, int, int] | None:
    """The subject's box in the layer's alpha, measured once for that alpha (the geometry and the foreground
    both ask, and the picture steps do not change the alpha)."""
    if layer.subject is None or layer.subject[0] is not layer.alpha:
        layer.subject = (layer.alpha, subject_box(Image.fromarray(layer.alpha, mode="L")))
    return layer.subject[1]


def _layout(layer: _Layer, step: Layout) -> None:
    layer.plan = plan_layout(layer.photo.size, _subject_box(layer), step)


def _place(layer: _Layer, step: Place) -> None:
    # Without a matte the whole photo is the subject.
    subject = _subject_box(layer) if layer.matted else None
    layer.plan = plan_place(layer.photo.size, subject, step)
    _check_canvas(layer, "size")


def _resize(layer: _Layer, step: Resize) -> None:
    shape = layer.measured if layer.measured is not None else layer.alpha if layer.matted else None
    subject = subject_box(Image.fromarray(shape, mode="L")) if shape is not None else None
    layer.plan = plan_resize(layer.photo.size, subject, step)
    _check_canvas(layer, "resizing")


def _check_canvas(layer: _Layer, field: str) -> None:
    """A padded, framed or enlarged canvas can be far larger than the photo; it is held to the photos' limits."""
    assert layer.plan is not None
    width, height = layer.plan.canvas
    limits = layer.limits
    if max(width, height) > limits.max_side or width * height > limits.max_megapixels * 1_000_000:
        raise OptionError(
            field,
            f"the result would be {width}x{height} pixels; the limit is {limits.max_side} per side "
            f"and {limits.max_megapixels:g} megapixels",
        )


def _outline(layer: _Layer, step: Outline) -> None:
    if not layer.alpha_only:
        layer.picture = with_outline(_picture(layer), step.color, step.width, step.blur)


def _channels(layer: _Layer, step: Channels) -> None:
    if step.channels != "alpha" or layer.alpha_only:
        return
    if layer.picture is None:
        layer.picture = _arranged(Image.fromarray(layer.alpha, mode="L"), layer.plan)
    else:
        layer.picture = layer.picture.getchannel("A")
    layer.alpha_only, layer.opaque = True, False


def _shadow(layer: _Layer, step: Shadow) -> None:
    if not layer.alpha_only:
        layer.picture = with_shadow(_picture(layer), step.style)


def _background(layer: _Layer, step: Background) -> None:
    if step.has_image and layer.background_data is not None and layer.background is None:
        # Decoded even for an alpha output, which does not show it: bad bytes are refused alike.
        layer.background = _decode_background(layer.background_data, layer.limits)
    if layer.alpha_only:
        return
    image = layer.background if step.has_image else None
    picture = _picture(layer)
    if not step.has_image and step.color is None and step.blur is not None:
        layer.picture = _on_blurred_photo(layer, picture, step.blur)
        layer.opaque = layer.picture.getchannel("A").getextrema()[0] == 255
        return
    layer.picture = put_on_background(picture, step.color, image, step.scaling, step.blur)
    if (image is not None and step.scaling == "fill") or (step.color is not None and step.color[3] == 255):
        layer.opaque = True


def _on_blurred_photo(layer: _Layer, picture: Image.Image, blur: tuple[BlurMode, float]) -> Image.Image:
    """Portrait mode: the picture over the photo itself, blurred, moved and scaled as the subject was."""
    mode, fraction = blur
    scale = layer.plan.scale()[0] if layer.plan is not None and layer.plan.moved else 1.0
    # The radius is a fraction of the result's larger side; the photo is blurred before it is scaled.
    ground = background_blurred(layer.photo, layer.alpha, mode, fraction * max(picture.size) / scale)
    if layer.plan is not None:
        ground = arrange(ground, layer.plan, whole=True)
    ground.alpha_composite(picture)
    return ground


def _encode(layer: _Layer, step: Encode) -> None:
    """Encoding happens after the fold (run reads `edit.output`)."""


_APPLY: dict[type[Step], Callable[[_Layer, Any], None]] = {
    Segment: _segment,
    Roi: _roi,
    Edges: _edges,
    Adjust: _adjust,
    Layout: _layout,
    Place: _place,
    Resize: _resize,
    Channels: _channels,
    Outline: _outline,
    Shadow: _shadow,
    Background: _background,
    Encode: _encode,
}


def _arranged(picture: Image.Image, plan: Plan | None) -> Image.Image:
    return arrange(picture, plan) if plan is not None else picture


def _picture(layer: _Layer) -> Image.Image:
    """The layer as a picture, built from the photo and alpha the first time it is needed."""
    if layer.picture is None:
        if layer.segmented:
            rgb = layer.photo.convert("RGB") if layer.photo.mode != "RGB" else layer.photo
            pixels = cutout_layer(rgb, layer.alpha)
            if layer.plan is not None and layer.plan.keeps_in_place(layer.photo.size):
                clear_outside(pixels, layer.plan.box)  # the whole arrangement, on pixels nobody else holds
                layer.picture = Image.fromarray(pixels, mode="RGBA")
                return layer.picture
            rgba = Image.fromarray(pixels, mode="RGBA")
        else:
            rgba = layer.photo.convert("RGBA")
            rgba.putalpha(Image.fromarray(layer.alpha, mode="L"))
        layer.picture = _arranged(rgba, layer.plan)
    return layer.picture


# ---- JSON ----------------------------------------------------------------------------------------

_KINDS: dict[str, type[Step]] = {kind.name: kind for kind in _APPLY}


def _plain(value: Any) -> Any:
    """Step field -> JSON: tuples become lists, nested records objects."""
    if isinstance(value, (Position, OutputSpec)):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _frozen(value: Any) -> Any:
    """JSON lists -> tuples, as the frozen records hold them."""
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def edit_to_json(edit: Edit) -> dict[str, Any]:
    """A versioned JSON object for `edit`; `edit_from_json` reads it back."""
    steps = []
    for step in edit.steps:
        body = {f.name: _plain(getattr(step, f.name)) for f in fields(step)}
        steps.append({"step": step.name, **body})
    return {"v": EDIT_VERSION, "steps": steps}


def edit_from_json(data: Mapping[str, Any]) -> Edit:
    """The edit `edit_to_json` wrote, or a v0 row's raw remove.bg options parsed once (OptionError if bad)."""
    version = data.get("v")
    if version == 0:
        # Only jobs queued before edits were stored have v0 (db.py m007_job_edit wraps them).
        from .remove_bg import remove_bg_edit

        return remove_bg_edit(data.get("remove_bg") or {})
    if version != EDIT_VERSION:
        raise EngineError(f"unknown edit version {version!r}")
    try:
        return Edit(tuple(_step(item) for item in data["steps"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EngineError(f"malformed edit: {type(exc).__name__}: {exc}") from None


def _step(item: Mapping[str, Any]) -> Step:
    values = {key: value for key, value in item.items() if key != "step"}
    kind = _KINDS[item["step"]]
    if kind is Layout and values.get("position") is not None:
        values["position"] = Position(**values["position"])
    if kind is Encode:
        output = dict(values.get("output", {}))
        if output.get("flatten_onto") is not None:
            output["flatten_onto"] = tuple(output["flatten_onto"])
        values["output"] = OutputSpec(**output)
    if kind is Background and values.get("blur") is not None:
        values["blur"] = tuple(values["blur"])
    return kind(**{key: _frozen(value) for key, value in values.items()})
