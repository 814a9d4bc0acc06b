"""What the edit steps do to pixels: matte, edges, geometry, shadow, background.

Everything at full resolution is uint8 numpy or Pillow C code; the only
float work happens on edge pixels and on a <= 256-pixel proxy of the image.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from .errors import OptionError
from .looks import BlurMode, blurred, scaled_back
from .options import Length, Options
from .pixels import row_blocks, to_array
from .steps import Align, Layout, Place, Resize, Sides

# Alpha above this (of 255) counts as subject when measuring its box: the
# model's faint noise far from the subject must not stretch a crop.
SUBJECT_THRESHOLD = 25
PROXY_SIDE = 256
# Soft-edge pixels are decontaminated a band of rows of about this many pixels at a time.
EDGE_BAND_PIXELS = 1 << 16
# u2netp's min-max stretch leaves the subject's plateau at 250-254 and the
# background's at 1-5, never exactly 255 / 0; those levels are model noise, not
# transparency, so they are snapped (2% of the range at either end).
OPAQUE_FROM = 250
CLEAR_UP_TO = 5
SHADOW_OPACITY = 0.6


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (ends exclusive)


@dataclass(frozen=True)
class Plan:
    """Where the box `box` (image px) lands on a `canvas` of this size: scaled to `size`, its corner at `offset`.

    The same map takes any other image box to the canvas (`map_box`), so a
    layer made from the whole photo (a blurred background) moves with the
    subject. `clip` is the canvas region the arranged layer shows in (a
    filled subject is clipped at its target area); None is the whole canvas.
    """

    canvas: tuple[int, int]
    origin: tuple[int, int]  # canvas (0, 0) in image coordinates, when nothing moves
    box: Box
    size: tuple[int, int]
    offset: tuple[int, int]
    moved: bool
    clip: Box | None = None

    def scale(self) -> tuple[float, float]:
        """Canvas pixels per image pixel, horizontally and vertically."""
        x0, y0, x1, y1 = self.box
        return self.size[0] / (x1 - x0), self.size[1] / (y1 - y0)

    def map_box(self, box: Box) -> Box:
        """An image box in canvas coordinates (possibly reaching past the canvas)."""
        if not self.moved:
            ox, oy = self.origin
            return (box[0] - ox, box[1] - oy, box[2] - ox, box[3] - oy)
        sx, sy = self.scale()
        bx, by = self.box[:2]
        ox, oy = self.offset
        return (
            ox + round((box[0] - bx) * sx),
            oy + round((box[1] - by) * sy),
            ox + round((box[2] - bx) * sx),
            oy + round((box[3] - by) * sy),
        )

    def visible(self, box: Box) -> Box | None:
        """Where an image box shows on the canvas (inside `clip`), or None when it does not."""
        return _intersect(self.map_box(box), self.clip or (0, 0, *self.canvas))

    def keeps_in_place(self, size: tuple[int, int]) -> bool:
        """Arranging a layer of `size` leaves its box where it is, unscaled and whole, on a canvas of that size:
        all `arrange` would do is clear what lies outside the box (as Photoroom's defaults do to a subject
        that touches the photo's borders)."""
        return self.moved and self.canvas == size and self.map_box(self.box) == self.box == self.visible(self.box)


def _intersect(a: Box, b: Box) -> Box | None:
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] < box[2] and box[1] < box[3] else None


