"""The KeyStore contract; both drivers run these tests: the software
envelope (`DatabaseKeyStore`) and the PKCS#11 token (`TokenKeyStore` on a
SoftHSM2 token initialised for the run, tests/softhsm.py)."""

import pytest

from signing.algorithms import Algorithm
from signing.errors import InvalidInput, KeyDecryptionFailed, KeyNotFound
from signing.hsm import KeySecret, TokenError, TokenPrivateKey, parse_object_id
from signing.keys import generate_private_key
from signing.keystore import DatabaseKeyStore, KeyStore, TokenKeyStore, open_key_store
from signing.models import SigningKey
from signing.statuses import KeyPurpose, KeyStatus
from tests.factories.signing import KEY_SECRET, at

# What each purpose signs with (docs/keys.md): seals in any algorithm; the
# registry-wide keys in ES256 by default; EdDSA as the log's checkpoints use it.
PURPOSE_ALGORITHMS = [
    (KeyPurpose.TRUST_ROOT, Algorithm.ES256),
    (KeyPurpose.TRUST_ROOT, Algorithm.EDDSA),
    (KeyPurpose.SEAL, Algorithm.ES256),
    (KeyPurpose.SEAL, Algorithm.EDDSA),
    (KeyPurpose.SEAL, Algorithm.SM2),
    (KeyPurpose.SEAL_MAKER, Algorithm.SM2),
    (KeyPurpose.PRESENTATION, Algorithm.ES256),
    (KeyPurpose.STATUS_LIST, Algorithm.ES256),
]


@pytest.fixture(params=["software", "softhsm2"])
def store(request, db_session) -> KeyStore:
    if request.param == "software":
        return DatabaseKeyStore(session=db_session, secret=KEY_SECRET)
    token = request.getfixturevalue("softhsm_token")
    return open_key_store(session=db_session, secret=KeySecret(KEY_SECRET.encode(), token=token))


@pytest.mark.parametrize(("purpose", "algorithm"), PURPOSE_ALGORITHMS)
def test_generate_get_list_sign_verify(store, purpose, algorithm):
    stored = store.generate(algorithm=algorithm, purpose=purpose, created_at=at(hours=1))
    assert (stored.purpose, stored.status, stored.created_at) == (purpose, KeyStatus.ACTIVE, at(hours=1))
    assert stored.public_key.algorithm == algorithm and stored.kid == stored.public_key.kid
    assert [k.handle for k in store.get(kid=stored.kid)] == [stored.handle]
    assert stored.handle in [k.handle for k in store.list(purpose=purpose, status=KeyStatus.ACTIVE)]
    key = store.private_key(handle=stored.handle)
    assert key.kid == stored.kid
    signature = key.sign(b"licence bytes")
    assert stored.public_key.verify(b"licence bytes", signature)
    assert not stored.public_key.verify(b"licence bytez", signature)
    retired = store.set_status(handle=stored.handle, status=KeyStatus.RETIRED, at=at(hours=2))
    assert (retired.status, retired.retired_at) == (KeyStatus.RETIRED, at(hours=2))
    assert stored.public_key.verify(b"again", store.private_key(handle=stored.handle).sign(b"again"))


@pytest.mark.parametrize("algorithm", [Algorithm.ES256, Algorithm.EDDSA])
def test_signatures_have_the_software_keys_form(store, algorithm):
    """ES256 is raw r||s (what CKM_ECDSA returns, and ES256PrivateKey), EdDSA 64 bytes: callers see no difference."""
    stored = store.generate(algorithm=algorithm, purpose=KeyPurpose.SEAL)
    signature = store.private_key(handle=stored.handle).sign(b"x")
    reference = generate_private_key(algorithm).sign(b"x")
    assert len(signature) == len(reference) == 64


@pytest.mark.parametrize("algorithm", [Algorithm.ES256, Algorithm.EDDSA])
def test_token_keys_are_made_in_the_token_and_never_leave_it(softhsm_token, db_session, algorithm):
    store = TokenKeyStore(session=db_session, secret=KEY_SECRET, token=softhsm_token)
    stored = store.generate(algorithm=algorithm, purpose=KeyPurpose.SEAL)
    row = db_session.get(SigningKey, stored.handle)
    assert row.encrypted_private_key is None and row.token_object == stored.token_object
    protection = softhsm_token.protection(parse_object_id(stored.token_object))
    assert protection == {"sensitive": True, "extractable": False, "always_sensitive": True, "never_extractable": True}
    key = store.private_key(handle=stored.handle)
    assert isinstance(key, TokenPrivateKey)
    with pytest.raises(TokenError):
        key.secret_bytes()
    with pytest.raises(TokenError):  # so no envelope can be made of it either
        DatabaseKeyStore(session=db_session, secret=KEY_SECRET).put(key=key, purpose=KeyPurpose.SEAL)


def test_the_token_refuses_to_reveal_a_key_value(softhsm_token, db_session):
    """Asked directly through PKCS#11 (C_GetAttributeValue on CKA_VALUE), the token refuses: the key is sensitive."""
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import AttributeSensitive

    stored = TokenKeyStore(session=db_session, secret=KEY_SECRET, token=softhsm_token).generate(
        algorithm=Algorithm.ES256, purpose=KeyPurpose.STATUS_LIST
    )
    with softhsm_token._lock:
        private = softhsm_token._open().get_key(object_class=ObjectClass.PRIVATE_KEY, id=parse_object_id(stored.token_object))
        with pytest.raises(AttributeSensitive):
            private[Attribute.VALUE]


