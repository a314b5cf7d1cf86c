"""The hub's CPU per exchange query, counted in instructions by callgrind.

Wall-clock figures move with whatever else the machine runs; the number of
instructions the hub executes for one query does not, so this is the figure
to compare two versions of the code by, on a shared or loaded machine.

The setup is `python -m bench exchange`'s (its catalog, client, agreement,
provider and adapter binding), with one worker:
- the hub: `certhub serve --workers 1` as production runs it (uvicorn and
  the app in one process, with its log checkpointer and background threads,
  PROMETHEUS_MULTIPROC_DIR set by `serve` itself where the version has
  metrics), on PostgreSQL in a schema of its own and Redis, under
  `valgrind --tool=callgrind --instr-atstart=no`: nothing is counted until
  the measurement switches instrumentation on;
- the provider: an HTTP server process on loopback (not under valgrind),
  answering at once;
- the client: this process, one keep-alive connection, sending
  `Accept-Encoding: identity` (no compression, as a department's client).
Each round warms up (connections, caches, the interpreter's specialised
code), then `callgrind_control -i on`, N queries one after another,
`callgrind_control -i off` and a dump; the figure is the dump's total
instructions (every thread of the hub) divided by N. The rounds run on the
same hub; their spread says how repeatable the figure is.

What is counted is the work each query causes. Work the hub does per
second rather than per query (the checkpointer's round, the poll for
withdrawn credentials) is set to run at start and not during the rounds:
under callgrind a second holds some fifty times fewer queries than in
production, and fewer still when the machine is busy, so counting it would
make the figure follow the machine's load. (The webhook worker's 5 s poll
is not configurable and stays; it is small beside a round.) The records the
queries append are integrated into the log's tree by the checkpointer, so
that per-record work is not in the figure either; `python -m bench
auditlog` measures it.

Read `spread_percent` before the figures: the correction assumes the
per-second work runs at the same rate with and without queries, which
holds on a quiet machine (rounds within 1-2%) and not on one loaded many
times over (load 25 on 2 cores: 13% raw, 37% corrected); compare raw
figures from runs made side by side then, and prefer a quieter period.

The script uses only what `bench.exchange` and `certhub serve` have long
offered, so the same file, copied into an older checkout, measures that
checkout: before and after come from the same script.

usage: python -m bench hub_instructions [--queries N] [--warmup N] [--rounds R]
       [--profile-dir DIR] [--database-url URL] [--redis-url URL]
Defaults: 200 queries per round after 100 warm-up queries, 3 rounds.
--profile-dir keeps the callgrind dumps (`callgrind_annotate DIR/callgrind.out.1`).
Needs valgrind (Debian: `apt-get install valgrind`, which brings callgrind_control).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import urllib3
from sqlalchemy import text

from bench._serving import REPO_ROOT, free_port, schema_url, stop
from bench.exchange import FIELDS, ITEM, MATTER, SECRET, SUBJECT, _prepare, _run_provider
from certhub.db import create_db_engine
from certhub.settings import Settings

REGISTRY_ID = "https://bench.certhub.test"
# Under callgrind the hub runs some fifty times slower; its start (imports,
# migrations check, first trust reads) takes minutes on a loaded machine.
START_TIMEOUT_S = 900
_TOTALS = re.compile(r"^totals:\s*(\d+)", re.MULTILINE)
# Work done per second rather than per query, kept out of the rounds (see the docstring).
_TIMED_WORK_ASIDE = {"CERTHUB_AUDITLOG_CHECKPOINT_INTERVAL_SECONDS": "3600",
                     # A loaded machine stretches a round past the default ten minutes of a token.
                     "CERTHUB_ACCESS_TOKEN_TTL_SECONDS": "3600",
                     "CERTHUB_AUDITLOG_MAX_LAG_SECONDS": "86400",
                     "CERTHUB_TOKEN_REVOCATION_POLL_SECONDS": "300"}


def _hub_command(port: int, out_file: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}",
            sys.executable, "-c", "from certhub.cli import main; main()", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--no-access-log"]


def _wait_until_serving(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the hub exited while starting under valgrind")
        try:
            if urllib3.request("GET", url + "/healthz", timeout=5, retries=False).status == 200:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"the hub did not start within {START_TIMEOUT_S} s under valgrind")


def _token(url: str, client_id: str, client_secret: str) -> str:
    # SPEC: RFC 6749 §4.4 (client credentials, Basic client authentication)
    answer = urllib3.request("POST", f"{url}/api/v1/oauth/token", body=b"grant_type=client_credentials",
                             headers={"Content-Type": "application/x-www-form-urlencoded",
                                      **urllib3.make_headers(basic_auth=f"{client_id}:{client_secret}")}, timeout=120)
    if answer.status != 200:
        raise RuntimeError(f"no token: HTTP {answer.status}")
    return answer.json()["access_token"]


def _agree(url: str, token: str) -> None:
    """The consumer's agreement; unconditional sharing approves it at once."""
    answer = urllib3.request("POST", f"{url}/api/v1/exchange/agreements", timeout=120,
                             headers={"Authorization": f"Bearer {token}", "X-Operator-Id": "bench"},
                             json={"item": ITEM, "matters": [MATTER], "fields": FIELDS, "reason": "bench"})
    if answer.status >= 400:
        raise RuntimeError(f"the agreement was refused: HTTP {answer.status}")


