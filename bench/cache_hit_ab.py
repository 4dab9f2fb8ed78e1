"""A cache hit's cost in two builds of the service, side by side: one `moderato serve` from this tree and one from
another tree (a `git worktree` of an earlier commit), each on its own embedded Redis, driven in alternating rounds
by one client sending the same cached comment one request at a time. Reports per round the p50 latency and the
server's CPU per request (from /proc), so a change to the request path is judged against the machine's drift.

Usage: git worktree add /tmp/moderato-base COMMIT
       python bench/cache_hit_ab.py --base-tree /tmp/moderato-base [--seconds 12] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import KEY, service_env, start  # noqa: E402
from bench.common import print_table, write_result  # noqa: E402

BODY = {"comments": [{"id": "c", "text": "Only an idiot would vote for this, and the council knows it."}]}


def serve(tree: Path, port: int) -> subprocess.Popen[bytes]:
    work = Path(tempfile.mkdtemp(prefix="moderato-cache-ab-"))
    env = {**service_env(work, port), "PYTHONPATH": str(tree)}
    return start([sys.executable, "-m", "service.cli", "serve"], env, port, work / "serve.log", cwd=tree)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cache_hits(port: int, pid: int, seconds: float) -> dict[str, Any]:
    url, headers = f"http://127.0.0.1:{port}/v1/analyze", {"Authorization": f"Bearer {KEY}"}
    with httpx.Client() as client:
        assert client.post(url, json=BODY, headers=headers).status_code == 200  # cached from here on
        latencies = []
        cpu, end = cpu_seconds(pid), time.perf_counter() + seconds
        while time.perf_counter() < end:
            started = time.perf_counter()
            answer = client.post(url, json=BODY, headers=headers)
            latencies.append(time.perf_counter() - started)
            assert answer.json()["results"][0]["cached"] is True
        cpu = cpu_seconds(pid) - cpu
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "cpu_ms_per_request": round(cpu / len(latencies) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-tree", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"base": args.base_tree.resolve(), "this": ROOT}
    ports = {"base": 18761, "this": 18762}
    servers = {name: serve(tree, ports[name]) for name, tree in trees.items()}
    rows = []
    try:
        for round_ in range(args.rounds):
            for name in trees:
                rows.append(
                    {"round": round_, "build": name, **cache_hits(ports[name], servers[name].pid, args.seconds)}
                )
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(60)
    print_table(rows)
    commits = {
        name: subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True
        ).stdout.strip()
        for name, tree in trees.items()
    }
    print(f"wrote {write_result('cache_hit_ab', rows, {'commits': commits, 'seconds': args.seconds})}")


if __name__ == "__main__":
    main()
