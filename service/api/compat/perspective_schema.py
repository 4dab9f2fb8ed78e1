"""Perspective's request shapes (Comment Analyzer API v1alpha1) and the mapping of its attribute names onto
Moderato's, in one place: the analyze route, the suggestscore route and the discovery document read these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Perspective name -> Moderato attribute. *_EXPERIMENTAL names are the older aliases some clients still send.
ATTRIBUTES: dict[str, str] = {
    "TOXICITY": "toxicity",
    "SEVERE_TOXICITY": "severe_toxicity",
    "INSULT": "insult",
    "THREAT": "threat",
    "IDENTITY_ATTACK": "identity_attack",
    "PROFANITY": "obscene",
}
ATTRIBUTES |= {f"{name}_EXPERIMENTAL": attribute for name, attribute in list(ATTRIBUTES.items())}
SCORE_TYPES = ("PROBABILITY", "SCORE_TYPE_UNSPECIFIED")  # Moderato's scores are probabilities


class Entry(BaseModel):
    """A TextEntry: text and its type (PLAIN_TEXT, HTML, TEXT_TYPE_UNSPECIFIED)."""

    model_config = ConfigDict(extra="forbid")
    text: str = ""  # no length bound here: Perspective's own limit answers COMMENT_TOO_LONG (the body limit bounds it)
    type: Literal["PLAIN_TEXT", "HTML", "TEXT_TYPE_UNSPECIFIED"] | None = None


class ArticleAndParent(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    article: Entry | None = None
    parent_comment: Entry | None = Field(default=None, alias="parentComment")


class Context(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    entries: list[Entry] | None = None
    article_and_parent_comment: ArticleAndParent | None = Field(default=None, alias="articleAndParentComment")


class AttributeParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    score_type: str | None = Field(default=None, alias="scoreType")
    score_threshold: float | None = Field(default=None, alias="scoreThreshold", ge=0, le=1)


class AnalyzeCommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    comment: Entry
    requested_attributes: dict[str, AttributeParameters] = Field(alias="requestedAttributes", min_length=1)
    languages: list[str] | None = None
    do_not_store: bool = Field(default=False, alias="doNotStore")
    span_annotations: bool = Field(default=False, alias="spanAnnotations")
    client_token: str | None = Field(default=None, alias="clientToken", max_length=2000)
    session_id: str | None = Field(default=None, alias="sessionId", max_length=2000)
    community_id: str | None = Field(default=None, alias="communityId", max_length=2000)
    context: Context | None = None
    drop_unsupported_attributes: bool = Field(default=False, alias="dropUnsupportedAttributes")


class Score(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(ge=0, le=1)
    type: str | None = None


class SpanScore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    begin: int | None = None
    end: int | None = None
    score: Score


class SuggestedScores(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    summary_score: Score | None = Field(default=None, alias="summaryScore")
    span_scores: list[SpanScore] | None = Field(default=None, alias="spanScores")


class SuggestCommentScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    comment: Entry
    attribute_scores: dict[str, SuggestedScores] = Field(alias="attributeScores", min_length=1)
    languages: list[str] | None = None
    client_token: str | None = Field(default=None, alias="clientToken", max_length=2000)
    session_id: str | None = Field(default=None, alias="sessionId", max_length=2000)
    community_id: str | None = Field(default=None, alias="communityId", max_length=2000)
    context: Context | None = None
