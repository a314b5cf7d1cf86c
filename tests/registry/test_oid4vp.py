"""certhub as an OpenID4VP verifier: a hotel registered for five claims of the 居住证 asks for
two; the holder's wallet (tests/registry/oid4vp_wallet.py, written from the specs with the sd-jwt
reference library) presents them; certhub verifies and hands the hotel exactly those two, once,
and the holder sees the use. Each way a presentation must fail is refused with its reason."""

from __future__ import annotations

import pytest

from certhub.settings import Settings
from tests.factories.catalog import CITY_SAMR, MATTER
from tests.factories.licences import (
    REGISTRY_ID,
    RESIDENCE_PERMIT,
    build_world,
    business_licence_body,
    citizen_id,
    holder_headers,
    issue_residence_permit_through_the_api,
    publish_log_checkpoint,
    token_headers,
)
from tests.factories.relying_parties import BANK, HOTEL, HOTEL_PURPOSE, dcql, register_relying_party
from tests.factories.settings import TEST_SECRET
from tests.registry.oid4vp_wallet import TestWallet

ALICE = citizen_id("35010219900101123")
VCT = f"{REGISTRY_ID}/vct/{RESIDENCE_PERMIT}"
REGISTERED = ["holder_name", "address", "identifier", "issue_date", "valid_until"]
ASKED = ("holder_name", "address")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True)


@pytest.fixture
def licence(client, db_session):
    build_world(db_session)
    return issue_residence_permit_through_the_api(client, db_session, holder_code=ALICE)


@pytest.fixture
def hotel(client, db_session, licence):
    return register_relying_party(client, db_session, allowed={RESIDENCE_PERMIT: REGISTERED})


@pytest.fixture
def wallet(client, licence) -> TestWallet:
    wallet = TestWallet(client, registry_id=REGISTRY_ID)
    wallet.take_licence(licence["identifier"], holder_headers=holder_headers(client, code=ALICE))
    return wallet


def _ask(client, party, *names: str, vct: str = VCT):
    created = client.post("/api/v1/oid4vp/requests", json={"dcql_query": dcql(vct, *names)}, headers=party.headers)
    assert created.status_code == 201, created.text
    return created.json()


