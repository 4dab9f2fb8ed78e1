"""Real clients, unchanged but for the URL, against a live `moderato serve`: Google's API client (the Perspective
Python sample), a community Perspective wrapper from PyPI, Coral Talk's toxic phase as its source does it, and the
`openai` SDK. Loopback only."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.utils.processes import live_server

pytestmark = pytest.mark.slow

TOXIC = "You are a stupid idiot and a liar, shut up."
KIND = "Thank you for the careful reporting on the budget."


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with live_server(tmp_path_factory.mktemp("compat")) as urls:
        yield urls


def test_the_official_python_sample_works_with_only_the_discovery_url_changed(live: tuple[str, str]) -> None:
    from googleapiclient import discovery
    from googleapiclient.errors import HttpError

    url, _ = live
    # The Perspective sample, its discoveryServiceUrl pointed at Moderato
    client = discovery.build(
        "commentanalyzer",
        "v1alpha1",
        developerKey="pk-a",
        discoveryServiceUrl=f"{url}/$discovery/rest?version=v1alpha1",
        static_discovery=False,
    )
    analyze_request = {"comment": {"text": TOXIC}, "requestedAttributes": {"TOXICITY": {}, "INSULT": {}}}
    response = client.comments().analyze(body=analyze_request).execute()
    assert response["attributeScores"]["TOXICITY"]["summaryScore"]["value"] > 0.5
    assert response["attributeScores"]["INSULT"]["summaryScore"]["type"] == "PROBABILITY"
    assert response["languages"] == ["en"] and response["detectedLanguages"] == ["en"]
    suggestion = {
        "comment": {"text": TOXIC},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1.0}}},
        "clientToken": "c-42",
    }
    assert client.comments().suggestscore(body=suggestion).execute()["clientToken"] == "c-42"
    with pytest.raises(HttpError) as unsupported:
        client.comments().analyze(
            body={"comment": {"text": KIND}, "requestedAttributes": {"SEXUALLY_EXPLICIT": {}}}
        ).execute()
    assert unsupported.value.resp.status == 400
    assert json.loads(unsupported.value.content)["error"]["status"] == "INVALID_ARGUMENT"
    wrong = discovery.build(
        "commentanalyzer",
        "v1alpha1",
        developerKey="not-a-key",
        discoveryServiceUrl=f"{url}/$discovery/rest?version=v1alpha1",
        static_discovery=False,
    )
    with pytest.raises(HttpError) as refused:
        wrong.comments().analyze(body=analyze_request).execute()
    error = json.loads(refused.value.content)["error"]
    client.close()  # httplib2 keeps its connections open otherwise
    wrong.close()
    assert refused.value.resp.status == 400 and error == {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
    }


def test_a_community_wrapper_works_with_only_its_base_url_changed(live: tuple[str, str]) -> None:
    from perspective import PerspectiveAPI  # `perspective` on PyPI

    url, _ = live
    api = PerspectiveAPI("pk-a")
    api.api_client.url = f"{url}/v1alpha1/{{endpoint}}"  # its base URL; nothing else changes
    result = api.analyze_comment(
        "Great article. You are an idiot though.",
        requested_attributes={"TOXICITY": {}, "PROFANITY_EXPERIMENTAL": {}, "THREAT": {"scoreThreshold": 0.99}},
        span_annotations=True,
        context=[{"text": "Council votes to close the central library"}],
        client_token="tok-1",
        do_not_store=True,
    )
    scores = result["attributeScores"]
    assert set(scores) == {"TOXICITY", "PROFANITY_EXPERIMENTAL"}  # THREAT under its threshold is left out
    spans = scores["TOXICITY"]["spanScores"]
    assert [(s["begin"], s["end"]) for s in spans] == [(0, 14), (15, 39)]
    assert spans[1]["score"]["value"] > spans[0]["score"]["value"]  # the insult is in the second sentence
    assert result["clientToken"] == "tok-1"


def coral_toxic_phase(endpoint: str, key: str, body: str, locale: str, threshold: float = 0.8) -> dict[str, Any] | None:
    """Coral Talk's toxic phase (src/core/server/services/comments/pipeline/phases/toxic.ts), step for step: the
    URL (endpoint + /comments:analyze, the key as ?key=), the body, how the score is read, and `score > threshold`."""
    model = "TOXICITY"  # TOXICITY_MODEL_DEFAULT
    language = {"en-US": "en", "es": "es", "de": "de"}.get(locale, "en")  # convertLanguage
    parts = urllib.parse.urlsplit(endpoint.strip())
    url = parts._replace(path=parts.path.rstrip("/") + "/comments:analyze", query=urllib.parse.urlencode({"key": key}))
    payload = {
        "comment": {"text": body},
        "languages": [language],
        "doNotStore": True,
        "requestedAttributes": {model: {}},
    }
    try:
        data = httpx.post(urllib.parse.urlunsplit(url), json=payload, timeout=5.0).json()
        score = data["attributeScores"][model]["summaryScore"]["value"]
    except (KeyError, TypeError, httpx.HTTPError):
        return None  # Coral logs "could not determine comment toxicity" and lets the comment through
    if score > threshold:
        return {"status": "SYSTEM_WITHHELD", "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}]}
    return None


def test_coral_talks_toxic_phase_flags_with_only_the_endpoint_changed(live: tuple[str, str]) -> None:
    url, _ = live
    endpoint = f"{url}/v1alpha1"  # Coral admin: Configure > Moderation > Perspective endpoint
    flagged = coral_toxic_phase(endpoint, "pk-a", "You are a pathetic moron and a disgusting idiot.", "en-US")
    assert flagged == {
        "status": "SYSTEM_WITHHELD",
        "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}],
    }
    assert coral_toxic_phase(endpoint, "pk-a", KIND, "en-US") is None
    # A Spanish site: Moderato answers as Perspective does for a language an attribute does not support (400), so
    # Coral's phase lets the comment through; Coral's external moderation phase is the integration that holds it.
    answer = httpx.post(
        f"{endpoint}/comments:analyze?key=pk-a",
        json={"comment": {"text": "Eres un idiota"}, "languages": ["es"], "requestedAttributes": {"TOXICITY": {}}},
    )
    assert answer.status_code == 400 and "does not support request languages: es" in answer.json()["error"]["message"]


def test_the_openai_sdk_works_with_only_base_url_changed(live: tuple[str, str]) -> None:
    import openai

    url, _ = live
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="pk-a", max_retries=0)
    response = client.moderations.create(model="omni-moderation-latest", input=[TOXIC, KIND])
    toxic, kind = response.results
    assert toxic.flagged and toxic.categories.harassment and toxic.category_scores.harassment > 0.5
    assert not kind.flagged and kind.category_scores.harassment < 0.2
    assert toxic.category_applied_input_types.harassment == ["text"]
    assert toxic.category_scores.self_harm == 0.0 and toxic.category_applied_input_types.self_harm == []
    # why, in the documented field the SDK keeps: the decision and its reasons (docs/migrating.md)
    why = toxic.model_extra["moderato"]
    assert why["decision"] in ("review", "reject") and why["reasons"]
    assert kind.model_extra["moderato"] == {"decision": "allow", "reasons": [], "language": "en"}
    parts = client.moderations.create(input=[{"type": "text", "text": TOXIC}])
    assert parts.results[0].flagged
    # an image is never silently passed over: Moderato reads text only, and says so
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with pytest.raises(openai.BadRequestError, match="Moderato reads text only"):
        client.moderations.create(input=[{"type": "text", "text": KIND}, image])  # type: ignore[list-item]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).moderations.create(input="hi")


def test_suggested_scores_are_exported_beside_moderators_decisions(live: tuple[str, str], tmp_path: Path) -> None:
    import asyncio
    import csv
    import gzip

    import redis.asyncio as aioredis

    from service.moderation.labels_export import export_labels

    url, redis_url = live
    body = {
        "comment": {"text": "A suggested label."},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.9}}},
    }
    assert httpx.post(f"{url}/v1alpha1/comments:suggestscore?key=pk-a", json=body).status_code == 200

    async def export() -> int:
        client = aioredis.Redis.from_url(redis_url)
        try:
            return await export_labels(client, tmp_path / "labels.csv.gz", ["tenant-a"])
        finally:
            await client.aclose()

    assert asyncio.run(export()) >= 1
    with gzip.open(tmp_path / "labels.csv.gz", "rt") as f:
        rows = [r for r in csv.DictReader(f) if r["decided_by"] == "perspective-suggestscore"]
    assert any(r["text"] == "A suggested label." and r["toxic"] == "1" for r in rows)
    redis.Redis.from_url(redis_url).close()


def coral_request(body: str, *, story: str = "story-1", parent: str | None = None) -> dict[str, Any]:
    """What Coral's external phase sends (external.ts: ExternalModerationRequest)."""
    return {
        "action": "NEW",
        "comment": {"body": body, "parentID": parent},
        "author": {"id": "user-7", "role": "COMMENTER"},
        "story": {"id": story, "url": "https://news.example/2026/12/council-votes-to-close-the-central-library"},
        "site": {"id": "site-1"},
        "tenantID": "coral-tenant",
        "tenantDomain": "news.example",
    }


