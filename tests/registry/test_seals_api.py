"""The seal administration API and the published trust list, end to end:
what a department's system and an offline verifier see."""

import base64
import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from catalog.service import document
from identity import clients
from registry.setup import ensure_signing_anchors, root_public_key
from signing import service as signing_service
from signing.errors import NotAuthorized, VerificationError
from signing.sealed import SealSignature, verify_sealed_record
from signing.seals.gbt38540 import verify_seal_file
from signing.trustlist import TrustList
from signing.truststore import TrustStore
from tests.factories.catalog import (
    BUSINESS_LICENCE,
    CITY_SAMR,
    COUNTY_CENTRE,
    FOOD_LICENCE,
    PROVINCE_SAMR,
    catalog_mapping,
)
from tests.factories.settings import TEST_SECRET

REGISTRY_ID = "https://registry.test"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2035, 1, 1, tzinfo=UTC)


@pytest.fixture
def anchors(db_session):
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    made = ensure_signing_anchors(session=db_session, key_secret=TEST_SECRET.encode(), maker_name="福建省电子印章制作中心")
    db_session.commit()
    return made


def _auth(client, db_session, department, scopes=("seal:admin",)):
    new = clients.create(session=db_session, department_code=department, name="seal admin", scopes=list(scopes))
    db_session.commit()
    token = client.post(
        "/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(new.client_id, new.client_secret)
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _create(client, headers, **overrides):
    body = {
        "seal_type": "电子证照专用章",
        "licence_type_codes": [BUSINESS_LICENCE, FOOD_LICENCE],
        "valid_from": START.isoformat(),
        "valid_to": END.isoformat(),
        **overrides,
    }
    response = client.post("/api/v1/seals", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _trust_store(client, anchors):
    store = TrustStore()
    store.pin_root(registry_id=REGISTRY_ID, root_public_key=root_public_key(anchors.root_public_key_der_b64))
    store.add_json(client.get("/.well-known/certhub/trust-list").content)
    return store


def test_trust_list_needs_initialisation(client, db_session):
    response = client.get("/.well-known/certhub/trust-list")
    assert response.status_code == 503
    assert "certhub signing init" in response.json()["message"]


def test_ensure_signing_anchors_is_idempotent(db_session, anchors):
    again = ensure_signing_anchors(session=db_session, key_secret=TEST_SECRET.encode(), maker_name="x")
    assert not again.created and again.root_kid == anchors.root_kid


def test_create_seal_draws_a_picture_and_a_verifiable_seal_file(client, db_session, anchors):
    headers = _auth(client, db_session, CITY_SAMR)
    seal = _create(client, headers)
    assert seal["owner_department_code"] == CITY_SAMR
    assert seal["name"].startswith("福州市市场监督管理局")
    assert [k["status"] for k in seal["keys"]] == ["active"]
    picture = Image.open(io.BytesIO(client.get(f"/api/v1/seals/{seal['es_id']}/picture.png").content))
    assert picture.format == "PNG" and picture.width >= 96
    parsed = verify_seal_file(client.get(f"/api/v1/seals/{seal['es_id']}/seal.esl").content)
    assert parsed is not None


def test_uploaded_picture_is_used_and_resigned(client, db_session, anchors):
    headers = _auth(client, db_session, CITY_SAMR)
    png = io.BytesIO()
    Image.new("RGBA", (200, 200), (200, 0, 0, 255)).save(png, format="PNG")
    seal = _create(client, headers, picture_png_base64=base64.b64encode(png.getvalue()).decode())
    assert client.get(f"/api/v1/seals/{seal['es_id']}/picture.png").content == png.getvalue()
    other = io.BytesIO()
    Image.new("RGBA", (240, 240), (180, 0, 0, 255)).save(other, format="PNG")
    response = client.put(
        f"/api/v1/seals/{seal['es_id']}/picture.png", content=other.getvalue(),
        headers={**headers, "Content-Type": "image/png"},
    )
    assert response.status_code == 200, response.text
    assert client.get(f"/api/v1/seals/{seal['es_id']}/picture.png").content == other.getvalue()
    verify_seal_file(client.get(f"/api/v1/seals/{seal['es_id']}/seal.esl").content)


def test_a_bad_picture_is_refused(client, db_session, anchors):
    headers = _auth(client, db_session, CITY_SAMR)
    body = {"seal_type": "公章", "licence_type_codes": ["*"], "valid_from": START.isoformat(),
            "valid_to": END.isoformat(), "picture_png_base64": base64.b64encode(b"not a png").decode()}
    response = client.post("/api/v1/seals", json=body, headers=headers)
    assert response.status_code == 422


def test_only_the_owner_manages_its_seal(client, db_session, anchors):
    owner = _auth(client, db_session, CITY_SAMR)
    stranger = _auth(client, db_session, COUNTY_CENTRE)
    seal = _create(client, owner)
    for path, body in [("revoke", {"reason": "x"}), ("suspend", {}), ("rotate", {})]:
        response = client.post(f"/api/v1/seals/{seal['es_id']}/{path}", json=body, headers=stranger)
        assert response.status_code == 403, path


@pytest.mark.slow
def test_creating_for_another_department_needs_catalog_admin(client, db_session, anchors):
    city = _auth(client, db_session, CITY_SAMR)
    body = {"seal_type": "公章", "licence_type_codes": ["*"], "valid_from": START.isoformat(),
            "valid_to": END.isoformat(), "owner_department": COUNTY_CENTRE}
    assert client.post("/api/v1/seals", json=body, headers=city).status_code == 403
    platform = _auth(client, db_session, PROVINCE_SAMR, scopes=("seal:admin", "catalog:admin"))
    response = client.post("/api/v1/seals", json=body, headers=platform)
    assert response.status_code == 201 and response.json()["owner_department_code"] == COUNTY_CENTRE


@pytest.mark.slow
def test_trust_list_round_trips_and_reflects_the_lifecycle(client, db_session, anchors, settings):
    headers = _auth(client, db_session, CITY_SAMR)
    seal = _create(client, headers)
    first = TrustList.from_json(
        client.get("/.well-known/certhub/trust-list").content,
        root_public_key=root_public_key(anchors.root_public_key_der_b64),
    )
    assert first.seal(seal["es_id"]).status == "active"

    rotated = client.post(f"/api/v1/seals/{seal['es_id']}/rotate", json={}, headers=headers).json()
    assert [k["status"] for k in rotated["keys"]] == ["retired", "active"]
    client.post(f"/api/v1/seals/{seal['es_id']}/suspend", json={"reason": "印章保管人员变更"}, headers=headers)
    suspended = TrustList.from_json(
        client.get("/.well-known/certhub/trust-list").content,
        root_public_key=root_public_key(anchors.root_public_key_der_b64),
    )
    assert suspended.sequence > first.sequence
    assert suspended.seal(seal["es_id"]).status == "suspended"
    client.post(f"/api/v1/seals/{seal['es_id']}/resume", headers=headers)
    revoked = client.post(
        f"/api/v1/seals/{seal['es_id']}/revoke", json={"reason": "私钥泄露"}, headers=headers
    ).json()
    assert revoked["status"] == "revoked"
    last = TrustList.from_json(
        client.get("/.well-known/certhub/trust-list").content,
        root_public_key=root_public_key(anchors.root_public_key_der_b64),
    )
    assert last.seal(seal["es_id"]).status == "revoked"


def test_a_record_sealed_here_verifies_offline_with_the_published_trust_list(client, db_session, anchors):
    headers = _auth(client, db_session, CITY_SAMR)
    seal = _create(client, headers)
    record = {"licence_type_code": BUSINESS_LICENCE, "holder_name": "福州闽味餐饮管理有限公司", "version": 1}
    signature = signing_service.sign_record(
        session=db_session, es_id=seal["es_id"], record=record, licence_type_code=BUSINESS_LICENCE,
        acting_department_code=CITY_SAMR, registry_id=REGISTRY_ID, key_secret=TEST_SECRET.encode(),
    )
    db_session.commit()
    store = _trust_store(client, anchors)
    parsed = SealSignature.from_json(signature.to_json())
    assert verify_sealed_record(record=record, signature=parsed, trust=store) == record
    with pytest.raises(VerificationError) as failure:
        verify_sealed_record(record={**record, "version": 2}, signature=parsed, trust=store)
    assert failure.value.code == "signature_invalid"


def test_cross_level_authorization_lets_the_province_sign(client, db_session, anchors):
    city = _auth(client, db_session, CITY_SAMR)
    seal = _create(client, city)
    grant = client.post(
        f"/api/v1/seals/{seal['es_id']}/authorizations",
        json={"grantee_department": PROVINCE_SAMR, "licence_type_codes": [BUSINESS_LICENCE],
              "valid_from": START.isoformat(), "valid_to": (START + timedelta(days=3650)).isoformat()},
        headers=city,
    )
    assert grant.status_code == 201, grant.text
    record = {"licence_type_code": BUSINESS_LICENCE, "holder_name": "某公司"}
    signing_service.sign_record(
        session=db_session, es_id=seal["es_id"], record=record, licence_type_code=BUSINESS_LICENCE,
        acting_department_code=PROVINCE_SAMR, registry_id=REGISTRY_ID, key_secret=TEST_SECRET.encode(),
    )
    revoked = client.post(
        f"/api/v1/seals/{seal['es_id']}/authorizations/{grant.json()['id']}/revoke", headers=city
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    with pytest.raises(NotAuthorized):
        signing_service.sign_record(
            session=db_session, es_id=seal["es_id"], record=record, licence_type_code=BUSINESS_LICENCE,
            acting_department_code=PROVINCE_SAMR, registry_id=REGISTRY_ID, key_secret=TEST_SECRET.encode(),
        )


def test_seal_endpoints_need_the_scope(client, db_session, anchors):
    headers = _auth(client, db_session, CITY_SAMR, scopes=("licence:issue",))
    body = {"seal_type": "公章", "licence_type_codes": ["*"], "valid_from": START.isoformat(), "valid_to": END.isoformat()}
    assert client.post("/api/v1/seals", json=body, headers=headers).status_code == 403
    assert client.get("/api/v1/seals/nope").status_code == 404
