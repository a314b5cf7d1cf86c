import dataclasses
import json
from datetime import timedelta

import pytest

from signing import service
from signing.algorithms import Algorithm
from signing.errors import VerificationError
from signing.keys import generate_private_key, load_public_key
from signing.statuses import AuthorizationStatus, KeyPurpose, KeyStatus, SealStatus
from signing.trust_entries import Suspension, TrustedAuthorization, TrustedKey, TrustedSeal
from signing.trustlist import TrustList, TrustListContent, sign_trust_list
from signing.truststore import TrustStore
from tests.factories.signing import KEY_SECRET, LICENCE_TYPE, OWNER, PROVINCE, REGISTRY_ID, T0, at


def _content(registry_id=REGISTRY_ID) -> tuple[TrustListContent, object]:
    seal_key = generate_private_key()
    key = TrustedKey(
        kid=seal_key.kid, public_key=seal_key.public_key, purpose=KeyPurpose.SEAL, es_id="abc123", owner=OWNER,
        valid_from=T0, status=KeyStatus.RETIRED, retired_at=at(days=1),
    )
    seal = TrustedSeal(
        es_id="abc123", name="福州市市场监督管理局电子证照专用章", seal_type="电子证照专用章", owner=OWNER,
        licence_type_codes=(LICENCE_TYPE,), valid_from=T0, valid_to=at(days=365), status=SealStatus.ACTIVE,
    )
    return TrustListContent(registry_id=registry_id, keys=(key,), seals=(seal,)), seal_key


def test_trust_list_json_round_trip():
    root = generate_private_key()
    content, _ = _content()
    signed = sign_trust_list(content=content, root_key=root, sequence=3, issued_at=T0)
    parsed = TrustList.from_json(signed.to_json(), root_public_key=root.public_key, now=at(days=1))
    assert parsed == signed
    assert parsed.to_json() == signed.to_json()
    assert parsed.sequence == 3 and parsed.registry_id == REGISTRY_ID


def test_default_expiry_is_seven_days_and_age_is_reported():
    root = generate_private_key()
    signed = sign_trust_list(content=_content()[0], root_key=root, sequence=1, issued_at=T0)
    assert signed.expires_at - signed.issued_at == timedelta(days=7)
    parsed = TrustList.from_json(signed.to_json(), root_public_key=root.public_key, now=at(days=2))
    assert parsed.age(now=at(days=2)) == timedelta(days=2)
    assert not parsed.is_expired(now=at(days=2))


def test_bad_signature_is_refused():
    root = generate_private_key()
    document = json.loads(sign_trust_list(content=_content()[0], root_key=root, sequence=1, issued_at=T0).to_json())
    document["payload"]["seals"][0]["status"] = "revoked"
    with pytest.raises(VerificationError) as caught:
        TrustList.from_json(json.dumps(document), root_public_key=root.public_key, now=T0)
    assert caught.value.code == "signature_invalid"


def test_list_signed_by_another_key_is_untrusted():
    signed = sign_trust_list(content=_content()[0], root_key=generate_private_key(), sequence=1, issued_at=T0)
    with pytest.raises(VerificationError) as caught:
        TrustList.from_json(signed.to_json(), root_public_key=generate_private_key().public_key, now=T0)
    assert caught.value.code == "trust_list_untrusted"


def test_expired_list_is_accepted_within_grace_and_refused_beyond():
    root = generate_private_key()
    signed = sign_trust_list(content=_content()[0], root_key=root, sequence=1, issued_at=T0)
    within = TrustList.from_json(signed.to_json(), root_public_key=root.public_key, now=at(days=7, hours=12))
    assert within.is_expired(now=at(days=7, hours=12))
    with pytest.raises(VerificationError) as caught:
        TrustList.from_json(signed.to_json(), root_public_key=root.public_key, now=at(days=8, hours=1))
    assert caught.value.code == "trust_list_expired"
    relaxed = TrustList.from_json(
        signed.to_json(), root_public_key=root.public_key, now=at(days=8, hours=1), grace=timedelta(days=3)
    )
    assert relaxed.sequence == 1


def test_malformed_trust_list():
    with pytest.raises(VerificationError) as caught:
        TrustList.from_json(b"[1, 2]", root_public_key=generate_private_key().public_key, now=T0)
    assert caught.value.code == "malformed"


def test_entry_with_a_kid_not_matching_its_key_is_malformed():
    root = generate_private_key()
    content, _ = _content()
    wrong = dataclasses.replace(content.keys[0], kid="AAAAAAAAAAA")
    signed = sign_trust_list(content=dataclasses.replace(content, keys=(wrong,)), root_key=root, sequence=1, issued_at=T0)
    with pytest.raises(VerificationError) as caught:
        TrustList.from_json(signed.to_json(), root_public_key=root.public_key, now=T0)
    assert caught.value.code == "malformed"


def test_trust_store_resolves_kids_across_registries():
    fujian_root, zhejiang_root = generate_private_key(), generate_private_key()
    fujian_content, fujian_key = _content("https://registry.fj.test")
    zhejiang_content, zhejiang_key = _content("https://registry.zj.test")
    store = TrustStore()
    store.pin_root(registry_id="https://registry.fj.test", root_public_key=fujian_root.public_key)
    store.pin_root(registry_id="https://registry.zj.test", root_public_key=zhejiang_root.public_key)
    store.add_json(sign_trust_list(content=fujian_content, root_key=fujian_root, sequence=1, issued_at=T0).to_json(), now=T0)
    store.add_json(sign_trust_list(content=zhejiang_content, root_key=zhejiang_root, sequence=1, issued_at=T0).to_json(), now=T0)
    assert store.registry_ids == ("https://registry.fj.test", "https://registry.zj.test")
    [resolved] = store.resolve_kid(zhejiang_key.kid)
    assert resolved.registry_id == "https://registry.zj.test"
    assert resolved.key.public_key == zhejiang_key.public_key
    assert store.resolve_kid(fujian_key.kid, registry_id="https://registry.zj.test") == []


