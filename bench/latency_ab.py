"""Latency at a fixed load for two service settings, side by side: two `moderato serve` processes (each with its
own embedded Redis), driven in alternating rounds with the same Poisson arrivals, so the shared machine's drift
hits both alike. For a setting whose effect is smaller than the drift between runs minutes apart.

Usage: python bench/latency_ab.py --a MODERATO_BATCH_MAX_WAIT_MS=5 --b MODERATO_BATCH_MAX_WAIT_MS=0 [--rate 73]
       [--name latency_ab_batch_wait]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api import Texts, closed_loop, open_loop, service_env, start  # noqa: E402
from bench.common import print_table, write_result  # noqa: E402
from bench.model import comments  # noqa: E402

PORTS = {"a": 18741, "b": 18742}


def serve(settings: list[str], port: int) -> subprocess.Popen[bytes]:
    work = Path(tempfile.mkdtemp(prefix="moderato-ab-"))
    env = {**service_env(work, port), **dict(item.split("=", 1) for item in settings)}
    return start([sys.executable, "-m", "service.cli", "serve"], env, port, work / "moderato.log")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", action="append", default=[], metavar="NAME=VALUE", help="settings of service a")
    parser.add_argument("--b", action="append", default=[], metavar="NAME=VALUE", help="settings of service b")
    parser.add_argument("--rate", type=float, default=73, help="single-comment requests/s offered (Poisson)")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--name", default="latency_ab", help="results file: bench/results/NAME.json")
    args = parser.parse_args()
    from service.model.checkpoint import load_tokenizer

    texts = Texts(comments(load_tokenizer(), 64, 58))
    one = lambda: [texts.fresh()]  # noqa: E731
    servers = {name: serve(getattr(args, name), port) for name, port in PORTS.items()}
    rows: list[dict[str, Any]] = []
    try:
        for port in PORTS.values():  # warm-up
            asyncio.run(closed_loop(f"http://127.0.0.1:{port}/v1/analyze", one, 8, 3))
        for round_ in range(args.rounds):
            for name, port in PORTS.items():
                url = f"http://127.0.0.1:{port}/v1/analyze"
                run = asyncio.run(open_loop(url, one, args.rate, args.seconds, servers[name].pid))
                label = " ".join(getattr(args, name)) or "defaults"
                rows.append({"round": round_, "service": f"{name}: {label}", **run.row("")})
                del rows[-1]["scenario"]
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(60)
    print_table(rows)
    meta = {"rate": args.rate, "seconds": args.seconds, "a": args.a, "b": args.b}
    print(f"wrote {write_result(args.name, rows, meta)}")


if __name__ == "__main__":
    main()
