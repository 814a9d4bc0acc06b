"""The step records an edit is made of: plain, frozen data, with no behaviour of their own.

`edit.py` says what each one does to the layer; `options.py` builds them from
remove.bg-style options. Lengths are `(amount, "px" | "%")`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from .encode import OutputSpec
from .options import Length, Position, Rgba

# An edit's steps come in these phases, in this order (edit.py says why).
MATTE, GEOMETRY, PICTURE, OUTPUT = range(4)


@dataclass(frozen=True)
class Segment:
    """The model's matte becomes the layer's alpha (times the photo's own alpha, if it has one).

    `unless_transparent`: a photo that already has transparency keeps its own
    alpha and the model does not run (Photoroom's keepExistingAlphaChannel=auto).
    `measure_only`: the matte is kept aside for geometry to measure the subject
    by (a crop centred on it), and the picture stays as opaque as the photo.
    """

    name: ClassVar[str] = "segment"
    phase: ClassVar[int] = MATTE

    unless_transparent: bool = False
    measure_only: bool = False


@dataclass(frozen=True)
class Roi:
    """Everything outside the box `x1 y1 x2 y2` becomes transparent."""

    name: ClassVar[str] = "roi"
    phase: ClassVar[int] = MATTE

    box: tuple[Length, Length, Length, Length]


@dataclass(frozen=True)
class Edges:
    """Hard alpha at 50% with a one-pixel anti-aliased rim (remove.bg's semitransparency=false)."""

    name: ClassVar[str] = "edges"
    phase: ClassVar[int] = MATTE


@dataclass(frozen=True)
class Layout:
    """Geometry: crop to the subject (plus margins: top right bottom left), scale it, place it."""

    name: ClassVar[str] = "layout"
    phase: ClassVar[int] = GEOMETRY

    crop: bool = False
    crop_margin: tuple[Length, Length, Length, Length] = ((0, "px"),) * 4
    scale: float | None = None
    position: Position | None = None

    def placement(self) -> Position:
        """The effective position: scaling centres the subject unless told otherwise."""
        if self.position is not None:
            return self.position
        return Position("center") if self.scale is not None else Position("original")


Sides = tuple[Length, Length, Length, Length]  # top right bottom left
Align = Literal["start", "center", "end"]  # left|top, centre, right|bottom


@dataclass(frozen=True)
class Place:
    """Photoroom's positioning: the subject box (or the whole photo) framed on an output canvas.

    `size` is the canvas (W, H), or None for `frame`: "original" (the photo's
    size) or "subject" (the reference box at scale 1 plus its paddings and
    margins), either bounded by `max_size` keeping its aspect ratio (`size`
    is not). `margin` and `padding` are per side (top right bottom left),
    (amount, "px" | "%"): a margin's "%" is of the canvas side it is measured
    along (width for left/right, height for top/bottom), a padding's of the
    margin box's (the canvas less the margins, as CSS). The reference box -
    the subject's box, or the photo's with `reference` "original", or when
    there is no matte or nothing in it - is fitted or filled (`scaling`) into
    the target area (margin box less paddings), then aligned in it (`align`:
    horizontal, vertical); a filled one is clipped at the target area.
    `snap_cropped` (horizontal, vertical): on that axis a side of the subject
    box touching the photo's border (alpha above SUBJECT_THRESHOLD in its
    outermost row or column) drops its padding and the subject is pinned to
    that side, on the margin; cropped on both sides, both paddings go and the
    alignment stays. compose.plan_place is the code; the README shows each rule.
    """

    name: ClassVar[str] = "place"
    phase: ClassVar[int] = GEOMETRY

    size: tuple[int, int] | None = None
    frame: Literal["original", "subject"] = "original"
    max_size: tuple[int | None, int | None] = (None, None)
    margin: Sides = ((0, "px"),) * 4
    padding: Sides = ((0, "px"),) * 4
    scaling: Literal["fit", "fill"] = "fit"
    reference: Literal["subject", "original"] = "subject"
    snap_cropped: tuple[bool, bool] = (True, True)
    align: tuple[Align, Align] = ("center", "center")


Fit = Literal["bounds", "cover", "canvas", "crop"]


@dataclass(frozen=True)
class Resize:
    """Geometry by target size: the picture (or, with `clip`, the subject's box) scaled into `width` x `height`.

    `width` and `height` are (amount, "px" | "%"), a percentage of the
    reference box's side; None ("auto") follows the other side's scale, and
    both None keep the reference's size. `fit`, with both sides given:
    `bounds` scales to fit inside them (the result is at most that size),
    `cover` to cover them (at least that size, nothing cut), `canvas` fits
    the reference inside a canvas of exactly that size (the rest
    transparent), `crop` covers a canvas of exactly that size and cuts what
    overflows, centred on the reference's centre, or with `focus` "subject"
    on the subject's centre (the photo's when there is no matte), kept
    inside the photo. `padding` (top right bottom left) then shrinks the
    content inside the same canvas: a "%" is of the canvas side it lies along.
    compose.plan_resize is the code.
    """

    name: ClassVar[str] = "resize"
    phase: ClassVar[int] = GEOMETRY

    width: Length | None = None
    height: Length | None = None
    fit: Fit = "bounds"
    focus: Literal["center", "subject"] = "center"
    clip: bool = False
    padding: Sides = ((0, "px"),) * 4


@dataclass(frozen=True)
class Adjust:
    """Classic colour and detail adjustments of the photo, each from -100 to 100 (0 changes nothing).

    Applied to the photo's colours (its alpha kept) before anything is
    composed, so a background colour stays the colour asked for. After a
    `Segment` the model has seen the photo as given. adjust.py holds each
    scale's mapping.
    """

    name: ClassVar[str] = "adjust"
    phase: ClassVar[int] = MATTE

    exposure: float = 0.0
    saturation: float = 0.0
    contrast: float = 0.0
    sharpness: float = 0.0


@dataclass(frozen=True)
class Outline:
    """A coloured outline around the subject, drawn behind it; `width` and `blur` are fractions of the picture's larger side.

    The subject (alpha at least half) grown by a disc of `width`, in `color`
    (its alpha kept); `blur` is the standard deviation of a gaussian that
    softens it into a glow. The picture's larger side is the canvas's, after
    any positioning. looks.with_outline is the code.
    """

    name: ClassVar[str] = "outline"
    phase: ClassVar[int] = PICTURE

    color: Rgba = (0, 0, 0, 255)
    width: float = 0.03
    blur: float = 0.0


@dataclass(frozen=True)
class Channels:
    """`alpha`: the result is the layer's alpha as a greyscale image; later shadow and background steps do not apply."""

    name: ClassVar[str] = "channels"
    phase: ClassVar[int] = PICTURE

    channels: Literal["rgba", "alpha"] = "alpha"


@dataclass(frozen=True)
class Shadow:
    """A shadow synthesised from the subject's mask, behind it, never above its top.

    - `contact`: remove.bg's contact shadow, a thin dark band where the
      subject's base meets the ground (compose.contact_shadow).
    - `soft` (Photoroom's ai.soft): a wide, diffuse pool around the base, as
      under an overcast sky: the silhouette flattened to 20% of its height
      on the base line, 115% of its width, blurred by 6% of its larger side,
      50% black.
    - `hard` (ai.hard): a crisp shadow cast on the ground, falling back and to
      the right as from a low light at the front left: the silhouette
      flattened to 30% and sheared right by 45% of its height, barely
      blurred, 50% black.
    - `floating` (ai.floating): the subject seems to hover: a small soft pool
      detached 10% of its height below the base, 85% of its width, 50% black.

    compose.SHADOW_LOOKS holds the numbers; the README shows each look.
    """

    name: ClassVar[str] = "shadow"
    phase: ClassVar[int] = PICTURE

    style: Literal["contact", "soft", "hard", "floating"] = "contact"


@dataclass(frozen=True)
class Background:
    """Put the layer on a colour, or on an image (scaled to cover, centred), or on the photo itself blurred.

    `image_url` is where the caller fetches the image from (the engine does no
    I/O); `has_image` says an image is wanted at all, also without a URL (the
    CLI's `--bg-image`). The bytes are handed to `run` as `background`.
    `scaling` "fill" covers the picture (cropped, centred); "fit" shows the
    whole image, centred, transparent around it (or the colour, when there is
    one too). `blur` (mode, radius as a fraction of the picture's larger
    side) blurs the background: the image, or with no colour and no image
    the original photo behind the subject (portrait mode; its background
    alone is blurred, so the subject leaves no halo), which is moved and
    scaled with the subject by any positioning. `gaussian`: the radius is the
    gaussian's standard deviation; `bokeh`: a disc of that radius, as an
    out-of-focus lens draws highlights. A flat colour has nothing to blur.
    Big radii are worked on a reduced copy (looks.py).
    """

    name: ClassVar[str] = "background"
    phase: ClassVar[int] = PICTURE

    color: Rgba | None = None
    image_url: str | None = None
    has_image: bool = False
    scaling: Literal["fill", "fit"] = "fill"
    blur: tuple[Literal["gaussian", "bokeh"], float] | None = None


@dataclass(frozen=True)
class Encode:
    """The output file: format and its options."""

    name: ClassVar[str] = "encode"
    phase: ClassVar[int] = OUTPUT

    output: OutputSpec = field(default_factory=OutputSpec)
    keep_metadata: Literal["none", "xmp", "exif", "exif+xmp"] = "none"  # copied from the photo
    keep_icc: bool = False  # the photo's ICC profile goes into the file unchanged (pixels are not converted)


Step = Segment | Roi | Edges | Adjust | Layout | Place | Resize | Channels | Outline | Shadow | Background | Encode
