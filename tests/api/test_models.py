"""Learned model versions through the API (in-process, real Redis and model): the answer and its cache follow the
served version, a version that cannot be loaded never fails a comment, and only admins move the pointer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from fastapi.testclient import TestClient

from service import redis_keys as keys
from service.config import Settings
from tests.conftest import auth
from tests.utils.versions import write_version

TEXT = "You are a fool and everyone knows it."


def analyze(client: TestClient, text: str = TEXT) -> dict[str, Any]:
    body = {"comments": [{"id": "c", "text": text}]}
    answer = client.post("/v1/analyze", json=body, headers=auth("pk-a"))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_the_answer_and_its_cache_follow_the_served_version(
    make_client: Callable[..., TestClient], settings: Settings
) -> None:
    client = make_client()
    version = write_version(settings.models_root, "tenant-a-v1", tenant="tenant-a", status="passed", shift=2.0)
    before = analyze(client)
    shipped = before["model"]
    assert analyze(client)["results"][0]["cached"] is True
    promoted = client.post("/v1/models/tenant-a-v1/promote", headers=auth("ak-a"))
    assert promoted.status_code == 200 and promoted.json() == {"from": None, "to": "tenant-a-v1"}
    after = analyze(client)  # this replica follows at once
    assert after["model"].startswith(version + "+")
    assert after["results"][0]["cached"] is False  # the shipped model's cached answer is not this version's
    assert after["results"][0]["scores"]["toxicity"] > before["results"][0]["scores"]["toxicity"]
    assert after["results"][0]["scores"]["insult"] != before["results"][0]["scores"]["insult"]  # its whole head
    other = client.post("/v1/analyze", json={"comments": [{"id": "c", "text": TEXT}]}, headers=auth("pk-b"))
    assert other.json()["model"] == shipped  # another site's answers never change
    view = client.get("/v1/models", headers=auth("ak-a")).json()
    assert view["serving"] == "tenant-a-v1" and view["history"] == [""] and view["answering_with"] == after["model"]
    assert [v["id"] for v in view["versions"]] == ["tenant-a-v1"] and view["versions"][0]["status"] == "passed"
    assert client.post("/v1/models/rollback", headers=auth("ak-a")).json() == {"from": "tenant-a-v1", "to": None}
    again = analyze(client)
    assert again["model"] == shipped and again["results"][0]["cached"] is True  # its own cached answer is good


def test_a_version_that_cannot_be_loaded_never_fails_a_comment(
    make_client: Callable[..., TestClient], redis_client: redis.Redis
) -> None:
    client = make_client()
    shipped = analyze(client)["model"]
    redis_client.hset(keys.model_serving("tenant-a"), mapping={"version": "tenant-a-gone", "history": "[]"})
    client.app.state.moderato.runtime.scorer.models.forget("tenant-a")  # type: ignore[attr-defined]
    answer = analyze(client, "Another comment entirely.")
    assert answer["model"] == shipped
    metrics = client.get("/metrics").text
    assert "moderato_model_load_failures_total 1.0" in metrics
    view = client.get("/v1/models", headers=auth("ak-a")).json()
    assert view["serving"] == "tenant-a-gone" and view["answering_with"] == shipped


def test_only_admins_see_or_move_the_model_and_labels_are_counted(
    make_client: Callable[..., TestClient], settings: Settings, tmp_path: Path
) -> None:
    client = make_client()
    write_version(settings.models_root, "tenant-a-no", tenant="tenant-a", status="rejected", shift=-1.0)
    for path, method in (("/v1/models", "GET"), ("/v1/models/tenant-a-no/promote", "POST")):
        assert client.request(method, path, headers=auth("mk-a")).status_code == 403
    refused = client.post("/v1/models/tenant-a-no/promote", headers=auth("ak-a"))
    assert refused.status_code == 409 and "did not pass its gate" in refused.json()["error"]["message"]
    assert client.put("/v1/models/tenant-a-no/shadow", json={"sample": 0.5}, headers=auth("ak-a")).status_code == 409
    bad = client.put("/v1/models/tenant-a-no/shadow", json={"sample": 2}, headers=auth("ak-a"))
    assert bad.status_code == 422
    body = {"comment": {"text": "A suggested label."}, "attributeScores": {"INSULT": {"summaryScore": {"value": 0.9}}}}
    assert client.post("/v1alpha1/comments:suggestscore?key=pk-a", json=body).status_code == 200
    labels = client.get("/v1/models", headers=auth("ak-a")).json()["labels"]
    assert labels == {"total": 1, "suggestscore": {"labels": 1, "toxic": 1}}
