"""Which seal seals a new licence: the issuer's newest 电子证照专用章 by
default (so a new SM2 seal takes over, for the types it covers), or the one
the issuer names per issue (API, batch, bulk import, CLI) — and a clear
refusal for a seal that is not the issuer's, not usable or not for licences."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.imports.mapping import MappedRow
from certhub.cli import app as cli_app
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from registry.models import LicenceVersion
from registry.service import issue
from registry.service.authority import Actor, SealChoice
from registry.service.bulk import LicenceImporter
from signing import service as signing_service
from signing.sealed import SealSignature, verify_sealed_record
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, FOOD_LICENCE, PROVINCE_SAMR
from tests.factories.licences import (
    KEY_SECRET,
    REGISTRY_ID,
    RESIDENCE_PERMIT,
    SEAL_END,
    SEAL_START,
    build_world,
    business_licence_body,
    citizen_id,
    token_headers,
    trust_store,
)
from tests.factories.settings import TEST_SECRET

SIGNER = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
CITY = Actor(department_code=CITY_SAMR, operator="seal-test")


def new_seal(session, *, owner: str = CITY_SAMR, algorithm: str = "SM2", seal_type: str = "电子证照专用章",
             types=(BUSINESS_LICENCE, FOOD_LICENCE, RESIDENCE_PERMIT)):
    seal = signing_service.create_seal(
        session=session, owner_department_code=owner, department_name="福州市市场监督管理局", seal_type=seal_type,
        licence_type_codes=list(types), valid_from=SEAL_START, valid_to=SEAL_END, key_secret=KEY_SECRET,
        algorithm=algorithm,
    )
    session.commit()
    return seal


@pytest.fixture
def world(db_session):
    return build_world(db_session)


@pytest.fixture
def city(client, db_session, world):
    return token_headers(client, db_session, CITY_SAMR)


def _post(client, headers, **fields):
    return client.post("/api/v1/licences", json=business_licence_body(**fields), headers=headers)


def _sealed_by(response) -> tuple[str, str]:
    assert response.status_code == 201, response.text
    signature = response.json()["seal_signature"]
    return signature["es_id"], signature["alg"]


def test_a_new_seal_takes_over_by_default(client, db_session, world, city):
    _anchors, es256 = world
    assert _sealed_by(_post(client, city)) == (es256.es_id, "ES256")
    sm2 = new_seal(db_session)
    assert _sealed_by(_post(client, city)) == (sm2.es_id, "SM2")


def test_a_seal_made_for_one_type_takes_that_type_over_alone(client, db_session, world, city):
    anchors, es256 = world
    sm2 = new_seal(db_session, types=[FOOD_LICENCE])
    assert _sealed_by(_post(client, city)) == (es256.es_id, "ES256")
    food = client.post("/api/v1/licences", headers=city, json={
        "type_code": FOOD_LICENCE, "holder": business_licence_body()["holder"],
        "face": {"operator": "福州示例餐饮有限公司"}})
    assert _sealed_by(food) == (sm2.es_id, "SM2")
    body = food.json()
    assert verify_sealed_record(record=body["record"], signature=SealSignature.from_dict(body["seal_signature"]),
                                trust=trust_store(client, anchors)) == body["record"]


def test_the_issuer_names_the_seal_or_the_algorithm(client, db_session, world, city):
    _anchors, es256 = world
    sm2 = new_seal(db_session)
    assert _sealed_by(_post(client, city, seal=es256.es_id)) == (es256.es_id, "ES256")
    assert _sealed_by(_post(client, city, algorithm="ES256")) == (es256.es_id, "ES256")
    assert _sealed_by(_post(client, city, algorithm="SM2")) == (sm2.es_id, "SM2")
    assert _sealed_by(_post(client, city, seal=sm2.es_id, algorithm="SM2")) == (sm2.es_id, "SM2")


def test_an_authorized_department_names_the_issuers_seal(client, db_session, world):
    _anchors, es256 = world
    sm2 = new_seal(db_session)
    for seal in (es256, sm2):
        signing_service.authorize_cross_level(
            session=db_session,
            es_id=seal.es_id,
            grantor_department_code=CITY_SAMR,
            grantee_department_code=PROVINCE_SAMR,
            licence_type_codes=[BUSINESS_LICENCE],
            valid_from=SEAL_START,
            valid_to=SEAL_END,
        )
    db_session.commit()
    province = token_headers(client, db_session, PROVINCE_SAMR)
    assert _sealed_by(_post(client, province)) == (sm2.es_id, "SM2")
    assert _sealed_by(_post(client, province, seal=es256.es_id)) == (es256.es_id, "ES256")
    own = new_seal(db_session, owner=PROVINCE_SAMR)
    refused = _post(client, province, seal=own.es_id)
    assert (refused.status_code, refused.json()["error"]) == (403, "seal_not_issuers")


def _refusal(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


@pytest.mark.slow
def test_a_chosen_seal_must_be_the_issuers_active_e_licence_seal(client, db_session, world, city):
    _anchors, es256 = world
    assert _refusal(_post(client, city, seal="0" * 32)) == (422, "unknown_seal")
    foreign = new_seal(db_session, owner=PROVINCE_SAMR)
    assert _refusal(_post(client, city, seal=foreign.es_id)) == (403, "seal_not_issuers")
    official = new_seal(db_session, seal_type="公章")
    assert _refusal(_post(client, city, seal=official.es_id)) == (422, "seal_wrong_purpose")
    food_only = new_seal(db_session, types=[FOOD_LICENCE])
    assert _refusal(_post(client, city, seal=food_only.es_id)) == (422, "seal_wrong_purpose")
    assert _refusal(_post(client, city, seal=es256.es_id, algorithm="SM2")) == (422, "seal_algorithm_mismatch")
    assert _refusal(_post(client, city, algorithm="EdDSA")) == (409, "no_usable_seal")
    assert _post(client, city, algorithm="RSA").status_code == 422
    signing_service.suspend_seal(session=db_session, es_id=es256.es_id, reason="印章停用")
    db_session.commit()
    refused = _post(client, city, seal=es256.es_id)
    assert _refusal(refused) == (409, "seal_not_usable")
    assert "suspended" in refused.json()["message"]


def test_a_batch_seals_with_the_seal_or_algorithm_it_names(db_session, world):
    _anchors, es256 = world
    sm2 = new_seal(db_session)
    choices = [SealChoice(), SealChoice(es_id=es256.es_id), SealChoice(algorithm="ES256"), SealChoice(algorithm="SM2")]
    sealed = []
    for position, choice in enumerate(choices):
        importer = LicenceImporter(actor=CITY, type_code=RESIDENCE_PERMIT, source_system=f"batch-{position}",
                                   signer=SIGNER, seal=choice)
        [outcome] = importer.write_batch(session=db_session, rows=[_resident(position + 1)], run_key="run-1")
        sealed.append(db_session.scalar(select(LicenceVersion.es_id)
                                        .where(LicenceVersion.identifier == outcome.identifier)))
    assert sealed == [sm2.es_id, es256.es_id, es256.es_id, sm2.es_id]


def _resident(ordinal: int) -> MappedRow:
    return MappedRow(ordinal=ordinal, row=ordinal + 1, source_key=f"JZZ{ordinal:06d}", holder_name="张三",
                     holder_code=citizen_id(f"3501021990010{ordinal}123"), holder_code_type="111",
                     valid_from=date(2025, 1, 1), valid_until=date(2028, 1, 1), face={"address": "福州市鼓楼区五四路1号"})


@pytest.mark.slow
def test_a_bulk_import_seals_with_the_seal_it_names(db_session, world, client):
    anchors, es256 = world
    sm2 = new_seal(db_session)
    importer = LicenceImporter(actor=CITY, type_code=RESIDENCE_PERMIT, source_system="legacy", signer=SIGNER,
                               seal=SealChoice(es_id=es256.es_id))
    outcomes = importer.write_batch(session=db_session, rows=[_resident(1), _resident(2)], run_key="run-1")
    default = LicenceImporter(actor=CITY, type_code=RESIDENCE_PERMIT, source_system="legacy-2", signer=SIGNER)
    outcomes += default.write_batch(session=db_session, rows=[_resident(3)], run_key="run-2")
    db_session.commit()
    versions = [db_session.scalar(select(LicenceVersion).where(LicenceVersion.identifier == o.identifier))
                for o in outcomes]
    assert [v.es_id for v in versions] == [es256.es_id, es256.es_id, sm2.es_id]
    store = trust_store(client, anchors)
    for version in versions:
        verify_sealed_record(record=version.record, signature=SealSignature.from_json(version.signature), trust=store)
    refused = LicenceImporter(actor=CITY, type_code=RESIDENCE_PERMIT, source_system="legacy-3", signer=SIGNER,
                              seal=SealChoice(algorithm="EdDSA"))
    with pytest.raises(Exception) as no_seal:
        refused.write_batch(session=db_session, rows=[_resident(4)], run_key="run-3")
    assert getattr(no_seal.value, "code", None) == "no_usable_seal"


@pytest.mark.slow
def test_the_cli_bulk_issue_takes_seal_and_algorithm(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'certhub.sqlite3'}"
    engine = create_db_engine(url)
    upgrade(engine)
    with create_sessionmaker(engine)() as session:
        _anchors, es256 = build_world(session)
        es256_id = es256.es_id
        sm2_id = new_seal(session).es_id
    monkeypatch.setenv("CERTHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CERTHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("CERTHUB_REGISTRY_ID", REGISTRY_ID)
    monkeypatch.delenv("CERTHUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("CERTHUB_DEMO", raising=False)
    source = tmp_path / "residents.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source_key", "holder_name", "holder_code", "valid_from", "valid_until", "address"])
        writer.writerow(["JZZ1", "李四", citizen_id("35010219900101123"), "2025-01-01", "2028-12-31", "福州市鼓楼区1号"])
    runner = CliRunner()

    def bulk_issue(*extra: str):
        return runner.invoke(cli_app, ["licences", "issue", "--csv", str(source), "--type", RESIDENCE_PERMIT,
                                       "--issuer", CITY_SAMR, *extra], catch_exceptions=False)

    refused = bulk_issue("--seal", "f" * 32)
    assert refused.exit_code == 2 and "unknown_seal" in refused.output
    bad = bulk_issue("--algorithm", "RSA")
    assert bad.exit_code == 2 and "algorithm" in bad.output
    done = bulk_issue("--seal", es256_id, "--source-system", "a")
    assert done.exit_code == 0, done.output
    done = bulk_issue("--algorithm", "SM2", "--source-system", "b")
    assert done.exit_code == 0, done.output
    with create_sessionmaker(engine)() as session:
        sealed = session.scalars(select(LicenceVersion.es_id).order_by(LicenceVersion.id)).all()
    engine.dispose()
    assert sealed == [es256_id, sm2_id]
