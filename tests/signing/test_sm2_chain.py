"""An SM2 seal's certificate chain, checked by tools that are not certhub's.

The seal's signer certificate (leaf) and the maker's self-issued certificate
(root) are verified with the OpenSSL 3 command line, and the seal structure
and both certificates are decoded and re-encoded with pyasn1, a DER codec
other than the asn1crypto that wrote them.

OpenSSL 3.0 verifies an SM2 certificate signature with an empty
distinguishing ID unless told otherwise; `-vfyopt distid:1234567812345678`
gives it the GM/T 0009 default our maker signs with. The verify command sets
the ID on the certificate being verified only, so a chain is checked leaf ->
root with the root in `-CAfile`; the root's self-signature (which `openssl
verify` never checks by default) and the maker's signature over the seal
information are checked with `openssl pkeyutl -verify -digest sm3 -pkeyopt
distid:...`.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import pem
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.type import char, namedtype, univ, useful
from pyasn1_modules import rfc5280

from signing import service
from signing.picture import draw_round_seal
from signing.seals.certificates import load_certificate
from signing.seals.gbt38540 import parse_seal_file, signer_chain_verifies, verify_seal_file
from signing.sm2 import SM2_CURVE_OID, SM2_WITH_SM3_OID
from tests.factories.signing import KEY_SECRET, LICENCE_TYPE, OWNER, T0

OPENSSL = shutil.which("openssl")
DISTID = "distid:1234567812345678"  # GM/T 0009-2012 §10 default signer ID
# A moment with microseconds: what the clock gives, and what the encoder must drop.
NOW = T0 + timedelta(minutes=5, microseconds=654321)

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed (.ci/run installs it)")


def _seal(db_session, algorithm: str):
    return service.create_seal(
        session=db_session, owner_department_code=OWNER, department_name="福州市市场监督管理局",
        seal_type="电子证照专用章", licence_type_codes=[LICENCE_TYPE], valid_from=NOW,
        valid_to=NOW + timedelta(days=3650), key_secret=KEY_SECRET, algorithm=algorithm, now=NOW,
    )


@pytest.fixture
def sm2_seal(db_session, maker, trust_root):
    return _seal(db_session, "SM2")


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, timeout=60, check=False)


def _write_chain(seal_der: bytes, directory: Path) -> tuple[Path, Path]:
    document = parse_seal_file(seal_der)
    root = directory / "maker.pem"
    leaf = directory / "signer.pem"
    root.write_bytes(pem.armor("CERTIFICATE", document.maker_certificate))
    leaf.write_bytes(pem.armor("CERTIFICATE", document.signer_certificates[0]))
    return root, leaf


def _pkeyutl_verify(*, spki_der: bytes, data: bytes, signature: bytes, directory: Path, distid: str = DISTID):
    (directory / "key.pem").write_bytes(pem.armor("PUBLIC KEY", spki_der))
    (directory / "data.bin").write_bytes(data)
    (directory / "sig.der").write_bytes(signature)
    return _openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", directory / "key.pem", "-rawin", "-in", directory / "data.bin",
        "-sigfile", directory / "sig.der", "-digest", "sm3", "-pkeyopt", distid,
    )


def test_sm2_seal_carries_an_sm2_signer_certificate_issued_by_the_maker(sm2_seal):
    document = verify_seal_file(sm2_seal.der)
    leaf = load_certificate(document.signer_certificates[0])
    spki = leaf["tbs_certificate"]["subject_public_key_info"]["algorithm"]
    assert spki["algorithm"].dotted == "1.2.840.10045.2.1"  # id-ecPublicKey
    assert spki["parameters"].chosen.dotted == SM2_CURVE_OID
    assert leaf["signature_algorithm"]["algorithm"].dotted == SM2_WITH_SM3_OID
    assert leaf.authority_key_identifier == load_certificate(document.maker_certificate).key_identifier
    assert signer_chain_verifies(document)


@needs_openssl
@pytest.mark.parametrize("algorithm", ["SM2", "ES256"])
def test_openssl_verifies_the_chain_from_signer_to_maker(db_session, maker, trust_root, tmp_path, algorithm):
    root, leaf = _write_chain(_seal(db_session, algorithm).der, tmp_path)
    # -x509_strict: RFC 5280 as OpenSSL enforces it, e.g. the key identifiers a chain is built by.
    result = _openssl("verify", "-x509_strict", "-CAfile", root, "-vfyopt", DISTID, leaf)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


@needs_openssl
def test_openssl_refuses_the_chain_under_another_distinguishing_id(sm2_seal, tmp_path):
    root, leaf = _write_chain(sm2_seal.der, tmp_path)
    for options in (["-vfyopt", "distid:1234567812345679"], []):  # another ID; OpenSSL 3's empty default
        result = _openssl("verify", "-CAfile", root, *options, leaf)
        assert result.returncode != 0
        assert "certificate signature failure" in result.stdout + result.stderr


@needs_openssl
def test_openssl_refuses_a_signer_certificate_from_another_maker(db_session, sm2_seal, tmp_path):
    other_maker = service.create_seal_maker(session=db_session, name="另一个制章者", key_secret=KEY_SECRET, now=T0)
    other_seal = service.create_seal(
        session=db_session, owner_department_code=OWNER, department_name="福州市市场监督管理局",
        seal_type="电子证照专用章", licence_type_codes=[LICENCE_TYPE], valid_from=NOW,
        valid_to=NOW + timedelta(days=30), key_secret=KEY_SECRET, algorithm="SM2", now=NOW, maker_id=other_maker.id,
    )
    root, _ = _write_chain(sm2_seal.der, tmp_path)
    foreign = tmp_path / "foreign.pem"
    foreign.write_bytes(pem.armor("CERTIFICATE", parse_seal_file(other_seal.der).signer_certificates[0]))
    result = _openssl("verify", "-CAfile", root, "-vfyopt", DISTID, foreign)
    assert result.returncode != 0


@needs_openssl
def test_openssl_verifies_the_maker_self_signature_and_the_seal_signature(sm2_seal, tmp_path):
    document = verify_seal_file(sm2_seal.der)
    maker = load_certificate(document.maker_certificate)
    maker_spki = maker["tbs_certificate"]["subject_public_key_info"].dump()
    self_signed = _pkeyutl_verify(
        spki_der=maker_spki, data=maker["tbs_certificate"].dump(), signature=maker["signature_value"].native,
        directory=tmp_path,
    )
    assert self_signed.returncode == 0, self_signed.stdout + self_signed.stderr
    seal_signed = _pkeyutl_verify(
        spki_der=maker_spki, data=document.signed_bytes, signature=document.signature, directory=tmp_path
    )
    assert seal_signed.returncode == 0, seal_signed.stdout + seal_signed.stderr
    tampered = _pkeyutl_verify(
        spki_der=maker_spki, data=document.signed_bytes + b"\x00", signature=document.signature, directory=tmp_path
    )
    assert tampered.returncode != 0


# --- pyasn1: GB/T 38540-2020 §5.1 written out again, independently of signing/seals/asn1.py ---


class _Header(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("id", char.IA5String()),
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("vid", char.IA5String()),
    )


class _PropertyInfo(univ.Sequence):
    # certListType 1: certList is SEQUENCE OF OCTET STRING (one DER certificate each)
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("type", univ.Integer()),
        namedtype.NamedType("name", char.UTF8String()),
        namedtype.NamedType("certListType", univ.Integer()),
        namedtype.NamedType("certList", univ.SequenceOf(componentType=univ.OctetString())),
        namedtype.NamedType("createDate", useful.GeneralizedTime()),
        namedtype.NamedType("validStart", useful.GeneralizedTime()),
        namedtype.NamedType("validEnd", useful.GeneralizedTime()),
    )


class _PictureInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("type", char.IA5String()),
        namedtype.NamedType("data", univ.OctetString()),
        namedtype.NamedType("width", univ.Integer()),
        namedtype.NamedType("height", univ.Integer()),
    )


class _SealInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("header", _Header()),
        namedtype.NamedType("esID", char.IA5String()),
        namedtype.NamedType("property", _PropertyInfo()),
        namedtype.NamedType("picture", _PictureInfo()),
    )


class _SESeal(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("esealInfo", _SealInfo()),
        namedtype.NamedType("makerCert", univ.OctetString()),
        namedtype.NamedType("signAlgID", univ.ObjectIdentifier()),
        namedtype.NamedType("signedValue", univ.BitString()),
    )


def _der_round_trip(data: bytes, spec):
    decoded, rest = der_decoder.decode(data, asn1Spec=spec)
    assert rest == b""
    assert der_encoder.encode(decoded) == data  # pyasn1's DER encoder refuses fractional GeneralizedTime
    return decoded


def _whole_seconds(text: str) -> bool:
    return "." not in text and "," not in text and text.endswith("Z")


def test_seal_round_trips_through_pyasn1_with_whole_second_dates(sm2_seal):
    seal = _der_round_trip(sm2_seal.der, _SESeal())
    prop = seal["esealInfo"]["property"]
    dates = [str(prop[name]) for name in ("createDate", "validStart", "validEnd")]
    assert all(_whole_seconds(text) for text in dates), dates
    assert prop["createDate"].asDateTime == NOW.replace(microsecond=0)
    assert str(seal["signAlgID"]) == SM2_WITH_SM3_OID
    certificates = [bytes(seal["makerCert"]), *(bytes(c) for c in prop["certList"])]
    for der in certificates:
        certificate = _der_round_trip(der, rfc5280.Certificate())
        validity = certificate["tbsCertificate"]["validity"]
        for bound in ("notBefore", "notAfter"):
            assert _whole_seconds(str(validity[bound].getComponent())), str(validity[bound].getComponent())


def test_rotation_and_new_pictures_write_whole_seconds_too(db_session, sm2_seal):
    later = NOW + timedelta(hours=1, microseconds=111)
    service.rotate_key(session=db_session, es_id=sm2_seal.es_id, key_secret=KEY_SECRET, now=later)
    prop = _der_round_trip(sm2_seal.der, _SESeal())["esealInfo"]["property"]
    assert prop["createDate"].asDateTime == later.replace(microsecond=0)
    seal = service.replace_picture(
        session=db_session, es_id=sm2_seal.es_id, picture_png=draw_round_seal(organization_name="福州市人民政府", seal_type="公章"), key_secret=KEY_SECRET, now=later + timedelta(microseconds=5)
    )
    assert _whole_seconds(str(_der_round_trip(seal.der, _SESeal())["esealInfo"]["property"]["createDate"]))