def _result(client, party, request_id: str) -> dict:
    answer = client.get(f"/api/v1/oid4vp/requests/{request_id}", headers=party.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_hotel_asks_for_two_of_five_claims_and_receives_exactly_those(client, hotel, wallet, licence):
    asked = _ask(client, hotel, *ASKED)
    assert asked["authorization_request_uri"].startswith("openid4vp://?client_id=")
    assert _result(client, hotel, asked["request_id"])["status"] == "pending"
    offer = wallet.open(asked["authorization_request_uri"])
    # What the wallet shows the holder before they approve: who, why, exactly which claims.
    assert offer.request["client_metadata"]["client_name"] == "榕城大酒店"
    assert offer.request["client_metadata"]["purpose"] == HOTEL_PURPOSE
    assert offer.claims_asked == {"licence": ["address", "holder_name"]}
    answer = wallet.respond(offer, wallet.presentation(offer))
    assert answer.status_code == 200, answer.text
    result = _result(client, hotel, asked["request_id"])
    assert result["status"] == "verified"
    credential = result["credentials"]["licence"]
    assert credential["claims"] == {"holder_name": "张三", "address": "福州市鼓楼区五四路1号"}
    assert credential["vct"] == VCT and credential["status"] == "valid" and credential["key_bound_at"]
    assert credential["issuer"]["department_code"] == CITY_SAMR and credential["issuer"]["registry_id"] == REGISTRY_ID


def test_the_presentation_is_a_use_in_the_holders_records(client, db_session, hotel, wallet, licence):
    _, answer = wallet.present(_ask(client, hotel, *ASKED)["authorization_request_uri"])
    assert answer.status_code == 200, answer.text
    publish_log_checkpoint(db_session)  # the holder's list is proven up to a checkpoint
    records = client.get("/api/v1/holders/me/use-records", headers=holder_headers(client, code=ALICE))
    assert records.status_code == 200, records.text
    uses = [r["record"] for r in records.json()["records"] if r["record"]["kind"] == "credential_presentation"]
    assert len(uses) == 1, records.json()
    use = uses[0]
    assert use["department"] == HOTEL and use["basis"] == "holder_presented_credential"
    assert use["operator"] == hotel.client_id and use["subject"] == ALICE
    assert sorted(use["fields"]) == sorted(ASKED) and use["purpose"] == HOTEL_PURPOSE
    assert use["licence_ids"] == [licence["identifier"]]


def test_a_revoked_licence_is_refused(client, db_session, hotel, wallet, licence):
    city = token_headers(client, db_session, CITY_SAMR)
    revoked = client.post(f"/api/v1/licences/{licence['identifier']}/revoke", json={"reason": "吊销"}, headers=city)
    assert revoked.status_code == 200, revoked.text
    asked = _ask(client, hotel, *ASKED)
    _, answer = wallet.present(asked["authorization_request_uri"])
    assert answer.status_code == 400 and answer.json()["error"] == "revoked"
    result = _result(client, hotel, asked["request_id"])
    assert result["status"] == "refused" and result["error"] == "revoked" and "credentials" not in result


def test_a_replayed_presentation_is_refused(client, hotel, wallet):
    asked = _ask(client, hotel, *ASKED)
    offer = wallet.open(asked["authorization_request_uri"])
    presentation = wallet.presentation(offer)
    assert wallet.respond(offer, presentation).status_code == 200
    again = wallet.respond(offer, presentation)  # the same response twice
    assert again.status_code == 409 and again.json()["error"] == "replayed"
    assert _result(client, hotel, asked["request_id"])["status"] == "verified"  # the first answer stands
    # The same presentation against a new request: its nonce is the old one's.
    fresh = wallet.open(_ask(client, hotel, *ASKED)["authorization_request_uri"])
    replayed = wallet.respond(fresh, presentation)
    assert replayed.status_code == 400 and replayed.json()["error"] == "nonce_mismatch"


def test_a_presentation_meant_for_another_relying_party_is_refused(client, db_session, hotel, wallet):
    bank = register_relying_party(client, db_session, allowed={RESIDENCE_PERMIT: REGISTERED}, code=BANK,
                                  name="福州示例银行", purpose="开户：核验客户身份")
    asked = _ask(client, hotel, *ASKED)
    offer = wallet.open(asked["authorization_request_uri"])
    answer = wallet.respond(offer, wallet.presentation(offer, audience=bank.client_id))
    assert answer.status_code == 400 and answer.json()["error"] == "audience_mismatch"
    assert _result(client, hotel, asked["request_id"])["status"] == "refused"


def test_a_tampered_disclosure_is_refused(client, hotel, wallet):
    offer = wallet.open(_ask(client, hotel, *ASKED)["authorization_request_uri"])
    issuer_jwt, *disclosures, kb_jwt = wallet.presentation(offer).split("~")
    forged = TestWallet.forge_disclosure(disclosures[0], value="李四")
    answer = wallet.respond(offer, "~".join([issuer_jwt, forged, *disclosures[1:], kb_jwt]))
    assert answer.status_code == 400
    # The KB-JWT's sd_hash no longer matches either, but the forged disclosure is caught first.
    assert answer.json()["error"] == "disclosure_unreferenced"


def test_disclosing_more_than_asked_is_refused(client, hotel, wallet):
    offer = wallet.open(_ask(client, hotel, *ASKED)["authorization_request_uri"])
    answer = wallet.respond(offer, wallet.presentation(offer, disclose=[*ASKED, "identifier"]))
    assert answer.status_code == 400 and answer.json()["error"] == "disclosure_mismatch"


def test_a_party_cannot_ask_beyond_its_registration(client, hotel):
    beyond = client.post("/api/v1/oid4vp/requests", json={"dcql_query": dcql(VCT, "holder_name", "holder_code")},
                         headers=hotel.headers)
    assert beyond.status_code == 403 and beyond.json()["error"] == "claims_not_allowed"
    other_type = client.post("/api/v1/oid4vp/requests", json={"dcql_query": dcql(f"{REGISTRY_ID}/vct/X1", "name")},
                             headers=hotel.headers)
    assert other_type.status_code == 403


def test_a_query_certhub_does_not_evaluate_is_refused_not_ignored(client, hotel):
    query = dcql(VCT, "holder_name")
    query["credential_sets"] = [{"options": [["licence"]]}]
    answer = client.post("/api/v1/oid4vp/requests", json={"dcql_query": query}, headers=hotel.headers)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_dcql"
    no_claims = dcql(VCT)
    answer = client.post("/api/v1/oid4vp/requests", json={"dcql_query": no_claims}, headers=hotel.headers)
    assert answer.status_code == 422


def test_another_partys_request_and_an_answered_request_are_not_found(client, db_session, hotel, wallet):
    asked = _ask(client, hotel, *ASKED)
    bank = register_relying_party(client, db_session, allowed={RESIDENCE_PERMIT: REGISTERED}, code=BANK,
                                  name="福州示例银行", purpose="开户：核验客户身份")
    assert client.get(f"/api/v1/oid4vp/requests/{asked['request_id']}", headers=bank.headers).status_code == 404
    wallet.present(asked["authorization_request_uri"])
    request_path = asked["request_uri"].removeprefix(REGISTRY_ID)
    assert client.get(request_path).status_code == 404  # answered: no wallet fetches it again


def test_the_counter_receives_only_the_matters_fields_under_the_issuers_signature(client, db_session, licence):
    """Point 4: the counter asks for the matter's fields (the catalog's list: the required face
    fields of each licence the matter needs); the wallet discloses just those; certhub checks the
    issuer's signature and the status, and the counter sees only them."""
    city = token_headers(client, db_session, CITY_SAMR)
    body = business_licence_body()
    issued = client.post("/api/v1/licences", json=body, headers=city)
    assert issued.status_code == 201, issued.text
    publish_log_checkpoint(db_session)
    company = body["holder"]["code"]
    wallet = TestWallet(client, registry_id=REGISTRY_ID)
    wallet.take_licence(issued.json()["identifier"], holder_headers=holder_headers(client, code=company, code_type="001"))
    counter = token_headers(client, db_session, CITY_SAMR, scopes=("presentation:redeem",))
    asked = client.post("/api/v1/oid4vp/counter-requests", json={"matter_code": MATTER, "purpose": "开办餐饮店"},
                        headers=counter)
    assert asked.status_code == 201, asked.text
    offer = wallet.open(asked.json()["authorization_request_uri"])
    assert offer.claims_asked == {"business_licence": ["name", "uscc"]}  # the type's required fields, no more
    assert offer.request["client_metadata"]["purpose"] == "开办餐饮店"
    answer = wallet.respond(offer, wallet.presentation(offer))
    assert answer.status_code == 200, answer.text
    result = client.get(f"/api/v1/oid4vp/requests/{asked.json()['request_id']}", headers=counter).json()
    credential = result["credentials"]["business_licence"]
    assert credential["claims"] == {"uscc": company, "name": body["face"]["name"]}
    assert credential["status"] == "valid" and credential["issuer"]["department_code"] == CITY_SAMR
    assert credential["issuer"]["es_id"]  # the seal whose key signed it, found in the trust list
