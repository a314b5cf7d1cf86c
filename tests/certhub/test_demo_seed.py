"""`certhub demo` seeds demo holders with licences in every status, once,
and a new user can open the wallet of the holder the banner names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from certhub.app import create_app
from certhub.cli import app as cli
from certhub.db import create_db_engine, create_sessionmaker
from certhub.demo.seed import HOLDERS_FILE, holder_code, prepare_demo
from certhub.settings import Settings
from exchange.auditlog import log_origin, publish_checkpoint
from identity.codes import validate_uscc
from identity.holder_auth import validate_citizen_id
from registry.models import Licence
from storage.cache import InProcessCache

pytestmark = pytest.mark.slow  # seeds the whole demo


def test_demo_seeds_holders_once_and_their_wallet_opens(tmp_path, monkeypatch):
    for name in ("CERTHUB_DATABASE_URL", "CERTHUB_SECRET_KEY", "CERTHUB_DEMO", "CERTHUB_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "demo"
    first = CliRunner().invoke(cli, ["demo", "--prepare-only", "--data-dir", str(data_dir)], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "demo licences: 10 new" in first.output
    holders = yaml.safe_load(HOLDERS_FILE.read_text(encoding="utf-8"))["holders"]
    login = next(h for h in holders if h.get("wallet_login"))
    assert holder_code(login) in first.output and "/api/v1/holders/dev-login" in first.output

    settings = Settings(demo=True, data_dir=data_dir)
    again = prepare_demo(settings)
    assert again.summary.endswith("demo licences: 0 new") and again.holder.code == holder_code(login)

    engine = create_db_engine(settings.effective_database_url)
    try:
        with create_sessionmaker(engine)() as session:
            licences = session.scalars(select(Licence).order_by(Licence.id)).all()
            _check_statuses(licences, holders)
            publish_checkpoint(session=session, key_secret=settings.secret_bytes(),
                               origin=log_origin(settings.registry_id))
            session.commit()
        _check_wallet(create_app(settings, engine=engine, cache=InProcessCache()), again.holder, holders)
    finally:
        engine.dispose()


def _check_statuses(licences: list[Licence], holders: list[dict]) -> None:
    assert len(licences) == sum(len(h["licences"]) for h in holders) == 10
    for entry in holders:
        code = holder_code(entry)
        # Real, well-formed codes: a citizen ID passes GB 11643, the company's USCC GB 32100.
        if entry["code_type"] == "111":
            assert validate_citizen_id(code) == code
        else:
            assert validate_uscc(code) == code
    statuses = sorted(licence.status for licence in licences)
    assert statuses == ["expired", "revoked", "suspended"] + ["valid"] * 7
    assert [licence.current_version for licence in licences if licence.current_version > 1] == [2]
    soon = datetime.now(UTC).date() + timedelta(days=30)
    assert any(x.status == "valid" and x.valid_until is not None and x.valid_until <= soon for x in licences)
    assert {x.type_code for x in licences} >= {"11100000175689532F001", "11100000032316376T001",
                                                "11100000464367345J001"}


def _check_wallet(application, holder, holders: list[dict]) -> None:
    with TestClient(application) as client:
        session = client.post("/api/v1/holders/dev-login", json={
            "holder_code": holder.code, "holder_code_type": holder.code_type, "name": holder.name})
        assert session.status_code == 200, session.text
        headers = {"Authorization": f"Bearer {session.json()['session_token']}"}
        wallet = client.get("/api/v1/holders/me/licences", headers=headers)
        assert wallet.status_code == 200, wallet.text
        rows = wallet.json()
        login = next(h for h in holders if h.get("wallet_login"))
        assert len(rows) == len(login["licences"])
        assert {r["status"] for r in rows} == {"valid", "expired"}
        assert {r["type_name"] for r in rows} >= {"居民身份证", "机动车驾驶证"}
        expiring = client.get("/api/v1/holders/me/licences/expiring?days=30", headers=headers).json()
        assert len(expiring) == 1
