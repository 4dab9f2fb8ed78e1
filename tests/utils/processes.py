"""Real worker processes and a webhook receiver for integration tests (loopback only)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent.parent


def start_worker(
    redis_url: str, *, name: str, burst: bool = False, log: Path, **settings: Any
) -> subprocess.Popen[bytes]:
    """`moderato worker` as its own process, configured through MODERATO_* variables like a deployment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATO_")}
    env.update({"MODERATO_REDIS_URL": redis_url, "MODERATO_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"})
    for key, value in settings.items():
        env[f"MODERATO_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    cmd = [sys.executable, "-m", "service.cli", "worker", "--name", name] + (["--burst"] if burst else [])
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def answer_json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    """Send ``body`` as a JSON answer (nothing for None) from a test server's handler."""
    raw = json.dumps(body).encode() if body is not None else b""
    handler.send_response(status)
    for name, value in {"content-type": "application/json", **(headers or {})}.items():
        handler.send_header(name, value)
    handler.send_header("content-length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)


class LoopbackServer:
    """An HTTP server on 127.0.0.1, on a thread of its own, serving ``handler`` (a BaseHTTPRequestHandler class)."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebhookReceiver(LoopbackServer):
    """An HTTP server on 127.0.0.1 that records deliveries and fails the first ``fail_first`` of them."""

    def __init__(self, fail_first: int = 0, delay_s: float = 0.0) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = fail_first
        self.delay_s = delay_s
        self.calls = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: a receiver never acts on half a delivery
                    return
                time.sleep(receiver.delay_s)  # a slow receiver
                receiver.calls += 1
                failing = receiver.calls <= receiver.fail_first
                if not failing:
                    receiver.received.append({"headers": dict(self.headers), "body": body})
                self.send_response(500 if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._serve(Handler)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(redis_url: str, port: int, log: Path, **settings: Any) -> subprocess.Popen[bytes]:
    """`moderato serve` on 127.0.0.1:port as its own process (real model, in-process worker), on ``redis_url``,
    with the test keys; ``settings`` become MODERATO_* variables."""
    from tests.conftest import SHIPPED_MODEL, TEST_KEYS

    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATO_")}
    env.update(
        MODERATO_REDIS_URL=redis_url,
        MODERATO_API_KEYS=TEST_KEYS,
        MODERATO_MODEL_DIR=str(SHIPPED_MODEL),
        MODERATO_DATA_DIR=str(log.parent),
        MODERATO_LOG_LEVEL="WARNING",
        HF_HUB_OFFLINE="1",
    )
    for key, value in settings.items():
        env[f"MODERATO_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    cmd = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def wait_until_ready(url: str, timeout: float = 120) -> None:
    import urllib.error
    import urllib.request

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    wait_for(ready, timeout, f"moderato serve at {url}")


@contextlib.contextmanager
def live_server(folder: Path, **settings: Any) -> Iterator[tuple[str, str]]:
    """A `moderato serve` on its own embedded Redis under ``folder``: yields (its URL, the Redis URL)."""
    from service.redis_server import EmbeddedRedis

    redis_server = EmbeddedRedis(folder / "redis").start()
    port = free_port()
    server = start_serve(redis_server.url, port, folder / "serve.log", **settings)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url)
        yield url, redis_server.url
    finally:
        server.terminate()
        server.wait(timeout=60)
        redis_server.stop()
