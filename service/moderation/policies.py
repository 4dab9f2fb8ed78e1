"""Saving a tenant's policy, and previewing a change before it is saved.

- Saved policies are versioned (1, 2, …) in Redis: the current one in a hash, every version in a history stream,
  and an audit entry (``policy_changed``, with the version and the admin's note) per save. A save names the version
  it was made from (``expected_version``): if another admin saved in between, it is refused (409), never silently
  overwritten. Every replica and worker reads the new version within seconds (scoring/live_policy.py).
- A preview re-decides the tenant's most recently scored comments (up to RECENTLY_SCORED_MAX) under the policy in
  force and under the proposed one, from their stored scores and words, and counts the decisions that move, with
  examples of each move. Flood counts, authors' standings and moderators' decisions are left out: it compares the
  two policies, nothing else.
- A policy saved before 2026-12-05 with no thresholds of its own holds the built-in ones on the wrong scale; the
  first start after the upgrade saves it again with them on the right one, as a new audited version
  (``repair_former_fills``).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.config import PolicySettings
from service.errors import Conflict
from service.redis_client import text, text_map
from service.scoring.policy import Policy

log = logging.getLogger(__name__)

EXAMPLES = 3  # comments shown for each kind of move
PREVIEW_DEFAULT = 10_000

# Before 2026-12-05 a policy saved with no thresholds of its own (word lists only, the language rule only) was stored
# with the built-in thresholds on the *calibrated* scale, where they are less strict than the built-in policy (review
# at toxicity 0.65 is raw 0.78, against the built-in raw 0.65: comments the built-in policy reviews were allowed).
# These are the fills such a save was stored with (severe toxicity's review threshold moved on 2026-12-04). Nobody
# chose them: a site that wanted them would have sent them, on the scale named with them.
FORMER_FILL_REVIEW = {"toxicity": 0.65, "insult": 0.79, "threat": 0.55, "identity_attack": 0.75, "obscene": 0.7}
FORMER_FILL_SEVERE_REVIEW = (0.42, 0.54)
FORMER_FILL_REJECT = {"severe_toxicity": 0.85, "threat": 0.85, "identity_attack": 0.95}
REPAIR = "policy-fill-scale"  # its name among the done repairs (keys.MIGRATIONS)
REPAIR_ACTOR = "moderato"
REPAIR_NOTE = (
    "repaired on upgrade: this policy was saved without thresholds of its own, and the built-in ones it was given "
    "were read on the calibrated scale, less strict than the built-in policy; they are now read on the raw scale "
    "they were written for (word lists and the language rule unchanged)"
)

# KEYS: policy hash, history stream, audit stream. ARGV: expected version ('' = any), policy JSON, by, now, note.
# Returns the new version, or {'conflict', current version}.
SAVE = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then return {'conflict', tostring(current)} end
local version = current + 1
redis.call('HSET', KEYS[1], 'version', version, 'policy', ARGV[2], 'by', ARGV[3], 'at', ARGV[4], 'note', ARGV[5])
redis.call('XADD', KEYS[2], '*', 'version', version, 'policy', ARGV[2], 'by', ARGV[3], 'at', ARGV[4], 'note', ARGV[5])
redis.call('XADD', KEYS[3], '*', 'comment_id', '', 'actor', ARGV[3], 'action', 'policy_changed', 'reason', ARGV[5],
           'scores', '{}', 'at', ARGV[4], 'policy_version', version)
return {'ok', tostring(version)}
"""


async def saved(redis: aioredis.Redis, tenant: str) -> dict[str, str]:
    """The saved policy's hash (empty: the settings' policy is in force)."""
    return text_map(await redis.hgetall(keys.policy(tenant)))


async def save(
    redis: aioredis.Redis,
    tenant: str,
    policy: PolicySettings,
    *,
    by: str,
    note: str,
    expected_version: int | None,
) -> int:
    """Save a new version of the tenant's policy; returns its number."""
    reply = await redis.eval(
        SAVE,
        3,
        keys.policy(tenant),
        keys.policy_history(tenant),
        keys.audit(tenant),
        "" if expected_version is None else str(expected_version),
        policy.model_dump_json(),
        by,
        f"{time.time():.3f}",
        note,
    )
    status, version = (text(r) for r in cast(list[Any], reply))
    if status == "conflict":
        raise Conflict(
            f"the policy was changed meanwhile (it is at version {version}): reload it and make your change again",
            code="policy_changed",
        )
    return int(version)


