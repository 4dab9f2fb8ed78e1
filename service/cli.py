"""The ``moderato`` command: serve, worker (and its --check probe), export-labels, train, tune-heads,
retune-severe, evaluate, calibrate.

Training commands import ``service.training`` (the ``train`` extra); the others never do."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from service.config import DEFAULT_MODEL_DIR, DEFAULT_STANCE_MODEL_DIR, Settings


def prepare(settings: Settings, stack: ExitStack) -> Settings:
    """Fill in the embedded defaults: a redis-server of our own when no URL is set, and a development key when no
    keys are configured (development only; production refuses to start without keys)."""
    from pydantic import SecretStr

    from service.api.auth import DEV_TENANT, development_key
    from service.redis_server import EmbeddedRedis

    if not settings.redis_url:
        embedded = stack.enter_context(EmbeddedRedis(settings.data_dir / "redis", supervise=True))
        settings = settings.model_copy(update={"redis_url": embedded.url})
    if not (settings.api_keys or settings.api_keys_file):
        key, created = development_key(settings.data_dir)
        if created:
            print(
                f"\n  Development API key (tenant {DEV_TENANT!r}, role admin), shown once:\n\n    {key}\n\n"
                f"  Use it as 'Authorization: Bearer {key[:10]}…'. Stored in {settings.data_dir / 'dev-api-key'}."
                "\n  Configure real keys with MODERATO_API_KEYS=KEY=TENANT:ROLE,...\n",
                flush=True,
            )
        else:
            logging.getLogger(__name__).info(
                "using the development API key stored in %s", settings.data_dir / "dev-api-key"
            )
        settings = settings.model_copy(update={"api_keys": SecretStr(f"{key}={DEV_TENANT}:admin")})
    return settings


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from service.api.app import create_app
    from service.api.state import app_state
    from service.logs import configure_logging

    class DrainingServer(uvicorn.Server):
        """Tells the app it is draining before uvicorn waits for open connections: the moderator pages' live event
        streams end at once (their browsers reconnect, elsewhere if need be) instead of holding shutdown 30 s."""

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            app_state(app).draining.set()
            await super().shutdown(sockets)

    settings = Settings()
    configure_logging(settings.log_level)
    host, port = args.host or settings.host, args.port or settings.port
    with ExitStack() as stack:
        settings = prepare(settings, stack)
        logging.getLogger(__name__).info("starting on http://%s:%d (docs at /docs)", host, port)
        app = create_app(settings)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            timeout_graceful_shutdown=30,
            proxy_headers=False,  # the app reads them itself, trusting only the configured hops (TrustedProxies)
        )
        DrainingServer(config).run()


def _worker(args: argparse.Namespace) -> None:
    import asyncio

    from service.logs import configure_logging
    from service.redis_server import EmbeddedRedis
    from service.runtime import run_worker_process

    settings = Settings()
    configure_logging(settings.log_level)
    # Without a URL, join the embedded Redis that `moderato serve` started under the same data dir.
    url = settings.redis_url or EmbeddedRedis(settings.data_dir / "redis").url
    settings = settings.model_copy(update={"redis_url": url})
    if args.check:
        raise SystemExit(asyncio.run(_check_worker(settings, args.name)))
    if not settings.learn_every_s:
        asyncio.run(run_worker_process(settings, name=args.name, burst=args.burst))
        return

    async def with_learning() -> None:  # the learn job on its schedule beside the worker (the train extra)
        from service.redis_client import connect
        from service.training.schedule import learn_on_schedule

        redis = await connect(url, settings)
        schedule = asyncio.create_task(learn_on_schedule(redis, settings))
        try:
            await run_worker_process(settings, name=args.name, burst=args.burst)
        finally:
            schedule.cancel()
            await asyncio.gather(schedule, return_exceptions=True)
            await redis.aclose()

    asyncio.run(with_learning())


async def _check_worker(settings: Settings, name: str | None) -> int:
    """The worker probe: 0 when a worker of this host (or the one named) has a live health key, else 1."""
    import json
    import socket

    from redis.exceptions import RedisError

    from service.moderation import worker_health
    from service.redis_client import connect

    assert settings.redis_url
    try:
        redis = await connect(settings.redis_url, settings.model_copy(update={"redis_connect_retries": 0}))
        try:
            states = await worker_health.live_workers(redis)
        finally:
            await redis.aclose()
    except (RedisError, OSError) as exc:
        print(f"redis not answering: {type(exc).__name__}")
        return 1
    host = f"{socket.gethostname()}-"
    mine = [s for s in states if (s["name"] == name if name else str(s["name"]).startswith(host))]
    for state in mine:
        print(json.dumps(state))
    if not mine:
        print(f"no live worker {'named ' + repr(name) if name else 'on host ' + host[:-1]}")
    return 0 if mine else 1


def _export_labels(args: argparse.Namespace) -> None:
    import asyncio

    from service.moderation.labels_export import export_labels
    from service.redis_client import connect
    from service.redis_server import EmbeddedRedis

    settings = Settings()
    url = settings.redis_url or EmbeddedRedis(settings.data_dir / "redis").url

    async def run() -> int:
        redis = await connect(url, settings)
        try:
            return await export_labels(redis, args.out, args.tenant or None)
        finally:
            await redis.aclose()

    print(f"wrote {asyncio.run(run())} labels to {args.out}")


def _accounts(args: argparse.Namespace) -> None:
    """Moderator accounts from the command line: the first admin account, or one created without the page."""
    import asyncio
    import getpass
    import json

    from service.api.auth import KeyRing
    from service.moderation.accounts import Accounts
    from service.redis_client import connect

    settings = Settings()
    keyring = KeyRing.from_settings(settings)

    async def run(url: str) -> None:
        redis = await connect(url, settings)
        try:
            accounts = Accounts(redis, taken_names=keyring.names)
            by = f"cli:{getpass.getuser()}"
            password = None
            if getattr(args, "password_stdin", False):
                password = sys.stdin.readline().rstrip("\n")
            if args.action == "list":
                print(json.dumps([a.public() for a in await accounts.list(args.tenant)], indent=1))
            elif args.action == "create":
                password = await accounts.create(args.tenant, args.name, args.role, by=by, password=password)
                print(f"created {args.name} ({args.role}) on {args.tenant}; password: {password}")
            elif args.action == "password":
                password = await accounts.set_password(args.tenant, args.name, by=by, password=password)
                print(f"new password for {args.name} on {args.tenant}: {password} (its sessions have ended)")
            elif args.action == "unlock":
                await accounts.unlock(args.tenant, args.name, by=by)
                print(f"unlocked {args.name} on {args.tenant}")
            else:
                await accounts.remove(args.tenant, args.name, by=by)
                print(f"removed {args.name} from {args.tenant}")
        finally:
            await redis.aclose()

    _on_redis(settings, lambda url: asyncio.run(run(url)))


def _search_reindex(args: argparse.Namespace) -> None:
    """Rebuild a tenant's search index from what Redis holds (a new index file, or one restored from a backup)."""
    import asyncio

    from service.moderation.search import SearchIndex, reindex
    from service.redis_client import connect

    settings = Settings()

    async def run(url: str) -> None:
        redis = await connect(url, settings)
        try:
            count = await reindex(redis, SearchIndex(settings.search_file), args.tenant)
            print(f"indexed {count} comments of {args.tenant} into {settings.search_file}")
        finally:
            await redis.aclose()

    _on_redis(settings, lambda url: asyncio.run(run(url)))


