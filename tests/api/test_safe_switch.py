"""A site that leaves Perspective, Coral's Perspective setting or OpenAI keeps its protection: every surface fails
closed on text the model did not read (too long, another language), answers errors in its vendor's shape, goes
through the same key, role and rate-limit edge, and never answers 5xx to hostile input (issue 22)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.api.test_compat import coral_request, coral_signed
from tests.conftest import auth

pytestmark = pytest.mark.model

DEATH_WISHES = {
    "es": "Ojalá te mueras pronto, maldito imbécil, nadie te va a extrañar.",
    "de": "Ich hoffe, du stirbst bald, du widerlicher Idiot, niemand wird dich vermissen.",
    "fr": "J'espère que tu vas crever bientôt, sale idiot, personne ne te regrettera.",
}
THREAT = "I will find you and I will kill you. "
FILLER = "The council met on Tuesday to discuss the budget for the coming year and the library. "
PERSPECTIVE = "/v1alpha1/comments:analyze"


def _coral_client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(coral_signing_secrets={"tenant-a": [SecretStr("whsec")]})


def _coral(client: TestClient, body: str, **extra: Any) -> Any:
    raw, headers = coral_signed({**coral_request(body), **extra}, ["whsec"])
    return client.post("/v1/coral/tenant-a/moderation", content=raw, headers=headers)


def _raw_post(client: TestClient, path: str, raw: str, key: str = "pk-a") -> Any:
    return client.post(path, content=raw.encode(), headers={**auth(key), "content-type": "application/json"})


# -- fail closed: long text -------------------------------------------------------------------------------------------


def test_a_threat_deep_inside_a_long_comment_is_read(client: TestClient) -> None:
    text = FILLER * 150 + THREAT + FILLER * 40  # the threat past character 13,000, inside what the model reads
    assert 15_000 < len(text) < 20_000
    (result,) = client.post("/v1/analyze", json={"comments": [{"id": "c", "text": text}]}, headers=auth("pk-a")).json()[
        "results"
    ]
    assert result["decision"] != "allow" and result["scores"]["threat"] > 0.5


def test_text_past_the_maximum_is_held_on_every_surface(make_client: Callable[..., TestClient]) -> None:
    client = _coral_client(make_client)
    text = FILLER * 240 + THREAT * 3  # 20,000+ characters: the threat is past what the model reads
    (native,) = client.post("/v1/analyze", json={"comments": [{"id": "c", "text": text}]}, headers=auth("pk-a")).json()[
        "results"
    ]
    assert native["decision"] == "review" and any(r.startswith("text_too_long") for r in native["reasons"])
    coral = _coral(client, text)
    assert coral.status_code == 200 and coral.json()["status"] == "SYSTEM_WITHHELD"  # was 204: published unread
    openai = client.post("/v1/moderations", json={"input": text}, headers=auth("pk-a")).json()["results"][0]
    assert openai["flagged"] and any(r.startswith("text_too_long") for r in openai["moderato"]["reasons"])
    too_long = client.post(PERSPECTIVE, params={"key": "pk-a"}, json={"comment": {"text": text},
                           "requestedAttributes": {"TOXICITY": {}}})  # fmt: skip
    error = too_long.json()["error"]
    assert too_long.status_code == 400 and error["details"][0]["errorType"] == "COMMENT_TOO_LONG"


def test_the_10620_character_threat_coral_used_to_allow_is_withheld(make_client: Callable[..., TestClient]) -> None:
    client = _coral_client(make_client)
    text = (THREAT * 300)[:10_620]
    answer = _coral(client, text)
    assert answer.status_code == 200 and answer.json()["status"] in ("SYSTEM_WITHHELD", "REJECTED")


@pytest.mark.parametrize(
    "text",
    [
        "Y0u ar3 a p1ec3 0f sh1t, g0 k1ll y0urself.",
        "You're a Ꭵdiot.",
        "g o  k i l l  yourself",
        "just kys already",
        "\u202e.toidi sselhtrow a era uoY",  # shown the right way round by a right-to-left override
        "ɢᴏ ᴋɪʟʟ ʏᴏᴜʀsᴇʟғ",  # small capitals
        "🆈🅾🆄 🅰🆁🅴 🅰 🆆🅾🆁🆃🅷🅻🅴🆂🆂 🅸🅳🅸🅾🆃",  # negative squared letters
        "ɟlǝsɹnoʎ llᴉʞ oƃ",  # upside down
        "go &#107;&#105;&#108;&#108; yourself",  # numeric character references, as a page showing HTML shows them
        "Go kiII yourself",  # a capital I drawn as an l
        "Mxcns are vrmn and shld be dprtd.",  # the vowels of every long word dropped
        "Yuor fmaily wlil be dead by tonihgt.",  # two inner letters of most words swapped
        "<b>You</b> are a <i>worth</i>less <span>id</span>iot",  # markup, as a page rendering it shows it
        "[b]You[/b] are a [i]worth[/i]less [u]id[/u]iot",  # BBCode, as a forum rendering it shows it
    ],
)
def test_disguised_abuse_is_held_on_every_surface(make_client: Callable[..., TestClient], text: str) -> None:
    """Leet, a look-alike letter (Cherokee), spaced-out letters and initials, a bidi override, small capitals, boxed
    letters, upside-down text, character references, a capital I for an l (service/model/obfuscation.py) and whole
    comments scrambled (service/model/scrambled.py): each surface holds what it would hold written plainly. Without
    the plain reading all of these but the small capitals and the upside-down text were allowed by /v1/analyze (those
    two were held only as an unsupported language)."""
    client = _coral_client(make_client)
    (native,) = client.post("/v1/analyze", json={"comments": [{"id": "c", "text": text}]}, headers=auth("pk-a")).json()[
        "results"
    ]
    assert native["decision"] != "allow"
    openai = client.post("/v1/moderations", json={"input": text}, headers=auth("pk-a")).json()["results"][0]
    assert openai["flagged"]
    assert _coral(client, text).json()["status"] in ("SYSTEM_WITHHELD", "REJECTED")


# -- fail closed: languages -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wrapped", [False, True], ids=["alone", "between-english-sentences"])
@pytest.mark.parametrize("language", list(DEATH_WISHES))
def test_a_language_the_model_does_not_read_is_held_on_every_surface(
    make_client: Callable[..., TestClient], language: str, wrapped: bool
) -> None:
    """Alone, or wrapped in English so that the whole text reads as English (it was then scored toxicity 0.01-0.05
    and allowed): a sentence the model cannot read sends the comment to review."""
    client = _coral_client(make_client)
    text = DEATH_WISHES[language]
    if wrapped:
        text = f"Great article, thanks for writing it. {text} Looking forward to the next one."
    (native,) = client.post("/v1/analyze", json={"comments": [{"id": "c", "text": text}]}, headers=auth("pk-a")).json()[
        "results"
    ]
    assert native["decision"] == "review" and native["language"] == language
    openai = client.post("/v1/moderations", json={"input": [text]}, headers=auth("pk-a")).json()["results"][0]
    assert openai["flagged"] and f"unsupported_language: {language}" in openai["moderato"]["reasons"]
    assert _coral(client, text).json()["status"] == "SYSTEM_WITHHELD"
    # Coral's Perspective setting sends languages: ["en"] for every comment: the hint does not skip detection
    hinted = client.post(PERSPECTIVE, params={"key": "pk-a"}, json={"comment": {"text": text}, "languages": ["en"],
                         "requestedAttributes": {"TOXICITY": {}}})  # fmt: skip
    assert hinted.status_code == 400
    (detail,) = hinted.json()["error"]["details"]
    assert detail["@type"] == "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
    assert detail["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert detail["languageNotSupportedByAttributeError"]["detectedLanguages"] == [language]
    assert detail["languageNotSupportedByAttributeError"]["attribute"] == "TOXICITY"


def test_short_english_is_read_as_english(client: TestClient) -> None:
    for text in ("hello friend", "ok", "lol", "Nice one", "so true"):
        (result,) = client.post(
            "/v1/analyze", json={"comments": [{"id": "c", "text": text}]}, headers=auth("pk-a")
        ).json()["results"]
        assert result["language"] == "en" and result["decision"] == "allow", text


# -- Perspective parity -----------------------------------------------------------------------------------------------


def test_perspective_errors_carry_their_error_type(client: TestClient) -> None:
    empty = client.post(PERSPECTIVE, params={"key": "pk-a"},
                        json={"comment": {"text": "   "}, "requestedAttributes": {"TOXICITY": {}}})  # fmt: skip
    assert empty.status_code == 400 and empty.json()["error"]["details"][0]["errorType"] == "COMMENT_EMPTY"
    missing = client.post(PERSPECTIVE, json={"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}})
    assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"


def test_perspective_echoes_languages_and_scores_each_attributes_spans(client: TestClient) -> None:
    text = "Thanks for the report. You are a pathetic moron and I will hurt you."
    body = {"comment": {"text": text}, "languages": ["en-US"], "spanAnnotations": True,
            "requestedAttributes": {"TOXICITY": {}, "INSULT": {}, "THREAT": {}}}  # fmt: skip
    answer = client.post(PERSPECTIVE, params={"key": "pk-a"}, json=body).json()
    assert answer["languages"] == ["en-US"] and answer["detectedLanguages"] == ["en"]
    spans = {name: [s["score"]["value"] for s in a["spanScores"]] for name, a in answer["attributeScores"].items()}
    assert spans["TOXICITY"][0] < spans["TOXICITY"][1]  # the civil sentence scores lower than the abusive one
    assert spans["INSULT"] != spans["THREAT"]  # each attribute from the span head's own reading, not one copied
    for name, attribute in answer["attributeScores"].items():  # the worst sentence carries the summary
        assert max(spans[name]) == attribute["summaryScore"]["value"]


def test_perspective_html_is_read_as_a_browser_shows_it(client: TestClient) -> None:
    def toxicity(entry: dict[str, str]) -> float:
        body = {"comment": entry, "requestedAttributes": {"TOXICITY": {}}}
        answer = client.post(PERSPECTIVE, params={"key": "pk-a"}, json=body).json()
        return float(answer["attributeScores"]["TOXICITY"]["summaryScore"]["value"])

    marked_up = toxicity({"text": "You are a pa<b>the</b>tic mo<i>r</i>on.", "type": "HTML"})
    assert marked_up == toxicity({"text": "You are a pathetic moron."})


# -- one edge: every caller through the same principal, roles and rate limit --------------------------------------


def test_compat_routes_are_rate_limited_in_their_vendors_shape(make_client: Callable[..., TestClient]) -> None:
    client = make_client(default_rate_limit="2/minute")
    analyze = {"comment": {"text": "hi there"}, "requestedAttributes": {"TOXICITY": {}}}
    answers = [client.post(PERSPECTIVE, params={"key": "pk-a"}, json=analyze) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["status"] == "RESOURCE_EXHAUSTED" and "Retry-After" in answers[2].headers
    suggest = {"comment": {"text": "hi"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.1}}}}
    assert client.post("/v1alpha1/comments:suggestscore", params={"key": "pk-a"}, json=suggest).status_code == 429
    moderations = [client.post("/v1/moderations", json={"input": "hi"}, headers=auth("pk-b")) for _ in range(3)]
    assert [m.status_code for m in moderations] == [200, 200, 429]
    assert moderations[2].json()["error"]["type"] == "requests"


def test_roles_apply_to_compat_routes(client: TestClient) -> None:
    analyze = {"comment": {"text": "hi there"}, "requestedAttributes": {"TOXICITY": {}}}
    refused = client.post(PERSPECTIVE, params={"key": "mk-a"}, json=analyze)
    assert refused.status_code == 403 and refused.json()["error"]["status"] == "PERMISSION_DENIED"
    assert client.post("/v1/moderations", json={"input": "hi"}, headers=auth("mk-a")).status_code == 403
    assert client.post("/v1/moderations", json={"input": "hi"}).json()["error"]["message"] == (
        "Incorrect API key provided."
    )


# -- attacker's inputs: 4xx, never 5xx ---------------------------------------------------------------------------------

NESTED = '{"comment": {"text": "hi"}, "requestedAttributes": ' + "[" * 50_000 + "]" * 50_000 + "}"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ('{"comment": {"text": "hi"}, "requestedAttributes": {"\\ud800": {}}}', 400),
        ('{"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["\\ud800"]}', 400),
        # dropped as asked: answered, with the languages echoed as sent (escaped)
        (
            '{"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY\\udfff": {}}, "languages": ["en\\udfff"], '
            '"dropUnsupportedAttributes": true}',
            200,
        ),
        (NESTED, 400),
    ],
)
def test_perspective_answers_hostile_bodies_without_5xx(client: TestClient, raw: str, status: int) -> None:
    answer = client.post(PERSPECTIVE, params={"key": "pk-a"}, content=raw.encode(),
                         headers={"content-type": "application/json"})  # fmt: skip
    assert answer.status_code == status, answer.text[:200]
    json.loads(answer.text)  # valid JSON: lone surrogates travel escaped
    suggest = raw.replace('"requestedAttributes"', '"attributeScores"').replace("{}", '{"summaryScore": {"value": 1}}')
    answer = client.post("/v1alpha1/comments:suggestscore", params={"key": "pk-a"}, content=suggest.encode(),
                         headers={"content-type": "application/json"})  # fmt: skip
    assert answer.status_code < 500 and isinstance(json.loads(answer.text), dict), answer.text[:200]


def test_openai_answers_hostile_bodies_with_4xx(client: TestClient) -> None:
    for raw in ('{"input": "\\ud800"}', '{"input": ' + "[" * 50_000 + "]" * 50_000 + "}"):
        answer = _raw_post(client, "/v1/moderations", raw)
        assert 400 <= answer.status_code < 500 and answer.json()["error"]["type"] == "invalid_request_error"


def test_coral_answers_hostile_bodies_with_4xx(make_client: Callable[..., TestClient]) -> None:
    import hashlib
    import hmac

    client = _coral_client(make_client)
    surrogate_url = json.dumps(coral_request("hello")).replace("news.example/2026", "news.example/\\ud800")
    for raw in (surrogate_url, '{"action": ' + "[" * 50_000 + "]" * 50_000 + "}"):
        body = raw.encode()
        signature = "sha256=" + hmac.new(b"whsec", body, hashlib.sha256).hexdigest()
        answer = client.post("/v1/coral/tenant-a/moderation", content=body,
                             headers={"content-type": "application/json", "X-Coral-Signature": signature})  # fmt: skip
        assert 400 <= answer.status_code < 500, answer.text[:200]


def test_suggested_scores_are_capped_per_tenant(redis_client: redis.Redis, settings: Any) -> None:
    import asyncio

    import redis.asyncio as aioredis

    from service import redis_keys as keys
    from service.moderation.suggestions import Suggestion, record_suggestion

    async def write() -> None:
        client = aioredis.Redis.from_url(settings.redis_url)
        for i in range(8):
            await record_suggestion(client, "tenant-a", Suggestion(f"text {i}", {"TOXICITY": 1.0}), cap=5)
        await client.aclose()

    asyncio.run(write())
    assert redis_client.xlen(keys.suggested_scores("tenant-a")) == 5
