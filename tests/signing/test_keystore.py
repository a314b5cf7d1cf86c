"""The KeyStore contract; every implementation runs these tests (today: the database store)."""

import pytest

from signing.algorithms import Algorithm
from signing.errors import InvalidInput, KeyDecryptionFailed, KeyNotFound
from signing.keys import generate_private_key
from signing.keystore import DatabaseKeyStore, KeyStore
from signing.models import SigningKey
from signing.statuses import KeyPurpose, KeyStatus
from tests.factories.signing import KEY_SECRET, at


@pytest.fixture(params=["database"])
def store(request, db_session) -> KeyStore:
    return DatabaseKeyStore(session=db_session, secret=KEY_SECRET)


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
