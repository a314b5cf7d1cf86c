from datetime import UTC, datetime, timedelta

import pytest

from signing.errors import VerificationError
from signing.keys import generate_private_key
from signing.picture import draw_round_seal
from signing.seals.certificates import (
    issued_seal_certificate,
    load_certificate,
    self_issued_maker_certificate,
    sm2_public_key_of,
    verify_certificate_signature,
)
from signing.seals.gbt38540 import MAX_SEAL_FILE_SIZE, encode_seal_v4, parse_seal_file, verify_seal_file
from signing.sm2 import SM2_WITH_SM3_OID, SM2PrivateKey
from tests.conformance import seal_file

EXPECTED = {
    "UserV1.esl": (1, 1, "OFDRW测试用印章", "40C8CDD24DEF43388B86E62CCE1D6832"),
    "UserV4.esl": (4, 4, "OFD R&W 测试用印章", "51f044b76510434e9bc67a1185c2fba5"),
    "UserV5.esl": (4, 5, "OFD R&W V5测试用印章", "09aaf39291e049e4b3d716414590937e"),
    "UserV5_ts.esl": (4, 5, "OFD R&W V5测试用印章", "55a4a957189a48f596706fb431e962c5"),
}


def _read(name: str) -> bytes:
    return seal_file(name).read_bytes()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_conformance_seal_parses_and_maker_signature_verifies(name):
    format_version, header_version, seal_name, es_id = EXPECTED[name]
    document = verify_seal_file(_read(name))
    assert document.format_version == format_version
    assert document.header_version == header_version
    assert document.name == seal_name
    assert document.es_id == es_id
    assert document.signature_algorithm_oid == SM2_WITH_SM3_OID
    assert document.picture.type == "PNG"
    assert document.picture.data.startswith(b"\x89PNG")
    assert document.picture.size == len(document.picture.data) > 1000
    assert document.picture.width_mm == document.picture.height_mm == 40
    assert document.valid_from < document.valid_to
    assert document.valid_from.tzinfo is not None
    assert "OFD R&W" in document.maker_certificate_info.subject
    assert len(document.signer_certificates) == 1


def test_v1_signature_covers_seal_info_cert_and_algorithm():
    document = parse_seal_file(_read("UserV1.esl"))
    # SEQUENCE{esealInfo, cert, signatureAlgorithm}: starts with a SEQUENCE header then the seal info.
    assert document.signed_bytes[0] == 0x30
    assert document.maker_certificate in document.signed_bytes
    assert document.signed_bytes.endswith(bytes.fromhex("06082a811ccf55018375"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_flipping_a_signed_byte_fails_with_signature_invalid(name):
    data = bytearray(_read(name))
    document = parse_seal_file(bytes(data))
    name_bytes = document.name.encode("utf-8")
    position = bytes(data).index(name_bytes)  # inside the signed SES_SealInfo
    data[position] ^= 0x01
    with pytest.raises(VerificationError) as caught:
        verify_seal_file(bytes(data))
    assert caught.value.code == "signature_invalid"


def test_flipping_a_picture_byte_fails_with_signature_invalid():
    data = bytearray(_read("UserV4.esl"))
    picture = parse_seal_file(bytes(data)).picture.data
    data[bytes(data).index(picture) + 500] ^= 0x80
    with pytest.raises(VerificationError) as caught:
        verify_seal_file(bytes(data))
    assert caught.value.code == "signature_invalid"


def test_truncated_seal_is_malformed():
    with pytest.raises(VerificationError) as caught:
        verify_seal_file(_read("UserV4.esl")[:-10])
    assert caught.value.code == "malformed"


def test_garbage_is_malformed():
    with pytest.raises(VerificationError) as caught:
        parse_seal_file(b"\x04\x03abc")
    assert caught.value.code == "malformed"


def test_oversized_seal_file_is_refused():
    with pytest.raises(VerificationError) as caught:
        parse_seal_file(b"\x30" + b"\x00" * MAX_SEAL_FILE_SIZE)
    assert caught.value.code == "too_large"


def _our_seal(maker_key: SM2PrivateKey, *, picture: bytes | None = None) -> bytes:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    maker_certificate = self_issued_maker_certificate(
        maker_key=maker_key, maker_name="福建省电子印章制作中心", not_before=now, not_after=now + timedelta(days=3650)
    )
    seal_key = generate_private_key()
    signer = issued_seal_certificate(
        maker_key=maker_key, maker_certificate=maker_certificate, seal_name="福州市市场监督管理局电子证照专用章",
        owner_department_code="11350100MB0000001X", seal_key=seal_key, not_before=now, not_after=now + timedelta(days=365),
    )
    return encode_seal_v4(
        es_id="0123456789abcdef0123456789abcdef",
        name="福州市市场监督管理局电子证照专用章",
        signer_certificates=[signer],
        created_at=now,
        valid_from=now,
        valid_to=now + timedelta(days=365),
        picture_png=picture or draw_round_seal(organization_name="福州市市场监督管理局", seal_type="电子证照专用章"),
        picture_width_mm=42,
        picture_height_mm=42,
        maker_key=maker_key,
        maker_certificate=maker_certificate,
    )


def test_our_v4_seal_round_trips_and_verifies():
    maker_key = SM2PrivateKey.generate()
    data = _our_seal(maker_key)
    document = verify_seal_file(data)
    assert document.format_version == document.header_version == 4
    assert document.vendor_id == "certhub"
    assert document.es_id == "0123456789abcdef0123456789abcdef"
    assert document.name == "福州市市场监督管理局电子证照专用章"
    assert document.seal_type == 1
    assert document.picture.width_mm == 42
    assert document.valid_to - document.valid_from == timedelta(days=365)
    assert sm2_public_key_of(load_certificate(document.maker_certificate)) == maker_key.public_key


def test_our_maker_certificate_is_self_issued_and_signs_the_seal_certificate():
    maker_key = SM2PrivateKey.generate()
    document = verify_seal_file(_our_seal(maker_key))
    maker_certificate = load_certificate(document.maker_certificate)
    signer_certificate = load_certificate(document.signer_certificates[0])
    assert verify_certificate_signature(maker_certificate, issuer_key=maker_key.public_key)
    assert verify_certificate_signature(signer_certificate, issuer_key=maker_key.public_key)
    assert signer_certificate.issuer == maker_certificate.subject
    assert document.maker_certificate_info.issuer == document.maker_certificate_info.subject


def test_our_seal_signed_by_another_maker_key_fails():
    data = bytearray(_our_seal(SM2PrivateKey.generate()))
    document = parse_seal_file(bytes(data))
    position = bytes(data).index(document.es_id.encode())
    data[position] = ord("f") if data[position] != ord("f") else ord("e")
    with pytest.raises(VerificationError) as caught:
        verify_seal_file(bytes(data))
    assert caught.value.code == "signature_invalid"
