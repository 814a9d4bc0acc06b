"""remove.bg-style options (ImageKit, Uploadcare, the CLI) -> one edit.

`type` / `type_level` are validated by the parser but leave no step: the model
is class agnostic, so they cannot change the result.
"""

from __future__ import annotations

from collections.abc import Mapping

from .edit import Edit
from .encode import OutputSpec
from .options import Options, parse_options
from .steps import Background, Channels, Edges, Encode, Layout, Roi, Segment, Shadow, Step


def remove_bg_edit(options: Mapping[str, object], *, has_bg_image: bool = False) -> Edit:
    """Parse client options into an edit; raises OptionError naming the first bad option.

    `has_bg_image` says that the caller will pass background image bytes of
    its own (the CLI's `--bg-image`), which makes the background opaque.
    """
    return edit_from_options(parse_options(options, has_bg_image=has_bg_image), has_bg_image=has_bg_image)


def edit_from_options(options: Options, *, has_bg_image: bool = False) -> Edit:
    """The edit that does what validated `options` ask, in remove.bg's order."""
    steps: list[Step] = [Segment()]
    if options.roi is not None:
        steps.append(Roi(options.roi))
    if not options.semitransparency:
        steps.append(Edges())
    layout = Layout(options.crop, options.crop_margin, options.scale, options.position)
    if layout != Layout():  # the default layout leaves every pixel where it is
        steps.append(layout)
    if options.channels == "alpha":
        # Before shadow and background, which an alpha output does not show.
        steps.append(Channels("alpha"))
    if options.add_shadow:
        steps.append(Shadow())
    has_image = has_bg_image or options.bg_image_url is not None
    if options.bg_color is not None or has_image:
        steps.append(Background(options.bg_color, options.bg_image_url, has_image))
    steps.append(Encode(OutputSpec(options.format)))
    return Edit(tuple(steps))
