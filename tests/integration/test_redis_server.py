"""The embedded Redis default: real redis-server, durable across a crash, never left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import redis

from service.redis_server import EmbeddedRedis
from tests.utils.processes import ROOT, wait_for


def test_acknowledged_writes_survive_a_crash(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "r").start()
    with redis.Redis.from_url(server.url) as client:
        client.xadd("s", {"comment": "kept"})
    server.kill()  # SIGKILL: no shutdown, no final save
    server.start()
    with redis.Redis.from_url(server.url) as client:
        assert client.xlen("s") == 1
    server.stop()
    assert server.process is not None and server.process.returncode == 0


def test_redis_server_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path; from service.redis_server import EmbeddedRedis; "
        f"s = EmbeddedRedis(Path({str(tmp_path / 'r')!r})).start(); print(s.process.pid, flush=True); "
        "time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        # a zombie still answers signal 0; it is gone for our purposes once it is not running
        return Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"

    wait_for(gone, 10, "redis-server to exit after its parent")
