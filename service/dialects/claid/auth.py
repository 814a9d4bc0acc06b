"""Claid's key: `Authorization: Bearer <CUTOUT_CLAID_API_KEY>`, for every Claid route."""

from __future__ import annotations

from starlette.requests import Request

from ...errors import Unauthorized
from ...signing import same_text
from ..common import services

NO_AUTH = "Authorization is required."
BAD_KEY = "The API key in the Authorization header is not this server's Claid API key."


async def bearer(request: Request) -> None:
    """Claid answers a missing or wrong key with a 401 (`111`, `auth`)."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized(NO_AUTH)
    if not same_text(key.strip(), services(request).settings.claid_api_key):
        raise Unauthorized(BAD_KEY)
