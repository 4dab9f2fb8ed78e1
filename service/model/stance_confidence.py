"""How sure a stance answer is: the served label's top probability mapped to the chance that the label is right,
fitted on the grouped stance dev splits by ``moderato calibrate-stance`` (service/training/stance_confidence.py),
and the point above which a label is presented as confident.

A folder that serves a stance pass keeps its maps beside its weights (``stance_confidence.json``): ``article``
for the stance toward an article, ``parent`` for the stance toward a parent comment. The comment model's folder
holds its late-interaction head's maps, a cross-encoded stance folder its own. A pass without a map still answers,
with its raw top probability as the confidence and never as confident: an unmeasured label is an unsure one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CONFIDENCE_FILE = "stance_confidence.json"
PASSES = ("article", "parent")


@dataclass(frozen=True)
class ConfidenceMap:
    """Knots from the served label's probability (``top``) to P(label right), and the confident threshold on the
    mapped value (chosen on dev so that confident agree and disagree labels are right often enough)."""

    top: tuple[float, ...]
    right: tuple[float, ...]
    confident_at: float
    fit: str  # names the fit (a confidence map changes answers: it is part of the model's version)

    def confidence(self, top_probability: float) -> float:
        return round(float(np.interp(top_probability, self.top, self.right)), 4)

    def to_json(self) -> dict[str, object]:
        return {"top": list(self.top), "right": list(self.right), "confident_at": self.confident_at, "fit": self.fit}

    @classmethod
    def from_json(cls, body: dict[str, object], where: str) -> ConfidenceMap:
        top = tuple(float(x) for x in body["top"])  # type: ignore[attr-defined]
        right = tuple(float(y) for y in body["right"])  # type: ignore[attr-defined]
        if len(top) != len(right) or len(top) < 2 or any(b <= a for a, b in zip(top, top[1:], strict=False)):
            raise ValueError(f"{where}: knots must be at least two, with increasing probabilities")
        if any(b < a for a, b in zip(right, right[1:], strict=False)):
            raise ValueError(f"{where}: the map must not decrease")
        return cls(top, right, float(body["confident_at"]), str(body["fit"]))  # type: ignore[arg-type]


def load_maps(folder: Path) -> dict[str, ConfidenceMap]:
    path = folder / CONFIDENCE_FILE
    if not path.exists():
        return {}
    body = json.loads(path.read_text())
    return {name: ConfidenceMap.from_json(body[name], f"{path} {name}") for name in PASSES if name in body}


def save_map(folder: Path, name: str, confidence_map: ConfidenceMap) -> None:
    """Write one pass's map, keeping the other pass's (a folder may serve both)."""
    path = folder / CONFIDENCE_FILE
    body = json.loads(path.read_text()) if path.exists() else {}
    body[name] = confidence_map.to_json()
    path.write_text(json.dumps(body, indent=1) + "\n")


def stance_confidence(confidence_map: ConfidenceMap | None, top_probability: float) -> tuple[float, bool]:
    """(confidence, confident) for a label whose probability is ``top_probability``."""
    if confidence_map is None:
        return round(float(top_probability), 4), False
    value = confidence_map.confidence(top_probability)
    return value, value >= confidence_map.confident_at
