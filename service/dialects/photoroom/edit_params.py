"""Photoroom's `/v2/edit` parameters -> one edit: the one table of what is implemented and what is refused.

Every parameter of Photoroom's OpenAPI description (GET query and POST
multipart alike) is a key of exactly one of `IMPLEMENTED` (what it does here)
or `REFUSED` (why this server cannot do it); the README's two lists are these
tables. Values arrive as text (query strings, multipart fields) and are parsed
by the spec's types; every rule is checked before any image is fetched or
decoded, and each refusal names the parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from ... import engine
from ...engine.options import Length, Rgba, parse_color
from ...engine.steps import Align, Sides
from ...errors import BadRequest

GENERATIVE = "it generates pixels with a generative model, which this server does not have"
IMPLEMENTED: dict[str, str] = {
    "imageFile": "POST: the photo (multipart file part).",
    "imageUrl": "GET: the photo's http(s) URL, fetched through the safe egress client.",
    "removeBackground": "`true` (default): the model cuts the subject out; `false`: the photo is kept whole "
    "(it is the subject for positioning) and `background.color` fills padding and transparent areas.",
    "background.color": "Hex `FF0000`, `FF0000EE`, `FFF` (with or without `#`), a colour name, or `transparent` "
    "(default).",
    "background.imageFile": "POST: an image put behind the subject (see `background.scaling`).",
    "background.imageUrl": "GET: the URL of an image put behind the subject, fetched through the egress client.",
    "background.scaling": "`fill` (default): the background image covers the result, centred; `fit`: it is shown "
    "whole, centred, transparent around it. Only with a background image.",
    "background.blur.mode": "`gaussian` or `bokeh`: blurs the background image, or with no colour and no image "
    "the photo itself behind the subject.",
    "background.blur.radius": "0 (exclusive) to 0.05, default 0.01: the blur radius as a fraction of the "
    "result's larger side. Only with `background.blur.mode`.",
    "outputSize": "`auto` (default) and `originalImage`: the photo's size; `croppedSubject`: the subject's box "
    "plus its paddings and margins; `WxH`: that canvas.",
    "maxWidth": "Bounds the output width keeping the aspect ratio; only with outputSize `originalImage` or "
    "`croppedSubject`.",
    "maxHeight": "Bounds the output height keeping the aspect ratio; only with outputSize `originalImage` or "
    "`croppedSubject`.",
    "padding": "Space around the subject inside the margins: 0-0.49, `0%`-`49%` of the canvas less its margins, "
    "or `Npx`; dropped on a cropped side while snapping.",
    "paddingTop": "Overrides `padding` at the top.",
    "paddingRight": "Overrides `padding` on the right.",
    "paddingBottom": "Overrides `padding` at the bottom.",
    "paddingLeft": "Overrides `padding` on the left.",
    "margin": "Space at the canvas's edges: 0-0.49, `0%`-`49%` of the canvas side, or `Npx`; never dropped.",
    "marginTop": "Overrides `margin` at the top.",
    "marginRight": "Overrides `margin` on the right.",
    "marginBottom": "Overrides `margin` at the bottom.",
    "marginLeft": "Overrides `margin` on the left.",
    "scaling": "`fit` (default): the reference box fits inside the space left, the rest transparent; `fill`: it "
    "covers that space (overflow is cut).",
    "referenceBox": "`subjectBox` (default): the subject's box is positioned; `originalImage`: the whole photo is, "
    "keeping the subject where it was in it. Not with removeBackground=false.",
    "ignorePaddingAndSnapOnCroppedSides": "`true` (default): a side of the subject touching the photo's border "
    "(cropped) drops its padding and sits on the margin. Not with removeBackground=false.",
    "horizontalAlignment": "`left`, `center` (default), `right`: the subject within the space left; given, it "
    "turns snapping off horizontally.",
    "verticalAlignment": "`top`, `center` (default), `bottom`; given, it turns snapping off vertically.",
    "outline.color": "Draws an outline of this colour around the subject, behind it (same colour forms as "
    "background.color).",
    "outline.width": "0-0.1, default 0.03: the outline's width as a fraction of the result's larger side. Only "
    "with outline.color.",
    "outline.blurRadius": "0-0.025, default 0: softens the outline (fraction of the larger side). Only with "
    "outline.color.",
    "keepExistingAlphaChannel": "`auto`: a photo that already has transparency keeps it as the cut-out and the "
    "model does not run; `never` (default): the model always runs.",
    "shadow.mode": "`ai.soft`, `ai.hard`, `ai.floating`: a shadow synthesised from the subject's mask, under it "
    "(no generative model); the 2026-04-15 model's modes are refused.",
    "export.format": "`png` (default), `jpeg`/`jpg` (quality 80; transparency flattened onto the background "
    "colour, white by default), `webp` and `avif` (quality 90).",
    "export.dpi": "72-1200: the pixel density written into the file (the nearest whole dpi).",
    "preserveMetadata": "`never` (default); `xmp`: the photo's XMP packet; `exifSubset`: EXIF Copyright and "
    "UserComment; `exifSubsetWithXmpCompatibility`: those two also as XMP.",
    "colorSpace": "`sRGB` (default): no profile is written and pixel values are not converted; `original`: the "
    "photo's ICC profile goes into the file unchanged, only for a plain PNG cut-out.",
}
REFUSED: dict[str, str] = {
    "background.prompt": f"AI backgrounds: {GENERATIVE}",
    "background.negativePrompt": f"AI backgrounds: {GENERATIVE}",
    "background.expandPrompt": f"AI backgrounds: {GENERATIVE}",
    "background.seed": f"AI backgrounds: {GENERATIVE}",
    "background.guidance.imageFile": f"AI backgrounds: {GENERATIVE}",
    "background.guidance.imageUrl": f"AI backgrounds: {GENERATIVE}",
    "background.guidance.scale": f"AI backgrounds: {GENERATIVE}",
    "shadow.directionOverride": f"the 2026-04-15 AI Shadows model: {GENERATIVE}",
    "shadow.intensityOverride": f"the 2026-04-15 AI Shadows model: {GENERATIVE}",
    "shadow.softnessOverride": f"the 2026-04-15 AI Shadows model: {GENERATIVE}",
    "shadow.spreadOverride": f"the 2026-04-15 AI Shadows model: {GENERATIVE}",
    "shadow.subjectPoseOverride": f"the 2026-04-15 AI Shadows model: {GENERATIVE}",
    "lighting.mode": f"AI relighting: {GENERATIVE}",
    "textRemoval.mode": f"AI text removal: {GENERATIVE}",
    "beautify.mode": f"the AI beautifier: {GENERATIVE}",
    "beautify.onSubjectMismatch": f"the AI beautifier: {GENERATIVE}",
    "beautify.seed": f"the AI beautifier: {GENERATIVE}",
    "editWithAI.mode": f"Edit with AI: {GENERATIVE}",
    "editWithAI.prompt": f"Edit with AI: {GENERATIVE}",
    "editWithAI.seed": f"Edit with AI: {GENERATIVE}",
    "editWithAI.additionalImages.{key}.imageFile": f"Edit with AI: {GENERATIVE}",
    "editWithAI.additionalImages.{key}.imageUrl": f"Edit with AI: {GENERATIVE}",
    "describeAnyChange.mode": f"Describe any change: {GENERATIVE}",
    "describeAnyChange.prompt": f"Describe any change: {GENERATIVE}",
    "describeAnyChange.seed": f"Describe any change: {GENERATIVE}",
    "expand.mode": f"AI expand: {GENERATIVE}",
    "expand.seed": f"AI expand: {GENERATIVE}",
    "uncrop.mode": f"AI uncrop: {GENERATIVE}",
    "uncrop.seed": f"AI uncrop: {GENERATIVE}",
    "upscale.mode": f"AI upscale: {GENERATIVE}",
    "upscale.downscaleIfNeeded": f"AI upscale: {GENERATIVE}",
    "flatLay.mode": f"flat lay generation: {GENERATIVE}",
    "flatLay.prompt": f"flat lay generation: {GENERATIVE}",
    "flatLay.size": f"flat lay generation: {GENERATIVE}",
    "ghostMannequin.mode": f"ghost mannequin generation: {GENERATIVE}",
    "ghostMannequin.prompt": f"ghost mannequin generation: {GENERATIVE}",
    "ghostMannequin.size": f"ghost mannequin generation: {GENERATIVE}",
    "virtualModel.mode": f"virtual model generation: {GENERATIVE}",
    "virtualModel.model": f"virtual model generation: {GENERATIVE}",
    "virtualModel.scene": f"virtual model generation: {GENERATIVE}",
    "virtualModel.pose": f"virtual model generation: {GENERATIVE}",
    "virtualModel.prompt": f"virtual model generation: {GENERATIVE}",
    "virtualModel.quality": f"virtual model generation: {GENERATIVE}",
    "virtualModel.size": f"virtual model generation: {GENERATIVE}",
    "virtualModel.additionalProductImages": f"virtual model generation: {GENERATIVE}",
    "imageFromPrompt.prompt": f"image generation from a prompt: {GENERATIVE}",
    "imageFromPrompt.seed": f"image generation from a prompt: {GENERATIVE}",
    "imageFromPrompt.size": f"image generation from a prompt: {GENERATIVE}",
    "ironing.mode": f"AI ironing: {GENERATIVE}",
    "segmentation.mode": "choosing to keep or ignore the salient object needs Photoroom's promptable "
    "segmentation model; this server's one model always keeps the salient object",
    "segmentation.prompt": "text-guided segmentation needs a model that reads text, which this server does not have",
    "segmentation.negativePrompt": "text-guided segmentation needs a model that reads text, which this server "
    "does not have",
    "templateId": "templates are designed and stored in a Photoroom account; this server has none to render",
    "layers": "text and image layers are rendered by Photoroom's template engine (with fonts and generated "
    "images), which this server does not have",
}
# shadow.mode values of the 2026-04-15 AI Shadows model, which generates the shadow.
REFUSED_SHADOW_MODES = ("ai.preset-soft", "ai.preset-hard", "ai.auto-with-overrides")
GET_ONLY = ("imageUrl", "background.imageUrl")
POST_ONLY = ("imageFile", "background.imageFile")
FILES = frozenset(POST_ONLY)

# Photoroom's qualities: "Jpeg exports with a quality of 80, WebP and AVIF export with a quality of 90."
QUALITY = {"png": None, "jpg": 80, "webp": 90, "avif": 90}
WHITE: Rgba = (255, 255, 255, 255)
SIDES = ("Top", "Right", "Bottom", "Left")
_REFUSED_PATTERNS = [
    (re.compile(re.escape(name).replace(re.escape("{key}"), r"[^.\[\]]+") + r"(?:$|[.\[])"), name)
    for name in REFUSED
]


def refusal(name: str) -> str | None:
    """Why this server refuses `name` (a spec parameter, or a part of an object one, like `layers.logo.text`)."""
    for pattern, spec_name in _REFUSED_PATTERNS:
        if pattern.match(name):
            return REFUSED[spec_name]
    return None


def bad(name: str, message: str) -> BadRequest:
    return BadRequest(f"{name} {message}", field=name)


# ---- value parsers: text as sent -> the spec's type --------------------------------------------------


def parse_bool(name: str, text: str) -> bool:
    word = text.strip().lower()
    if word not in ("true", "false"):
        raise bad(name, f"must be boolean (true or false), got {text[:40]!r}")
    return word == "true"


def parse_number(name: str, text: str, low: float, high: float, *, above_low: bool = False) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise bad(name, f"must be a number, got {text[:40]!r}") from None
    if not math.isfinite(value) or value > high or value < low or (above_low and value == low):
        bound = f"greater than {low:g}" if above_low else f"at least {low:g}"
        raise bad(name, f"must be a number {bound} and at most {high:g}, got {text[:40]!r}")
    return value


def parse_choice(name: str, text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise bad(name, f"must be one of {', '.join(allowed)}, got {text[:40]!r}")
    return text


def parse_colour(name: str, text: str) -> Rgba | None:
    """A colour as Photoroom writes them; None for `transparent`."""
    if text.strip().lower() == "transparent":
        return None
    try:
        return parse_color(text)
    except ValueError:
        raise bad(name, f"must be a hex colour (FF0000, FF0000EE) or a colour name, got {text[:40]!r}") from None


def parse_length(name: str, text: str) -> Length:
    """0-0.49 (a ratio), `0%`-`49%`, or `Npx` -> (amount, "%" | "px")."""
    word = text.strip()
    if match := re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)px", word):
        return float(match.group(1)), "px"
    if match := re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)%", word):
        percent = float(match.group(1))
        if percent > 49:
            raise bad(name, f"must be at most 49%, got {word[:40]!r}")
        return percent, "%"
    if re.fullmatch(r"[0-9]*\.?[0-9]+", word):
        ratio = float(word)
        if ratio > 0.49:
            raise bad(name, f"must be a number between 0 and 0.49, a percentage up to 49% or pixels (100px), "
                            f"got {word[:40]!r}")  # fmt: skip
        return round(ratio * 100, 6), "%"
    raise bad(name, f"must be a number between 0 and 0.49, a percentage like 30% or pixels like 100px, "
                    f"got {text[:40]!r}")  # fmt: skip


def parse_output_size(text: str, limits: engine.Limits) -> tuple[int, int] | Literal["original", "subject"]:
    if text in ("auto", "originalImage"):
        return "original"
    if text == "croppedSubject":
        return "subject"
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match:
        raise bad("outputSize", f"must be auto, originalImage, croppedSubject or WIDTHxHEIGHT, got {text[:40]!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= limits.max_side and 1 <= height <= limits.max_side):
        raise bad("outputSize", f"sides must be 1 to {limits.max_side} pixels, got {text[:40]!r}")
    if width * height > limits.max_megapixels * 1_000_000:
        raise bad("outputSize", f"must be at most {limits.max_megapixels:g} megapixels, got {text[:40]!r}")
    return width, height


# ---- the request -> an edit -------------------------------------------------------------------------


@dataclass(frozen=True)
class EditRequest:
    """The validated request: the edit, and where its images come from."""

    edit: engine.Edit
    image_url: str | None  # GET
    background_url: str | None  # GET: background.imageUrl
    wants_background_file: bool  # POST: background.imageFile


def check_names(names: list[str], method: str) -> None:
    """Every name is a parameter this server does (for this method), or the first that is not is refused."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise bad(name, "is given more than once")
        seen.add(name)
        reason = refusal(name)
        if reason is not None:
            raise bad(name, f"is not supported by this server: {reason}.")
        if name not in IMPLEMENTED:
            raise bad(name, "is not a parameter of /v2/edit.")
        if method == "GET" and name in POST_ONLY:
            raise bad(name, "is only accepted by POST /v2/edit (multipart); GET takes "
                            f"{name.replace('File', 'Url')}.")  # fmt: skip
        if method == "POST" and name in GET_ONLY:
            raise bad(name, "is only accepted by GET /v2/edit; POST takes "
                            f"{name.replace('Url', 'File')} (a multipart file part).")  # fmt: skip


