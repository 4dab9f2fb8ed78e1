"""Review order: a sorted-set score where smaller means sooner.

The score is the comment's arrival time moved earlier by its severity and its thread's heat, so the queue is
oldest-first among equals, a near-certain threat jumps ahead of an hour of mild cases, and a thread on fire is
worked before a quiet one.
"""

from __future__ import annotations

SEVERITY_S = 3600.0  # seconds of head start for a comment whose worst score is 1.0
HEAT_S = 60.0  # seconds of head start per comment/minute in its thread ...
HEAT_CAP = 60  # ... counted up to this many comments/minute


def review_priority(scores: dict[str, float], heat_per_minute: int, received_at: float) -> float:
    severity = max(scores.values(), default=0.0)
    return received_at - severity * SEVERITY_S - min(heat_per_minute, HEAT_CAP) * HEAT_S
