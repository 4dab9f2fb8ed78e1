"""The learning loop's serving half, end to end: a version learned for one site is promoted under load and served
by the API and a real worker process within seconds, without a restart, a failed request or a mixed answer; it is
rolled back the same way; a rejected version cannot be promoted; a shadow counts agreement; every move is audited."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from service import redis_keys as keys
from tests.conftest import auth
from tests.utils.processes import live_server, start_worker, wait_for
from tests.utils.versions import write_version

pytestmark = pytest.mark.slow

SWAP_WITHIN_S = 10.0
PROBE = "You are a fool and everyone knows it."


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("learning")
    root = folder / "models"
    versions = {
        "better": write_version(root, "tenant-a-better", tenant="tenant-a", status="passed", shift=2.0),
        "rejected": write_version(root, "tenant-a-rejected", tenant="tenant-a", status="rejected", shift=-2.0),
        "other": write_version(root, "tenant-b-own", tenant="tenant-b", status="passed", shift=1.0),
        "harsh": write_version(root, "tenant-a-harsh", tenant="tenant-a", status="passed", shift=6.0),
    }
    with live_server(folder, models_path=str(root), inprocess_worker=False) as (url, redis_url):
        worker = start_worker(redis_url, name="learning-w", log=folder / "worker.log", models_path=str(root))
        try:
            yield {"url": url, "redis": redis_url, "versions": versions, "root": root}
        finally:
            worker.terminate()
            worker.wait(timeout=60)


class Load:
    """Threads posting the same comment (cached per model after its first answer) and fresh ones, recording each
    answer's time, status, model and toxicity."""

    def __init__(self, url: str, threads: int = 3) -> None:
        self.url = url
        self.answers: list[tuple[float, int, str, float]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=60) as client:
            i = 0
            while not self.stop.is_set():
                text = PROBE if i % 2 == 0 else f"Fresh comment {n}-{i} about the council vote."
                i += 1
                r = client.post(
                    f"{self.url}/v1/analyze", json={"comments": [{"id": "c", "text": text}]}, headers=auth("pk-a")
                )
                body = r.json() if r.status_code == 200 else {}
                tox = body["results"][0]["scores"]["toxicity"] if body and text == PROBE else -1.0
                self.answers.append((time.monotonic(), r.status_code, body.get("model", ""), tox))


def served_everywhere_after(load: Load, since: float, until: float, version: str) -> float:
    """Seconds from ``since`` to the first answer after which every answer (until ``until``) came from ``version``:
    an answer from another version after ``since`` can only be a request that was already in flight."""
    between = [a for a in load.answers if since <= a[0] < until]
    last_other = max((a[0] for a in between if not a[2].startswith(version)), default=since)
    return last_other - since


def admin(site: dict[str, Any], method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{site['url']}{path}", headers=auth("ak-a"), timeout=60, **kwargs)


def test_promote_and_roll_back_under_load(site: dict[str, Any]) -> None:
    better = site["versions"]["better"]
    with Load(site["url"]) as load:
        time.sleep(3)
        promoted_at = time.monotonic()
        answer = admin(site, "POST", "/v1/models/tenant-a-better/promote")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"from": None, "to": "tenant-a-better"}
        wait_for(lambda: any(a[2].startswith(better) for a in load.answers if a[0] > promoted_at), 30, "new model")
        time.sleep(SWAP_WITHIN_S + 2)
        rolled_at = time.monotonic()
        assert admin(site, "POST", "/v1/models/rollback").json() == {"from": "tenant-a-better", "to": None}
        time.sleep(SWAP_WITHIN_S + 2)
        stopped_at = time.monotonic()
    assert load.answers and all(status == 200 for _, status, _, _ in load.answers)
    models = {model for _, _, model, _ in load.answers}
    assert any(m.startswith(better) for m in models) and any(
        m.startswith("moderato-v10+moderato-v6-stance") for m in models
    )
    # one answer, one model: the probe's toxicity is the same whenever the same model answered it
    by_model: dict[str, set[float]] = {}
    for _, _, model, tox in load.answers:
        if tox >= 0:
            by_model.setdefault(model, set()).add(tox)
    assert all(len(values) == 1 for values in by_model.values()), by_model
    (new,) = (values for model, values in by_model.items() if model.startswith(better))
    (old,) = (values for model, values in by_model.items() if not model.startswith(better))
    assert new != old  # never an old cached answer under the new version
    assert served_everywhere_after(load, promoted_at, rolled_at, better) <= SWAP_WITHIN_S
    shipped = "moderato-v10+moderato-v6-stance"
    assert served_everywhere_after(load, rolled_at, stopped_at, shipped) <= SWAP_WITHIN_S
    audit = redis.Redis.from_url(site["redis"]).xrange(keys.audit("tenant-a"))
    actions = [(e[b"action"], e[b"reason"]) for _, e in audit if e[b"action"].startswith(b"model_")]
    assert actions == [
        (b"model_promoted", b"shipped model -> tenant-a-better"),
        (b"model_rolled_back", b"tenant-a-better -> shipped model"),
    ]