def _sides(values: Mapping[str, str], general: str) -> Sides:
    base = parse_length(general, values[general]) if general in values else (0.0, "px")
    sides = [parse_length(general + side, values[general + side]) if general + side in values else base
             for side in SIDES]  # fmt: skip
    return (sides[0], sides[1], sides[2], sides[3])


def _only_if(values: Mapping[str, str], names: tuple[str, ...], condition: bool, rule: str) -> None:
    if condition:
        return
    for name in names:
        if name in values:
            raise bad(name, f"can only be provided if {rule}.")


def parse_edit(values: Mapping[str, str], files: frozenset[str], method: str, limits: engine.Limits) -> EditRequest:
    """The edit `values` (text parameters) and `files` (names of the file parts sent) ask for."""
    check_names([*values, *files], method)
    for name in files - FILES:
        raise bad(name, "must be a text field, not a file.")
    for name in FILES & set(values):
        raise bad(name, "must be a file part, not a text field.")
    get = values.get
    remove = parse_bool("removeBackground", get("removeBackground", "true"))
    has_bg_image = "background.imageUrl" in values or "background.imageFile" in files
    if not remove:
        for name in ("background.imageUrl", "background.imageFile", "referenceBox",
                     "ignorePaddingAndSnapOnCroppedSides"):  # fmt: skip
            if name in values or name in files:
                raise bad(name, "can't be provided if removeBackground is set to false.")
    _only_if(values, ("background.scaling",), has_bg_image,
             "background.imageUrl or background.imageFile is provided")  # fmt: skip
    _only_if(values, ("background.blur.radius",), "background.blur.mode" in values, "background.blur.mode is provided")
    _only_if(values, ("outline.width", "outline.blurRadius"), "outline.color" in values, "outline.color is provided")
    frame = parse_output_size(get("outputSize", "auto"), limits)
    _only_if(values, ("maxWidth", "maxHeight"), get("outputSize") in ("originalImage", "croppedSubject"),
             "outputSize is originalImage or croppedSubject")  # fmt: skip
    if method == "GET" and "imageUrl" not in values:
        raise bad("imageUrl", "is required (the URL of the photo).")
    if method == "POST" and "imageFile" not in files:
        raise bad("imageFile", "is required (the photo, as a multipart file part).")

    place = _place(values, frame, limits)
    fmt = {"jpeg": "jpg"}.get(get("export.format", "png"), get("export.format", "png"))
    parse_choice("export.format", get("export.format", "png"), ("png", "jpeg", "jpg", "webp", "avif"))
    dpi = round(parse_number("export.dpi", values["export.dpi"], 72, 1200)) if "export.dpi" in values else None
    keep = {"never": "none", "xmp": "xmp", "exifSubset": "exif", "exifSubsetWithXmpCompatibility": "exif+xmp"}[
        parse_choice("preserveMetadata", get("preserveMetadata", "never"), ("never", "xmp", "exifSubset",
                                                                            "exifSubsetWithXmpCompatibility"))
    ]  # fmt: skip
    colour_space = parse_choice("colorSpace", get("colorSpace", "sRGB"), ("sRGB", "original"))
    keep_alpha = parse_choice("keepExistingAlphaChannel", get("keepExistingAlphaChannel", "never"),
                              ("auto", "never"))  # fmt: skip
    if colour_space == "original":
        _pure_png_cut_out(values, files)

    steps: list[engine.Step] = []
    if remove:
        steps.append(engine.Segment(unless_transparent=keep_alpha == "auto"))
    steps.append(place)
    if "outline.color" in values:
        steps.append(engine.Outline(
            _opaque_or_none("outline.color", parse_colour("outline.color", values["outline.color"])),
            parse_number("outline.width", get("outline.width", "0.03"), 0, 0.1),
            parse_number("outline.blurRadius", get("outline.blurRadius", "0"), 0, 0.025),
        ))  # fmt: skip
    if "shadow.mode" in values:
        steps.append(engine.Shadow(_shadow_style(values["shadow.mode"])))
    colour = parse_colour("background.color", values["background.color"]) if "background.color" in values else None
    blur = _blur(values)
    scaling = parse_choice("background.scaling", get("background.scaling", "fill"), ("fit", "fill"))
    background_url = get("background.imageUrl")
    if colour is not None or has_bg_image or blur is not None:
        steps.append(engine.Background(colour, background_url, has_bg_image, scaling, blur))  # type: ignore[arg-type]
    # Photoroom's rule: JPEG has no alpha, so what is transparent shows the background colour (a translucent
    # one over white), white by default.
    output = engine.OutputSpec(fmt, QUALITY[fmt], dpi, flatten_onto=WHITE[:3] if fmt == "jpg" else None)
    steps.append(engine.Encode(output, keep, colour_space == "original"))  # type: ignore[arg-type]
    return EditRequest(engine.Edit(tuple(steps)), get("imageUrl"), background_url, "background.imageFile" in files)


