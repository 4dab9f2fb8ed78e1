"""Per-tenant policy: thresholds turn scores into `allow`, `review` or `reject`, with the reasons spelled out."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.config import PolicySettings
from service.contract import Decision
from service.model.calibration import Calibration
from service.model.labels import ATTRIBUTES
from service.scoring.word_lists import WordList, compiled


@dataclass(frozen=True)
class Verdict:
    """The policy's decision on one comment and the reasons for it (which attribute crossed which threshold)."""

    decision: Decision
    reasons: list[str]


@dataclass(frozen=True)
class Policy:
    """A score at or above a reject threshold rejects; else at or above a review threshold sends to review.

    :param review: attribute -> threshold for human review.
    :param reject: attribute -> threshold for automatic rejection.
    """

    review: dict[str, float]
    reject: dict[str, float]
    unsupported_language: str = "review"
    suspect: WordList = field(default_factory=lambda: WordList([]))
    banned: WordList = field(default_factory=lambda: WordList([]))

    @classmethod
    def from_settings(cls, settings: PolicySettings, calibration: Calibration | None = None) -> Policy:
        """The policy on the scale scores are answered in: raw-scale thresholds go through ``calibration``."""
        unknown = (set(settings.review) | set(settings.reject)) - set(ATTRIBUTES)
        if unknown:
            raise ValueError(f"policy names unknown attributes: {sorted(unknown)}")
        review, reject = dict(settings.review), dict(settings.reject)
        if settings.scale == "raw" and calibration is not None:
            review = {name: round(calibration.score(name, t), 4) for name, t in review.items()}
            reject = {name: round(calibration.score(name, t), 4) for name, t in reject.items()}
        return cls(
            review,
            reject,
            settings.unsupported_language,
            compiled(tuple(settings.suspect_words)),
            compiled(tuple(settings.banned_words)),
        )

    def decide(
        self,
        scores: dict[str, float],
        *,
        flood_count: int | None = None,
        flood_window_s: int | None = None,
        unsupported_language: str | None = None,
        unread: str | None = None,
        text: str = "",
    ) -> Verdict:
        """:param unsupported_language: the comment's language when the model does not read it (its scores then
        say little: the tenant's ``unsupported_language`` rule decides at least as strictly as they do).
        :param unread: why part of the text went unread (too long); such a comment is never allowed."""
        rejected = _crossed(scores, self.reject) + [f"banned_word: {w}" for w in self.banned.find(text)]
        reviewed = _crossed(scores, self.review) + ([unread] if unread else [])
        reviewed += [f"suspect_word: {w}" for w in self.suspect.find(text)]
        flood = [f"flood: posted {flood_count} times in {flood_window_s} s"] if flood_count else []
        language = []
        if unsupported_language and self.unsupported_language != "allow":
            language = [f"unsupported_language: {unsupported_language}"]
            (rejected if self.unsupported_language == "reject" else reviewed).extend(language)
        if rejected:
            return Verdict(Decision.REJECT, rejected + flood)
        if reviewed or flood:
            return Verdict(Decision.REVIEW, reviewed + flood)
        return Verdict(Decision.ALLOW, [])


def _crossed(scores: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    return [f"{name} >= {_written(limit)}" for name, limit in thresholds.items() if scores.get(name, 0.0) >= limit]


def _written(limit: float) -> str:
    """A threshold as it is, to four places and at least two ("0.80", "0.4695"). Rounded to two, a built-in threshold
    carried over the calibration read as what it is not: raw 0.85 on threat is 0.9985, shown as "threat >= 1.00",
    a score no comment reaches; insult's 0.7992 as "insult >= 0.80", above the 0.7995 it had fired on."""
    return f"{limit:.4f}".rstrip("0").ljust(4, "0")
