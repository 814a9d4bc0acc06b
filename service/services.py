"""The one object every route reaches through `request.app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass

from .egress import Egress
from .library import Library
from .settings import Settings


@dataclass
class Services:
    settings: Settings
    library: Library
    egress: Egress
