"""The start-up heap: frozen once the model is loaded, so the garbage collector stops rescanning it.

A loaded model leaves ~430,000 Python objects (transformers modules, torch and typing internals) that live as long
as the process. A full collection walks all of them: 245-300 ms with the GIL held, measured here, stalling the
event loop and both model streams at once. CPython runs one whenever the objects that survived into the oldest
generation since the last one exceed a quarter of it (~100,000 here): rare in a 30 s benchmark, but regular in a
service that runs for days. ``gc.freeze()`` moves the start-up objects into a permanent generation that
collections skip; what requests allocate afterwards is collected as before. ``moderato_gc_pause_seconds`` shows
the pauses.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def freeze_startup_heap() -> None:
    """Collect what start-up left behind, then exempt everything still alive from later collections."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.info(
        "froze %d start-up objects out of garbage collection (%.0f ms)",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )


def watch_collections(observe: Callable[[int, float], None]) -> Callable[[], None]:
    """Calls ``observe(generation, seconds)`` after every collection; returns the function that stops it."""
    started = 0.0

    def callback(phase: str, info: dict[str, Any]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            observe(info["generation"], time.perf_counter() - started)

    gc.callbacks.append(callback)
    return lambda: gc.callbacks.remove(callback)
