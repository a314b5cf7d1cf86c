import base64
import hashlib

import gmssl_pyx
import pytest
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from signing.algorithms import Algorithm, kid_for_spki
from signing.errors import InvalidInput, KeyDecryptionFailed
from signing.keys import (
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
    load_public_key,
    load_public_key_for,
)

ALGORITHMS = list(Algorithm)
SECRET = "a-key-encryption-secret-for-tests"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sign_verify_round_trip(algorithm):
    key = generate_private_key(algorithm)
    signature = key.sign(b"licence bytes")
    assert key.public_key.verify(b"licence bytes", signature)
    assert not key.public_key.verify(b"licence bytez", signature)
    assert not key.public_key.verify(b"licence bytes", signature[:-1] + bytes([signature[-1] ^ 1]))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_public_key_spki_round_trip(algorithm):
    key = generate_private_key(algorithm)
    imported = load_public_key(key.public_key.spki_der)
    assert imported == key.public_key
    assert imported.algorithm == algorithm
    assert imported.kid == key.kid
    assert imported.verify(b"x", key.sign(b"x"))


def test_default_algorithm_is_es256_with_raw_r_s():
    key = generate_private_key()
    assert key.algorithm == Algorithm.ES256
    signature = key.sign(b"data")
    assert len(signature) == 64
    # The raw r||s form must match what cryptography verifies once re-encoded.
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    raw = serialization.load_der_public_key(key.public_key.spki_der)
    raw.verify(encode_dss_signature(r, s), b"data", ec.ECDSA(hashes.SHA256()))


def test_es256_rejects_der_encoded_signature():
    key = generate_private_key(Algorithm.ES256)
    raw = serialization.load_der_private_key(key.secret_bytes(), password=None)
    der_signature = raw.sign(b"data", ec.ECDSA(hashes.SHA256()))
    assert decode_dss_signature(der_signature)
    assert not key.public_key.verify(b"data", der_signature)


def test_sm2_signature_is_der_and_uses_default_signer_id():
    key = generate_private_key(Algorithm.SM2)
    signature = key.sign(b"seal")
    assert signature[0] == 0x30  # DER SEQUENCE{r, s}
    assert gmssl_pyx.sm2_verify(key.public_key.point, b"seal", signature, b"1234567812345678")
    assert not gmssl_pyx.sm2_verify(key.public_key.point, b"seal", signature, b"another-signer-id")


def test_sm2_spki_uses_ec_public_key_with_sm2_curve():
    key = generate_private_key(Algorithm.SM2)
    info = asn1_keys.PublicKeyInfo.load(key.public_key.spki_der)
    assert info["algorithm"]["algorithm"].dotted == "1.2.840.10045.2.1"
    assert info["algorithm"]["parameters"].chosen.dotted == "1.2.156.10197.1.301"
    assert info["public_key"].native == b"\x04" + key.public_key.point


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_kid_is_first_8_bytes_of_sha256_over_spki(algorithm):
    key = generate_private_key(algorithm)
    expected = base64.urlsafe_b64encode(hashlib.sha256(key.public_key.spki_der).digest()[:8]).rstrip(b"=").decode()
    assert key.kid == expected == kid_for_spki(key.public_key.spki_der)
    assert len(key.kid) == 11


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_private_key_encryption_round_trip(algorithm):
    key = generate_private_key(algorithm)
    envelope = encrypt_private_key(key, secret=SECRET)
    assert envelope[0] == 1
    assert key.secret_bytes() not in envelope
    opened = decrypt_private_key(envelope, algorithm=algorithm, kid=key.kid, secret=SECRET)
    assert opened.public_key == key.public_key
    assert key.public_key.verify(b"m", opened.sign(b"m"))


def test_private_key_decryption_fails_with_wrong_secret():
    key = generate_private_key()
    envelope = encrypt_private_key(key, secret=SECRET)
    with pytest.raises(KeyDecryptionFailed):
        decrypt_private_key(envelope, algorithm=key.algorithm, kid=key.kid, secret=SECRET + "!")


def test_private_key_decryption_is_bound_to_the_kid():
    key, other = generate_private_key(), generate_private_key()
    envelope = encrypt_private_key(key, secret=SECRET)
    with pytest.raises(KeyDecryptionFailed):
        decrypt_private_key(envelope, algorithm=key.algorithm, kid=other.kid, secret=SECRET)


def test_private_key_decryption_detects_tampering():
    key = generate_private_key()
    envelope = bytearray(encrypt_private_key(key, secret=SECRET))
    envelope[-5] ^= 0x01
    with pytest.raises(KeyDecryptionFailed):
        decrypt_private_key(bytes(envelope), algorithm=key.algorithm, kid=key.kid, secret=SECRET)


def test_short_key_encryption_secret_is_refused():
    with pytest.raises(InvalidInput):
        encrypt_private_key(generate_private_key(), secret="short")


def test_repr_never_shows_private_material():
    key = generate_private_key(Algorithm.EDDSA)
    assert key.secret_bytes().hex() not in repr(key)
    assert key.kid in repr(key)


def test_load_public_key_refuses_garbage_and_other_curves():
    with pytest.raises(InvalidInput):
        load_public_key(b"\x30\x03\x02\x01\x01")
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    spki = p384.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(InvalidInput):
        load_public_key(spki)


def test_load_public_key_for_insists_on_the_algorithm():
    key = generate_private_key(Algorithm.EDDSA)
    with pytest.raises(InvalidInput):
        load_public_key_for(Algorithm.ES256, key.public_key.spki_der)


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_a_public_key_reads_from_base64_and_base64url_text(algorithm):
    from signing.keys import generate_private_key, load_public_key_text

    der = generate_private_key(algorithm).public_key.spki_der
    for text in (base64.b64encode(der).decode(), base64.urlsafe_b64encode(der).decode().rstrip("="),
                 f"  {base64.urlsafe_b64encode(der).decode()}\n"):
        assert load_public_key_text(text).spki_der == der
    with pytest.raises(InvalidInput):
        load_public_key_text("not*base64")
