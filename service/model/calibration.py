"""Calibrated scores: each attribute's raw model probability mapped to the share of readers who would call the
comment that (what Perspective's scores meant), by a monotone piecewise-linear map fitted on annotator proportions.

The map lives beside the weights (``calibration.json``), written by ``moderato calibrate`` and read by serving. It is
strictly increasing, so a raw threshold ``t`` and its image ``map(t)`` make the same decisions: the built-in policy
thresholds, chosen on raw scores, are carried over through it (service/scoring/scorer.py).

One rule reads across attributes: toxicity is at least the calibrated score of each attribute the file names under
``toxicity_at_least`` where that score reaches its ``from`` (a comment raters almost surely agree is a threat is one
readers call toxic; the toxicity output, which learned from few threats, read many at 0.5). It lifts toxicity only
where another attribute's own rule, at the same scale, already holds the comment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class Calibration:
    """Per attribute, knots (raw -> calibrated); attributes without knots pass through unchanged.

    :param version: names the fit (part of the cache key: results under another calibration are not reused).
    """

    version: str
    knots: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]
    lifts_toxicity: tuple[str, ...] = ()  # the attributes whose calibrated score toxicity is at least...
    lifts_from: float = 1.0  # ...where that score is this or more

    def score(self, attribute: str, raw: float) -> float:
        """One attribute's map alone (thresholds are carried through it)."""
        if attribute not in self.knots:
            return raw
        xs, ys = self.knots[attribute]
        return float(np.interp(raw, xs, ys))

    def mapped(self, raw: Mapping[str, float]) -> dict[str, float]:
        """Every attribute's calibrated score, toxicity lifted (the module docstring), unrounded."""
        out = {name: self.score(name, value) for name, value in raw.items()}
        if "toxicity" in out:
            out["toxicity"] = max(
                [out["toxicity"], *(out[a] for a in self.lifts_toxicity if out.get(a, 0.0) >= self.lifts_from)]
            )
        return out

    def scores(self, raw: Mapping[str, float]) -> dict[str, float]:
        """``mapped``, as the API answers it (four places)."""
        return {name: round(value, 4) for name, value in self.mapped(raw).items()}

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "version": self.version,
            "attributes": {a: {"raw": list(x), "calibrated": list(y)} for a, (x, y) in self.knots.items()},
        }
        if self.lifts_toxicity:
            body["toxicity_at_least"] = {"attributes": list(self.lifts_toxicity), "from": self.lifts_from}
        return json.dumps(body, indent=1) + "\n"

    @classmethod
    def load(cls, folder: Path) -> Calibration | None:
        """The model folder's calibration, or None when it has none (scores are then the raw probabilities)."""
        path = folder / CALIBRATION_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        knots = {}
        for name, pair in raw["attributes"].items():
            xs, ys = tuple(float(x) for x in pair["raw"]), tuple(float(y) for y in pair["calibrated"])
            if len(xs) != len(ys) or len(xs) < 2 or any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
                raise ValueError(f"{path}: knots of {name} must be at least two, with increasing raw values")
            if any(b <= a for a, b in zip(ys, ys[1:], strict=False)):
                raise ValueError(f"{path}: the map of {name} must be strictly increasing")
            knots[name] = (xs, ys)
        lift = raw.get("toxicity_at_least") or {"attributes": [], "from": 1.0}
        return cls(str(raw["version"]), knots, tuple(str(a) for a in lift["attributes"]), float(lift["from"]))


def strictly_increasing(
    xs: np.ndarray, ys: np.ndarray, *, blend: float = 0.01, max_knots: int = 64
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Knots of a fitted non-decreasing step map made strictly increasing (a ``blend`` of the identity), spanning
    [0, 1] and thinned to ``max_knots``: equal raw scores stay equal, different ones stay ordered."""
    xs = np.concatenate([[0.0], np.clip(xs, 0, 1), [1.0]])
    ys = np.concatenate([[ys[0]], ys, [ys[-1]]])
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    keep = np.concatenate([[True], np.diff(xs) > 1e-3])
    xs, ys = xs[keep], np.maximum.accumulate(ys[keep])
    if len(xs) > max_knots:
        pick = np.unique(np.round(np.linspace(0, len(xs) - 1, max_knots)).astype(int))
        xs, ys = xs[pick], ys[pick]
    ys = (1 - blend) * np.clip(ys, 0, 1) + blend * xs
    return tuple(round(float(x), 7) for x in xs), tuple(round(float(y), 7) for y in ys)
