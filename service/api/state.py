"""The app's typed state: what ``create_app`` is given and what its lifespan opens. Handlers reach it only through
the dependencies in ``deps.py``, never through untyped ``request.app.state`` attributes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from service.api.auth import KeyRing
from service.config import Settings
from service.metrics import Metrics
from service.runtime import Runtime


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    keyring: KeyRing
    runtime: Runtime | None = None  # None before start-up and after shutdown


def app_state(app: FastAPI) -> AppState:
    state: AppState = app.state.moderato
    return state
