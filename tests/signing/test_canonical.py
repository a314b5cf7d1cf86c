import random

import pytest
import rfc8785

from signing.canonical import canonical_json, canonical_json_reference
from signing.errors import InvalidInput

ALPHABET = (
    "abcXYZ09 _-/:.\"\\\b\f\n\r\t\x00\x01\x1f\x7f\u00e9\u2028\u2029福州市监督局证照"
    "\U0001f600\U00020000\ue000\uffff"
)


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 7, 2**53 - 1, -(2**53 - 1), rng.randint(-10**9, 10**9)])
    if kind == 3:
        return rng.choice([0.5, 1e21, 1e-7, -0.0, 123.456, 1.0, 5e-324, rng.random()])
    if kind == 4:
        return _text(rng)
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


@pytest.mark.slow
def test_canonical_json_matches_rfc8785_on_generated_records():
    rng = random.Random(8785)
    for _ in range(3000):
        value = _value(rng)
        assert canonical_json(value) == rfc8785.dumps(value), repr(value)


def test_keys_outside_the_bmp_sort_by_utf16_code_units():
    # U+1F600 is D83D DE00 in UTF-16, which sorts before U+E000 although its code point is larger.
    value = {"\ue000": 1, "\U0001f600": 2}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).startswith('{"\U0001f600"'.encode())


def test_canonical_reference_path_agrees(licence_record):
    assert canonical_json(licence_record) == canonical_json_reference(licence_record)


@pytest.mark.parametrize("value", [{"n": 2**60}, {"f": float("nan")}, {"b": b"bytes"}, {"s": "\ud800"}, {1: "int key"}])
def test_values_json_cannot_carry_exactly_are_refused(value):
    with pytest.raises(InvalidInput):
        canonical_json(value)