def _query(connection: http.client.HTTPConnection, headers: dict[str, str], body: bytes) -> None:
    connection.request("POST", "/api/v1/exchange/query", body=body, headers=headers)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        raise RuntimeError(f"the hub answered HTTP {response.status}: {answer[:200]!r}")


def _callgrind_control(option: str, pid: int) -> None:
    subprocess.run(["callgrind_control", option, str(pid)], check=True, stdout=subprocess.DEVNULL, timeout=600)


def _dumped_instructions(out_file: Path, dump: int) -> int:
    content = Path(f"{out_file}.{dump}").read_text(encoding="utf-8", errors="replace")
    found = _TOTALS.search(content)
    if found is None:
        raise RuntimeError(f"no totals in {out_file}.{dump}")
    return int(found.group(1))


@dataclass(frozen=True)
class Window:
    """Instructions counted between switching instrumentation on and off, and the seconds that took."""

    instructions: int
    seconds: float


def _counted(pid: int, out_file: Path, dump: int, work: Callable[[], None]) -> Window:
    started = time.monotonic()
    _callgrind_control("--instr=on", pid)
    work()
    _callgrind_control("--instr=off", pid)
    seconds = time.monotonic() - started
    _callgrind_control("--dump", pid)
    return Window(_dumped_instructions(out_file, dump), seconds)