def test_trust_store_refuses_list_under_another_registrys_root():
    fujian_root = generate_private_key()
    store = TrustStore()
    store.pin_root(registry_id="https://registry.fj.test", root_public_key=fujian_root.public_key)
    forged = sign_trust_list(content=_content("https://registry.zj.test")[0], root_key=fujian_root, sequence=1, issued_at=T0)
    with pytest.raises(VerificationError) as caught:
        store.add_json(forged.to_json(), now=T0)
    assert caught.value.code == "trust_list_untrusted"


def test_trust_store_refuses_rollback():
    root = generate_private_key()
    store = TrustStore()
    store.pin_root(registry_id=REGISTRY_ID, root_public_key=root.public_key)
    content = _content()[0]
    store.add_json(sign_trust_list(content=content, root_key=root, sequence=5, issued_at=T0).to_json(), now=T0)
    with pytest.raises(VerificationError) as caught:
        store.add_json(sign_trust_list(content=content, root_key=root, sequence=4, issued_at=T0).to_json(), now=T0)
    assert caught.value.code == "trust_list_rollback"


# --- from the database -------------------------------------------------------


def test_build_trust_list_from_the_database(db_session, seal, trust_root):
    trust_list = service.build_trust_list(
        session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(hours=1)
    )
    parsed = TrustList.from_json(trust_list.to_json(), root_public_key=trust_root.public_key, now=at(hours=2))
    assert parsed.sequence == 1
    assert parsed.seal(seal.es_id).licence_type_codes == (LICENCE_TYPE,)
    [seal_key] = [k for k in parsed.content.keys if k.es_id == seal.es_id]
    assert seal_key.owner == OWNER and seal_key.status == KeyStatus.ACTIVE
    purposes = sorted(k.purpose for k in parsed.content.keys)
    assert purposes == sorted([KeyPurpose.SEAL, KeyPurpose.SEAL_MAKER, KeyPurpose.TRUST_ROOT])


def test_trust_list_sequence_grows(db_session, seal, trust_root):
    first = service.build_trust_list(
        session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(hours=1)
    )
    second = service.build_trust_list(
        session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(hours=2)
    )
    assert (first.sequence, second.sequence) == (1, 2)


def test_trust_list_json_reuses_an_unchanged_fresh_list(db_session, seal, trust_root):
    first = service.trust_list_json(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(hours=1))
    again = service.trust_list_json(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(hours=2))
    assert again == first
    service.suspend_seal(session=db_session, es_id=seal.es_id, now=at(hours=3))
    changed = service.trust_list_json(
        session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(hours=4)
    )
    parsed = TrustList.from_json(changed, root_public_key=trust_root.public_key, now=at(hours=4))
    assert parsed.sequence == 2
    assert parsed.seal(seal.es_id).status == SealStatus.SUSPENDED


def test_trust_root_public_key_can_be_pinned_from_its_spki(db_session, seal, trust_root):
    pinned = load_public_key(trust_root.public_key.spki_der)
    data = service.trust_list_json(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(hours=1))
    assert TrustList.from_json(data, root_public_key=pinned, now=at(hours=1)).registry_id == REGISTRY_ID


def _full_entries():
    seal_key = generate_private_key(Algorithm.SM2)
    key = TrustedKey(
        kid=seal_key.kid, public_key=seal_key.public_key, purpose=KeyPurpose.SEAL, es_id="abc123", owner=OWNER,
        valid_from=T0, status=KeyStatus.REVOKED, revoked_at=at(days=2), compromised_at=at(days=1),
    )
    seal = TrustedSeal(
        es_id="abc123", name="福州市市场监督管理局电子证照专用章", seal_type="电子证照专用章", owner=OWNER,
        licence_type_codes=("*",), valid_from=T0, valid_to=at(days=365), status=SealStatus.SUSPENDED,
        suspensions=(Suspension(at(days=1), at(days=2)), Suspension(at(days=3), None)),
    )
    authorization = TrustedAuthorization(
        id=7, es_id="abc123", grantee=PROVINCE, licence_type_codes=(LICENCE_TYPE,), valid_from=T0,
        valid_to=at(days=30), status=AuthorizationStatus.REVOKED, revoked_at=at(days=4),
    )
    return key, seal, authorization


def test_trusted_key_dict_round_trip():
    key, _, _ = _full_entries()
    assert TrustedKey.from_dict(key.to_dict()) == key


def test_trusted_seal_dict_round_trip():
    _, seal, _ = _full_entries()
    assert TrustedSeal.from_dict(seal.to_dict()) == seal


def test_trusted_authorization_dict_round_trip():
    _, _, authorization = _full_entries()
    assert TrustedAuthorization.from_dict(authorization.to_dict()) == authorization


def test_full_trust_list_json_round_trip():
    root = generate_private_key(Algorithm.EDDSA)
    key, seal, authorization = _full_entries()
    content = TrustListContent(registry_id=REGISTRY_ID, keys=(key,), seals=(seal,), authorizations=(authorization,))
    signed = sign_trust_list(content=content, root_key=root, sequence=9, issued_at=T0, validity=timedelta(days=2))
    parsed = TrustList.from_json(signed.to_json(), root_public_key=[generate_private_key().public_key, root.public_key], now=T0)
    assert parsed == signed
    assert parsed.authorizations_for("abc123") == (authorization,)
