"""Learning-rate schedules shared by the training stages (a module of its own: train.py imports the stages)."""

from __future__ import annotations

from collections.abc import Callable


def warmup_times_linear_decay(warmup_steps: int, steps: int) -> Callable[[int], float]:
    """LambdaLR factor: a linear warm-up over ``warmup_steps`` multiplied by a linear decay to 0 at ``steps``.

    The heads-only stages use it (stance tuning, head tuning); the full fine-tune in train.py decays from the end
    of its warm-up instead, and keeps its own schedule so the shipped recipe stays reproducible.
    """
    return lambda step: min(1.0, (step + 1) / warmup_steps) * max(0.0, 1 - step / steps)