def _round(url: str, pid: int, *, token: str, queries: int, warmup: int, idle_s: float, out_file: Path,
           dump: int) -> tuple[Window, Window]:
    """The window of `queries` queries, then a window of `idle_s` seconds without any."""
    headers = {"Authorization": f"Bearer {token}", "X-Operator-Id": "bench", "Content-Type": "application/json",
               "Accept-Encoding": "identity"}
    body = json.dumps({"subject": {"code": SUBJECT, "type": "001"}, "items": [ITEM], "matter": MATTER,
                       "purpose": "开餐馆一件事：核验企业登记状态", "case_number": "BENCH-1"},
                      ensure_ascii=False).encode()
    port = int(url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        for _ in range(warmup):
            _query(connection, headers, body)
        busy = _counted(pid, out_file, dump, lambda: [_query(connection, headers, body) for _ in range(queries)])
    finally:
        connection.close()
    idle = _counted(pid, out_file, dump + 1, lambda: time.sleep(idle_s))
    return busy, idle


def _per_query(busy: Window, idle: Window, queries: int) -> float:
    """The busy window's instructions less what the hub spends per second anyway (the idle window's rate)."""
    return (busy.instructions - idle.instructions / idle.seconds * busy.seconds) / queries


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench hub_instructions")
    parser.add_argument("--queries", type=int, default=200, help="queries counted per round")
    parser.add_argument("--warmup", type=int, default=100, help="queries before each round, not counted")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=20.0,
                        help="length of each round's window without queries, which gives the per-second rate")
    parser.add_argument("--profile-dir", type=Path, default=None, help="keep the callgrind dumps here")
    parser.add_argument("--database-url", default=os.environ.get("CERTHUB_BENCH_DATABASE_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis-url", default=os.environ.get("CERTHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    options = parser.parse_args(args)
    if (not 1 <= options.queries <= 100_000 or not 0 <= options.warmup <= 100_000 or not 1 <= options.rounds <= 20
            or not 1 <= options.idle_seconds <= 600):
        parser.error("queries 1..100000, warmup 0..100000, rounds 1..20, idle-seconds 1..600")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        parser.error("valgrind and callgrind_control are needed (Debian: apt-get install valgrind)")

    schema = f"certhub_bench_{secrets.token_hex(3)}"
    admin = create_db_engine(options.database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = schema_url(options.database_url, schema)
    spawn = multiprocessing.get_context("spawn")
    ports = spawn.Queue()
    provider = spawn.Process(target=_run_provider, args=(ports, 0.0), daemon=True)
    provider.start()
    hub = hub_log = None
    try:
        provider_url = f"http://127.0.0.1:{ports.get(timeout=30)}"
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(secret_key=SECRET, data_dir=data_dir, registry_id=REGISTRY_ID, database_url=database_url)
            client_id, client_secret = _prepare(database_url, settings)
            adapters_file = Path(data_dir) / "adapters.yaml"
            # JSON is YAML: the same binding as bench.exchange's.
            adapters_file.write_text(json.dumps({"http": [{
                "name": "amr_enterprise", "url": provider_url + "/enterprises/{subject}", "records": "/data",
                "fields": {key: f"/{key}" for key in FIELDS}, "retries": {"attempts": 1},
            }]}), encoding="utf-8")
            profile_dir = options.profile_dir or Path(data_dir) / "callgrind"
            profile_dir.mkdir(parents=True, exist_ok=True)
            out_file = (profile_dir / "callgrind.out").resolve()
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            hub_log = (profile_dir / "hub.log").open("wb")
            hub = subprocess.Popen(
                _hub_command(port, out_file), cwd=REPO_ROOT, stdout=hub_log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "CERTHUB_DATABASE_URL": database_url,
                     "CERTHUB_REDIS_URL": options.redis_url, "CERTHUB_SECRET_KEY": SECRET,
                     "CERTHUB_DATA_DIR": data_dir, "CERTHUB_REGISTRY_ID": REGISTRY_ID,
                     "CERTHUB_ADAPTERS_FILE": str(adapters_file),
                     # Rate limits guard a real deployment; the benchmark counts work, not refusals.
                     "CERTHUB_RATE_LIMIT_PER_MINUTE": "1000000000", "CERTHUB_DAILY_QUOTA": "1000000000000",
                     # Work done per second, not per query (see the docstring), out of the window.
                     **_TIMED_WORK_ASIDE})
            _wait_until_serving(hub, url)
            _agree(url, _token(url, client_id, client_secret))
            windows = []
            for number in range(options.rounds):
                # A token per round: a slow round must not outlive the token's ten minutes.
                token = _token(url, client_id, client_secret)
                windows.append(_round(url, hub.pid, token=token, queries=options.queries, warmup=options.warmup,
                                      idle_s=options.idle_seconds, out_file=out_file, dump=2 * number + 1))
    finally:
        stop(hub)
        if hub_log is not None:
            hub_log.close()
        provider.terminate()
        provider.join(5)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=False).stdout.strip()
    per_query = [_per_query(busy, idle, options.queries) for busy, idle in windows]
    return {
        "instructions_per_query_m": [round(n / 1e6, 3) for n in per_query],
        "median_m": round(statistics.median(per_query) / 1e6, 3),
        "spread_percent": round((max(per_query) - min(per_query)) * 100 / statistics.median(per_query), 2),
        # Before the idle rate is taken off, and the rate itself: what the correction weighed.
        "raw_per_query_m": [round(busy.instructions / options.queries / 1e6, 3) for busy, _ in windows],
        "idle_per_second_m": [round(idle.instructions / idle.seconds / 1e6, 3) for _, idle in windows],
        "seconds_per_query": [round(busy.seconds / options.queries, 3) for busy, _ in windows],
        "reference": "the same script on the commit to compare with (instructions do not depend on the machine's load)",
        "setup": {"queries": options.queries, "warmup": options.warmup, "rounds": options.rounds,
                  "idle_seconds": options.idle_seconds,
                  "commit": commit, "workers": 1, "provider_service_ms": 0, "database": "postgresql",
                  "cache": "redis", "accept_encoding": "identity"},
        "profile_dir": str(options.profile_dir) if options.profile_dir else None,
    }
