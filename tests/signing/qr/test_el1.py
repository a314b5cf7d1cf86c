"""Making and reading EL1 codes: round trips, size, images, and a second COSE implementation."""

from __future__ import annotations

import io
import zlib
from datetime import date

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cwt import COSE, COSEKey
from PIL import Image

from signing.algorithms import Algorithm
from signing.encoding import b64url_decode
from signing.errors import InvalidInput
from signing.keys import generate_private_key
from signing.qr import (
    LicenceSummary,
    PresentationClaim,
    QrSigner,
    decode_qr_image,
    encode_licence_qr,
    encode_presentation_qr,
    render_qr_png,
    verify_qr,
)
from signing.qr.claims import CLAIM_LICENCE
from signing.qr.cose import ALG_EDDSA, ALG_ES256, ALG_SM2, signature_input
from signing.statuses import KeyPurpose
from signing.truststore import TrustStore
from tests.factories.qr import (
    IDENTIFIER,
    LICENCE_TYPE,
    REGISTRY_ID,
    T0,
    at,
    key_entry,
    summary,
)


def _cose(text: str) -> bytes:
    assert text.startswith("EL1:")
    return zlib.decompress(base45.b45decode(text[4:]))


def test_licence_qr_round_trip(world):
    text = world.licence_qr()
    result = verify_qr(text, trust_store=world.store(), now=at(days=10))
    assert result.kind == "licence"
    assert result.summary == summary()
    assert result.issuer == REGISTRY_ID and result.kid == world.seal_key.kid
    assert result.issued_at == T0 and result.expires_at == at(days=1826)
    assert result.key.es_id is not None and result.cti is None and result.presentation is None
    assert result.status is None and result.status_list_age is None  # no status list asked for


def test_summary_claim_round_trip_with_and_without_derivable_codes():
    derivable = summary()
    assert "t" not in derivable.to_claim() and "o" not in derivable.to_claim()
    assert LicenceSummary.from_claim(derivable.to_claim()) == derivable
    other = summary(identifier="LOCAL-2025-000123", valid_until=None)
    assert other.to_claim()["t"] == LICENCE_TYPE and "u" not in other.to_claim()
    assert LicenceSummary.from_claim(other.to_claim()) == other


def test_presentation_claim_round_trip():
    claim = PresentationClaim("p-1", (IDENTIFIER, "LOCAL-2"), "full")
    assert PresentationClaim.from_claim(claim.to_claim(), presentation_id="p-1") == claim


def test_presentation_qr_round_trip(world):
    text = world.presentation_qr(presentation_id="4f1c2b7e9a0d4c3b8e6f5a2d1c0b9a87")
    result = verify_qr(text, trust_store=world.store(), now=at(seconds=30))
    assert result.kind == "presentation"
    assert result.cti == "4f1c2b7e9a0d4c3b8e6f5a2d1c0b9a87"
    assert result.presentation == PresentationClaim("4f1c2b7e9a0d4c3b8e6f5a2d1c0b9a87", (IDENTIFIER,), "masked")
    assert result.expires_at == at(seconds=60) and result.summary is None
    assert result.key.purpose == KeyPurpose.PRESENTATION


def test_static_qr_cti_is_reported_as_hex(world):
    text = encode_licence_qr(signer=world.seal_signer, issuer=REGISTRY_ID, summary=summary(), issued_at=T0,
                             expires_at=None, cti=b"\x01\x02\xff")
    result = verify_qr(text, trust_store=world.store(), now=at(days=9000))
    assert result.cti == "0102ff" and result.expires_at is None  # no exp: never expires


@pytest.mark.parametrize(("algorithm", "cose_alg"), [(Algorithm.ES256, ALG_ES256), (Algorithm.EDDSA, ALG_EDDSA),
                                                      (Algorithm.SM2, ALG_SM2)])
def test_every_algorithm_signs_and_verifies(world, algorithm, cose_alg):
    key = generate_private_key(algorithm)
    text = world.licence_qr(signer=QrSigner(kid=key.kid, private_key=key))
    item = cbor2.loads(_cose(text))
    assert item.tag == 18 and item.value[1] == {}
    protected = cbor2.loads(item.value[0])
    assert protected[1] == cose_alg and len(protected[4]) == 8 and len(item.value[3]) == 64
    result = verify_qr(text, trust_store=world.store(keys=(key_entry(key),)), now=T0)
    assert result.summary == summary()


