"""The engine's one error hierarchy; the service maps each class to a 400/422."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose; `.message` is for developers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImageRejected(EngineError):
    """The input (or background) bytes are not an image we accept.

    `kind` says why, for dialects whose vendors give each reason its own code:
    "format" (not a format we read), "too_large" (over the pixel limits) or
    "unreadable" (empty, corrupt, truncated, a decompression bomb).
    """

    def __init__(self, message: str, kind: str = "unreadable") -> None:
        super().__init__(message)
        self.kind = kind


class OptionError(EngineError):
    """An option is unknown or has a bad value; `.option` names it as the client sent it."""

    def __init__(self, option: str, message: str) -> None:
        # Messages quote what the client sent; a huge value or key is not sent back whole.
        option, message = _shortened(option, 64), _shortened(message, 200)
        super().__init__(f"{option}: {message}")
        self.option = option
        self.reason = message


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