def coral_signed(data: dict[str, Any], secrets: list[str]) -> tuple[bytes, dict[str, str]]:
    """Signed as Coral signs (fetch.ts generateFetchOptions + settings generateSignatures): the body is
    JSON.stringify(data, null, 2), the header one sha256=HMAC per active secret, comma-separated."""
    import hashlib
    import hmac

    raw = json.dumps(data, indent=2, ensure_ascii=False).encode()
    signature = ",".join(f"sha256={hmac.new(s.encode(), raw, hashlib.sha256).hexdigest()}" for s in secrets)
    return raw, {"Content-Type": "application/json", "X-Coral-Signature": signature}


def test_corals_external_moderation_phase(make_client: Any) -> None:
    from pydantic import SecretStr

    from tests.conftest import auth
    from tests.utils.processes import wait_for

    client = make_client(inprocess_worker=True, coral_signing_secrets={"tenant-a": [SecretStr("whsec_new")]})
    path = "/v1/coral/tenant-a/moderation"
    raw, headers = coral_signed(coral_request("Only an idiot would vote for this, you moron."), ["old", "whsec_new"])
    flagged = client.post(path, content=raw, headers=headers)
    assert flagged.status_code == 200, flagged.text
    answer = flagged.json()
    assert answer["status"] == "SYSTEM_WITHHELD"  # review: withheld until a moderator decides
    assert answer["actions"] == [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}]
    raw_ok, headers_ok = coral_signed(coral_request(KIND), ["whsec_new"])
    assert client.post(path, content=raw_ok, headers=headers_ok).status_code == 204
    # wrongly signed, unsigned, or for a tenant with no Coral secret: refused
    assert (
        client.post(path, content=raw, headers={**headers, "X-Coral-Signature": "sha256=" + "0" * 64}).status_code
        == 401
    )
    assert client.post(path, content=raw, headers={"Content-Type": "application/json"}).status_code == 401
    assert client.post("/v1/coral/tenant-b/moderation", content=raw, headers=headers).status_code == 401
    tampered = raw.replace(b"moron", b"friend")
    assert client.post(path, content=tampered, headers=headers).status_code == 401

    # the withheld comment is in Moderato's review queue too, under the story as its thread and article
    def queued() -> list[dict[str, Any]]:
        return client.get("/v1/queues/review?thread=story-1", headers=auth("mk-a")).json()["items"]  # type: ignore[no-any-return]

    wait_for(lambda: bool(queued()), 30, "the withheld comment in the review queue")
    (item,) = queued()
    assert item["article_id"] == "story-1" and item["stance"] is not None  # the story URL's words as its claim
