"""The one object every route reaches through `request.app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .egress import Egress
from .library import Library
from .metrics import Metrics
from .settings import Settings
from .storage import Storages

if TYPE_CHECKING:
    from .dispatcher import Dispatcher
    from .jobs import Runner
    from .webhooks import Webhooks


@dataclass
class Services:
    settings: Settings
    library: Library
    egress: Egress
    metrics: Metrics
    runner: Runner
    webhooks: Webhooks
    dispatcher: Dispatcher
    storages: Storages
    model_ready: bool = False
