"""The text container: our Base45 decoder agrees with the base45 package, and zlib is bounded."""

from __future__ import annotations

import random

import base45
import pytest

from signing.qr import QrVerificationError
from signing.qr.container import inflate, split_prefix, unbase45, wrap


def _package(text: str) -> bytes | None:
    try:
        return base45.b45decode(text)
    except ValueError:
        return None


def _ours(text: str) -> bytes | None:
    try:
        return unbase45(text)
    except QrVerificationError as error:
        assert error.code == "base45_invalid"
        return None


def test_round_trips_through_the_package_encoder():
    rng = random.Random(45)
    for length in range(300):
        data = rng.randbytes(length)
        assert unbase45(base45.b45encode(data).decode()) == data


@pytest.mark.parametrize("text", ["abc", "GGW", "::", ":::", "A", "ÄÖÜ", "00\x00", "U7"])
def test_text_that_is_not_base45_is_refused_with_its_code(text):
    assert _package(text) is None
    assert _ours(text) is None


def test_rfc_9285_examples():
    # SPEC: RFC 9285 §4.3
    assert unbase45("BB8") == b"AB"
    assert unbase45("%69 VD92EX0") == b"Hello!!"
    assert unbase45("UJCLQE7W581") == b"base-45"
    assert unbase45("QED8WEX0") == b"ietf!"
    with pytest.raises(QrVerificationError):
        unbase45("GGW")


def test_wrap_and_unwrap():
    text = wrap(b"\xd2\x84" + b"x" * 50)
    prefix, body = split_prefix(text)
    assert prefix == "EL1:" and inflate(unbase45(body)) == b"\xd2\x84" + b"x" * 50