def _place(values: Mapping[str, str], frame: tuple[int, int] | str, limits: engine.Limits) -> engine.Place:
    get = values.get
    max_size = tuple(
        math.floor(parse_number(name, values[name], 1, limits.max_side)) if name in values else None
        for name in ("maxWidth", "maxHeight")
    )
    horizontal = {"left": "start", "center": "center", "right": "end"}
    vertical = {"top": "start", "center": "center", "bottom": "end"}
    align_x: Align = horizontal[parse_choice("horizontalAlignment", get("horizontalAlignment", "center"),
                                             tuple(horizontal))]  # type: ignore[assignment]  # fmt: skip
    align_y: Align = vertical[parse_choice("verticalAlignment", get("verticalAlignment", "center"),
                                           tuple(vertical))]  # type: ignore[assignment]  # fmt: skip
    snap = parse_bool("ignorePaddingAndSnapOnCroppedSides", get("ignorePaddingAndSnapOnCroppedSides", "true"))
    reference = parse_choice("referenceBox", get("referenceBox", "subjectBox"), ("subjectBox", "originalImage"))
    return engine.Place(
        size=frame if isinstance(frame, tuple) else None,
        frame="original" if isinstance(frame, tuple) else frame,  # type: ignore[arg-type]
        max_size=max_size,  # type: ignore[arg-type]
        margin=_sides(values, "margin"),
        padding=_sides(values, "padding"),
        scaling=parse_choice("scaling", get("scaling", "fit"), ("fit", "fill")),  # type: ignore[arg-type]
        reference="subject" if reference == "subjectBox" else "original",
        # A custom alignment turns snapping off on its axis (Photoroom's rule).
        snap_cropped=(snap and "horizontalAlignment" not in values, snap and "verticalAlignment" not in values),
        align=(align_x, align_y),
    )


