"""跨省互认 wired end to end: two certhub servers on loopback, each with its
own registry id and database. Registry A verifies a code registry B issued
once A recognises B (CERTHUB_RECOGNISED_REGISTRIES: B's trust-list URL and
pinned root key), answers `unknown_key` while it does not, and refuses B's
list when the pinned root is another key — even after it once held a good
copy. `certhub registries` shows and refreshes what A recognises."""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from catalog.service import document
from certhub.app import create_app
from certhub.cli import app as cli
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from certhub.recognition import Recognition, parse_root_key
from certhub.settings import Settings
from identity.codes import uscc_check_character
from registry.presentations.trust import RegistryTrust
from registry.service import documents, issue, lifecycle, reads
from registry.service.authority import Actor
from registry.setup import ensure_signing_anchors
from signing import service as signing_service
from signing.algorithms import Algorithm
from signing.keys import generate_private_key
from signing.qr import QrVerificationError, verify_qr
from tests.adapters.loopback import free_port
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, catalog_mapping
from tests.web.live import ServerThread

pytestmark = pytest.mark.slow  # other registries served over HTTP, waiting out refresh schedules

SEAL_START = datetime(2025, 1, 1, tzinfo=UTC)
SEAL_END = datetime(2035, 1, 1, tzinfo=UTC)
SECRET = "recognition-tests-key-encryption-secret-0123456789"
COMPANY = "福州闽味餐饮管理有限公司"
COMPANY_CODE = "91350100MA2XXXXX0"  # 17 characters: the check character is added


