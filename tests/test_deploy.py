"""The deployment files, checked statically against the code (no Docker or cluster here): images, ports, probes,
environment names, the KEDA trigger, Redis durability; and the rate limiter's Redis Cluster slots (the tenant keys'
slots: tests/unit/test_redis_keys.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from redis.crc import key_slot

from service import redis_keys as keys
from service.cli import parser
from service.config import Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SETTINGS = {f"MODERATO_{name.upper()}" for name in Settings.model_fields}


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only  # type: ignore[no-any-return]


def env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in c.get("env", [])}


def test_every_moderato_variable_is_a_setting() -> None:
    names = set(re.findall(r"MODERATO_[A-Z_]+", (DEPLOY / "compose.yaml").read_text()))
    names |= set(re.findall(r"MODERATO_[A-Z_]+", (DEPLOY / "Dockerfile").read_text()))
    for d in manifests():
        if d["kind"] in ("Deployment", "StatefulSet"):
            names |= {n for n in env(container(d)) if n.startswith("MODERATO_")}
    assert names and names <= SETTINGS, names - SETTINGS


def test_api_image_port_and_probes_match_the_app() -> None:
    from service.api.app import create_app

    api = container(by_kind("Deployment")["moderato-api"])
    assert api["image"].startswith("moderato:") and api["args"] == ["moderato", "serve"]
    port = api["ports"][0]["containerPort"]
    assert int(env(api)["MODERATO_PORT"]) == port and env(api)["MODERATO_HOST"] == "0.0.0.0"
    app = create_app(Settings(_env_file=None, redis_url="redis://unused:6379"))  # type: ignore[call-arg]
    paths = set(app.openapi()["paths"])
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    assert {"/healthz", "/readyz", "/metrics"} <= paths
    service = by_kind("Service")["moderato"]
    assert service["spec"]["ports"][0]["targetPort"] == port
    assert service["spec"]["selector"] == by_kind("Deployment")["moderato-api"]["spec"]["selector"]["matchLabels"]
    assert "EXPOSE 8000" in (DEPLOY / "Dockerfile").read_text()


def test_worker_probes_are_the_workers_own_check() -> None:
    worker = container(by_kind("Deployment")["moderato-worker"])
    assert worker["args"] == ["moderato", "worker"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        command = worker[probe]["exec"]["command"]
        assert command[0] == "moderato"
        args = parser().parse_args(command[1:])
        assert args.command == "worker" and args.check


def test_keda_scales_the_workers_on_the_ingest_groups_lag() -> None:
    scaled = by_kind("ScaledObject")["moderato-worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] in by_kind("Deployment")
    worker_url = env(container(by_kind("Deployment")["moderato-worker"]))["MODERATO_REDIS_URL"]
    for trigger in scaled["spec"]["triggers"]:
        meta = trigger["metadata"]
        assert trigger["type"] == "redis-streams" and meta["consumerGroup"] == keys.INGEST_GROUP
        tenant = re.fullmatch(r"mod:\{(.+)\}:ingest", meta["stream"])
        assert tenant and meta["stream"] == keys.ingest(tenant.group(1))
        assert int(meta["lagCount"]) > 0
        assert worker_url.split("@")[-1].split("/")[0] == meta["address"]  # the Redis the workers use
        auth_ref = trigger["authenticationRef"]["name"]
        assert auth_ref in by_kind("TriggerAuthentication")


def test_redis_has_a_password_and_durable_persistence() -> None:
    config = by_kind("ConfigMap")["moderato-redis"]["data"]["redis.conf"]
    for text in (config, (DEPLOY / "redis.conf").read_text()):
        assert "appendonly yes" in text and "appendfsync always" in text and "maxmemory-policy noeviction" in text
    redis = container(by_kind("StatefulSet")["redis"])
    assert "--requirepass" in " ".join(redis["args"]) and "REDIS_PASSWORD" in env(redis)
    assert by_kind("StatefulSet")["redis"]["spec"]["volumeClaimTemplates"]
    assert "--requirepass" in (DEPLOY / "compose.yaml").read_text()
    for name in ("moderato-api", "moderato-worker"):
        assert ":$(REDIS_PASSWORD)@" in env(container(by_kind("Deployment")[name]))["MODERATO_REDIS_URL"]


def test_disruption_budgets_select_real_pods() -> None:
    labels = [
        d["spec"]["template"]["metadata"]["labels"] for d in manifests() if d["kind"] in ("Deployment", "StatefulSet")
    ]
    budgets = by_kind("PodDisruptionBudget")
    assert set(budgets) == {"moderato-api", "moderato-worker", "redis"}
    for budget in budgets.values():
        assert budget["spec"]["selector"]["matchLabels"] in labels


def test_rate_limit_counters_of_one_key_share_a_slot() -> None:
    """The limiter's sliding window keeps two counters per key, wrapped in one brace pair by the library."""
    inner = f"{keys.RATE_LIMIT_PREFIX}/LIMITER/{keys.rate_limit_identity('t')}/moderator-1/600/1/minute"
    current, previous = f"{{{inner}}}", f"{{{inner}}}/-1"
    assert key_slot(current.encode()) == key_slot(previous.encode())