def _opaque_or_none(name: str, colour: Rgba | None) -> Rgba:
    if colour is None:
        raise bad(name, "must be a colour, not transparent.")
    return colour


def _shadow_style(mode: str) -> Literal["soft", "hard", "floating"]:
    if mode in REFUSED_SHADOW_MODES:
        raise bad("shadow.mode", f"{mode} is not supported by this server: the 2026-04-15 AI Shadows model: "
                                 f"{GENERATIVE}; ai.soft, ai.hard and ai.floating are.")  # fmt: skip
    style = parse_choice("shadow.mode", mode, ("ai.soft", "ai.hard", "ai.floating", *REFUSED_SHADOW_MODES))
    return style.removeprefix("ai.")  # type: ignore[return-value]


def _blur(values: Mapping[str, str]) -> tuple[str, float] | None:
    if "background.blur.mode" not in values:
        return None
    mode = parse_choice("background.blur.mode", values["background.blur.mode"], ("gaussian", "bokeh"))
    radius = parse_number("background.blur.radius", values.get("background.blur.radius", "0.01"), 0, 0.05,
                          above_low=True)  # fmt: skip
    return mode, radius


# colorSpace=original: "Only valid when the request is a pure background removal with PNG output".
_NOT_PURE: dict[str, Callable[[str], bool]] = {
    "removeBackground": lambda v: v.strip().lower() == "false",
    "export.format": lambda v: v != "png",
    "export.dpi": lambda v: True,
    "keepExistingAlphaChannel": lambda v: v == "auto",
    "preserveMetadata": lambda v: v.startswith("exifSubset"),
    "outputSize": lambda v: v not in ("auto", "originalImage"),
}
_GEOMETRY = ("maxWidth", "maxHeight", "scaling", "referenceBox", "ignorePaddingAndSnapOnCroppedSides",
             "horizontalAlignment", "verticalAlignment", "padding", "margin",
             *(f"{kind}{side}" for kind in ("padding", "margin") for side in SIDES))  # fmt: skip


def _pure_png_cut_out(values: Mapping[str, str], files: frozenset[str]) -> None:
    for name in [*values, *files]:
        test = _NOT_PURE.get(name)
        conflicts = test(values[name]) if test is not None and name in values else False
        if conflicts or name in _GEOMETRY or name.startswith(("background.", "shadow.", "outline.")):
            raise bad(name, "conflicts with colorSpace=original, which is only valid for a pure background "
                            "removal with PNG output.")  # fmt: skip