def is_former_fill(policy: PolicySettings) -> bool:
    """Whether a saved policy holds the built-in thresholds as a thresholds-free save stored them before 2026-12-05."""
    review = dict(policy.review)
    severe = review.pop("severe_toxicity", None)
    return (
        policy.scale == "calibrated"
        and review == FORMER_FILL_REVIEW
        and severe in FORMER_FILL_SEVERE_REVIEW
        and policy.reject == FORMER_FILL_REJECT
    )


def with_built_in_thresholds(policy: PolicySettings) -> PolicySettings:
    """The same policy with no thresholds of its own: the built-in ones, on their raw scale."""
    return PolicySettings.model_validate(policy.model_dump(exclude={"review", "reject", "scale"}))


async def repair_former_fills(redis: aioredis.Redis) -> list[str]:
    """Save, as a new audited version, every tenant's policy that still holds a former fill (``is_former_fill``) with
    the built-in thresholds on their raw scale; once per Redis that holds anything (keys.MIGRATIONS), so later starts
    skip the scan, which reads the whole keyspace: a store of comments with no saved policy scanned it on every start.
    An empty store is left empty (nothing to repair, and a store that holds no comment keeps no key at all); this
    version never writes a former fill, so once scanned stays done. Returns the tenants repaired. A save in between
    wins (the repair names the version it read)."""
    if await redis.sismember(keys.MIGRATIONS, REPAIR) or not await redis.dbsize():
        return []
    repaired = []
    async for key in redis.scan_iter(match=keys.SAVED_POLICIES, count=1000):
        tenant = keys.tenant_of(text(key))
        current = await saved(redis, tenant)
        stored = _readable(current.get("policy", ""))
        if stored is None or not is_former_fill(stored):
            continue
        try:
            version = await save(
                redis,
                tenant,
                with_built_in_thresholds(stored),
                by=REPAIR_ACTOR,
                note=REPAIR_NOTE,
                expected_version=int(current["version"]),
            )
        except Conflict:
            continue  # an admin saved meanwhile: theirs stands
        log.warning("policy of %s repaired (version %d): %s", tenant, version, REPAIR_NOTE)
        repaired.append(tenant)
    await redis.sadd(keys.MIGRATIONS, REPAIR)
    return repaired


def _readable(stored: str) -> PolicySettings | None:
    try:
        return PolicySettings.model_validate_json(stored) if stored else None
    except ValueError:
        return None  # one that does not read is left as it is (live_policy keeps the last good one in force)


async def history(redis: aioredis.Redis, tenant: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest saved versions first."""
    rows = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrevrange(keys.policy_history(tenant), count=limit))
    out = []
    for _, fields in rows:
        entry = text_map(fields)
        out.append(
            {
                "version": int(entry["version"]),
                "by": entry.get("by", ""),
                "at": float(entry.get("at") or 0),
                "note": entry.get("note", ""),
                "policy": json.loads(entry["policy"]),
            }
        )
    return out


async def preview(
    redis: aioredis.Redis, tenant: str, current: Policy, proposed: Policy, *, limit: int = PREVIEW_DEFAULT
) -> dict[str, Any]:
    """How many of the tenant's last ``limit`` scored comments each policy would decide which way, and examples."""
    newest = cast(list[bytes], await redis.zrevrange(keys.recently_scored(tenant), 0, limit - 1))
    ids = [text(i) for i in newest]
    moves: dict[str, dict[str, Any]] = {}
    compared = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        async with redis.pipeline(transaction=False) as pipe:
            for comment_id in chunk:
                pipe.hmget(keys.comment(tenant, comment_id), "text", "result")
            rows = await pipe.execute()
        for comment_id, (raw_text, raw_result) in zip(chunk, rows, strict=True):
            if raw_text is None or raw_result is None:
                continue
            result = json.loads(raw_result)
            scores = result.get("scores") or {}
            words = text(raw_text)
            unsupported = _unsupported_language(result.get("reasons") or [])
            before = current.decide(scores, unsupported_language=unsupported, text=words)
            after = proposed.decide(scores, unsupported_language=unsupported, text=words)
            compared += 1
            if before.decision == after.decision:
                continue
            move = moves.setdefault(f"{before.decision}->{after.decision}", {"count": 0, "examples": []})
            move["count"] += 1
            if len(move["examples"]) < EXAMPLES:
                move["examples"].append(
                    {"id": comment_id, "text": words[:300], "scores": scores, "reasons": after.reasons}
                )
    moved = sum(m["count"] for m in moves.values())
    return {"compared": compared, "moved": moved, "moves": moves}


def _unsupported_language(reasons: list[str]) -> str | None:
    """The language a stored result was not read in ("unsupported_language: es"), if any."""
    prefix = "unsupported_language: "
    return next((r[len(prefix) :] for r in reasons if r.startswith(prefix)), None)