def test_the_worker_scores_with_the_promoted_version(site: dict[str, Any]) -> None:
    better = site["versions"]["better"]
    assert admin(site, "POST", "/v1/models/tenant-a-better/promote").status_code == 200
    try:
        time.sleep(SWAP_WITHIN_S)
        sent = httpx.post(
            f"{site['url']}/v1/comments",
            json={"comments": [{"id": "q-1", "text": PROBE, "thread_id": "t"}]},
            headers=auth("pk-a"),
            timeout=60,
        )
        assert sent.status_code == 202, sent.text
        r = redis.Redis.from_url(site["redis"])
        wait_for(lambda: r.hget(keys.comment("tenant-a", "q-1"), "status") not in (None, b"queued"), 60, "scored")
        assert r.hget(keys.comment("tenant-a", "q-1"), "model_version").decode().startswith(better + "+")
        other = httpx.post(
            f"{site['url']}/v1/analyze",
            json={"comments": [{"id": "c", "text": PROBE}]},
            headers=auth("pk-b"),
            timeout=60,
        )
        assert not other.json()["model"].startswith(better)  # another site is never served this site's version
    finally:
        admin(site, "POST", "/v1/models/rollback")


def test_what_cannot_be_promoted(site: dict[str, Any]) -> None:
    rejected = admin(site, "POST", "/v1/models/tenant-a-rejected/promote")
    assert rejected.status_code == 409 and rejected.json()["error"]["code"] == "version_rejected"
    assert admin(site, "POST", "/v1/models/tenant-b-own/promote").status_code == 404  # another site's
    assert admin(site, "POST", "/v1/models/no-such-version/promote").status_code == 404
    assert admin(site, "POST", "/v1/models/..%2Fescape/promote").status_code == 404
    moderator = httpx.post(f"{site['url']}/v1/models/tenant-a-better/promote", headers=auth("mk-a"), timeout=60)
    assert moderator.status_code == 403
    redis.Redis.from_url(site["redis"]).delete(keys.model_serving("tenant-a"))
    nothing = admin(site, "POST", "/v1/models/rollback")
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "no_history"


def test_a_shadow_counts_agreement_and_changed_decisions(site: dict[str, Any]) -> None:
    shadow = admin(site, "PUT", "/v1/models/tenant-a-harsh/shadow", json={"sample": 1.0})
    assert shadow.status_code == 200, shadow.text
    time.sleep(3)  # the shadow pointer is read within REFRESH_S
    texts = [f"Shadowed comment number {i}: what a stupid idea from this idiot council." for i in range(6)]
    texts += [f"Shadowed comment number {i}: thanks for the clear reporting." for i in range(6)]
    for i, text in enumerate(texts):
        r = httpx.post(
            f"{site['url']}/v1/analyze",
            json={"comments": [{"id": f"s{i}", "text": text}]},
            headers=auth("pk-a"),
            timeout=60,
        )
        assert r.status_code == 200 and not r.json()["model"].startswith(site["versions"]["harsh"])
    wait_for(
        lambda: (admin(site, "GET", "/v1/models").json()["shadow"] or {}).get("scored", 0) >= len(texts),
        30,
        "shadow counts",
    )
    view = admin(site, "GET", "/v1/models").json()
    assert view["shadow"]["version"] == "tenant-a-harsh" and view["shadow"]["sample"] == 1.0
    assert 0 <= view["shadow"]["agreement"] <= 1 and view["shadow"]["mean_toxicity_difference"] > 0
    assert sum(view["shadow"]["changed"].values()) == len(view["shadow"]["examples"]) > 0  # civil ones: allow>review
    assert "allow>review" in view["shadow"]["changed"]
    assert {v["id"] for v in view["versions"]} == {"tenant-a-better", "tenant-a-rejected", "tenant-a-harsh"}
    assert admin(site, "DELETE", "/v1/models/shadow").json() == {"shadow": None}
    assert json.loads(json.dumps(admin(site, "GET", "/v1/models").json()))["shadow"] is None
