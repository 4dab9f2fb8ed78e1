from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.config import DEFAULT_STANCE_PRIOR, Settings
from service.model.predict import Predictor
from service.redis_server import EmbeddedRedis

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "model_cards" / "moderato-v10"
SHIPPED_STANCE = SHIPPED_MODEL.parent / "moderato-v6-stance"
TEST_KEYS = (
    "pk-a=tenant-a:platform,mk-a=tenant-a:moderator,ak-a=tenant-a:admin,pk-b=tenant-b:platform,mk-b=tenant-b:moderator"
)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def predictor() -> Predictor:
    """The real shipped model (its stance pass included), loaded once per test run."""
    return Predictor(SHIPPED_MODEL, stance_prior=list(DEFAULT_STANCE_PRIOR), stance_folder=SHIPPED_STANCE)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real redis-server for the whole run, started the way `moderato serve` starts its embedded one."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A sync client on a database flushed before each test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def settings(redis_server: EmbeddedRedis, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        model_dir=SHIPPED_MODEL,  # type: ignore[call-arg]
        api_keys=SecretStr(TEST_KEYS),
        inprocess_worker=False,  # integration tests run real worker processes; one test turns this on
    )


@pytest.fixture(scope="session")
def runner() -> Any:
    """The model runner (real shipped model) shared by every app a test builds."""
    from service.scoring.model_runner import PredictorRunner

    return PredictorRunner(Settings(_env_file=None, model_dir=SHIPPED_MODEL))  # type: ignore[call-arg]


@pytest.fixture
def make_client(settings: Settings, runner: Any, redis_client: redis.Redis) -> Iterator[Callable[..., TestClient]]:
    """Factory: a TestClient (lifespan entered) on create_app(settings with overrides)."""
    from service.api.app import create_app

    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        client = TestClient(create_app(settings.model_copy(update=overrides), runner=runner))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


os.environ.setdefault("HF_HUB_OFFLINE", "1")
