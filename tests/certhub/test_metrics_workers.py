"""`certhub serve --workers 2`: /metrics adds up every worker's counts.

Each worker writes its counts to files under the data directory's
``prometheus/`` (prometheus-client's multiprocess mode, the directory made
fresh by `serve`); the worker answering the scrape reads them all. Many
requests on new connections are spread by the kernel over both workers,
and the scrape counts every one of them, whichever worker answered.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from catalog.service import document
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from certhub.demo.seed import CATALOG_FILE
from identity import clients
from tests.adapters.loopback import free_port
from tests.environment import REPO_ROOT
from tests.processes import stop_process

pytestmark = pytest.mark.slow  # two worker processes started

REQUESTS = 60
POLICE = "11350100831900827D"  # a department of the demo catalog, the scraping client's


def _scraping_client(database_url: str) -> tuple[str, str]:
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        session = create_sessionmaker(engine)()
        with session, session.begin():
            document.load(session=session, document=document.parse_yaml(CATALOG_FILE.read_bytes()))
            new = clients.create(session=session, department_code=POLICE, name="prometheus", scopes=["metrics:read"])
        return new.client_id, new.client_secret
    finally:
        engine.dispose()


def _healthz_count(text: str) -> float:
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "certhub_http_requests_total" and sample.labels.get("route") == "/healthz")


def test_a_scrape_counts_the_requests_of_every_worker(tmp_path: Path):
    database_url = f"sqlite:///{tmp_path / 'certhub.sqlite3'}"
    scraper = _scraping_client(database_url)
    stale = tmp_path / "prometheus" / "counter_999999.db"  # a previous run's file: removed by serve
    stale.parent.mkdir()
    stale.write_bytes(b"not a metrics file")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CERTHUB_", "PROMETHEUS_", "OTEL_"))},
           "PYTHONPATH": str(REPO_ROOT), "CERTHUB_DATA_DIR": str(tmp_path), "CERTHUB_DATABASE_URL": database_url,
           "CERTHUB_SECRET_KEY": secrets.token_urlsafe(48), "CERTHUB_REGISTRY_ID": "https://registry.test"}
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from certhub.cli import main; main()", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "2"], cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    answered = 0
    try:
        deadline = time.monotonic() + 120
        while answered == 0:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the workers did not start within 120 s"
            try:
                answered += httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.2)
        for _ in range(REQUESTS):  # each on a new connection: the kernel hands them to either worker
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
            answered += 1
        token = httpx.post(f"{base}/api/v1/oauth/token", auth=scraper, timeout=10,
                           data={"grant_type": "client_credentials", "scope": "metrics:read"}).json()["access_token"]
        scrape = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert scrape.status_code == 200, scrape.text
        assert _healthz_count(scrape.text) == answered
        assert "certhub_database_up 1.0" in scrape.text
        files = list((tmp_path / "prometheus").iterdir())
        assert not stale.exists()
        assert len({path.stem.rsplit("_", 1)[-1] for path in files}) >= 2, files  # both workers wrote there
    finally:
        stop_process(process)