class Registry:
    """One registry: its own data directory, SQLite database, anchors and seal."""

    def __init__(self, tmp_path, name: str) -> None:
        self.name = name
        self.data_dir = tmp_path / name
        self.data_dir.mkdir()
        self.registry_id = f"https://{name}.registry.test"
        self.engine = create_db_engine(f"sqlite:///{self.data_dir / 'certhub.sqlite3'}")
        upgrade(self.engine)
        self.sessions = create_sessionmaker(self.engine)
        with self.sessions.begin() as session:
            document.load(session=session, document=document.parse_mapping(catalog_mapping()))
            anchors = ensure_signing_anchors(session=session, key_secret=SECRET.encode(), maker_name=f"{name} 制章中心")
            signing_service.create_seal(
                session=session, owner_department_code=CITY_SAMR, department_name="福州市市场监督管理局",
                seal_type="电子证照专用章", licence_type_codes=[BUSINESS_LICENCE], valid_from=SEAL_START,
                valid_to=SEAL_END, key_secret=SECRET.encode(),
            )
        self.root_key = anchors.root_public_key_der_b64
        self.server: ServerThread | None = None
        self.url = ""

    def settings(self, recognised: list[dict] | None = None) -> Settings:
        return Settings(secret_key=SECRET, data_dir=self.data_dir, registry_id=self.registry_id,
                        recognised_registries=recognised or [])

    def serve(self, recognised: list[dict] | None = None, *, port: int = 0) -> Registry:
        self.stop()
        self.server = ServerThread(create_app(self.settings(recognised)))
        self.server.server.config.port = port
        self.url = f"http://127.0.0.1:{self.server.start()}"
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def static_qr(self) -> str:
        """A printed licence's static QR, as this registry makes it."""
        code = COMPANY_CODE + uscc_check_character(COMPANY_CODE)
        with self.sessions.begin() as session:
            licence = issue.issue(
                session=session, actor=Actor(department_code=CITY_SAMR, operator="recognition-test"),
                signer=issue.Signer(registry_id=self.registry_id, key_secret=SECRET.encode()),
                request=issue.IssueRequest(
                    type_code=BUSINESS_LICENCE, holder_name=COMPANY, holder_code=code, holder_code_type="001",
                    face={"uscc": code, "name": COMPANY, "legal_rep": "张三丰", "kind": "有限责任公司",
                          "founded": date(2020, 5, 1).isoformat()}),
            )
            view = reads.LicenceView(
                licence=licence, version=lifecycle.current_version(session=session, licence=licence)
            )
            return documents.static_qr_text(session=session, view=view, registry_id=self.registry_id,
                                            key_secret=SECRET.encode())

    def verify(self, qr_text: str) -> dict:
        answer = httpx.post(f"{self.url}/api/v1/verify", json={"qr_text": qr_text}, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def close(self) -> None:
        self.stop()
        self.engine.dispose()


@pytest.fixture
def registries(tmp_path):
    fujian, guangdong = Registry(tmp_path, "fujian"), Registry(tmp_path, "guangdong")
    yield fujian, guangdong
    fujian.close()
    guangdong.close()


def _recognising(other: Registry, *, root_key: str | None = None) -> list[dict]:
    return [{"registry_id": other.registry_id, "trust_list_url": f"{other.url}/.well-known/certhub/trust-list",
             "root_key": root_key or other.root_key}]


def _registries_cli(monkeypatch, registry: Registry, recognised: list[dict], command: str):
    monkeypatch.setenv("CERTHUB_DATA_DIR", str(registry.data_dir))
    monkeypatch.setenv("CERTHUB_SECRET_KEY", SECRET)
    monkeypatch.setenv("CERTHUB_REGISTRY_ID", registry.registry_id)
    monkeypatch.setenv("CERTHUB_RECOGNISED_REGISTRIES", json.dumps(recognised))
    monkeypatch.delenv("CERTHUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("CERTHUB_DEMO", raising=False)
    return CliRunner().invoke(cli, ["registries", command], catch_exceptions=False)


def test_a_code_from_a_recognised_registry_verifies_and_only_then(registries, monkeypatch, caplog):
    fujian, guangdong = registries
    guangdong.serve()
    code = guangdong.static_qr()
    assert guangdong.verify(code)["valid"] is True  # at home

    unrecognised = fujian.serve().verify(code)
    assert (unrecognised["valid"], unrecognised["error"]) == (False, "unknown_key")

    recognised = _recognising(guangdong)
    answer = fujian.serve(recognised).verify(code)
    assert answer["valid"] is True, answer
    assert answer["issuer"] == guangdong.registry_id and answer["kind"] == "licence"
    assert answer["summary"]["issuer_code"] == CITY_SAMR
    shown = _registries_cli(monkeypatch, fujian, recognised, "list")
    assert shown.exit_code == 0, shown.output
    assert f"{guangdong.registry_id}  {guangdong.url}/.well-known/certhub/trust-list" in shown.output
    assert "recognised: trust list #" in shown.output

    # Pinned to another key (fujian's own root): the fetched list is refused and
    # logged, and the good copy fetched before no longer counts either.
    wrong = _recognising(guangdong, root_key=fujian.root_key)
    with caplog.at_level(logging.WARNING, logger="certhub.recognition"):
        refused = fujian.serve(wrong).verify(code)
    assert (refused["valid"], refused["error"]) == (False, "unknown_key")
    assert any("refused (trust_list_untrusted)" in r.getMessage() and guangdong.registry_id in r.getMessage()
               for r in caplog.records)
    shown = _registries_cli(monkeypatch, fujian, wrong, "refresh")
    assert shown.exit_code == 1
    assert "NOT recognised: trust_list_untrusted" in shown.output and "document_rejected" in shown.output


def test_a_registry_pinned_to_another_key_from_the_start_is_never_recognised(registries):
    fujian, guangdong = registries
    guangdong.serve()
    code = guangdong.static_qr()
    refused = fujian.serve(_recognising(guangdong, root_key=fujian.root_key)).verify(code)
    assert (refused["valid"], refused["error"]) == (False, "unknown_key")


def test_a_registry_down_at_start_up_is_recognised_at_a_later_refresh(registries):
    fujian, guangdong = registries
    port = free_port()
    guangdong.url = f"http://127.0.0.1:{port}"  # where it will serve; nothing listens yet
    recognised = _recognising(guangdong)
    recognised[0]["refresh_seconds"] = 1
    fujian.serve(recognised)  # the start-up fetch fails: logged, nothing recognised yet
    code = guangdong.static_qr()
    assert fujian.verify(code)["error"] == "unknown_key"
    guangdong.serve(port=port)
    deadline = time.monotonic() + 60
    while not (answer := fujian.verify(code))["valid"]:
        assert answer["error"] == "unknown_key"
        assert time.monotonic() < deadline, "the periodic refresh never recognised the registry"
        time.sleep(0.5)
    assert answer["issuer"] == guangdong.registry_id


def test_the_last_good_list_counts_until_it_expires(registries):
    fujian, guangdong = registries
    guangdong.serve()
    code = guangdong.static_qr()
    recognition = Recognition(fujian.settings(_recognising(guangdong)).recognised_registries)
    try:
        with fujian.sessions.begin() as session:
            assert recognition.refresh(session, now=datetime.now(UTC)) == {guangdong.registry_id: "updated"}
        guangdong.stop()  # from now on every fetch fails: the last good copy is what A has
        with fujian.sessions.begin() as session:
            assert recognition.refresh(session, now=datetime.now(UTC)) == {guangdong.registry_id: "failed"}
        trust = RegistryTrust(registry_id=fujian.registry_id, key_secret=SECRET.encode(),
                              sessionmaker=fujian.sessions, recognised=recognition.trust_lists)
        now = datetime.now(UTC)
        assert verify_qr(code, trust_store=trust.current(now=now).store, now=now).issuer == guangdong.registry_id
        later = now + timedelta(days=30)  # past the list's expiry and the verifier's grace
        with pytest.raises(QrVerificationError) as expired:
            verify_qr(code, trust_store=trust.current(now=later).store, now=later)
        assert expired.value.code == "unknown_key"
    finally:
        recognition.close()


def _a_root_key() -> str:
    return base64.b64encode(generate_private_key(Algorithm.ES256).public_key.spki_der).decode()


@pytest.mark.parametrize(("change", "named"), [
    ({}, None),
    ({"trust_list_url": "http://127.0.0.1:8000/.well-known/certhub/trust-list"}, None),  # loopback: http allowed
    ({"trust_list_url": "http://b.test/trust-list"}, "https URL"),
    ({"root_key": "bm90IGEga2V5"}, "root_key"),
    ({"registry_id": "https://a.test"}, "not this registry itself"),
])
def test_the_setting_refuses_plain_http_off_loopback_a_bad_key_or_itself(change, named, tmp_path):
    entry = {"registry_id": "https://b.test", "trust_list_url": "https://b.test/trust-list",
             "root_key": _a_root_key(), **change}
    if named is None:
        Settings(secret_key=SECRET, data_dir=tmp_path, registry_id="https://a.test", recognised_registries=[entry])
        return
    with pytest.raises(ValueError) as refused:
        Settings(secret_key=SECRET, data_dir=tmp_path, registry_id="https://a.test", recognised_registries=[entry])
    assert named in str(refused.value)


def test_root_keys_are_read_in_base64_and_base64url(registries):
    fujian, _ = registries
    standard = fujian.root_key
    url_safe = standard.replace("+", "-").replace("/", "_").rstrip("=")
    assert parse_root_key(standard) == parse_root_key(url_safe)


def test_no_recognised_registry_is_a_valid_configuration_not_an_error(registries, monkeypatch):
    fujian, _guangdong = registries
    for command in ("list", "refresh"):
        shown = _registries_cli(monkeypatch, fujian, [], command)
        assert shown.exit_code == 0, shown.output
        assert "no other registry is recognised" in shown.output
