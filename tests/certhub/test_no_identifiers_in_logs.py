"""No log line of a served certhub carries a personal identifier, and every
line is a JSON object (the format `certhub serve` writes by default), one
access line per request with its route template and request id.

`certhub serve --log-level debug` runs in a process of its own on loopback
(the demo catalog, demo mode for the holders' sign-in, the access log on)
and a full flow goes through it over HTTP: a licence issued, the holder's
sign-in, consent, use records and a 亮证 code redeemed at a counter, an
exchange query, a 免证办 plan, the auditor's search, a holder's records and
an export, and bad requests that put a holder's code in the URL anyway (the
old GET forms, a code in a path, percent-encoded). Then every line the
process wrote until it stopped, on standard output and standard error, is
scanned for anything shaped like a citizen ID number (GB 11643) or a USCC
(GB 32100), and for the holders' codes.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest
from uvicorn.logging import AccessFormatter

from catalog.service import departments, document
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from certhub.demo.seed import CATALOG_FILE
from certhub.logs import MaskIdentifiers, mask_identifiers
from certhub.settings import Settings
from identity import clients
from identity.codes import citizen_id_check_character, uscc_check_character
from registry.setup import ensure_signing_anchors
from signing import service as signing_service
from tests.adapters.loopback import free_port
from tests.environment import DATABASE_BACKENDS, REPO_ROOT, drop_schema, server_database
from tests.processes import stop_process

pytestmark = pytest.mark.slow  # a full flow through a served process

# Written out here, not taken from certhub.logs: the test checks the mask, it does not share it.
CITIZEN_ID_SHAPE = r"[0-9]{17}[0-9Xx]"
USCC_SHAPE = r"[0-9A-HJ-NPQRTUWXY]{18}"
IDENTIFIER = re.compile(rf"(?<![0-9A-Za-z])(?:{CITIZEN_ID_SHAPE}|{USCC_SHAPE})(?![0-9A-Za-z])")

POLICE = "11350100831900827D"  # 福州市公安局: issues the proof, has the matter
CRIMINAL_RECORD_PROOF = "11100000175689532F003"  # 无犯罪记录证明
MATTER = "11350100831900827D1000106001"  # 个人无犯罪记录证明开具
HOLDER_FIRST17 = "35010219920517301"
HOLDER = HOLDER_FIRST17 + citizen_id_check_character(HOLDER_FIRST17)
COMPANY_FIRST17 = "91350102MA2Y8K7W3"
COMPANY = COMPANY_FIRST17 + uscc_check_character(COMPANY_FIRST17)
OPERATOR = "clerk-log-1"


@dataclass
class Served:
    base_url: str
    log: Path
    process: subprocess.Popen
    auditor: tuple[str, str]
    police: tuple[str, str]

    def stop(self) -> None:
        """Stop the server as an operator would (SIGTERM), its last lines written."""
        stop_process(self.process)

    def token(self, client: tuple[str, str], scope: str) -> str:
        answer = httpx.post(f"{self.base_url}/api/v1/oauth/token", auth=client,
                            data={"grant_type": "client_credentials", "scope": scope})
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    def as_department(self, client: tuple[str, str], scope: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, headers={
            "Authorization": f"Bearer {self.token(client, scope)}", "X-Operator-Id": OPERATOR})

    def as_holder(self, code: str, name: str) -> httpx.Client:
        answer = httpx.post(f"{self.base_url}/api/v1/holders/dev-login",
                            json={"holder_code": code, "holder_code_type": "111", "name": name})
        assert answer.status_code == 200, answer.text
        return httpx.Client(base_url=self.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {answer.json()['session_token']}"})


def _prepare(settings: Settings) -> tuple[tuple[str, str], tuple[str, str]]:
    """The demo catalog, the signing anchors, the police's seal and two API
    clients (the police's system, an auditor's); no holders yet."""
    engine = create_db_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        session = create_sessionmaker(engine)()
        with session, session.begin():
            document.load(session=session, document=document.parse_yaml(CATALOG_FILE.read_bytes()))
            key_secret = settings.secret_bytes()
            ensure_signing_anchors(session=session, key_secret=key_secret, maker_name="福建省电子印章制作中心")
            signing_service.create_seal(
                session=session, owner_department_code=POLICE, department_name=departments.get_or_raise(
                    session=session, code=POLICE).name, seal_type="电子证照专用章",
                licence_type_codes=[CRIMINAL_RECORD_PROOF], valid_from=datetime(2025, 1, 1, tzinfo=UTC),
                valid_to=datetime(2035, 1, 1, tzinfo=UTC), key_secret=key_secret)
            police = clients.create(session=session, department_code=POLICE, name="公安业务系统 (log test)",
                                    scopes=["licence:issue", "exchange:query", "presentation:redeem"])
            auditor = clients.create(session=session, department_code=POLICE, name="审计 (log test)",
                                     scopes=["audit:read"])
        return (police.client_id, police.client_secret), (auditor.client_id, auditor.client_secret)
    finally:
        engine.dispose()


def _wait_until_serving(process: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited while starting: {log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{base_url}/log/checkpoint", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not publish a checkpoint within 90 s")


@pytest.fixture(params=DATABASE_BACKENDS)
def served(request, tmp_path) -> Iterator[Served]:
    database_url, schema = server_database(request.param, tmp_path, prefix="certhub_logs")
    env = {"CERTHUB_DEMO": "true", "CERTHUB_DATA_DIR": str(tmp_path), "CERTHUB_DATABASE_URL": database_url,
           "CERTHUB_REGISTRY_ID": "https://registry.test", "CERTHUB_AUDITLOG_CHECKPOINT_INTERVAL_SECONDS": "1"}
    settings = Settings(demo=True, data_dir=tmp_path, database_url=database_url, registry_id="https://registry.test")
    police, auditor = _prepare(settings)
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from certhub.cli import main; main()", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "debug", "--access-log"],
            cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("CERTHUB_")},
                 "PYTHONPATH": str(REPO_ROOT), **env},
        )
    server = Served(base_url=f"http://127.0.0.1:{port}", log=log, process=process, auditor=auditor, police=police)
    try:
        _wait_until_serving(process, server.base_url, log)
        yield server
    finally:
        server.stop()
        if schema is not None:
            drop_schema(schema)


def _issue_proof(police: httpx.Client) -> str:
    face = {"proof_number": "FZGA-2025-0077001", "name": "陈雨桐", "sex": "女", "id_type": "居民身份证",
            "id_number": HOLDER, "result": "未发现有犯罪记录", "issuing_authority": "福州市公安局",
            "issue_date": date.today().isoformat()}
    answer = police.post("/api/v1/licences", json={
        "type_code": CRIMINAL_RECORD_PROOF, "holder": {"name": "陈雨桐", "code": HOLDER, "code_type": "111"},
        "operator": OPERATOR, "face": face})
    assert answer.status_code == 201, answer.text
    return answer.json()["identifier"]


TRACED_REQUEST_ID = "log-test-query-0001"


def _full_flow(served: Served) -> None:
    police = served.as_department(served.police, "licence:issue exchange:query presentation:redeem")
    auditor = served.as_department(served.auditor, "audit:read")
    identifier = _issue_proof(police)

    holder = served.as_holder(HOLDER, "陈雨桐")
    assert holder.get("/api/v1/holders/me/licences").status_code == 200
    consent = holder.post("/api/v1/holders/me/consents",
                          json={"department": POLICE, "matter": MATTER, "items": [CRIMINAL_RECORD_PROOF]})
    assert consent.status_code == 201, consent.text

    query = police.post("/api/v1/exchange/query", json={
        "subject": {"code": HOLDER, "type": "111"}, "matter": MATTER, "purpose": "开具无犯罪记录证明",
        "case_number": "FZ-LOG-1", "items": [CRIMINAL_RECORD_PROOF]}, headers={"X-Request-Id": TRACED_REQUEST_ID})
    assert query.status_code == 200, query.text
    assert query.headers["X-Request-Id"] == TRACED_REQUEST_ID
    plan = police.post(f"/api/v1/matters/{MATTER}/plan", json={
        "subject": {"code": HOLDER, "type": "111"}, "purpose": "开具无犯罪记录证明", "case_number": "FZ-LOG-1"})
    assert plan.status_code == 200, plan.text

    code = holder.post("/api/v1/presentations", json={"licences": [identifier], "disclosure": "masked"})
    assert code.status_code == 201, code.text
    redeem = {"qr_text": code.json()["qr_text"], "operator_id": OPERATOR, "matter_code": MATTER,
              "purpose": "窗口核验无犯罪记录证明"}
    assert police.post("/api/v1/presentations/redeem", json=redeem).status_code == 200
    assert police.post("/api/v1/presentations/redeem", json=redeem).status_code == 409  # used once
    assert holder.get("/api/v1/holders/me/use-records").status_code == 200

    assert auditor.post("/api/v1/audit/checkpoint").status_code == 200
    found = auditor.post("/api/v1/audit/records/search", json={"subject": HOLDER, "limit": 50})
    assert found.status_code == 200 and found.json()["records"], found.text
    assert auditor.post("/api/v1/audit/subjects/records", json={"subject": HOLDER}).status_code == 200
    assert auditor.post("/api/v1/audit/export", json={"subject": HOLDER}).status_code == 200
    assert auditor.post("/api/v1/audit/records/search", json={"subject": COMPANY}).status_code == 200

    # Bad requests: a code where it does not belong, in a body and in URLs.
    bad_subject = HOLDER[:-1] + ("0" if HOLDER[-1] != "0" else "1")  # a wrong check character
    refused = police.post(f"/api/v1/matters/{MATTER}/plan", json={
        "subject": {"code": bad_subject, "type": "111"}, "purpose": "开具无犯罪记录证明", "case_number": "FZ-LOG-2"})
    assert refused.status_code == 422
    old_plan = {"subject": HOLDER, "subject_type": "111", "purpose": "开具", "case_number": "FZ-LOG-3"}
    assert police.get(f"/api/v1/matters/{MATTER}/plan", params=old_plan).status_code in (404, 405)
    assert auditor.get(f"/api/v1/audit/subjects/{HOLDER}/records").status_code == 404
    assert auditor.get("/api/v1/audit/records", params={"subject": COMPANY}).status_code in (404, 405)
    encoded = "".join(f"%{ord(ch):02X}" for ch in HOLDER)
    assert auditor.get(f"/api/v1/audit/export?subject={encoded}").status_code in (404, 405)
    assert police.get(f"/api/v1/licences/{HOLDER}").status_code in (404, 422)
    assert httpx.get(f"{served.base_url}/api/v1/catalog/departments/{COMPANY}").status_code == 404
    wrong_login = httpx.post(f"{served.base_url}/api/v1/holders/dev-login",
                             json={"holder_code": bad_subject, "holder_code_type": "111", "name": "陈雨桐"})
    assert wrong_login.status_code == 422, wrong_login.text
    for client in (police, auditor, holder):
        client.close()


@pytest.mark.slow
def test_no_log_line_names_a_holder(served):
    _full_flow(served)
    served.stop()
    lines = served.log.read_text(encoding="utf-8", errors="replace").splitlines()
    parsed = [json.loads(line) for line in lines]  # every line a JSON object
    requests = [line for line in parsed if line["logger"] == "certhub.access"]
    # The access log was on, one line per request by route template and with
    # its id, and the app's own lines were there too at debug.
    assert any(line["method"] == "POST" and line["route"] == "/api/v1/matters/{code}/plan" and line["status"] == 200
               for line in requests), lines[:50]
    assert all(line["request_id"] and "duration_ms" in line for line in requests)
    assert len({line["request_id"] for line in requests}) == len(requests)  # one line per request
    assert [line["route"] for line in requests if line["request_id"] == TRACED_REQUEST_ID] == [
        "/api/v1/exchange/query"]
    assert any("checkpoint published" in line["message"] for line in parsed), lines[:50]
    holders = (HOLDER, COMPANY)
    leaks = [line for line in lines
             if IDENTIFIER.search(line) or IDENTIFIER.search(unquote(line))
             or any(code in line or code in unquote(line) for code in holders)]
    assert leaks == []


def _emitted(logger_name: str, msg: str, *args, formatter: logging.Formatter | None = None, **kwargs) -> str:
    """What one handler of the served process's log config writes for one call."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or logging.Formatter("%(message)s"))
    handler.addFilter(MaskIdentifiers())
    logger = logging.Logger(logger_name)  # not registered: the test's own logging is untouched
    logger.addHandler(handler)
    logger.info(msg, *args, **kwargs)
    return stream.getvalue()