def _learn(args: argparse.Namespace) -> None:
    """A candidate model from the tenant's own labels, gated; promoted too with --promote when it passes."""
    import asyncio
    import json

    from service.redis_client import connect
    from service.training.gate import GateOptions
    from service.training.learning import BudgetSpent, LearnOptions, NotEnoughLabels, learn_for_tenant

    settings = Settings()
    opts = LearnOptions(
        tenant=args.tenant,
        start=settings.model_dir,
        root=settings.models_root,
        data=args.data,
        steps=args.steps,
        trainable=args.trainable,
        budget_s=args.budget_s,
        gate=GateOptions(dev_limit=args.dev_limit),
    )

    async def run(url: str) -> None:
        redis = await connect(url, settings)
        try:
            report = await learn_for_tenant(redis, settings, args.tenant, opts, promote=args.promote)
        finally:
            await redis.aclose()
        summary = {k: report.get(k) for k in ("id", "version", "status", "reasons", "promoted")}
        print(json.dumps({**summary, "site": report["gate"]["site"]}, indent=2))

    try:
        _on_redis(settings, lambda url: asyncio.run(run(url)))
    except NotEnoughLabels as exc:
        raise SystemExit(f"moderato learn: {exc}") from None
    except BudgetSpent as exc:
        raise SystemExit(f"moderato learn: {exc}; run the same command again to resume") from None


