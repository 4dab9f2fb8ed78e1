"""The article claim: the text a comment's stance is read against. One function, used by training (FNC's headline
plus another body's lead) and by serving (an article's title plus its lead), so both sides see claims cut alike."""

from __future__ import annotations

import re

LEAD_CHARS = 300  # characters of the article's lead that follow its title


def first_sentences(text: str, limit: int) -> str:
    """The opening of a text up to ``limit`` characters, cut at a sentence end where there is one."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    return cut[: end + 1] if end > limit // 3 else cut


def article_claim(title: str, body: str = "") -> str:
    """The title, then the article's lead (its opening sentences, up to LEAD_CHARS characters)."""
    lead = first_sentences(body, LEAD_CHARS)
    return f"{title.strip()}. {lead}".strip() if lead else title.strip()
