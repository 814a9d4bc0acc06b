"""Background-removal options: parsing and validation (SPEC 6.2).

The union of ImageKit's, Uploadcare's and remove.bg's options. Keys arrive in
snake_case or camelCase; values as JSON types or as form strings. Where
remove.bg leaves the meaning open we decide as follows:

- `crop_margin`: 1, 2 or 4 CSS-style values (top right bottom left), each
  `Npx` (at most 500) or `N%` of the subject's height (top/bottom) or width
  (left/right), at most 50%. Only used with `crop=true`; margins may extend
  past the photo's edges, filled with the background.
- `scale`: the subject is resized so that it fits within that fraction of the
  canvas (the photo, or the crop box when `crop=true`), keeping its aspect
  ratio; it implies `position=center` unless a position is given.
- `position`: `original` keeps the subject where it was (scaled about its own
  centre); `center` centres it; `x%` / `x% y%` aligns it like CSS
  `background-position` (0% flush left/top, 100% flush right/bottom; one value
  sets both axes).
- `roi`: `x1 y1 x2 y2`, each `Npx` (or a bare number) or `N%` of the photo's
  width/height; everything outside the box is background.
- `channels=alpha`: the subject's mask as a greyscale image, without shadow or
  background.
- `format`: `jpg` only with an opaque background (an opaque `bg_color`, or a
  background image); `auto` is jpg when the result is opaque, png otherwise.
- `type` / `type_level` are validated and kept, but the model is class
  agnostic, so they do not change the result and no foreground type is
  reported.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from PIL import ImageColor

from .errors import OptionError

Unit = Literal["px", "%"]
Length = tuple[float, Unit]
Rgba = tuple[int, int, int, int]

TYPES = frozenset(
    {"auto", "person", "product", "car", "animal", "graphic", "transportation", "other"}
)
TYPE_LEVELS = frozenset({"none", "1", "2", "latest"})
FORMATS = frozenset({"png", "webp", "jpg", "auto"})
CHANNELS = frozenset({"rgba", "alpha"})
MAX_MARGIN_PX = 500
MAX_MARGIN_PERCENT = 50


@dataclass(frozen=True)
class Position:
    """Where the subject goes: `original`, `center`, or CSS-like fractions (x, y)."""

    kind: Literal["original", "center", "fraction"]
    x: float = 0.5
    y: float = 0.5


@dataclass(frozen=True)
class Options:
    """Validated options; the defaults are a plain cutout as a PNG with soft alpha."""

    bg_color: Rgba | None = None
    bg_image_url: str | None = None
    add_shadow: bool = False
    semitransparency: bool = True
    crop: bool = False
    crop_margin: tuple[Length, Length, Length, Length] = ((0, "px"),) * 4
    scale: float | None = None
    position: Position | None = None
    roi: tuple[Length, Length, Length, Length] | None = None
    channels: Literal["rgba", "alpha"] = "rgba"
    format: Literal["png", "webp", "jpg", "auto"] = "png"
    type: str | None = None
    type_level: str | None = None

    def placement(self) -> Position:
        """The effective position: scaling centres the subject unless told otherwise."""
        if self.position is not None:
            return self.position
        return Position("center") if self.scale is not None else Position("original")

    def opaque_background(self, has_bg_image: bool) -> bool:
        """True when every output pixel is opaque."""
        if self.channels == "alpha" or has_bg_image or self.bg_image_url:
            return True
        return self.bg_color is not None and self.bg_color[3] == 255


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower().replace("-", "_")


def parse_options(raw: Mapping[str, object], *, has_bg_image: bool = False) -> Options:
    """Validate client options; raises OptionError naming the first bad option.

    `has_bg_image` says that the caller will pass background image bytes of
    its own (the CLI's `--bg-image`), which makes the background opaque.
    """
    values: dict[str, object] = {}
    sent_as: dict[str, str] = {}
    for key, value in raw.items():
        name = _snake(str(key))
        if name not in _PARSERS:
            raise OptionError(str(key), "unknown option")
        if name in sent_as:
            raise OptionError(str(key), f"given twice (also as {sent_as[name]})")
        sent_as[name] = str(key)
        if value is None or value == "":
            continue
        try:
            values[name] = _PARSERS[name](value)
        except ValueError as exc:
            raise OptionError(str(key), str(exc)) from None
    options = Options(**values)  # type: ignore[arg-type]
    _check_combinations(options, sent_as, has_bg_image)
    return options


def _check_combinations(options: Options, sent_as: dict[str, str], has_bg_image: bool) -> None:
    if options.bg_color is not None and options.bg_image_url is not None:
        raise OptionError(sent_as["bg_image_url"], "cannot be combined with bg_color")
    if options.format == "jpg" and not options.opaque_background(has_bg_image):
        raise OptionError(
            sent_as.get("format", "format"),
            "jpg needs an opaque background: set an opaque bg_color or bg_image_url, or use png/webp",
        )


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
    raise ValueError(f"expected true or false, got {value!r}")


def parse_color(value: object) -> Rgba:
    """Hex (`81d4fa`, `fff`, `81d4fa77`, optional `#`) or a CSS colour name -> RGBA."""
    if not isinstance(value, str):
        raise ValueError(f"expected a hex colour or colour name, got {value!r}")
    text = value.strip().lstrip("#")
    if re.fullmatch(r"[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8}", text):
        if len(text) <= 4:
            text = "".join(ch * 2 for ch in text)
        channels = [int(text[i : i + 2], 16) for i in range(0, len(text), 2)]
        return (channels[0], channels[1], channels[2], channels[3] if len(channels) == 4 else 255)
    try:
        color = ImageColor.getrgb(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is neither a hex colour (81d4fa, fff, 81d4fa77) nor a colour name") from None
    if not all(0 <= channel <= 255 for channel in color):  # Pillow keeps rgb(300, ...) as given
        raise ValueError(f"{value[:64]!r} has a channel outside 0..255")
    return (color[0], color[1], color[2], color[3] if len(color) == 4 else 255)


def parse_url(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value.strip()


def parse_length(text: str, *, default_unit: Unit | None = "px") -> Length:
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(px|%)?", text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a length like 30px or 10%")
    unit = match.group(2) or default_unit
    if unit is None:
        raise ValueError(f"{text!r} needs a unit (px or %)")
    amount = float(match.group(1))
    if not math.isfinite(amount):
        raise ValueError(f"{match.group(1)[:24]}... is too large a length")
    return amount, unit  # type: ignore[return-value]


def _words(value: object, what: str) -> list[str]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    if isinstance(value, str) and value.strip():
        return value.replace(",", " ").split()
    raise ValueError(f"expected {what}, got {value!r}")


def parse_crop_margin(value: object) -> tuple[Length, Length, Length, Length]:
    """CSS shorthand: 1, 2 or 4 lengths -> (top, right, bottom, left)."""
    lengths = [parse_length(word) for word in _words(value, "1, 2 or 4 lengths like 30px or 10%")]
    for amount, unit in lengths:
        limit = MAX_MARGIN_PX if unit == "px" else MAX_MARGIN_PERCENT
        if amount > limit:
            raise ValueError(f"{amount:g}{unit} is over the maximum of {limit}{unit}")
    if len(lengths) == 1:
        return (lengths[0],) * 4
    if len(lengths) == 2:
        return (lengths[0], lengths[1], lengths[0], lengths[1])
    if len(lengths) == 4:
        return tuple(lengths)  # type: ignore[return-value]
    raise ValueError(f"expected 1, 2 or 4 values, got {len(lengths)}")


def _percent(text: str) -> float:
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)%", text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a percentage like 50%")
    return float(match.group(1))


def parse_scale(value: object) -> float | None:
    """`10%`..`100%` -> fraction; `original` -> None (no scaling)."""
    if isinstance(value, str) and value.strip().lower() == "original":
        return None
    percent = _percent(str(value))
    if not 10 <= percent <= 100:
        raise ValueError(f"{percent:g}% is outside 10%..100%")
    return percent / 100


def parse_position(value: object) -> Position:
    if not isinstance(value, str):
        raise ValueError(f"expected original, center or x% y%, got {value!r}")
    text = value.strip().lower()
    if text in ("original", "center", "centre"):
        return Position("center" if text == "centre" else text)  # type: ignore[arg-type]
    words = text.split()
    if len(words) not in (1, 2):
        raise ValueError(f"expected original, center, x% or x% y%, got {value!r}")
    fractions = [_percent(word) / 100 for word in words]
    if any(f > 1 for f in fractions):
        raise ValueError(f"percentages must be within 0%..100%, got {value!r}")
    return Position("fraction", fractions[0], fractions[-1])


def parse_roi(value: object) -> tuple[Length, Length, Length, Length]:
    """`x1 y1 x2 y2` in px or % -> four lengths, checked for order where comparable."""
    words = _words(value, "x1 y1 x2 y2")
    if len(words) != 4:
        raise ValueError(f"expected 4 values x1 y1 x2 y2, got {len(words)}")
    box = [parse_length(word) for word in words]
    for amount, unit in box:
        if unit == "%" and amount > 100:
            raise ValueError(f"{amount:g}% is over 100%")
    for low, high in ((box[0], box[2]), (box[1], box[3])):
        if low[1] == high[1] and low[0] >= high[0]:
            raise ValueError(f"the box is empty: {value!r} (need x1 < x2 and y1 < y2)")
    return tuple(box)  # type: ignore[return-value]


def _choice(allowed: frozenset[str]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = str(value).strip().lower()
        if isinstance(value, bool) or text not in allowed:
            raise ValueError(f"expected one of {', '.join(sorted(allowed))}, got {value!r}")
        return text

    return parse


def _format(value: object) -> str:
    text = str(value).strip().lower()
    return _choice(FORMATS)("jpg" if text == "jpeg" else text)


def _any_case(word: str) -> str:
    """A regex for `word` in any case (JSON Schema patterns have no flags)."""
    return "".join(f"[{ch.lower()}{ch.upper()}]" if ch.isalpha() else ch for ch in word)


_BOOL_WORDS = ("true", "false", "1", "0", "yes", "no", "on", "off")  # as parse_bool reads them
_BOOL = {
    "anyOf": [
        {"type": "boolean"},
        {"type": "integer", "enum": [0, 1]},
        {"type": "string", "pattern": f"^\\s*(?:{'|'.join(_any_case(word) for word in _BOOL_WORDS)})\\s*$"},
    ]
}
_LENGTH = r"[0-9]+(?:\.[0-9]+)?(?:px|%)?"
_PERCENT = r"[0-9]+(?:\.[0-9]+)?%"


def _enum(allowed: frozenset[str], description: str) -> dict[str, object]:
    return {"type": "string", "enum": sorted(allowed), "description": description}


# The one table of options: each name's parser and its JSON Schema (remove_bg_schema).
_OPTIONS: dict[str, tuple[Callable[[object], object], dict[str, object]]] = {
    "bg_color": (
        parse_color,
        {"type": "string",
         "description": "Background colour: hex (81d4fa, fff, 81d4fa77, optional #) or a CSS colour name."},
    ),
    "bg_image_url": (
        parse_url,
        {"type": "string", "format": "uri", "pattern": "^\\s*[Hh][Tt][Tt][Pp][Ss]?://",
         "description": "http(s) URL of a background image, scaled to cover and centred; not with bg_color."},
    ),
    "add_shadow": (parse_bool, {**_BOOL, "description": "Add a soft contact shadow under the subject."}),
    "semitransparency": (
        parse_bool,
        {**_BOOL, "description": "false: hard alpha except a one-pixel anti-aliased edge."},
    ),
    "crop": (parse_bool, {**_BOOL, "description": "Crop to the subject (plus crop_margin)."}),
    "crop_margin": (
        parse_crop_margin,
        {"anyOf": [{"type": "string", "pattern": f"^\\s*{_LENGTH}(?:[\\s,]+{_LENGTH}){{0,3}}\\s*$"},
                   {"type": "number", "minimum": 0, "maximum": MAX_MARGIN_PX},
                   {"type": "array", "items": {"type": ["string", "number"]}, "minItems": 1, "maxItems": 4}],
         "description": f"1, 2 or 4 CSS-style lengths (top right bottom left), each Npx (at most {MAX_MARGIN_PX}) "
         f"or N% of the subject (at most {MAX_MARGIN_PERCENT}%); only with crop=true."},
    ),
    "scale": (
        parse_scale,
        {"type": "string", "pattern": f"^\\s*(?:{_PERCENT}|{_any_case('original')})\\s*$",
         "description": "10%..100%: the subject fits within that fraction of the canvas; original: no scaling."},
    ),
    "position": (
        parse_position,
        {"type": "string",
         "pattern": f"^\\s*(?:{_any_case('original')}|{_any_case('cent')}(?:[eE][rR]|[rR][eE])"
                    f"|{_PERCENT}(?:\\s+{_PERCENT})?)\\s*$",
         "description": "original, center, or x% / 'x% y%' aligned like CSS background-position."},
    ),
    "roi": (
        parse_roi,
        {"anyOf": [{"type": "string", "pattern": f"^\\s*{_LENGTH}(?:[\\s,]+{_LENGTH}){{3}}\\s*$"},
                   {"type": "array", "items": {"type": ["string", "number"]}, "minItems": 4, "maxItems": 4}],
         "description": "Region of interest 'x1 y1 x2 y2', each Npx or N% of the photo; outside is background."},
    ),
    "channels": (_choice(CHANNELS), _enum(CHANNELS, "rgba, or alpha for the subject's mask as greyscale.")),
    "format": (
        _format,
        _enum(FORMATS | {"jpeg"}, "Output format; jpg needs an opaque background; auto is jpg when opaque, else png."),
    ),
    "type": (_choice(TYPES), _enum(TYPES, "Foreground type: validated, does not change the result.")),
    "type_level": (
        _choice(TYPE_LEVELS), _enum(TYPE_LEVELS, "Classification level: validated, does not change the result.")
    ),
}
_PARSERS = {name: parse for name, (parse, _) in _OPTIONS.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def remove_bg_schema() -> dict[str, object]:
    """JSON Schema of the remove-bg options, from the parser table; camelCase names are accepted too.

    Empty values (null, "") mean "not given", as in `parse_options`; the
    combination rules (bg_color with bg_image_url, jpg on transparency) are
    left to the parser.
    """
    properties: dict[str, object] = {}
    for name, (_, schema) in _OPTIONS.items():
        # Copies, not $refs: the schema is embedded in other documents (OpenAPI).
        for key in dict.fromkeys((name, _camel(name))):
            properties[key] = {"anyOf": [copy.deepcopy(schema), {"type": "null"}, {"const": ""}]}
    return {
        "type": "object",
        "title": "remove-bg options",
        "description": "Options of the remove-bg extension (remove.bg's names, snake_case or camelCase).",
        "properties": properties,
        "additionalProperties": False,
    }
