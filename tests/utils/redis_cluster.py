"""A real Redis Cluster on loopback for the suite and the benches: three masters with one replica each, from the
same redis-server binary the embedded default uses, formed with CLUSTER MEET / ADDSLOTS / REPLICATE (what
``redis-cli --cluster create`` sends). Every node keeps an append-only file with ``appendfsync always``."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

import redis

from service.redis_server import _stop_with_parent, redis_server_binary

SLOTS = 16384
BUS_OFFSET = 10000  # a node's cluster bus listens on its port + 10000


def _free_pair() -> int:
    """A loopback port whose cluster-bus port (port + 10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        try:
            for p in (port, port + BUS_OFFSET):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a cluster node")


class LocalCluster:
    """:param node_timeout_ms: how long a master may be silent before its replica takes over."""

    def __init__(self, folder: Path, *, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000) -> None:
        self.folder = folder
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.ports: list[int] = []
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """A seed node: a cluster client finds the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)

    def __enter__(self) -> Self:
        self.ports = [_free_pair() for _ in range(self.masters * (1 + self.replicas))]
        for port in self.ports:
            self._spawn(port)
        self._form()
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def _spawn(self, port: int) -> None:
        folder = self.folder / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--dir", str(folder),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--logfile", str(folder / "redis.log"),
        ]  # fmt: skip
        self.processes[port] = subprocess.Popen(  # a node dies with the process that started it, however it dies
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_stop_with_parent
        )
        self._wait(lambda: self.node(port).ping(), f"node {port} to answer")

    def _form(self) -> None:
        masters, replicas = self.ports[: self.masters], self.ports[self.masters :]
        first = self.node(masters[0])
        for port in self.ports[1:]:
            first.execute_command("CLUSTER MEET", "127.0.0.1", port)
        share = SLOTS // self.masters
        for i, port in enumerate(masters):
            end = SLOTS if i == self.masters - 1 else (i + 1) * share
            self.node(port).execute_command("CLUSTER ADDSLOTS", *range(i * share, end))
        self._wait(lambda: all(self._known(p) == len(self.ports) for p in self.ports), "every node to meet")
        for i, port in enumerate(replicas):
            master_id = self.node(masters[i % self.masters]).execute_command("CLUSTER MYID")
            self.node(port).execute_command("CLUSTER REPLICATE", master_id)
        self._wait(self.healthy, "the cluster to be formed")

    def _known(self, port: int) -> int:
        nodes = self.node(port).execute_command("CLUSTER NODES")
        return sum(1 for n in nodes.values() if n["connected"] and "handshake" not in n["flags"])

    def healthy(self) -> bool:
        """Every live node says the cluster is ok and every master has its replicas attached."""
        try:
            for port in self.live_ports():
                if self.node(port).execute_command("CLUSTER INFO")["cluster_state"] != "ok":
                    return False
            return all(self.node(p).info("replication")["connected_slaves"] >= self.replicas for p in self.primaries())
        except (redis.ConnectionError, redis.TimeoutError):
            return False

    def live_ports(self) -> list[int]:
        return [p for p in self.ports if self.processes[p].poll() is None]

    def primaries(self) -> list[int]:
        return [p for p in self.live_ports() if self.node(p).info("replication")["role"] == "master"]

    def primary_of(self, key: str) -> int:
        """The port of the master that serves ``key``'s slot now, as the live nodes see it."""
        node = self.node(self.live_ports()[0])
        slot = int(node.execute_command("CLUSTER KEYSLOT", key))
        for start, end, master, *_replicas in node.execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                return int(master[1])
        raise LookupError(f"no master serves slot {slot}")

    def restart(self, port: int) -> None:
        """Start a killed node again on its own files: a former master rejoins as its successor's replica."""
        self._spawn(port)

    def kill(self, port: int) -> None:
        """SIGKILL one node: no shutdown, no last fsync beyond what appendfsync always already did."""
        self.processes[port].kill()
        self.processes[port].wait()

    @staticmethod
    def _wait(condition: object, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():  # type: ignore[operator]
                    return
            except (redis.ConnectionError, redis.ResponseError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")