def test_sm2_stays_in_software_in_a_token_store(softhsm_token, db_session, caplog):
    store = TokenKeyStore(session=db_session, secret=KEY_SECRET, token=softhsm_token)
    with caplog.at_level("WARNING", logger="certhub.signing.keys"):
        stored = store.generate(algorithm=Algorithm.SM2, purpose=KeyPurpose.SEAL_MAKER)
    row = db_session.get(SigningKey, stored.handle)
    assert row.token_object is None and row.encrypted_private_key is not None
    assert "kept in the software envelope: the PKCS#11 token has no SM2 mechanism" in caplog.text


def test_a_software_store_refuses_a_token_key_clearly(softhsm_token, db_session):
    stored = TokenKeyStore(session=db_session, secret=KEY_SECRET, token=softhsm_token).generate(
        algorithm=Algorithm.ES256, purpose=KeyPurpose.SEAL
    )
    with pytest.raises(KeyNotFound, match="CERTHUB_KEY_TOKEN_MODULE"):
        DatabaseKeyStore(session=db_session, secret=KEY_SECRET).private_key(handle=stored.handle)


def test_a_token_store_still_opens_software_envelopes(softhsm_token, db_session):
    """Keys made before the deployment moved to a token keep signing."""
    before = DatabaseKeyStore(session=db_session, secret=KEY_SECRET).generate(algorithm=Algorithm.ES256, purpose=KeyPurpose.SEAL)
    key = TokenKeyStore(session=db_session, secret=KEY_SECRET, token=softhsm_token).private_key(handle=before.handle)
    assert before.public_key.verify(b"x", key.sign(b"x"))


def test_a_row_pointing_at_another_token_key_fails_closed(softhsm_token, db_session):
    store = TokenKeyStore(session=db_session, secret=KEY_SECRET, token=softhsm_token)
    first = store.generate(algorithm=Algorithm.ES256, purpose=KeyPurpose.SEAL)
    second = store.generate(algorithm=Algorithm.ES256, purpose=KeyPurpose.SEAL)
    db_session.get(SigningKey, second.handle).token_object = first.token_object
    db_session.flush()
    with pytest.raises(KeyNotFound):
        store.private_key(handle=second.handle)


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_put_then_get_by_kid(store, algorithm):
    key = generate_private_key(algorithm)
    stored = store.put(key=key, purpose=KeyPurpose.SEAL)
    [found] = store.get(kid=key.kid)
    assert found == stored
    assert found.public_key == key.public_key and found.status == KeyStatus.ACTIVE
    assert store.private_key(handle=found.handle).sign(b"x") and key.public_key.verify(
        b"x", store.private_key(handle=found.handle).sign(b"x")
    )


def test_get_returns_every_key_with_the_kid(store, db_session):
    first = store.put(key=generate_private_key(), purpose=KeyPurpose.SEAL)
    second = store.put(key=generate_private_key(), purpose=KeyPurpose.SEAL)
    # Force a collision: 8-byte kids can collide, the store must not assume uniqueness.
    db_session.get(SigningKey, second.handle).kid = first.kid
    db_session.flush()
    assert [k.handle for k in store.get(kid=first.kid)] == [first.handle, second.handle]


def test_get_unknown_kid_is_empty(store):
    assert store.get(kid="AAAAAAAAAAA") == []


def test_list_filters_by_purpose_and_status(store):
    root = store.put(key=generate_private_key(), purpose=KeyPurpose.TRUST_ROOT)
    seal_key = store.put(key=generate_private_key(), purpose=KeyPurpose.SEAL)
    store.set_status(handle=seal_key.handle, status=KeyStatus.RETIRED, at=at(hours=1))
    assert [k.handle for k in store.list(purpose=KeyPurpose.TRUST_ROOT)] == [root.handle]
    assert [k.handle for k in store.list(status=KeyStatus.RETIRED)] == [seal_key.handle]


def test_set_status_records_times(store):
    stored = store.put(key=generate_private_key(), purpose=KeyPurpose.SEAL)
    revoked = store.set_status(handle=stored.handle, status=KeyStatus.REVOKED, at=at(hours=2), compromised_at=at(hours=1))
    assert (revoked.status, revoked.revoked_at, revoked.compromised_at) == (KeyStatus.REVOKED, at(hours=2), at(hours=1))
    with pytest.raises(InvalidInput):
        store.set_status(handle=stored.handle, status=KeyStatus.ACTIVE, at=at(hours=3))


def test_private_key_needs_the_right_secret(store, db_session):
    stored = store.put(key=generate_private_key(), purpose=KeyPurpose.SEAL)
    wrong = DatabaseKeyStore(session=db_session, secret=KEY_SECRET + "-wrong")
    with pytest.raises(KeyDecryptionFailed):
        wrong.private_key(handle=stored.handle)


def test_unknown_handle(store):
    with pytest.raises(KeyNotFound):
        store.private_key(handle=999_999)


@pytest.mark.slow
def test_private_keys_are_encrypted_at_rest(store, db_session):
    key = generate_private_key(Algorithm.EDDSA)
    stored = store.put(key=key, purpose=KeyPurpose.SEAL)
    row = db_session.get(SigningKey, stored.handle)
    assert key.secret_bytes() not in row.encrypted_private_key
    assert row.created_at.tzinfo is not None
