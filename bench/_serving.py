"""What the HTTP benchmarks share: the app served as production serves it
(`certhub serve --workers W` in a process of its own, in a PostgreSQL schema
of its own) and a light load generator that shares the machine with it."""

from __future__ import annotations

import http.client
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import urllib3

REPO_ROOT = Path(__file__).resolve().parent.parent


def schema_url(url: str, schema: str) -> str:
    """``url`` with libpq's options parameter: every connection of every worker works in ``schema``."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds_of_tree(pid: int) -> float | None:
    """CPU time (user + system) used so far by a process and all its
    descendants (the server and its workers), from Linux's /proc; None
    where there is none. Latency depends on the machine; CPU per request is
    what the code decides, and what explains the latency under load."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            # The command name (field 2) is in parentheses and may hold spaces.
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            if current == pid:
                return None
    return total / tick


def serve_certhub(*, database_url: str, redis_url: str, workers: int, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`certhub serve` on a free loopback port; returns the process and its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from certhub.cli import main; main()", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--no-access-log"],
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "CERTHUB_DATABASE_URL": database_url,
                            "CERTHUB_REDIS_URL": redis_url, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited while starting")
        try:
            if urllib3.request("GET", url + "/healthz", timeout=1, retries=False).status == 200:
                return process, url
        except urllib3.exceptions.HTTPError:
            time.sleep(0.2)
    stop(process)
    raise RuntimeError("the server did not start within 120 s")


def stop(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def load(url: str, requests: list, threads: int) -> dict:
    """Send every request (method, path, json, headers) from `threads` keep-alive clients.

    The clients share the machine with the server, so they are kept light:
    the standard library's HTTP client, bodies encoded before the clock starts.
    """
    work: queue.Queue = queue.Queue()
    for method, path, body, headers in requests:
        encoded = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        sent = dict(headers or {})
        if encoded is not None:
            sent["Content-Type"] = "application/json"
        work.put((method, path, encoded, sent))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    target = urlsplit(url)

    def client() -> None:
        mine, counts = [], {}
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        try:
            while True:
                try:
                    method, path, body, headers = work.get_nowait()
                except queue.Empty:
                    break
                started = time.perf_counter()
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                mine.append(time.perf_counter() - started)
                counts[response.status] = counts.get(response.status, 0) + 1
        finally:
            connection.close()
        with lock:
            latencies.extend(mine)
            for status, count in counts.items():
                statuses[status] = statuses.get(status, 0) + count

    pool = [threading.Thread(target=client) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"per_second": round(len(latencies) / elapsed, 1), **summary(latencies),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


def client_credentials_token(hub: str, client_id: str, client_secret: str) -> str:
    """An access token from the hub by the client credentials grant (# SPEC: RFC 6749 §4.4, Basic client auth)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               **urllib3.make_headers(basic_auth=f"{client_id}:{client_secret}")}
    answer = urllib3.request("POST", f"{hub}/api/v1/oauth/token", body=b"grant_type=client_credentials", headers=headers)
    return answer.json()["access_token"]