def _models(args: argparse.Namespace) -> None:
    """Promote, roll back, shadow, or list a tenant's learned versions."""
    import asyncio
    import getpass
    import json

    from service.moderation import model_registry as registry
    from service.redis_client import connect

    settings = Settings()
    by = f"cli:{getpass.getuser()}"

    async def run(url: str) -> None:
        redis = await connect(url, settings)
        try:
            if args.action == "list":
                print(json.dumps(await registry.overview(redis, settings.models_root, args.tenant), indent=1))
            elif args.action == "promote":
                before, after = await registry.promote(redis, settings.models_root, args.tenant, args.version, by=by)
                print(f"{args.tenant}: {before or 'shipped model'} -> {after}")
            elif args.action == "rollback":
                before, after = await registry.rollback(redis, args.tenant, by=by)
                print(f"{args.tenant}: {before or 'shipped model'} -> {after or 'shipped model'}")
            elif args.action == "shadow":
                await registry.start_shadow(
                    redis, settings.models_root, args.tenant, args.version, sample=args.sample, by=by
                )
                print(f"{args.tenant}: {args.version} scores {args.sample:.0%} of fresh comments in shadow")
            else:
                await registry.stop_shadow(redis, args.tenant)
                print(f"{args.tenant}: no shadow")
        finally:
            await redis.aclose()

    _on_redis(settings, lambda url: asyncio.run(run(url)))


def _on_redis(settings: Settings, job: Any) -> None:
    """Run ``job(url)`` on the service's Redis: the configured one, the embedded one a running `moderato serve`
    owns, or, when none runs, the data folder's own (started for the job and stopped after)."""
    from service.errors import ModeratoError
    from service.redis_server import EmbeddedRedis, FolderInUse

    try:
        if settings.redis_url:
            job(settings.redis_url)
            return
        embedded = EmbeddedRedis(settings.data_dir / "redis")
        try:
            embedded.start()
        except FolderInUse:  # `moderato serve` runs it: use it, as every client of that Redis does
            job(embedded.url)
            return
        try:
            job(embedded.url)
        finally:
            embedded.stop()
    except ModeratoError as exc:
        raise SystemExit(f"moderato: {exc.message}") from None


def _version_name(out: Path) -> str:
    return out.name if out.name.startswith("moderato") else f"moderato-{out.name}"


def _train(args: argparse.Namespace) -> None:
    from service.training.train import TrainOptions, train

    opts = TrainOptions(
        data=args.data,
        out=args.out,
        version=args.version or _version_name(args.out),
        steps=args.steps,
        stance_steps=args.stance_steps,
        seed=args.seed,
        frozen_layers=args.frozen_layers,
        limit_per_source=args.limit_per_source,
        start=args.start,
        **({"encoder_lr": args.encoder_lr, "head_lr": args.head_lr, "warmup_steps": 50} if args.start else {}),
    )
    train(opts)


def _tune_heads(args: argparse.Namespace) -> None:
    from service.training.head_tuning import HeadTuningOptions, tune_heads

    opts = HeadTuningOptions(
        data=args.data,
        start=args.start,
        out=args.out,
        version=args.version or _version_name(args.out),
        steps=args.steps,
        seed=args.seed,
        limit_per_source=args.limit_per_source,
    )
    tune_heads(opts)


