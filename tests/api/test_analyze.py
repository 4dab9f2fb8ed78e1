"""POST /v1/analyze and /v1/articles through FastAPI's client, against a real Redis and the real model."""

from __future__ import annotations

import gc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from service.config import Settings
from service.model.labels import ATTRIBUTES, STANCES
from service.redis_server import EmbeddedRedis
from tests.conftest import auth

ARTICLE = {
    "id": "a1",
    "title": "City council votes to close the central library",
    "body": "The council voted 7-2 on Tuesday to close the central library next spring.",
}


def analyze(client: TestClient, comments: list[dict[str, Any]], key: str = "pk-a", **extra: Any) -> Any:
    return client.post("/v1/analyze", json={"comments": comments, **extra}, headers=auth(key))


def test_contract_shape_and_order(client: TestClient) -> None:
    response = analyze(
        client,
        [
            {"id": "c1", "text": "You are a pathetic idiot.", "article_id": "a1"},
            {"id": "c2", "text": "Thanks, a clear and fair report."},
        ],
        article=ARTICLE,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"].startswith("moderato-")
    first, second = body["results"]
    assert [first["id"], second["id"]] == ["c1", "c2"]
    assert set(first["scores"]) == set(ATTRIBUTES)
    assert all(0 <= v <= 1 for v in first["scores"].values())
    assert first["stance"]["label"] in STANCES and set(first["stance"]["scores"]) == set(STANCES)
    assert second["stance"] is None  # no article_id
    for span in first["spans"]:
        assert set(span) == {"start", "end", "attribute"} and span["attribute"] in ATTRIBUTES
    assert first["decision"] in ("allow", "review", "reject") and first["cached"] is False
    assert first["decision"] != "allow" and first["reasons"]
    assert second["decision"] == "allow" and second["reasons"] == []
    assert response.headers["x-request-id"]


def test_one_bad_comment_does_not_sink_the_others(client: TestClient) -> None:
    response = analyze(
        client,
        [{"id": "ok", "text": "Fine by me."}, {"id": "empty", "text": "   "}, {"id": "long", "text": "x" * 20_001}],
    )
    assert response.status_code == 200
    ok, empty, long = response.json()["results"]
    assert "scores" in ok
    assert empty["error"] == {"code": "empty_text", "message": "text is empty or only whitespace", "status": 400}
    # past what the model reads: scored on its opening and held for review, never allowed
    assert long["decision"] == "review" and long["reasons"][-1].startswith("text_too_long")


@pytest.mark.parametrize(
    "payload,status,code",
    [
        ({"comments": []}, 422, "invalid_request"),
        ({"comments": [{"id": "c1", "text": 42}]}, 422, "invalid_request"),
        ({"comments": [{"id": "", "text": "hi"}]}, 422, "invalid_request"),
        ({"comments": "hello"}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
        ({"comments": [{"id": f"c{i}", "text": "hi"} for i in range(257)]}, 413, "too_large"),
    ],
)
def test_bad_requests_get_clear_errors(client: TestClient, payload: dict[str, Any], status: int, code: str) -> None:
    response = client.post("/v1/analyze", json=payload, headers=auth("pk-a"))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_one_request_may_ask_for_a_bounded_amount_of_model_work(client: TestClient) -> None:
    """The bound is on text (the model's windows), not only on the number of comments: four comments at the longest
    would hold the model for everyone, so they are refused before any is scored; the same on OpenAI's surface."""
    long = "The council's budget hearing ran late again and nobody knows what happens next. " * 250  # 20,000 chars
    comments = [{"id": f"c{i}", "text": long[:20_000]} for i in range(4)]
    refused = client.post("/v1/analyze", json={"comments": comments}, headers=auth("pk-a"))
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "too_large"
    assert "windows" in refused.json()["error"]["message"] and "/v1/comments" in refused.json()["error"]["message"]
    openai = client.post("/v1/moderations", json={"input": [c["text"] for c in comments]}, headers=auth("pk-a"))
    assert openai.status_code == 413 and openai.json()["error"]["message"]
    # 256 short comments and a single comment at the longest are within it
    short = [{"id": f"s{i}", "text": "Fine by me."} for i in range(256)]
    assert client.post("/v1/analyze", json={"comments": short[:256]}, headers=auth("pk-a")).status_code == 200
    assert client.post("/v1/analyze", json={"comments": comments[:1]}, headers=auth("pk-a")).status_code == 200


def test_malformed_json_and_oversize_bodies(client: TestClient) -> None:
    bad = client.post("/v1/analyze", content=b"{not json", headers={**auth("pk-a"), "content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_json"
    huge = client.post(
        "/v1/analyze", content=b"x" * (5 * 1024 * 1024), headers={**auth("pk-a"), "content-type": "application/json"}
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
    assert client.get("/v1/nothing-here").json()["error"]["code"] == "not_found"
    assert client.get("/v1/analyze").status_code == 405


def test_auth_missing_invalid_and_wrong_role(client: TestClient) -> None:
    comments = {"comments": [{"id": "c", "text": "hi"}]}
    missing = client.post("/v1/analyze", json=comments)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert client.post("/v1/analyze", json=comments, headers=auth("nope")).status_code == 401
    assert client.post("/v1/analyze", json=comments, headers={"Authorization": "Basic pk-a"}).status_code == 401
    wrong = client.post("/v1/analyze", json=comments, headers=auth("mk-a"))
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    assert client.post("/v1/analyze", json=comments, headers=auth("ak-a")).status_code == 200


def test_repeat_is_answered_from_cache_with_spans_mapped_to_each_text(client: TestClient) -> None:
    first = analyze(client, [{"id": "c1", "text": "You are an idiot."}]).json()["results"][0]
    again = analyze(client, [{"id": "c2", "text": "You are an idiot."}]).json()["results"][0]
    respaced = analyze(client, [{"id": "c3", "text": "  YOU   are an   IDIOT."}]).json()["results"][0]
    assert not first["cached"] and again["cached"] and respaced["cached"]
    assert first["scores"] == again["scores"] == respaced["scores"]
    text = "  YOU   are an   IDIOT."
    marked = [text[s["start"] : s["end"]] for s in respaced["spans"]]
    assert marked == [("You are an idiot."[s["start"] : s["end"]]).upper() for s in first["spans"]]
    metrics = client.get("/metrics").text
    assert "moderato_cache_hits_total 2.0" in metrics


def test_a_disguised_comment_says_what_it_was_also_read_as(client: TestClient) -> None:
    """The plain reading is in the answer (``read_as``), cached or not; a comment read as written has none."""
    comments = [{"id": "d", "text": "Fck you, what a dck."}, {"id": "p", "text": "Fuck you, what a dick."}]
    for _ in range(2):
        disguised, plain = analyze(client, comments).json()["results"]
        assert disguised["read_as"] == "fuck you, what a dick." and "read_as" not in plain
        assert disguised["decision"] == plain["decision"] != "allow"
    assert disguised["cached"]


def test_concurrent_requests_match_one_by_one(client: TestClient) -> None:
    texts = [
        f"Comment number {i}: " + ("the council is wrong " * (i % 5)) + ("you idiots" if i % 3 == 0 else "")
        for i in range(24)
    ]
    alone = [
        analyze(client, [{"id": str(i), "text": t}], store=False).json()["results"][0] for i, t in enumerate(texts)
    ]
    with ThreadPoolExecutor(max_workers=12) as pool:
        together = list(
            pool.map(lambda it: analyze(client, [{"id": str(it[0]), "text": it[1]}], store=False), enumerate(texts))
        )
    batches = client.get("/metrics").text
    for one, resp in zip(alone, together, strict=True):
        many = resp.json()["results"][0]
        assert many["decision"] == one["decision"] or abs(many["scores"]["toxicity"] - 0.5) < 0.05
        for attribute in ATTRIBUTES:
            assert many["scores"][attribute] == pytest.approx(one["scores"][attribute], abs=0.02)
    assert "moderato_model_batch_size_count" in batches


def _all_redis_bytes(client: redis.Redis) -> bytes:
    blob = b""
    for key in client.scan_iter(count=1000):
        blob += key
        kind = client.type(key)
        if kind == b"string":
            blob += client.get(key) or b""
        elif kind == b"hash":
            blob += b"".join(k + v for k, v in client.hgetall(key).items())
        elif kind == b"zset":
            blob += b"".join(m for m, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"stream":
            blob += repr(client.xrange(key)).encode()
        elif kind == b"list":
            blob += b"".join(client.lrange(key, 0, -1))
        elif kind == b"set":
            blob += b"".join(client.smembers(key))
    return blob


def test_store_false_leaves_no_trace_in_redis(client: TestClient, redis_client: redis.Redis) -> None:
    secret = "My private message: the treasurer is a lying crook"
    article = {"id": "secret-article", "title": "A private draft headline", "body": "Nobody may know this"}
    response = analyze(
        client, [{"id": "s1", "text": secret, "article_id": "secret-article"}], store=False, article=article
    )
    assert response.status_code == 200 and response.json()["results"][0]["stance"] is not None
    from service.scoring.normalise import normalise, text_digest

    blob = _all_redis_bytes(redis_client)
    for needle in (secret, secret.lower(), "treasurer", "private draft", text_digest(normalise(secret).text)):
        assert needle.encode() not in blob
    assert redis_client.dbsize() == 0
    again = analyze(client, [{"id": "s2", "text": secret}], store=False).json()["results"][0]
    assert again["cached"] is False


def test_flood_of_the_same_text_is_flagged(make_client: Callable[..., TestClient]) -> None:
    client = make_client(flood_threshold=3)
    decisions = [
        analyze(client, [{"id": f"f{i}", "text": "Buy cheap watches at example dot com"}]).json()["results"][0]
        for i in range(5)
    ]
    assert all("flood" not in " ".join(d["reasons"]) for d in decisions[:3])
    assert decisions[3]["decision"] == "review" and any(r.startswith("flood") for r in decisions[3]["reasons"])


def test_tenants_are_isolated(client: TestClient, redis_client: redis.Redis) -> None:
    assert client.post("/v1/articles", json=ARTICLE, headers=auth("pk-a")).status_code == 201
    a = analyze(client, [{"id": "c", "text": "Keep the library open!", "article_id": "a1"}]).json()["results"][0]
    b = analyze(client, [{"id": "c", "text": "Keep the library open!", "article_id": "a1"}], key="pk-b").json()
    b_result = b["results"][0]
    assert a["stance"] is not None
    assert b_result["stance"] is None and "not registered" in b_result["warnings"][0]
    assert b_result["cached"] is False  # tenant A's cache entry is not B's
    keys = [k.decode() for k in redis_client.scan_iter()]
    assert keys and all(k.startswith(("mod:{tenant-a}:", "mod:{tenant-b}:")) for k in keys)


def test_article_edit_changes_stance_cache(client: TestClient) -> None:
    comment = [{"id": "c", "text": "I could not agree more with this decision.", "article_id": "a1"}]
    analyze(client, comment, article=ARTICLE)
    assert analyze(client, comment, article=ARTICLE).json()["results"][0]["cached"] is True
    edited = {**ARTICLE, "title": "City council votes to keep the central library open"}
    assert analyze(client, comment, article=edited).json()["results"][0]["cached"] is False


def test_articles_endpoint_validates(client: TestClient) -> None:
    assert client.post("/v1/articles", json={"id": "x", "title": ""}, headers=auth("pk-a")).status_code == 422
    assert client.post("/v1/articles", json=ARTICLE, headers=auth("mk-a")).status_code == 403


def test_probes_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["redis"] == "ok"
    analyze(client, [{"id": "c", "text": "hello there"}])
    gc.collect(0)
    assert gc.get_freeze_count() > 100_000  # the loaded model is frozen out of collections (service/heap.py)
    text = client.get("/metrics").text
    for name in (
        'moderato_gc_pause_seconds_count{generation="0"}',
        "moderato_request_seconds_bucket",
        "moderato_model_batch_size_bucket",
        "moderato_cache_misses_total",
        "moderato_model_batch_seconds_bucket",
        "moderato_ingest_queue_depth",
    ):
        assert name in text
    assert client.get("/openapi.json").json()["paths"]["/v1/analyze"]


def test_redis_down_fails_readiness_but_scoring_degrades_gracefully(
    settings: Settings, runner: Any, tmp_path: Path
) -> None:
    from service.api.app import create_app

    server = EmbeddedRedis(tmp_path / "r").start()
    with TestClient(create_app(settings.model_copy(update={"redis_url": server.url}), runner=runner)) as client:
        assert client.get("/readyz").status_code == 200
        server.kill()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["redis"].startswith("unavailable")
        # scoring does not need Redis to answer: no cache, no flood count, but a result
        response = analyze(client, [{"id": "c", "text": "Still scored without a cache"}])
        assert response.status_code == 200 and "scores" in response.json()["results"][0]
        assert "moderato_redis_errors_total" in client.get("/metrics").text


def test_a_reply_gets_its_stance_toward_the_parent(client: TestClient) -> None:
    parent = {"id": "p1", "text": "The library should stay open, it is the heart of this town."}
    comments = [
        {"id": "r1", "text": "Absolutely agree, keep it open.", "parent_id": "p1"},
        {"id": "r2", "text": "No parent here."},
    ]
    results = analyze(client, comments, parent=parent).json()["results"]
    reply, alone = results
    assert reply["stance_to_parent"]["label"] in ("agree", "disagree", "neutral")
    assert set(reply["stance_to_parent"]["scores"]) == {"agree", "disagree", "neutral"}
    assert abs(sum(reply["stance_to_parent"]["scores"].values()) - 1) < 0.01
    assert "stance_to_parent" not in alone and reply["stance"] is None  # no article: no stance toward one
    unknown = analyze(client, [{"id": "r3", "text": "Agreed.", "parent_id": "nobody"}]).json()["results"][0]
    assert "stance_to_parent" not in unknown


def test_scores_are_calibrated_the_same_on_analyze_and_the_perspective_shape(
    make_client: Callable[..., TestClient], predictor: Any
) -> None:
    from service.model.calibration import Calibration
    from tests.conftest import SHIPPED_MODEL

    calibration = Calibration.load(SHIPPED_MODEL)
    assert calibration is not None
    text = "You are a stupid idiot and a liar, shut up."
    raw = predictor.predict([text])[0].scores
    client = make_client()
    ours = client.post("/v1/analyze", json={"comments": [{"id": "c", "text": text}]}, headers=auth("pk-a")).json()
    assert ours["model"].endswith("+" + calibration.version)
    assert ours["results"][0]["scores"] == calibration.scores(raw)
    body = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}, "INSULT": {}}}
    theirs = client.post("/v1alpha1/comments:analyze?key=pk-a", json=body).json()["attributeScores"]
    assert theirs["TOXICITY"]["summaryScore"]["value"] == ours["results"][0]["scores"]["toxicity"]
    assert theirs["INSULT"]["summaryScore"]["value"] == ours["results"][0]["scores"]["insult"]
    uncalibrated = make_client(calibrated_scores=False)
    plain = uncalibrated.post("/v1/analyze", json={"comments": [{"id": "c", "text": text}]}, headers=auth("pk-a"))
    assert plain.json()["results"][0]["scores"] == raw
