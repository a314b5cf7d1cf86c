"""A Redis Cluster of a test run's own: three masters (redis-server with
``--cluster-enabled yes``) on free loopback ports, joined by
``redis-cli --cluster create``, killed and their directory removed after.

Each node also listens on its cluster bus port (its port + 10000), so both
must be free. The whole run shares one cluster (``start_cluster`` from a
session-scoped fixture); tests keep apart by key prefix, as on the shared
Redis.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MASTERS = 3
BUS_OFFSET = 10000  # Redis Cluster's bus listens on the node's port + 10000


def cluster_available() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _node_ports(count: int) -> list[int]:
    """Ports below the kernel's ephemeral range whose bus port is free as well."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 30000)
        if port not in ports and _free(port) and _free(port + BUS_OFFSET):
            ports.append(port)
    return ports


def _cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                          check=True, capture_output=True, text=True, timeout=30).stdout


def _wait(condition, *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except subprocess.SubprocessError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test's Redis Cluster did not {what} within {timeout} s")
        time.sleep(0.05)


@contextmanager
def start_cluster(directory: Path) -> Iterator[str]:
    """A running 3-master cluster under ``directory``; yields its
    ``redis+cluster://`` URL naming every node."""
    ports = _node_ports(MASTERS)
    servers = []
    try:
        for port in ports:
            node_dir = directory / str(port)
            node_dir.mkdir(parents=True)
            servers.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", str(node_dir / "nodes.conf"), "--cluster-node-timeout", "5000",
                 "--save", "", "--appendonly", "no", "--dir", str(node_dir)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in ports:
            _wait(lambda port=port: _cli(port, "ping").strip() == "PONG", what="start")
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports),
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, text=True, timeout=60)
        for port in ports:
            _wait(lambda port=port: "cluster_state:ok" in _cli(port, "cluster", "info"), what="agree on its slots")
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in ports)
    finally:
        for server in servers:
            server.kill()
        for server in servers:
            server.wait(timeout=10)


@contextmanager
def start_sentinel(directory: Path, *, service: str = "certhub-cache") -> Iterator[str]:
    """A Redis primary watched by one Sentinel (``redis-server --sentinel``);
    yields the ``redis+sentinel://`` URL naming the Sentinel and the service."""
    primary_port, sentinel_port = _node_ports(2)
    config = directory / "sentinel.conf"
    config.write_text(f"port {sentinel_port}\nbind 127.0.0.1\nsentinel monitor {service} 127.0.0.1 {primary_port} 1\n")
    servers = []
    try:
        servers.append(subprocess.Popen(
            ["redis-server", "--port", str(primary_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(lambda: _cli(primary_port, "ping").strip() == "PONG", what="start")
        servers.append(subprocess.Popen(["redis-server", str(config), "--sentinel"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(lambda: str(primary_port) in _cli(sentinel_port, "sentinel", "get-master-addr-by-name", service),
              what="name its primary")
        yield f"redis+sentinel://127.0.0.1:{sentinel_port}/{service}/0"
    finally:
        for server in servers:
            server.kill()
        for server in servers:
            server.wait(timeout=10)
