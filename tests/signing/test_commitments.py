"""Salted commitments to disclosed values (signing.commitments): the digest
is SHA-256 over the RFC 8785 bytes of [salt, value]; a fresh 128-bit salt
per value; only the same value with the same salt, in the same place, opens it."""

from __future__ import annotations

import hashlib

import pytest

from signing import commitments
from signing.errors import InvalidInput

SALT = "00112233445566778899aabbccddeeff"


def test_the_digest_is_sha256_of_the_canonical_salted_array():
    # Written out by hand, not produced by signing.canonical: members sorted, no spaces, UTF-8.
    expected_bytes = '["00112233445566778899aabbccddeeff",{"n":1,"name":"张三","tags":["a",null,true]}]'.encode()
    value = {"tags": ["a", None, True], "name": "张三", "n": 1}
    assert commitments.digest_of(value, salt=SALT) == hashlib.sha256(expected_bytes).hexdigest()


def test_each_value_gets_a_fresh_salt_and_opens_only_its_own_digest():
    values = [{"name": "张三"}, {"name": "张三"}, "男"]
    made = commitments.commit(values)
    assert len({c.salt for c in made}) == 3 and len({c.digest for c in made}) == 3  # equal values, unlinkable digests
    salts, digests = [c.salt for c in made], [c.digest for c in made]
    assert commitments.matches(values=values, salts=salts, digests=digests)
    assert not commitments.matches(values=[{"name": "李四"}, *values[1:]], salts=salts, digests=digests)
    assert not commitments.matches(values=values[::-1], salts=salts[::-1], digests=digests)  # out of place
    assert not commitments.matches(values=values[:2], salts=salts[:2], digests=digests)  # one left out
    assert not commitments.matches(values=values, salts=[SALT, *salts[1:]], digests=digests)
    assert not commitments.matches(values=values, salts=["not hex", *salts[1:]], digests=digests)
    assert not commitments.matches(values=values, salts=salts, digests=[d.upper() for d in digests])


def test_bad_salts_and_too_many_values_are_refused():
    for salt in ("", SALT[:-2], SALT.upper(), SALT + "00", 16):
        with pytest.raises(InvalidInput):
            commitments.digest_of("x", salt=salt)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        commitments.commit(["x"] * (commitments.MAX_ITEMS + 1))
    with pytest.raises(InvalidInput):
        commitments.digest_of(float("nan"), salt=SALT)  # JSON cannot carry it exactly
