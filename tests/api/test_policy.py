"""The policy, live (#25 item 5): previewed on the last scored comments, saved as a new version (audited, never
overwriting a colleague's save), and in force on another replica within 5 s, with no restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from service import redis_keys as keys
from service.config import DEFAULT_REJECT, DEFAULT_REVIEW, PolicySettings
from service.moderation.policies import FORMER_FILL_REJECT, FORMER_FILL_REVIEW, REPAIR, REPAIR_ACTOR, SAVE
from service.scoring.policy import Policy
from tests.conftest import auth
from tests.utils.processes import wait_for

CIVIL = "Thanks for the clear reporting on the library budget."
SCAM = "Great article. Also check my crypto giveaway, it is not a s c a m."
RUDE = "You are a complete idiot and a liar."


def _analyze(client: TestClient, text: str) -> dict[str, Any]:
    body = {"comments": [{"id": "c", "text": text}]}
    return client.post("/v1/analyze", json=body, headers=auth("pk-a")).json()["results"][0]  # type: ignore[no-any-return]


def test_a_saved_policy_is_previewed_versioned_audited_and_live_on_every_replica(
    make_client: Callable[..., TestClient],
) -> None:
    one = make_client(inprocess_worker=True)
    two = make_client()  # another API replica on the same Redis
    start = one.get("/v1/policy", headers=auth("mk-a")).json()
    assert start["version"] == 0 and start["source"] == "settings"

    batch = [{"id": f"p{i}", "text": t, "thread_id": "t"} for i, t in enumerate([CIVIL, SCAM, RUDE])]
    assert one.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
    wait_for(
        lambda: all(one.get(f"/v1/comments/p{i}", headers=auth("mk-a")).json()["status"] != "queued" for i in range(3)),
        60,
        "the worker",
    )

    proposed = {**start["policy"], "banned_words": ["scam"]}
    preview = one.post("/v1/policy/preview", json={"policy": proposed}, headers=auth("ak-a")).json()
    assert preview["compared"] == 3 and preview["moved"] == 1
    (move,) = preview["moves"].items()
    assert move[0] == "allow->reject" and move[1]["examples"][0]["id"] == "p1"
    assert move[1]["examples"][0]["reasons"] == ["banned_word: scam"]
    assert _analyze(two, SCAM)["decision"] == "allow"  # nothing saved by a preview

    assert one.put("/v1/policy", json={"policy": proposed, "note": "x"}, headers=auth("mk-a")).status_code == 403
    bad = {"policy": {**proposed, "review": {"sarcasm": 0.5}}, "note": "x"}
    assert one.put("/v1/policy", json=bad, headers=auth("ak-a")).json()["error"]["code"] == "invalid_policy"
    typo = {"policy": {**proposed, "banned_wrods": ["x"]}, "note": "x"}
    assert one.put("/v1/policy", json=typo, headers=auth("ak-a")).status_code == 422
    saved = one.put(
        "/v1/policy", json={"policy": proposed, "note": "crypto spam wave", "expected_version": 0}, headers=auth("ak-a")
    )
    assert saved.status_code == 200 and saved.json()["version"] == 1 and saved.json()["by"] == "admin-1"
    assert _analyze(one, SCAM)["decision"] == "reject"  # the replica that saved: at once
    began = time.monotonic()
    wait_for(lambda: _analyze(two, SCAM)["decision"] == "reject", 5, "the other replica")  # within 5 s
    assert time.monotonic() - began <= 5
    assert "banned_word: scam" in _analyze(two, SCAM)["reasons"]  # (a flood reason too: posted many times here)

    stale = one.put(
        "/v1/policy", json={"policy": start["policy"], "note": "undo", "expected_version": 0}, headers=auth("ak-a")
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "policy_changed"
    audit = one.get("/v1/audit", params={"action": "policy_changed"}, headers=auth("mk-a")).json()["items"]
    assert [(e["actor"], e["reason"]) for e in audit] == [("admin-1", "crypto spam wave")]
    history = one.get("/v1/policy/history", headers=auth("ak-a")).json()["items"]
    assert [(v["version"], v["policy"]["banned_words"]) for v in history] == [(1, ["scam"])]


OVERLOOKED = "You're not an idiot, you just missed the second paragraph."  # built-in: review (raw toxicity 0.82)


def _save_as_before(redis_client: Any, tenant: str, policy: PolicySettings) -> None:
    """A policy saved the way /v1/policy stored it before 2026-12-05 (the same script)."""
    redis_client.eval(
        SAVE, 3, keys.policy(tenant), keys.policy_history(tenant), keys.audit(tenant), "",
        policy.model_dump_json(), "admin-1", f"{time.time():.3f}", "block scams",
    )  # fmt: skip


def test_a_policy_saved_with_the_built_in_thresholds_on_the_wrong_scale_is_repaired_once_on_start(
    make_client: Callable[..., TestClient], redis_client: Any
) -> None:
    """Saved with word lists alone before the fix, a policy held the built-in thresholds on the calibrated scale,
    less strict than the built-in policy: the first start saves it again on the raw scale, audited; a policy an
    admin set on the calibrated scale on purpose is left as it is."""
    words = {"banned_words": ["scam"], "unsupported_language": "reject"}
    fill = PolicySettings(
        review={**FORMER_FILL_REVIEW, "severe_toxicity": 0.54}, reject=FORMER_FILL_REJECT, scale="calibrated", **words
    )
    _save_as_before(redis_client, "tenant-a", fill)
    chosen = fill.model_copy(update={"review": {**fill.review, "toxicity": 0.66}})
    _save_as_before(redis_client, "tenant-b", chosen)
    assert Policy.from_settings(fill).decide({"toxicity": 0.63, "insult": 0.73}).decision == "allow"  # as it read

    client = make_client()
    now = client.get("/v1/policy", headers=auth("mk-a")).json()
    assert (now["version"], now["by"], now["policy"]["scale"]) == (2, REPAIR_ACTOR, "raw")
    assert now["policy"]["review"] == DEFAULT_REVIEW and now["policy"]["reject"] == DEFAULT_REJECT
    assert {k: now["policy"][k] for k in words} == words
    assert _analyze(client, OVERLOOKED)["decision"] == "review"
    audit = client.get("/v1/audit", params={"action": "policy_changed"}, headers=auth("mk-a")).json()["items"]
    assert [e["actor"] for e in audit][:2] == [REPAIR_ACTOR, "admin-1"]
    assert client.get("/v1/policy", headers=auth("mk-b")).json()["version"] == 1  # chosen: untouched

    _save_as_before(redis_client, "tenant-b", fill)  # were one stored now, the repair has run: it stays
    assert make_client().get("/v1/policy", headers=auth("mk-b")).json()["policy"]["scale"] == "calibrated"


def test_the_repair_scans_a_store_of_comments_once_and_leaves_an_empty_store_empty(
    make_client: Callable[..., TestClient], redis_client: Any
) -> None:
    """The repair reads the whole keyspace: a store with comments and no saved policy is scanned on the first start
    only; a store with nothing in it gets no key from a start."""
    make_client()
    assert redis_client.dbsize() == 0
    client = make_client()
    assert _analyze(client, CIVIL)["decision"] == "allow"  # a stored comment: the store now holds keys
    assert not redis_client.sismember(keys.MIGRATIONS, REPAIR)
    make_client()
    assert redis_client.sismember(keys.MIGRATIONS, REPAIR)
