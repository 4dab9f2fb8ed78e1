"""The app's typed state: what ``create_app`` is given and what its lifespan opens. Handlers reach it only through
the dependencies in ``deps.py``, never through untyped ``request.app.state`` attributes."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from fastapi import FastAPI

from service.api.auth import KeyRing
from service.api.rate_limits import RateLimits
from service.api.sessions import Sessions
from service.config import Settings
from service.metrics import Metrics
from service.moderation.accounts import Accounts
from service.moderation.events import EventHub
from service.runtime import Runtime

log = logging.getLogger(__name__)


class Outage:
    """Logs one line when Redis stops answering and one when it answers again, not a traceback per request."""

    def __init__(self) -> None:
        self.since: float | None = None

    def failed(self, exc: Exception) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.warning("redis unavailable (%s); answering 503 until it is back", type(exc).__name__)

    def down_for(self) -> float:
        """Seconds since Redis stopped answering (0 while it answers)."""
        return 0.0 if self.since is None else time.monotonic() - self.since

    def recovered(self) -> None:
        if self.since is not None:
            log.warning("redis available again after %.1f s", time.monotonic() - self.since)
            self.since = None


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    keyring: KeyRing
    runtime: Runtime | None = None  # None before start-up and after shutdown
    rate_limits: RateLimits | None = None  # opened with the runtime (it counts in Redis)
    sessions: Sessions | None = None  # moderator page sessions (kept in Redis), opened with the runtime
    accounts: Accounts | None = None  # moderators' own accounts (kept in Redis), opened with the runtime
    events: EventHub | None = None  # live queue events for the page, opened with the runtime
    outage: Outage = field(default_factory=Outage)
    # Set when the server starts shutting down: long-lived responses (live event streams) end themselves.
    draining: asyncio.Event = field(default_factory=asyncio.Event)


def app_state(app: FastAPI) -> AppState:
    state: AppState = app.state.moderato
    return state