def test_the_access_line_keeps_its_format_with_the_code_masked():
    formatter = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    line = _emitted("uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                    f"/api/v1/audit/subjects/{HOLDER.lower()}/records?x={quote(COMPANY)}", "1.1", 404,
                    formatter=formatter)
    assert line == '127.0.0.1:5000 - "GET /api/v1/audit/subjects/3501**********301x/records?x=9135**********7W3G ' \
                   'HTTP/1.1" 404 Not Found\n'


def test_codes_in_arguments_numbers_and_tracebacks_are_masked():
    assert _emitted("adapters", "subject=%s n=%d", HOLDER, int(HOLDER[:-1] + "0")) == \
        "subject=3501**********301X n=3501**********3010\n"
    try:
        raise KeyError(COMPANY)
    except KeyError:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(MaskIdentifiers())
        logger = logging.Logger("certhub")
        logger.addHandler(handler)
        logger.exception("lookup failed for %s", quote("".join(f"%{ord(c):02X}" for c in HOLDER)))
    written = stream.getvalue()
    assert "9135**********7W3G" in written and "3501**********301X" in written
    assert not IDENTIFIER.search(written) and COMPANY not in written


def test_longer_codes_and_other_text_are_left_alone():
    text = (f"POST /api/v1/matters/{MATTER}/plan 1.2.156.3005.2.{CRIMINAL_RECORD_PROOF}.{POLICE}.000001.001.K "
            "request_hash=" + "ab" * 32 + " 12345678901234567 1234567890123456789")
    # The issuer's USCC inside a licence identifier is masked too: whatever is shaped like one is.
    assert mask_identifiers(text) == text.replace(f".{POLICE}.", ".1135**********827D.")


def test_a_decoded_request_line_cannot_forge_a_log_line():
    encoded = "".join(f"%{ord(ch):02X}" for ch in HOLDER)
    line = mask_identifiers(f'GET /x?a=%0D%0AINFO:%20forged%22&s={encoded} HTTP/1.1')
    assert line == 'GET /x?a=%0D%0AINFO: forged%22&s=3501**********301X HTTP/1.1'


@pytest.mark.slow
def test_no_route_takes_a_holders_code_in_its_url(app):
    # What a URL carries reaches the access log before a route could refuse it.
    holder_words = re.compile(r"subject|holder|principal|proxy|id_number|uscc|code$")
    thresholds = {"max_subjects", "subjects_window_min"}  # the anomaly flags' numbers, not codes
    catalog_codes = {"code", "type_code"}  # departments, licence types, matters: public catalog codes
    in_urls = {(path, method, parameter["name"])
               for path, methods in app.openapi()["paths"].items() for method, operation in methods.items()
               for parameter in operation.get("parameters", []) if parameter["in"] in ("path", "query")
               and holder_words.search(parameter["name"]) and parameter["name"] not in thresholds | catalog_codes}
    assert in_urls == set()
