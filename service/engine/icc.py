"""CMYK output profiles: the bundled default and the named ones an operator installs.

The default is libvips' built-in CMYK profile, "Chemical proof", made with
ArgyllCMS by Graeme W. Gill and released by him into the public domain (its
own copyright tag says so). `profiles/chemical-proof.icc` is that file as
libvips 8.18 carries it, less the three tags (targ, DevD, CIED) that hold the
readings of the chart it was made from: 734 kB that no conversion reads, and
that every CMYK file embedding the profile would otherwise carry (227 kB
instead of 962 kB; tests/engine/test_output_formats.py derives it again). The four named profiles are characterisations of
printing conditions (FOGRA39, FOGRA29, SWOP 2006, GRACoL 2013) that no package
here carries, so they come only from files the operator puts in the profile
directory (settings `icc_dir`, CUTOUT_ICC_DIR) under the names in
`PROFILE_FILES`; a name whose file is missing is an error, never a stand-in.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageCms

from .errors import OptionError

DEFAULT_PROFILE_PATH = Path(__file__).with_name("profiles") / "chemical-proof.icc"
DEFAULT_PROFILE_NAME = "Chemical proof"
PROFILE_FILES = {
    "ISO_Coated": "ISO_Coated.icc",
    "ISO_Uncoated": "ISO_Uncoated.icc",
    "USWeb_Coated": "USWeb_Coated.icc",
    "USWeb_Uncoated": "USWeb_Uncoated.icc",
}
# Relative colorimetric with black point compensation: what print workflows (and Photoshop's
# "Convert to Profile") use by default; in-gamut colours keep their appearance, paper white is white.
INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
FLAGS = ImageCms.Flags.BLACKPOINTCOMPENSATION


@dataclass(frozen=True)
class CmykProfile:
    """A CMYK output profile: its bytes (embedded in the file) and the sRGB -> CMYK transform."""

    data: bytes
    description: str
    transform: ImageCms.ImageCmsTransform

    def convert(self, image: Image.Image) -> Image.Image:
        """An RGB (or L) picture, taken as sRGB, in this profile's CMYK."""
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        converted = ImageCms.applyTransform(rgb, self.transform)
        assert converted is not None  # applyTransform returns None only with inPlace=True
        return converted


def load_profile(data: bytes, what: str) -> CmykProfile:
    """A CMYK output profile from ICC bytes; OptionError("color_profile") when they are not one."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
    except (OSError, ValueError, TypeError) as exc:
        raise OptionError("color_profile", f"{what} is not a readable ICC profile ({exc})") from None
    space = profile.profile.xcolor_space.strip()
    if space != "CMYK":
        raise OptionError("color_profile", f"{what} is a {space} profile, not a CMYK one")
    try:
        transform = ImageCms.buildTransform(_srgb(), profile, "RGB", "CMYK", renderingIntent=INTENT, flags=FLAGS)
    except ImageCms.PyCMSError as exc:
        raise OptionError("color_profile", f"{what} cannot convert sRGB to CMYK ({exc})") from None
    description = (profile.profile.profile_description or "").strip()
    return CmykProfile(data, description, transform)


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@cache
def default_profile() -> CmykProfile:
    """The bundled CMYK profile (built once: its transform takes a tenth of a second)."""
    return load_profile(DEFAULT_PROFILE_PATH.read_bytes(), "the bundled CMYK profile")


class IccProfiles:
    """The named CMYK profiles installed in `directory` (None: none installed)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._loaded: dict[str, tuple[float, CmykProfile]] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path | None:
        """Where the named profile's file is expected; None for a name that is not a profile's."""
        if self.directory is None or name not in PROFILE_FILES:
            return None
        return self.directory / PROFILE_FILES[name]

    def available(self, name: str) -> bool:
        path = self.path(name)
        return path is not None and path.is_file()

    def profile(self, name: str | None) -> CmykProfile:
        """The profile for an output spec's `color_profile` (None: the bundled default), or OptionError."""
        if name is None:
            return default_profile()
        if name not in PROFILE_FILES:
            raise OptionError("color_profile", f"{name!r} is not one of {', '.join(PROFILE_FILES)}")
        path = self.path(name)
        if path is None or not path.is_file():
            where = f"{self.directory}" if self.directory is not None else "no profile directory (CUTOUT_ICC_DIR)"
            raise OptionError(
                "color_profile", f"{name} is not installed on this server: {PROFILE_FILES[name]} not found in {where}"
            )
        stamp = path.stat().st_mtime
        with self._lock:
            known = self._loaded.get(name)
            if known is not None and known[0] == stamp:
                return known[1]
        loaded = load_profile(path.read_bytes(), f"{PROFILE_FILES[name]} in {self.directory}")
        with self._lock:
            self._loaded[name] = (stamp, loaded)
        return loaded