def _retune_stance_head(args: argparse.Namespace) -> None:
    from service.training.head_tuning import retune_stance_head

    version = args.version or _version_name(args.out)
    retune_stance_head(args.data, args.start, args.out, version, steps=args.steps, chatter_weight=args.chatter_weight)


def _grid_report(command: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a command that chooses a setting on dev and print each setting it read. No setting that meets its
    bounds: nothing is written, and the reason is the answer (an exit with the message)."""
    import json

    try:
        report = run()
    except ValueError as exc:
        raise SystemExit(f"moderato {command}: {exc}") from None
    for row in report["grid"]:
        print(json.dumps(row))
    return report


def _retune_severe(args: argparse.Namespace) -> None:
    import json

    from service.training.severe_tuning import SevereOptions, retune_severe

    opts = SevereOptions(
        data=args.data,
        start=args.start,
        out=args.out,
        version=args.version or _version_name(args.out),
        steps=args.steps,
        limit_per_source=args.limit_per_source,
    )
    report = _grid_report("retune-severe", lambda: retune_severe(opts))
    print(f"chosen: templates share {report['chosen_share']}; raw thresholds {json.dumps(report['raw_thresholds'])}")


def _graft_stance_head(args: argparse.Namespace) -> None:
    from service.training.head_tuning import graft_stance_head

    graft_stance_head(args.into, args.source, out=args.out, version=args.version)


def _train_stance(args: argparse.Namespace) -> None:
    from service.training.cross_stance import CrossStanceOptions, train_cross_stance

    opts = CrossStanceOptions(
        data=args.data,
        encoder_model=args.encoder,
        out=args.out,
        version=args.version or _version_name(args.out),
        steps=args.steps,
        seed=args.seed,
        limit_per_source=args.limit_per_source,
        continue_from=args.continue_from,
        init_from=args.init_from,
        stated_openings=args.stated_openings,
        adapter_lr=args.adapter_lr,
        head_lr=args.head_lr,
        dev_limit=args.dev_limit,
    )
    train_cross_stance(opts)


def _evaluate_stance(args: argparse.Namespace) -> None:
    import json

    from service.training.stance_eval import evaluate_stance_command

    result = evaluate_stance_command(args.data, args.model, args.stance_model, args.out, args.limit, args.tune)
    print(json.dumps({k: v for k, v in result["sets"].items() if not isinstance(v, dict)}, indent=2))


def _calibrate_stance(args: argparse.Namespace) -> None:
    import json

    from service.training.stance_confidence import calibrate_stance_command

    result = calibrate_stance_command(
        args.data, args.model, args.stance_model, args.cross_article, args.limit, args.answers
    )
    summary = {
        name: {"confident_at": r["confident_at"], "held_out": {s: _brief(v) for s, v in r["held_out"].items()}}
        for name, r in result.items()
    }
    print(json.dumps(summary, indent=1))


def _choose_stance_prior(args: argparse.Namespace) -> None:
    from service.training.stance_prior import choose_stance_prior_command

    report = _grid_report("choose-stance-prior", lambda: choose_stance_prior_command(args.data, args.model, args.limit))
    print(f"chosen: unrelated {report['chosen_unrelated_share']} -> stance prior {report['chosen_prior']}")


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in ("confident_polar_precision", "polar_coverage", "confident_polar_labels")}


def _measure_deep_stance(args: argparse.Namespace) -> None:
    from service.training.deep_stance import DeepStanceOptions, measure_deep_stance

    measure_deep_stance(DeepStanceOptions(data=args.data, model=args.model, out=args.out, steps=args.steps))


def _calibrate(args: argparse.Namespace) -> None:
    import json

    from service.training.calibration import calibrate

    result = calibrate(args.data, args.model)
    summary = {name: {k: v for k, v in m.items() if k.startswith("ece")} for name, m in result["attributes"].items()}
    print(json.dumps({"ece": summary, "flagged_toxicity": result["flagged_toxicity"]}, indent=2))


def _evaluate(args: argparse.Namespace) -> None:
    from service.training.evaluate import evaluate

    evaluate(data=args.data, model=args.model, out=args.out, limit=args.limit, toxicity_only=args.toxicity_only)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="moderato", description="Self-hosted comment moderation.")
    sub = root.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (embedded Redis unless MODERATO_REDIS_URL is set)")
    serve.add_argument("--host", default=None, help="default: MODERATO_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: MODERATO_PORT or 8000")
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="score queued comments (run any number of these)")
    worker.add_argument("--name", default=None, help="consumer name (default: host-pid)")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument(
        "--check", action="store_true", help="probe: exit 0 if this host's worker (or --name) is alive, else 1"
    )
    worker.set_defaults(func=_worker)

    export = sub.add_parser("export-labels", help="write moderators' decisions as training rows")
    export.add_argument("--out", type=Path, required=True, help="e.g. DATA/toxicity/moderator_labels.csv.gz")
    export.add_argument("--tenant", action="append", help="only these tenants (repeatable)")
    export.set_defaults(func=_export_labels)

    accounts = sub.add_parser("accounts", help="moderators' own accounts (sign-in with a password)")
    actions = accounts.add_subparsers(dest="action", required=True)
    for action, help_text in (
        ("create", "a new account (its password is generated and printed, or read from stdin)"),
        ("password", "a new password (generated, or from stdin): unlocks and signs the account out"),
        ("unlock", "end a lockout after too many wrong passwords"),
        ("remove", "delete the account: it signs out everywhere"),
        ("list", "the tenant's accounts"),
    ):
        command = actions.add_parser(action, help=help_text)
        command.add_argument("--tenant", required=True)
        if action != "list":
            command.add_argument("name", help="lower-case letters, digits, '.', '_' or '-'")
        if action == "create":
            command.add_argument("--role", choices=("moderator", "admin"), default="moderator")
        if action in ("create", "password"):
            command.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        command.set_defaults(func=_accounts)

    reindex = sub.add_parser("search-reindex", help="rebuild a tenant's search index from Redis")
    reindex.add_argument("--tenant", required=True)
    reindex.set_defaults(func=_search_reindex)

    learn = sub.add_parser(
        "learn", help="a candidate model from a tenant's own labels, gated before it may serve (needs the train extra)"
    )
    learn.add_argument("--tenant", required=True)
    learn.add_argument("--data", type=Path, required=True, help="the base mix (replay) and the standard dev sets")
    learn.add_argument("--steps", type=int, default=600)
    learn.add_argument(
        "--trainable",
        choices=("residual", "head", "last"),
        default="residual",
        help="what the labels move: a site correction to the toxicity score (default), or the toxicity head",
    )
    learn.add_argument("--budget-s", type=float, default=3600.0, help="stop (resumably) after this long")
    learn.add_argument("--dev-limit", type=int, default=300, help="standard dev rows per source the gate reads")
    learn.add_argument("--promote", action="store_true", help="serve the candidate at once if its gate passes")
    learn.set_defaults(func=_learn)

    models = sub.add_parser("models", help="a tenant's learned model versions: list, promote, roll back, shadow")
    model_actions = models.add_subparsers(dest="action", required=True)
    for action, help_text in (
        ("list", "the served version, its history, the shadow and every version's report"),
        ("promote", "serve a version whose gate passed"),
        ("rollback", "serve what was served before the last promotion"),
        ("shadow", "score a sample of fresh comments with a version beside the served one"),
        ("unshadow", "stop the shadow"),
    ):
        command = model_actions.add_parser(action, help=help_text)
        command.add_argument("--tenant", required=True)
        if action in ("promote", "shadow"):
            command.add_argument("version", help="the version's id (moderato models list)")
        if action == "shadow":
            command.add_argument("--sample", type=float, default=0.1, help="share of fresh comments (0-1]")
        command.set_defaults(func=_models)

    train = sub.add_parser("train", help="fine-tune the toxicity, span and stance model (needs the train extra)")
    train.add_argument("--data", type=Path, required=True, help="data folder (see the shared data README)")
    train.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help="model folder to write")
    train.add_argument("--version", default=None, help="model version string (default: moderato-<out name>)")
    train.add_argument("--steps", type=int, default=1800, help="multi-task steps (stage one)")
    train.add_argument("--stance-steps", type=int, default=800, help="stance-head steps (stage two)")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument(
        "--frozen-layers", type=int, default=2, help="lowest encoder layers kept at the base weights (not shipped)"
    )
    train.add_argument("--limit-per-source", type=int, default=None, help="cap examples per source (smoke runs)")
    train.add_argument("--start", type=Path, default=None, help="continue from this model folder (news fine-tuning)")
    train.add_argument("--encoder-lr", type=float, default=3e-5, help="with --start")
    train.add_argument("--head-lr", type=float, default=1e-4, help="with --start")
    train.set_defaults(func=_train)

    heads = sub.add_parser(
        "tune-heads", help="retune a model's toxicity and span heads on its frozen encoder (stance stays identical)"
    )
    _frozen_encoder_args(heads)
    heads.add_argument("--steps", type=int, default=1000)
    heads.add_argument("--seed", type=int, default=21)
    heads.add_argument("--limit-per-source", type=int, default=None, help="cap examples per source (smoke runs)")
    heads.set_defaults(func=_tune_heads)

    retune = sub.add_parser(
        "retune-stance-head",
        help="continue a model's article stance head alone on its frozen encoder (toxicity stays identical)",
    )
    _frozen_encoder_args(retune)
    retune.add_argument("--steps", type=int, default=600)
    retune.add_argument(
        "--chatter-weight", type=float, default=None, help="share of draws from generated off-topic chatter (0.06)"
    )
    retune.set_defaults(func=_retune_stance_head)

    severe = sub.add_parser(
        "retune-severe",
        help="retrain a model's severe-toxicity output alone on clear positives (everything else stays identical)",
    )
    _frozen_encoder_args(severe)
    severe.add_argument("--steps", type=int, default=2000)
    severe.add_argument("--limit-per-source", type=int, default=4000, help="base rows drawn from each source")
    severe.set_defaults(func=_retune_severe)

    graft = sub.add_parser(
        "graft-stance-head", help="copy a model's article stance head into another model on the same encoder"
    )
    graft.add_argument("--into", type=Path, required=True, help="model folder to change")
    graft.add_argument("--source", type=Path, required=True, help="model folder whose stance head is taken")
    graft.add_argument("--out", type=Path, default=None, help="write a new model folder instead (beside --into)")
    graft.add_argument("--version", default=None, help="the new folder's model version")
    graft.set_defaults(func=_graft_stance_head)

    stance = sub.add_parser(
        "train-stance",
        help="train the cross-encoded stance pass: adapters on a model's encoder plus a head (needs the train extra)",
    )
    stance.add_argument("--data", type=Path, required=True)
    stance.add_argument("--encoder", type=Path, default=DEFAULT_MODEL_DIR, help="model whose encoder is adapted")
    stance.add_argument("--out", type=Path, required=True, help="stance model folder")
    stance.add_argument("--version", default=None)
    stance.add_argument("--steps", type=int, default=3000)
    stance.add_argument("--seed", type=int, default=29)
    stance.add_argument("--limit-per-source", type=int, default=None, help="cap examples per source (smoke runs)")
    stance.add_argument(
        "--continue-from", type=Path, default=None, help="start from this stance run's last checkpoint (a longer run)"
    )
    stance.add_argument(
        "--init-from", type=Path, default=None, help="start from a shipped stance model's adapters and head"
    )
    stance.add_argument(
        "--stated-openings", action="store_true", help="explicit-agreement augmentation (stance_cues.py)"
    )
    stance.add_argument("--dev-limit", type=int, default=1500, help="dev pairs per set in the run's own report")
    stance.add_argument("--adapter-lr", type=float, default=5e-4)
    stance.add_argument("--head-lr", type=float, default=1e-3)
    stance.set_defaults(func=_train_stance)

    stance_eval = sub.add_parser(
        "evaluate-stance", help="stance on the grouped dev splits, per set (needs the train extra)"
    )
    stance_eval.add_argument("--data", type=Path, required=True)
    stance_eval.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    stance_eval.add_argument("--stance-model", type=Path, default=None, help="a cross-encoded stance model")
    stance_eval.add_argument("--out", type=Path, required=True, help="JSON file to write")
    stance_eval.add_argument("--limit", type=int, default=1000, help="dev rows per set (sampled, seeded)")
    stance_eval.add_argument(
        "--tune", action="store_true", help="choose per-class logit offsets on dev and write them into the stance model"
    )
    stance_eval.set_defaults(func=_evaluate_stance)

    confidence = sub.add_parser(
        "calibrate-stance",
        help="fit how sure each stance pass is, and its confident threshold, on the grouped dev splits",
    )
    confidence.add_argument("--data", type=Path, required=True)
    confidence.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    confidence.add_argument("--stance-model", type=Path, default=DEFAULT_STANCE_MODEL_DIR, help="cross-encoded pass")
    confidence.add_argument("--cross-article", action="store_true", help="the article stance through the cross pass")
    confidence.add_argument("--limit", type=int, default=1000, help="dev rows per set (sampled, seeded)")
    confidence.add_argument(
        "--answers", type=Path, default=None, help="npz of the served dev answers: written once, then reused"
    )
    confidence.set_defaults(func=_calibrate_stance)

    prior = sub.add_parser(
        "choose-stance-prior",
        help="choose how often a comment under its own article is expected to be off-topic, on dev",
    )
    prior.add_argument("--data", type=Path, required=True)
    prior.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    prior.add_argument("--limit", type=int, default=1000, help="grouped dev rows per set (sampled, seeded)")
    prior.set_defaults(func=_choose_stance_prior)

    deep = sub.add_parser(
        "measure-deep-stance", help="train and measure stance design (b), a deeper head on the frozen encoder"
    )
    deep.add_argument("--data", type=Path, required=True)
    deep.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    deep.add_argument("--out", type=Path, required=True, help="JSON file to write")
    deep.add_argument("--steps", type=int, default=1500)
    deep.set_defaults(func=_measure_deep_stance)

    evaluate = sub.add_parser(
        "evaluate", help="score a model on the dev splits; writes metrics.json (needs the train extra)"
    )
    evaluate.add_argument("--data", type=Path, required=True)
    evaluate.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    evaluate.add_argument("--out", type=Path, default=None, help="metrics file (default: <model>/metrics.json)")
    evaluate.add_argument("--limit", type=int, default=None, help="cap dev rows per source (smoke runs)")
    evaluate.add_argument(
        "--toxicity-only", action="store_true", help="leave out stance and the fp32 pass (toxicity candidates)"
    )
    evaluate.set_defaults(func=_evaluate)

    calibrate = sub.add_parser(
        "calibrate",
        help="fit the scores' calibration on annotator proportions; writes calibration.json (needs the train extra)",
    )
    calibrate.add_argument("--data", type=Path, required=True)
    calibrate.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    calibrate.set_defaults(func=_calibrate)
    return root


def _frozen_encoder_args(command: argparse.ArgumentParser) -> None:
    """What every command that retunes heads on a model's frozen encoder takes."""
    command.add_argument("--data", type=Path, required=True)
    command.add_argument("--start", type=Path, default=DEFAULT_MODEL_DIR, help="model whose encoder is kept")
    command.add_argument("--out", type=Path, required=True, help="new model folder")
    command.add_argument("--version", default=None, help="model version string (default: moderato-<out name>)")


def main(argv: list[str] | None = None) -> None:
    from service.redis_server import FolderInUse

    args = parser().parse_args(argv)
    if args.command not in ("serve", "worker"):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        args.func(args)
    except FolderInUse as exc:
        raise SystemExit(f"moderato {args.command}: {exc}") from None


if __name__ == "__main__":
    main()
