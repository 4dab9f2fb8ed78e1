"""Which learned version serves a tenant: promotion, rollback and shadowing, each one Redis step, audited.

The versions themselves are folders on disk (service/model/versions.py) with the learn job's report; the tenant's
pointer (``keys.model_serving``) names the one it is served and keeps the ones it was served before, newest first,
so a rollback goes back one step (to the shipped model at the end). Every replica and worker follows the pointer
within seconds (service/scoring/serving.py). Only a version its gate passed, learned for this tenant, can be
promoted or shadowed; a rejected one stays on disk with its report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.errors import Conflict, NotFound
from service.model.versions import list_versions, read_report, version_folder
from service.redis_client import text, text_map

HISTORY_KEPT = 20
SHIPPED = ""  # the pointer's value for the shipped model

# KEYS: serving hash, shadow hash, audit stream. ARGV: version ('' = the shipped model), by, now, action, history
# kept. Promote pushes the current version onto the history; rollback pops it. Returns {'ok', from, to} or
# {'nothing'} (a rollback with no history), {'unchanged', current}.
MOVE = """
local current = redis.call('HGET', KEYS[1], 'version') or ''
local history = cjson.decode(redis.call('HGET', KEYS[1], 'history') or '[]')
local target = ARGV[1]
if ARGV[4] == 'model_rolled_back' then
  if #history == 0 then return {'nothing'} end
  target = table.remove(history, 1)
else
  if target == current then return {'unchanged', current} end
  table.insert(history, 1, current)
  while #history > tonumber(ARGV[5]) do table.remove(history) end
end
local encoded = #history == 0 and '[]' or cjson.encode(history)
redis.call('HSET', KEYS[1], 'version', target, 'history', encoded, 'by', ARGV[2], 'at', ARGV[3])
if redis.call('HGET', KEYS[2], 'version') == target then redis.call('DEL', KEYS[2]) end
local function named(v) return v == '' and 'shipped model' or v end
redis.call('XADD', KEYS[3], '*', 'comment_id', '', 'actor', ARGV[2], 'action', ARGV[4],
           'reason', named(current) .. ' -> ' .. named(target), 'scores', '{}', 'at', ARGV[3], 'model_version', target)
return {'ok', current, target}
"""


def passed_version(root: Path, tenant: str, version_id: str) -> dict[str, Any]:
    """The report of a version this tenant may be served; NotFound / Conflict otherwise."""
    try:
        report = read_report(version_folder(root, version_id))
    except ValueError as exc:
        raise NotFound(f"no model version {version_id!r}") from exc
    if not report or report.get("tenant") != tenant:
        raise NotFound(f"no model version {version_id!r} for this site")
    if report.get("status") != "passed":
        raise Conflict(
            f"model version {version_id!r} did not pass its gate: {'; '.join(report.get('reasons', []))}",
            code="version_rejected",
        )
    return report


async def _move(redis: aioredis.Redis, tenant: str, target: str, by: str, action: str) -> tuple[str, str]:
    reply = cast(
        list[Any],
        await redis.eval(
            MOVE,
            3,
            keys.model_serving(tenant),
            keys.model_shadow(tenant),
            keys.audit(tenant),
            target,
            by,
            f"{time.time():.3f}",
            action,
            str(HISTORY_KEPT),
        ),
    )
    status, *rest = [text(r) for r in reply]
    if status == "nothing":
        raise Conflict("this site has always been served the shipped model: nothing to roll back to", code="no_history")
    if status == "unchanged":
        raise Conflict(f"{rest[0] or 'the shipped model'} is already served", code="unchanged")
    return rest[0], rest[1]


async def promote(redis: aioredis.Redis, root: Path, tenant: str, version_id: str, *, by: str) -> tuple[str, str]:
    """Serve ``version_id`` to the tenant (a passed version of its own); returns (from, to)."""
    passed_version(root, tenant, version_id)
    return await _move(redis, tenant, version_id, by, "model_promoted")


async def rollback(redis: aioredis.Redis, tenant: str, *, by: str) -> tuple[str, str]:
    """Serve the tenant what it was served before the last promotion; returns (from, to)."""
    return await _move(redis, tenant, SHIPPED, by, "model_rolled_back")


async def start_shadow(
    redis: aioredis.Redis, root: Path, tenant: str, version_id: str, *, sample: float, by: str
) -> None:
    """Score ``sample`` of the tenant's freshly scored comments with ``version_id`` as well (counts start afresh)."""
    passed_version(root, tenant, version_id)
    if not 0 < sample <= 1:
        raise Conflict("the shadow sample is a share of comments: above 0, at most 1", code="invalid_sample")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.shadow_stats(tenant, version_id), keys.shadow_changes(tenant, version_id))
        pipe.hset(
            keys.model_shadow(tenant),
            mapping={"version": version_id, "sample": str(sample), "by": by, "since": f"{time.time():.3f}"},
        )
        pipe.xadd(
            keys.audit(tenant),
            {
                "comment_id": "",
                "actor": by,
                "action": "model_shadowed",
                "reason": f"{version_id} on {sample:.0%} of comments",
                "scores": "{}",
                "at": f"{time.time():.3f}",
                "model_version": version_id,
            },
        )
        await pipe.execute()


async def stop_shadow(redis: aioredis.Redis, tenant: str) -> None:
    await redis.delete(keys.model_shadow(tenant))


async def shadow_report(redis: aioredis.Redis, tenant: str, version_id: str, examples: int = 20) -> dict[str, Any]:
    """A shadowed candidate's agreement with the served model, and the newest decisions it would have changed."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.shadow_stats(tenant, version_id))
        pipe.lrange(keys.shadow_changes(tenant, version_id), 0, examples - 1)
        stats_raw, changes = await pipe.execute()
    stats = text_map(stats_raw)
    scored = int(stats.pop("scored", "0"))
    agreed = int(stats.pop("agreed", "0"))
    diff = float(stats.pop("toxicity_abs_diff", "0"))
    return {
        "scored": scored,
        "agreement": round(agreed / scored, 4) if scored else None,
        "mean_toxicity_difference": round(diff / scored, 4) if scored else None,
        "changed": {move: int(count) for move, count in stats.items()},
        "examples": [json.loads(text(c)) for c in changes],
    }


async def overview(redis: aioredis.Redis, root: Path, tenant: str) -> dict[str, Any]:
    """What the admin's view shows: the served version and its history, the shadow, and every version's report."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.model_serving(tenant))
        pipe.hgetall(keys.model_shadow(tenant))
        serving_raw, shadow_raw = await pipe.execute()
    serving, shadow = text_map(serving_raw), text_map(shadow_raw)
    shadowed = None
    if shadow.get("version"):
        shadowed = {
            "version": shadow["version"],
            "sample": float(shadow.get("sample", "0")),
            "since": float(shadow.get("since", "0")),
            **await shadow_report(redis, tenant, shadow["version"]),
        }
    return {
        "serving": serving.get("version") or None,
        "history": json.loads(serving.get("history") or "[]"),
        "changed_by": serving.get("by"),
        "changed_at": float(serving["at"]) if serving.get("at") else None,
        "shadow": shadowed,
        "versions": list_versions(root, tenant),
    }