def alpha_from_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float [h, w] mask in [0, 1] -> uint8 alpha of `size` (W, H), noise levels snapped."""
    grey = np.nan_to_num(mask, nan=0.0, posinf=1.0, neginf=0.0)  # a copy: the caller's mask stays as it was
    np.clip(grey, 0.0, 1.0, out=grey)
    grey *= np.float32(255.0)
    grey += np.float32(0.5)
    quantised = grey.astype(np.uint8)
    snap = np.arange(256, dtype=np.uint8)
    snap[: CLEAR_UP_TO + 1] = 0
    snap[OPAQUE_FROM:] = 255
    if (quantised.shape[1], quantised.shape[0]) != size:
        resized = Image.fromarray(quantised, mode="L").resize(size, Image.Resampling.BILINEAR)
        # Snapping through Pillow's point() is a C table lookup at full size.
        return to_array(resized.point(snap.tolist()))
    return snap[quantised]


def apply_roi(alpha: np.ndarray, roi: tuple[Length, Length, Length, Length]) -> np.ndarray:
    """Zero the alpha outside the region of interest."""
    height, width = alpha.shape
    x1, y1, x2, y2 = (
        _to_px(length, extent) for length, extent in zip(roi, (width, height, width, height))
    )
    kept = np.zeros_like(alpha)
    x1, x2 = min(max(x1, 0), width), min(max(x2, 0), width)
    y1, y2 = min(max(y1, 0), height), min(max(y2, 0), height)
    kept[y1:y2, x1:x2] = alpha[y1:y2, x1:x2]
    return kept


def _to_px(length: Length, extent: float) -> int:
    amount, unit = length
    return round(amount * extent / 100) if unit == "%" else round(amount)


def hard_edges(alpha: np.ndarray) -> np.ndarray:
    """Binary alpha at 50% with a one-pixel anti-aliased rim (semitransparency=false)."""
    binary = Image.fromarray(np.where(alpha >= 128, 255, 0).astype(np.uint8), mode="L")
    return np.asarray(binary.filter(ImageFilter.BoxBlur(1)))


def _summed_area(channels: list[np.ndarray], pad: int) -> np.ndarray:
    """Summed-area table (float64) of (h, w, c) channel groups side by side, edge-padded by `pad`.

    table[y, x] sums padded[:y, :x]. float64, because the a^32 weights are
    often far below a float32 running sum's resolution. The groups are
    written straight into the table (no stacked or padded copies); each
    running sum is a loop of whole-row additions over a contiguous array (the
    second on a transposed copy), several times faster than numpy's cumsum
    along an axis.
    """
    height, width = channels[0].shape[:2]
    depth = sum(group.shape[2] for group in channels)
    table = np.empty((height + 2 * pad + 1, width + 2 * pad + 1, depth), dtype=np.float64)
    table[0] = 0
    table[:, 0] = 0
    inner = table[1 + pad : 1 + pad + height, 1 + pad : 1 + pad + width]
    start = 0
    for group in channels:
        inner[..., start : start + group.shape[2]] = group
        start += group.shape[2]
    table[1 + pad : 1 + pad + height, 1 : 1 + pad] = inner[:, :1]
    table[1 + pad : 1 + pad + height, 1 + pad + width :] = inner[:, -1:]
    table[1 : 1 + pad, 1:] = table[1 + pad, 1:]
    table[1 + pad + height :, 1:] = table[pad + height, 1:]
    for row in range(2, table.shape[0]):
        np.add(table[row - 1], table[row], out=table[row])
    table = np.ascontiguousarray(table.transpose(1, 0, 2))
    for col in range(2, table.shape[0]):
        np.add(table[col - 1], table[col], out=table[col])
    return table.transpose(1, 0, 2)


def _box_means(table: np.ndarray, pad: int, rows: np.ndarray, cols: np.ndarray, radius: int) -> np.ndarray:
    """Means over the (2 radius + 1)^2 boxes centred on (rows, cols), from a `_summed_area` table."""
    top, bottom = rows + (pad - radius), rows + (pad + radius + 1)
    left, right = cols + (pad - radius), cols + (pad + radius + 1)
    total = table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]
    return (total * (1.0 / (2 * radius + 1) ** 2)).astype(np.float32)


def _local_means(image: np.ndarray, alpha: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local colour of the confident foreground and background at the proxy pixels `wanted` (a flat bool mask).

    Weights a^32 and (1 - a)^32 keep mixed edge pixels out of the means (an
    alpha-weighted mean, as in plain blur fusion, drags the background colour
    into the foreground estimate). A narrow window gives local colour; a wide
    one, at 5% weight, fills in where the narrow window sees no confident
    pixel; where neither does, the pixel's own colour stands. Box means
    (edges clamped) come from one summed-area table, read only at the
    cells asked for. Returns (fg, bg, slot): cell `i`'s colours are
    fg[slot[i]] and bg[slot[i]].
    """
    height, width = alpha.shape
    side = max(height, width)
    near_radius, wide_radius = max(2, round(side / 32)), max(8, round(side / 4))
    weights = np.stack([alpha, 1 - alpha], axis=2)
    for _ in range(5):  # the 32nd power by squaring: far cheaper than a float power
        np.multiply(weights, weights, out=weights)
    table = _summed_area([image * weights[..., :1], image * weights[..., 1:], weights], wide_radius)
    distinct = np.flatnonzero(wanted)
    rows, cols = np.divmod(distinct, width)
    mixed = _box_means(table, wide_radius, rows, cols, near_radius)
    mixed += np.float32(0.05) * _box_means(table, wide_radius, rows, cols, wide_radius)
    own = image.reshape(-1, 3)[distinct]
    eps = np.float32(1e-6)
    fg_weight, bg_weight = mixed[:, 6:7], mixed[:, 7:8]
    fg = np.where(fg_weight > eps, mixed[:, 0:3] / np.maximum(fg_weight, eps), own)
    bg = np.where(bg_weight > eps, mixed[:, 3:6] / np.maximum(bg_weight, eps), own)
    slot = np.empty(height * width, dtype=np.intp)
    slot[distinct] = np.arange(distinct.size)
    return fg, bg, slot


