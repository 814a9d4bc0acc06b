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
    """The model's matte becomes the layer's alpha (times the photo's own alpha, if it has one)."""

    name: ClassVar[str] = "segment"
    phase: ClassVar[int] = MATTE


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


@dataclass(frozen=True)
class Channels:
    """`alpha`: the result is the layer's alpha as a greyscale image; later shadow and background steps do not apply."""

    name: ClassVar[str] = "channels"
    phase: ClassVar[int] = PICTURE

    channels: Literal["rgba", "alpha"] = "alpha"


@dataclass(frozen=True)
class Shadow:
    """A soft contact shadow under the subject."""

    name: ClassVar[str] = "shadow"
    phase: ClassVar[int] = PICTURE


@dataclass(frozen=True)
class Background:
    """Put the layer on a colour, or on an image (scaled to cover, centred).

    `image_url` is where the caller fetches the image from (the engine does no
    I/O); `has_image` says an image is wanted at all, also without a URL (the
    CLI's `--bg-image`). The bytes are handed to `run` as `background`.
    """

    name: ClassVar[str] = "background"
    phase: ClassVar[int] = PICTURE

    color: Rgba | None = None
    image_url: str | None = None
    has_image: bool = False


@dataclass(frozen=True)
class Encode:
    """The output file: format and its options."""

    name: ClassVar[str] = "encode"
    phase: ClassVar[int] = OUTPUT

    output: OutputSpec = field(default_factory=OutputSpec)


Step = Segment | Roi | Edges | Layout | Channels | Shadow | Background | Encode
