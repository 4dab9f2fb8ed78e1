"""Fuzzing: schemathesis against the live OpenAPI of a real `moderato serve` (real Redis, model and in-process
worker) with every role's key, and hypothesis strategies of hostile text, ids and cursors through the API.

Asserts no 5xx and no answer outside the documented schema. Callback URLs are left out of the generated bodies:
the server resolves them, and a lookup of a generated name would leave this machine (tests/unit/test_targets.py
and tests/api/test_hardening.py cover them with loopback targets only).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import GenerationConfig, SchemathesisConfig

from tests.conftest import auth
from tests.utils.processes import live_server

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 60  # x 3 roles x 16 operations: over 2,000 generated requests in all (hypothesis stops early
# where an operation has few distinct inputs)
ROLE_KEYS = {"platform": "pk-a", "moderator": "mk-a", "admin": "ak-a"}
generated = {"cases": 0}


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("fuzz")
    with live_server(folder) as (url, _):
        yield url
    assert "Traceback" not in (folder / "serve.log").read_text(errors="replace")


def _generation_schema(url: str) -> Any:
    spec = copy.deepcopy(requests.get(f"{url}/openapi.json", timeout=10).json())
    spec["components"]["schemas"]["IngestComment"]["properties"].pop("callback_url")
    config = SchemathesisConfig()
    config.projects.default.generation = GenerationConfig(max_examples=EXAMPLES_PER_OPERATION)
    schema = schemathesis.openapi.from_dict(spec, config=config)
    schema.config.base_url = url
    return schema


@pytest.mark.parametrize("role", list(ROLE_KEYS))
def test_schemathesis_finds_no_server_error_or_schema_violation(live_url: str, role: str) -> None:
    schema = _generation_schema(live_url)
    session = requests.Session()
    session.headers.update(auth(ROLE_KEYS[role]))
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/v1/events":  # an endless stream, not a request/response: test_moderator_page.py
            continue
        operations += 1
        try:
            _fuzz_operation(operation, live_url, session, failures)()
        except Exception as exc:  # recorded; go on with the next operation
            if not failures or not failures[-1].startswith(operation.label):
                failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:600]}")
    assert operations >= 15
    assert not failures, "\n\n".join(failures[:5])


def _fuzz_operation(operation: Any, url: str, session: requests.Session, failures: list[str]) -> Any:
    """A hypothesis test of one operation: each generated request gets no 5xx and a documented answer."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        generated["cases"] += 1
        response = case.call(base_url=url, session=session, timeout=60)
        try:
            case.validate_response(response, checks=checks)
        except AssertionError as exc:
            failures.append(f"{operation.label}: {str(exc)[:600]}")
            raise

    return run


def test_enough_cases_were_generated() -> None:
    """Runs after the three roles (pytest keeps file order): the suite's fuzzing covered at least 2,000 cases."""
    assert generated["cases"] >= 2000, generated


HOSTILE = st.sampled_from(["\ud800", "\udfff", "\x00", "\u202e", "\u200b", "\ufeff", "\u2066", "\U0010ffff", "é", "𝐢"])
hostile_text = st.lists(st.one_of(HOSTILE, st.text(max_size=5)), max_size=30).map("".join)
odd_ids = st.one_of(
    st.text(min_size=0, max_size=300),
    st.lists(HOSTILE, min_size=1, max_size=5).map("".join),
    st.just("x" * 5000),
    st.sampled_from(["a/b", "..", "%2F", "a:b", "{t}", "*", "mod:{x}:y"]),
)
odd_cursors = st.one_of(
    st.text(max_size=40), st.sampled_from(["nan:x", "inf:x", "1e309:a", "-0:a", "0:", "1-1", "9" * 40 + ":a"])
)


def _post_json(client: TestClient, path: str, body: Any) -> Any:
    """JSON with \\u escapes (json.dumps' default), so lone surrogates travel as a client would send them."""
    return client.post(path, content=json.dumps(body), headers={**auth("pk-a"), "content-type": "application/json"})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(hostile_text, min_size=1, max_size=4), comment_id=odd_ids)
def test_hostile_text_and_ids_never_5xx(client: TestClient, texts: list[str], comment_id: str) -> None:
    comments = [{"id": f"c{i}", "text": t} for i, t in enumerate(texts)]
    assert _post_json(client, "/v1/analyze", {"comments": comments}).status_code < 500
    ingest = [{"id": comment_id, "text": texts[0], "thread_id": "t"}]
    assert _post_json(client, "/v1/comments", {"comments": ingest}).status_code < 500
    in_path = quote(comment_id.encode("utf-8", "surrogatepass"), safe="")  # as a client would escape it
    assert client.get(f"/v1/comments/{in_path}", headers=auth("mk-a")).status_code < 500
    decision = client.post(f"/v1/comments/{in_path}/decision", json={"decision": "approve"}, headers=auth("mk-a"))
    assert decision.status_code < 500


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cursor=odd_cursors)
def test_odd_cursors_never_5xx(client: TestClient, cursor: str) -> None:
    for path in ("/v1/queues/review", "/v1/audit", "/v1/deadletter"):
        response = client.get(path, params={"cursor": cursor}, headers=auth("ak-a"))
        assert response.status_code in (200, 400), (path, cursor, response.text)