def test_typical_licence_qr_stays_within_400_characters(world):
    for algorithm in Algorithm:
        key = generate_private_key(algorithm)
        text = world.licence_qr(signer=QrSigner(kid=key.kid, private_key=key))
        assert len(text) <= 400, (algorithm, len(text))
    assert len(world.presentation_qr(presentation_id="4f1c2b7e9a0d4c3b8e6f5a2d1c0b9a87")) <= 400


def test_python_cwt_reads_our_cose(world):
    """A second, independent COSE implementation verifies what we sign."""
    pem = serialization.load_der_public_key(world.seal_key.public_key.spki_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    cose_key = COSEKey.from_pem(pem, alg="ES256", kid=b64url_decode(world.seal_key.kid))
    payload = COSE.new().decode(_cose(world.licence_qr()), cose_key)
    claims = cbor2.loads(payload)
    assert claims[1] == REGISTRY_ID and claims[CLAIM_LICENCE]["i"] == IDENTIFIER


def test_png_scaled_to_240_pixels_still_decodes(world):
    text = world.licence_qr()
    image = Image.open(io.BytesIO(render_qr_png(text))).convert("L")
    small = image.resize((240, 240), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="PNG")
    assert decode_qr_image(out.getvalue()) == text


def test_end_to_end_qr_image_verifies_with_only_the_trust_list(world):
    """Made by certhub, drawn, shrunk to 240 px, read back by zxing-cpp, verified with a pinned trust list."""
    text = world.licence_qr()
    image = Image.open(io.BytesIO(render_qr_png(text))).convert("RGB").resize((240, 240), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    trust_list_json = world.store().trust_list(REGISTRY_ID).to_json()
    verifier = TrustStore()  # what an offline verifier holds: a pinned root and the published list
    verifier.pin_root(registry_id=REGISTRY_ID, root_public_key=world.root.public_key)
    verifier.add_json(trust_list_json, now=at(days=1))
    result = verify_qr(out.getvalue(), trust_store=verifier, now=at(days=1))
    assert result.summary.identifier == IDENTIFIER and result.summary.holder_name_masked == "张*"


def test_sig_structure_is_the_cbor_encoding():
    for protected, payload in [(b"", b""), (b"\xa0" * 23, b"x" * 24), (b"p" * 255, b"q" * 256), (b"p" * 300, b"q" * 70000)]:
        assert signature_input(protected, payload) == cbor2.dumps(["Signature1", protected, b"", payload])


def test_render_uses_alphanumeric_mode(world):
    text = world.licence_qr()
    small = render_qr_png(text, box_size=1)
    width = Image.open(io.BytesIO(small)).size[0]
    # 400 alphanumeric characters fit version 13 at level M (69 modules + 8 quiet): byte mode would need version 16.
    assert width - 8 <= 69


@pytest.mark.parametrize("changes", [
    {"holder_name_masked": ""}, {"identifier": "has space"}, {"status_idx": -1}, {"status_uri": "ftp://x"},
    {"valid_until": date(2020, 1, 1)}, {"issuer_code": None},
])
def test_summary_is_validated_on_construction(changes):
    with pytest.raises(InvalidInput):
        summary(**changes)


def test_encoders_validate_their_arguments(world):
    with pytest.raises(InvalidInput):
        QrSigner(kid=world.seal_key.kid, private_key=world.presentation_key)  # kid of another key
    with pytest.raises(InvalidInput):
        world.licence_qr(issuer="")
    with pytest.raises(InvalidInput):
        world.presentation_qr(expires_at=at(days=2))  # presentations are short-lived
    with pytest.raises(InvalidInput):
        encode_presentation_qr(signer=world.presentation_signer, issuer=REGISTRY_ID, presentation_id="p1",
                               licence_identifiers=[], disclosure="full", issued_at=T0, expires_at=at(seconds=60))
    with pytest.raises(InvalidInput):
        encode_presentation_qr(signer=world.presentation_signer, issuer=REGISTRY_ID, presentation_id="p1",
                               licence_identifiers=[IDENTIFIER], disclosure="everything", issued_at=T0,
                               expires_at=at(seconds=60))
    with pytest.raises(InvalidInput):
        encode_licence_qr(signer=world.seal_signer, issuer=REGISTRY_ID, summary=summary(), issued_at=T0.replace(tzinfo=None),
                          expires_at=None)