def _edge_bands(alpha: np.ndarray, factor: int, proxy_width: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(flat indices, proxy cells) of the soft-edge pixels (0 < a < 255), a band of rows at a time.

    In bands of about EDGE_BAND_PIXELS, so that a photo with millions of soft
    pixels (fur, hair) is worked on in cache-sized pieces, without
    full-size temporaries.
    """
    height, width = alpha.shape
    rows_per_band = max(1, EDGE_BAND_PIXELS // width)
    for top in range(0, height, rows_per_band):
        band = alpha[top : top + rows_per_band].reshape(-1)
        edge = np.flatnonzero((band - np.uint8(1)) < np.uint8(254))
        if edge.size:
            rows, cols = np.divmod(edge, width)
            rows += top
            yield rows * width + cols, (rows // factor) * proxy_width + cols // factor


def decontaminate(rgba: np.ndarray, source: Image.Image | None = None) -> None:
    """Replace the colour of soft-edge pixels with an estimate of the pure foreground, in place.

    The local means come from a proxy of at most 256 px (box-reduced in
    Pillow's C code), so their cost does not grow with the photo; only pixels
    with 0 < a < 1 are touched at full resolution, with the same blur-fusion
    step F = F~ + a (I - a F~ - (1 - a) B~). `source`, when the caller has
    it, is the same RGB photo as a Pillow image: the proxy is reduced from it
    directly instead of from a full-size copy.
    """
    height, width = rgba.shape[:2]
    pixels = rgba.reshape(-1, 4)
    alpha = np.ascontiguousarray(rgba[..., 3])
    factor = max(1, math.ceil(max(height, width) / PROXY_SIDE))
    proxy_width = -(-width // factor)  # Image.reduce keeps a partial last box
    wanted = np.zeros(-(-height // factor) * proxy_width, dtype=bool)
    for _, cells in _edge_bands(alpha, factor, proxy_width):
        wanted[cells] = True
    if not wanted.any():
        return
    proxy_rgb = source if source is not None else Image.fromarray(np.ascontiguousarray(rgba[..., :3]), mode="RGB")
    proxy_alpha = Image.fromarray(alpha, mode="L")
    if factor > 1:
        proxy_rgb, proxy_alpha = proxy_rgb.reduce(factor), proxy_alpha.reduce(factor)
    fg_cells, bg_cells, slot = _local_means(
        np.asarray(proxy_rgb, dtype=np.float32),
        np.asarray(proxy_alpha, dtype=np.float32) * np.float32(1.0 / 255.0),
        wanted,
    )
    for edge, cells in _edge_bands(alpha, factor, proxy_width):
        fg, bg = fg_cells[slot[cells]], bg_cells[slot[cells]]
        selected = pixels[edge]
        a = selected[:, 3:].astype(np.float32) * np.float32(1.0 / 255.0)
        estimate = fg + a * (selected[:, :3].astype(np.float32) - a * fg - (1 - a) * bg)
        np.clip(estimate, 0, 255, out=estimate)
        selected[:, :3] = (estimate + np.float32(0.5)).astype(np.uint8)
        pixels[edge] = selected


def cutout_layer(image: Image.Image, alpha: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA array from an RGB photo: decontaminated edges, zero colour where fully transparent."""
    height, width = alpha.shape
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    words = rgba.view(np.uint32)[..., 0]
    for top, block in row_blocks(image, "RGBX"):
        rows = slice(top, top + len(block))
        rgba[rows] = block
        rgba[rows, :, 3] = alpha[rows]
        # Zero colour under zero alpha: nothing can show it, and PNG/WebP
        # compress the long runs far better than the hidden photo. The
        # decontamination below reads the background from `image`, not here.
        words[rows][alpha[rows] == 0] = 0
    decontaminate(rgba, image)
    return rgba


def subject_box(alpha: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of what counts as subject, or None when there is none."""
    return alpha.point(lambda v: 255 if v > SUBJECT_THRESHOLD else 0).getbbox()


def plan_layout(image_size: tuple[int, int], box: tuple[int, int, int, int] | None, options: Layout | Options) -> Plan:
    """Pure geometry for crop, crop_margin, scale and position."""
    width, height = image_size
    if box is None:
        # No subject: nothing to crop to or move, keep the photo's canvas.
        return Plan(image_size, (0, 0), (0, 0, width, height), image_size, (0, 0), False)
    x0, y0, x1, y1 = box
    box_w, box_h = x1 - x0, y1 - y0
    if options.crop:
        top, right, bottom, left = (
            _to_px(length, extent)
            for length, extent in zip(options.crop_margin, (box_h, box_w, box_h, box_w))
        )
        canvas = (box_w + left + right, box_h + top + bottom)
        origin = (x0 - left, y0 - top)
    else:
        canvas = image_size
        origin = (0, 0)
    if options.scale is None:
        size = (box_w, box_h)
    else:
        fit = options.scale * min(canvas[0] / box_w, canvas[1] / box_h)
        size = (max(1, round(box_w * fit)), max(1, round(box_h * fit)))
    place = options.placement()
    if place.kind == "original":
        centre_x = x0 - origin[0] + box_w / 2
        centre_y = y0 - origin[1] + box_h / 2
        offset = (round(centre_x - size[0] / 2), round(centre_y - size[1] / 2))
    elif place.kind == "center":
        offset = (round((canvas[0] - size[0]) / 2), round((canvas[1] - size[1]) / 2))
    else:
        offset = (round((canvas[0] - size[0]) * place.x), round((canvas[1] - size[1]) * place.y))
    moved = size != (box_w, box_h) or offset != (x0 - origin[0], y0 - origin[1])
    return Plan(canvas, origin, box, size, offset, moved)


def clear_outside(pixels: np.ndarray, box: Box) -> None:
    """Zero, in place, what lies outside `box` in an (h, w) or (h, w, c) array: `arrange` for a plan that
    `keeps_in_place`, without a new canvas and a copy of the subject."""
    x0, y0, x1, y1 = box
    pixels[:y0] = 0
    pixels[y1:] = 0
    pixels[y0:y1, :x0] = 0
    pixels[y0:y1, x1:] = 0


def arrange(layer: Image.Image, layout: Plan, *, whole: bool = False) -> Image.Image:
    """Apply a Plan to an RGBA or L layer; uncovered canvas is transparent (or black for L).

    The plan's box is what is moved, or with `whole` the entire layer under
    the same map (a background made from the photo, shown on the whole
    canvas). Only the part that shows is resized: a filled subject may be
    far larger than the canvas.
    """
    if not layout.moved:
        ox, oy = layout.origin
        frame = (ox, oy, ox + layout.canvas[0], oy + layout.canvas[1])
        # Image.crop pads outside the photo with zeros: transparent margins.
        return layer if frame == (0, 0, *layer.size) else layer.crop(frame)
    source = (0, 0, *layer.size) if whole else layout.box
    target = layout.map_box(source)
    shown = _intersect(target, (0, 0, *layout.canvas) if whole else layout.clip or (0, 0, *layout.canvas))
    canvas = Image.new(layer.mode, layout.canvas, 0)
    if shown is None:
        return canvas
    subject = layer if source == (0, 0, *layer.size) else layer.crop(source)
    size = (target[2] - target[0], target[3] - target[1])
    if shown == target:
        if subject.size != size:
            # Pillow resizes RGBA premultiplied, so edges do not pick up hidden colour.
            subject = subject.resize(size, Image.Resampling.LANCZOS)
        canvas.paste(subject, target[:2])
        return canvas
    # The source region that lands on `shown`, in the cropped layer's pixels.
    sx, sy = size[0] / subject.width, size[1] / subject.height
    region = (
        (shown[0] - target[0]) / sx,
        (shown[1] - target[1]) / sy,
        (shown[2] - target[0]) / sx,
        (shown[3] - target[1]) / sy,
    )
    part = subject.resize((shown[2] - shown[0], shown[3] - shown[1]), Image.Resampling.LANCZOS, box=region)
    canvas.paste(part, shown[:2])
    return canvas


def plan_place(image_size: tuple[int, int], subject: Box | None, place: Place) -> Plan:
    """Pure geometry for Photoroom's positioning (the README's "Photoroom positioning rules").

    `subject` is the subject's box, or None when the whole photo is the
    subject (no matte, or nothing found in it): then the photo's box is the
    reference and no side counts as cropped.
    """
    width, height = image_size
    photo = (0, 0, width, height)
    reference = subject if subject is not None and place.reference == "subject" else photo
    cropped = (False,) * 4
    if reference is subject and subject is not None:
        cropped = _cropped_sides(subject, image_size, place.snap_cropped)
    no_padding: Length = (0, "px")
    top, right, bottom, left = (no_padding if cut else length for length, cut in zip(place.padding, cropped))
    padding = (top, right, bottom, left)
    ref_w, ref_h = reference[2] - reference[0], reference[3] - reference[1]
    canvas = place.size or _frame(place, image_size, (ref_w, ref_h), padding)
    target = target_area(canvas, place.margin, padding)
    span_w, span_h = target[2] - target[0], target[3] - target[1]
    ratio = (min if place.scaling == "fit" else max)(span_w / ref_w, span_h / ref_h)
    size = (max(1, round(ref_w * ratio)), max(1, round(ref_h * ratio)))
    cut_top, cut_right, cut_bottom, cut_left = cropped
    align_x = _snapped(place.align[0], cut_left, cut_right)
    align_y = _snapped(place.align[1], cut_top, cut_bottom)
    offset = (_aligned(target[0], span_w, size[0], align_x), _aligned(target[1], span_h, size[1], align_y))
    return Plan(canvas, (0, 0), reference, size, offset, True, target if place.scaling == "fill" else None)


def plan_resize(image_size: tuple[int, int], subject: Box | None, step: Resize) -> Plan:
    """Pure geometry for `Resize` (its docstring says each fit); `subject` is None when there is no matte."""
    width, height = image_size
    photo = (0, 0, width, height)
    reference = subject if step.clip and subject is not None else photo
    ref_w, ref_h = reference[2] - reference[0], reference[3] - reference[1]
    wanted_w = _to_px(step.width, ref_w) if step.width is not None else None
    wanted_h = _to_px(step.height, ref_h) if step.height is not None else None
    for side, wanted in (("width", wanted_w), ("height", wanted_h)):
        if wanted is not None and wanted < 1:
            raise OptionError(side, f"{side} comes to {wanted} pixels; it must be at least 1")
    fill = False
    if wanted_w is None and wanted_h is None:
        canvas = (ref_w, ref_h)
    elif wanted_w is None or wanted_h is None:
        factor = wanted_w / ref_w if wanted_w is not None else (wanted_h or 0) / ref_h
        canvas = (max(1, round(ref_w * factor)), max(1, round(ref_h * factor)))
    elif step.fit in ("bounds", "cover"):
        factor = (min if step.fit == "bounds" else max)(wanted_w / ref_w, wanted_h / ref_h)
        canvas = (max(1, round(ref_w * factor)), max(1, round(ref_h * factor)))
    else:
        canvas, fill = (wanted_w, wanted_h), step.fit == "crop"
    target = target_area(canvas, ((0, "px"),) * 4, step.padding)
    span_w, span_h = target[2] - target[0], target[3] - target[1]
    ratio = (max if fill else min)(span_w / ref_w, span_h / ref_h)
    size = (max(1, round(ref_w * ratio)), max(1, round(ref_h * ratio)))
    centre = (ref_w / 2, ref_h / 2)
    if fill and step.focus == "subject" and subject is not None:
        centre = ((subject[0] + subject[2]) / 2 - reference[0], (subject[1] + subject[3]) / 2 - reference[1])
    offset = (
        _focused(target[0], span_w, size[0], centre[0] * ratio),
        _focused(target[1], span_h, size[1], centre[1] * ratio),
    )
    if reference == photo and canvas == size == image_size and offset == (0, 0):
        return Plan(image_size, (0, 0), photo, image_size, (0, 0), False)
    return Plan(canvas, (0, 0), reference, size, offset, True, target if fill else None)


def _focused(start: int, span: int, size: int, focus: float) -> int:
    """The offset that puts `focus` (px into a scaled reference of `size`) mid-span; a reference that
    overflows the span is kept covering it, one that fits is centred."""
    if size <= span:
        return start + round((span - size) / 2)
    return start + min(0, max(span - size, round(span / 2 - focus)))


def _cropped_sides(box: Box, image_size: tuple[int, int], snap: tuple[bool, bool]) -> tuple[bool, bool, bool, bool]:
    """Top, right, bottom, left: the subject's box touches the photo's border there, and that axis snaps."""
    x0, y0, x1, y1 = box
    width, height = image_size
    snap_x, snap_y = snap
    return (snap_y and y0 == 0, snap_x and x1 == width, snap_y and y1 == height, snap_x and x0 == 0)


def _snapped(align: Align, start_cropped: bool, end_cropped: bool) -> Align:
    """A side cropped on one end only pins the subject to that end; both or neither keep the alignment."""
    if start_cropped != end_cropped:
        return "start" if start_cropped else "end"
    return align


def _aligned(start: int, span: int, size: int, align: Align) -> int:
    if align == "start":
        return start
    if align == "end":
        return start + span - size
    return start + round((span - size) / 2)


def _frame(place: Place, image_size: tuple[int, int], reference: tuple[int, int], padding: Sides) -> tuple[int, int]:
    """The canvas for `frame` (no explicit size), bounded by `max_size` keeping its aspect ratio.

    "subject": the reference box at scale 1 plus its paddings and margins;
    percentages are of the sides they are measured on, so each axis solves
    side = (reference + pixels) / (1 - fractions), paddings then margins.
    """
    width, height = image_size
    if place.frame == "subject":
        top, right, bottom, left = padding
        m_top, m_right, m_bottom, m_left = place.margin
        width = round(_grown(_grown(reference[0], left, right, "padding"), m_left, m_right, "margin"))
        height = round(_grown(_grown(reference[1], top, bottom, "padding"), m_top, m_bottom, "margin"))
    max_w, max_h = place.max_size
    factor = min(1.0, max_w / width if max_w else 1.0, max_h / height if max_h else 1.0)
    return max(1, round(width * factor)), max(1, round(height * factor))


def _grown(inner: float, first: Length, second: Length, field: str) -> float:
    pixels = sum(amount for amount, unit in (first, second) if unit == "px")
    fraction = sum(amount / 100 for amount, unit in (first, second) if unit == "%")
    if fraction >= 1:
        raise OptionError(field, f"{field} on opposite sides adds up to 100% or more")
    return (inner + pixels) / (1 - fraction)


def target_area(canvas: tuple[int, int], margin: Sides, padding: Sides) -> Box:
    """The canvas less its margins (% of the canvas side) less the paddings (% of the margin box side)."""
    width, height = canvas
    m_top, m_right, m_bottom, m_left = (_to_px(length, extent) for length, extent in zip(margin, (height, width) * 2))
    inner_w, inner_h = width - m_left - m_right, height - m_top - m_bottom
    if inner_w < 1 or inner_h < 1:
        raise OptionError("margin", f"the margins leave no room on a {width}x{height} canvas")
    p_top, p_right, p_bottom, p_left = (_to_px(length, extent) for length, extent in zip(padding, (inner_h, inner_w) * 2))
    target = (m_left + p_left, m_top + p_top, width - m_right - p_right, height - m_bottom - p_bottom)
    if target[2] - target[0] < 1 or target[3] - target[1] < 1:
        raise OptionError("padding", f"the margins and paddings leave no room on a {width}x{height} canvas")
    return target


def contact_shadow(alpha: np.ndarray) -> np.ndarray:
    """uint8 shadow alpha: a soft, squashed projection of the subject's base onto the ground.

    Each column of the subject's lowest fifth casts shadow in proportion to
    how close its lowest pixel comes to the base line (a flat base casts a
    flat band, a round one a tapered ellipse); the result is squashed into a
    thin band centred on the base line and blurred, so it lies under and
    just below the subject, never above it.
    """
    box = subject_box(Image.fromarray(alpha, mode="L"))
    if box is None:
        return np.zeros_like(alpha)
    x0, y0, x1, y1 = box
    box_w, box_h = x1 - x0, y1 - y0
    band = max(1, box_h // 5)
    solid = alpha[y1 - band : y1, x0:x1] > SUBJECT_THRESHOLD
    lowest = band - np.argmax(solid[::-1], axis=0)  # 1..band, band = touches the base
    footprint = np.where(solid.any(axis=0), lowest / band, 0.0).astype(np.float32) ** 2
    half_height = max(2.0, 0.04 * box_h, 0.025 * box_w)
    blur = max(1.5, 0.02 * max(box_w, box_h))
    pad = math.ceil(half_height + 3 * blur) + 1
    rows = np.arange(-pad, pad + 1, dtype=np.float32)
    profile = np.sqrt(np.clip(1 - (rows / np.float32(half_height)) ** 2, 0, 1))
    core = (profile[:, None] * footprint[None, :] * np.float32(255 * SHADOW_OPACITY)).astype(np.uint8)
    patch = Image.new("L", (box_w + 2 * pad, core.shape[0]), 0)
    patch.paste(Image.fromarray(core, mode="L"), (pad, 0))
    patch = patch.filter(ImageFilter.GaussianBlur(blur))
    canvas = Image.new("L", (alpha.shape[1], alpha.shape[0]), 0)
    canvas.paste(patch, (x0 - pad, y1 - pad))
    return np.asarray(canvas)


@dataclass(frozen=True)
class ShadowLook:
    """A shadow as the subject's silhouette projected onto the ground at its base.

    Measured in the subject box (width bw, height bh, larger side s): a point
    at height u above the base line lands `squash` u above the base line
    plus `drop` bh lower, shifted right by `shear` u, its distance from the
    box's centre line times `spread`; then blurred (standard deviation
    `blur` s) and drawn in black at `opacity`.
    """

    squash: float
    shear: float
    spread: float
    drop: float
    blur: float
    opacity: float


SHADOW_LOOKS = {
    # A wide, diffuse shadow pooling around the base, as under an overcast sky.
    "soft": ShadowLook(squash=0.2, shear=0.0, spread=1.15, drop=0.0, blur=0.06, opacity=0.5),
    # A crisp cast shadow on the ground, falling back and to the right, as from a low light at the front left.
    "hard": ShadowLook(squash=0.3, shear=0.45, spread=1.0, drop=0.0, blur=0.004, opacity=0.5),
    # A small, soft pool detached below the base: the subject seems to hover above the ground.
    "floating": ShadowLook(squash=0.06, shear=0.0, spread=0.85, drop=0.1, blur=0.025, opacity=0.5),
}
# The projection is drawn on a copy of the alpha reduced until the subject's larger side is about this.
SHADOW_PROXY_SIDE = 256


def ground_shadow(alpha: np.ndarray, look: ShadowLook) -> np.ndarray:
    """uint8 shadow alpha of `look` (SHADOW_LOOKS), the size of `alpha`; nothing above the subject's top.

    Projected and blurred on a reduced copy (an affine transform in Pillow's
    C code), then scaled back up: a shadow this soft has no finer detail.
    """
    box = subject_box(Image.fromarray(alpha, mode="L"))
    if box is None:
        return np.zeros_like(alpha)
    x0, y0, x1, y1 = box
    box_w, box_h = x1 - x0, y1 - y0
    side = max(box_w, box_h)
    factor = max(1, side // SHADOW_PROXY_SIDE)
    full = Image.fromarray(alpha, mode="L")
    small = full.reduce(factor) if factor > 1 else full
    base, centre, drop = y1 / factor, (x0 + x1) / 2 / factor, look.drop * box_h / factor
    # Output (x, y) -> input: u = (base + drop - y) / squash above the base, x undone likewise.
    k, shear, spread = look.squash, look.shear, look.spread
    matrix = (
        1 / spread,
        shear / (spread * k),
        centre - centre / spread - shear * (base + drop) / (spread * k),
        0.0,
        1 / k,
        base - (base + drop) / k,
    )
    shadow = small.transform(small.size, Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR)
    shadow = shadow.filter(ImageFilter.GaussianBlur(max(0.5, look.blur * side / factor)))
    shadow = shadow.point([round(v * look.opacity) for v in range(256)])
    out = to_array(scaled_back(shadow, factor, full.size, Image.Resampling.BILINEAR))
    out[:y0] = 0  # a shadow is never above the subject
    return out


def with_shadow(layer: Image.Image, style: str = "contact") -> Image.Image:
    """The cutout over its shadow (black, partly transparent), same size: `contact` or one of SHADOW_LOOKS."""
    alpha = np.asarray(layer.getchannel("A"))
    shadow = np.zeros((layer.height, layer.width, 4), dtype=np.uint8)
    shadow[..., 3] = contact_shadow(alpha) if style == "contact" else ground_shadow(alpha, SHADOW_LOOKS[style])
    ground = Image.fromarray(shadow, mode="RGBA")
    ground.alpha_composite(layer)
    return ground


def _flattened(background: Image.Image) -> Image.Image:
    """An RGB background; one with alpha is flattened onto white first."""
    if background.mode == "RGBA":
        flat = Image.new("RGBA", background.size, (255, 255, 255, 255))
        flat.alpha_composite(background)
        background = flat
    return background.convert("RGB")


def fit_cover(background: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale a background to cover `size`, centred, flattened onto white when it has alpha."""
    return ImageOps.fit(_flattened(background), size, Image.Resampling.BICUBIC).convert("RGBA")


def background_layer(
    background: Image.Image,
    size: tuple[int, int],
    scaling: Literal["fill", "fit"] = "fill",
    blur: tuple[BlurMode, float] | None = None,
) -> Image.Image:
    """A background image as an RGBA layer of `size`.

    `fill` covers it (cropped, centred); `fit` shows all of the image,
    centred, transparent around it. `blur` (mode, fraction of the larger side
    of `size`) blurs the scaled image itself, so a fitted one keeps sharp edges.
    """
    if scaling == "fill":
        ground = fit_cover(background, size)
        return blurred(ground, blur[0], blur[1] * max(size)) if blur else ground
    shown = ImageOps.contain(_flattened(background), size, Image.Resampling.BICUBIC).convert("RGBA")
    if blur:
        shown = blurred(shown, blur[0], blur[1] * max(size))
    ground = Image.new("RGBA", size, 0)
    ground.paste(shown, ((size[0] - shown.width) // 2, (size[1] - shown.height) // 2))
    return ground


def put_on_background(
    layer: Image.Image,
    bg_color: tuple[int, int, int, int] | None,
    bg_image: Image.Image | None,
    scaling: Literal["fill", "fit"] = "fill",
    blur: tuple[BlurMode, float] | None = None,
) -> Image.Image:
    """Composite a straight-alpha RGBA layer over the background (RGBA; the caller flattens opaque results).

    The colour lies under the image, showing where a fitted image leaves room;
    a flat colour has nothing to blur.
    """
    if bg_image is not None:
        ground = background_layer(bg_image, layer.size, scaling, blur)
        if bg_color is not None:
            under = Image.new("RGBA", layer.size, bg_color)
            under.alpha_composite(ground)
            ground = under
    elif bg_color is not None:
        ground = Image.new("RGBA", layer.size, bg_color)
    else:
        return layer
    ground.alpha_composite(layer)
    return ground


def within_pixels(picture: Image.Image, max_pixels: int | None) -> Image.Image:
    """`picture` scaled down to at most `max_pixels` pixels, keeping its aspect ratio; as it is when it fits."""
    width, height = picture.size
    if max_pixels is None or width * height <= max_pixels:
        return picture
    factor = math.sqrt(max_pixels / (width * height))
    size = (max(1, math.floor(width * factor)), max(1, math.floor(height * factor)))
    if picture.mode == "RGBA":
        # Premultiplied while resampling, so the zero colour under transparent pixels does not darken edges.
        return picture.convert("RGBa").resize(size, Image.Resampling.LANCZOS).convert("RGBA")
    return picture.resize(size, Image.Resampling.LANCZOS)
