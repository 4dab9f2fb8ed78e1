"""An author's standing over the policy's decision (rules.apply_standing) and its end time (authors.standing_of)."""

from __future__ import annotations

from service.contract import Decision
from service.moderation.authors import standing_of
from service.moderation.rules import PREMODERATED_REASON, apply_standing

SCORES = ["toxicity >= 0.30"]


def test_suspended_and_banned_authors_are_rejected_whatever_the_scores() -> None:
    for standing in ("suspended", "banned"):
        assert apply_standing(Decision.ALLOW, [], False, standing) == (Decision.REJECT, [f"author_{standing}"])


def test_trust_skips_only_a_review_the_scores_asked_for() -> None:
    assert apply_standing(Decision.REVIEW, SCORES, False, "trusted") == (Decision.ALLOW, [*SCORES, "author_trusted"])
    for fail_closed in (["text_too_long: 30000 characters"], ["unsupported_language: es"], ["flood: posted 9 times"]):
        assert apply_standing(Decision.REVIEW, fail_closed, False, "trusted")[0] == Decision.REVIEW
    assert apply_standing(Decision.REJECT, ["toxicity >= 0.90"], False, "trusted")[0] == Decision.REJECT


def test_pre_moderation_holds_what_the_model_would_allow_but_not_what_it_rejects() -> None:
    assert apply_standing(Decision.ALLOW, [], False, "premoderated") == (Decision.REVIEW, ["author_premoderated"])
    assert apply_standing(Decision.ALLOW, [], True, None) == (Decision.REVIEW, [PREMODERATED_REASON])
    assert apply_standing(Decision.REJECT, SCORES, False, "premoderated") == (Decision.REJECT, SCORES)


def test_a_standing_ends_at_its_end_time() -> None:
    record = {"standing": "suspended", "standing_until": "1000.0", "standing_reason": "spam", "standing_at": "900"}
    assert standing_of(record, now=999.0) is not None and standing_of(record, now=999.0).standing == "suspended"
    assert standing_of(record, now=1000.0) is None
    assert standing_of({"standing": "suspended", "standing_until": ""}, now=1e12) is not None  # until ended
    assert standing_of({"standing": "whatever"}, now=0) is None
