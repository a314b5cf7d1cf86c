"""OFD documents sealed with a GB/T 38540 签章 (signing.ofd): what certhub's
verifier accepts and refuses, and the same documents checked independently
(pyasn1 and OpenSSL 3, tests/factories/ofd_independent.py)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest

from registry.layout.face import Annotation
from registry.layout.ofd import build_ofd, render_ofd
from signing.errors import OfdSigningError, VerificationError
from signing.ofd import OfdSealSigner, sign_ofd, verify_ofd
from signing.ofd.package import read_package, write_package
from signing.ofd.ses import SES_Signature
from signing.sm2 import SM2PrivateKey
from tests.factories.ofd import (
    END,
    SEAL_NAME,
    START,
    flip_byte,
    independent_check_refuses,
    independent_problems,
    licence_face,
    ofd_signer,
    package_files,
)

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command (.ci/run installs it)")


@pytest.fixture(scope="module")
def signer() -> OfdSealSigner:
    return ofd_signer()


@pytest.fixture(scope="module")
def sealed(signer) -> bytes:
    return render_ofd(licence_face(), signer=signer, signed_at=datetime(2026, 1, 5, 8, 30, 15, 123456, tzinfo=UTC))


def test_a_sealed_ofd_verifies_and_names_its_seal(sealed):
    report = verify_ofd(sealed)
    (signature,) = report.signatures
    assert signature.seal_name == SEAL_NAME and signature.es_id == "0123456789abcdef0123456789abcdef"
    assert signature.signed_at == datetime(2026, 1, 5, 8, 30, 15, tzinfo=UTC)  # truncated to the second
    assert signature.page_ref is not None and "福建省电子印章制作中心" in signature.maker
    # Every file but the signature's own two is protected.
    assert signature.protected_files == report.files - 2


def test_the_package_has_the_gbt33190_structure_with_embedded_fonts(sealed):
    files = package_files(sealed)
    for path in ("/OFD.xml", "/Doc_0/Document.xml", "/Doc_0/PublicRes.xml", "/Doc_0/DocumentRes.xml",
                 "/Doc_0/Pages/Page_0/Content.xml", "/Doc_0/Signs/Signatures.xml",
                 "/Doc_0/Signs/Sign_0/Signature.xml", "/Doc_0/Signs/Sign_0/SignedValue.dat"):
        assert path in files, path
    fonts = [path for path in files if path.endswith(".ttf")]
    assert len(fonts) == 2  # sans and serif subsets, TrueType outlines
    assert all(files[path][:4] == b"\x00\x01\x00\x00" and len(files[path]) < 200_000 for path in fonts)
    content = files["/Doc_0/Pages/Page_0/Content.xml"].decode()
    assert "福州某某科技有限公司" in content and "营业执照" in content


@needs_openssl
def test_the_signature_checks_independently_with_pyasn1_and_openssl(sealed):
    assert independent_problems(sealed) == []


SIGNED_FILES = ["/OFD.xml", "/Doc_0/Document.xml", "/Doc_0/PublicRes.xml", "/Doc_0/Pages/Page_0/Content.xml",
                "/Doc_0/Signs/Signatures.xml", "/Doc_0/Signs/Sign_0/Signature.xml",
                "/Doc_0/Signs/Sign_0/SignedValue.dat"]


@needs_openssl
@pytest.mark.parametrize("path", [*SIGNED_FILES, "font", "image"])
def test_one_byte_changed_in_any_signed_file_is_refused_by_both_checks(sealed, path):
    files = package_files(sealed)
    if path in ("font", "image"):
        path = next(name for name in files if name.endswith(".ttf" if path == "font" else ".png"))
    tampered = flip_byte(sealed, path)
    with pytest.raises(VerificationError):
        verify_ofd(tampered)
    assert independent_check_refuses(tampered)


@needs_openssl
def test_the_last_byte_of_the_sm2_signature_changed_is_refused_by_both_checks(sealed):
    tampered = flip_byte(sealed, "/Doc_0/Signs/Sign_0/SignedValue.dat", offset=-1)
    with pytest.raises(VerificationError) as caught:
        verify_ofd(tampered)
    assert caught.value.code in ("signature_invalid", "malformed")
    assert "OpenSSL: the SM2 signature over TBS_Sign does not verify" in independent_problems(tampered)


def test_an_added_or_removed_file_is_refused(sealed):
    files = read_package(sealed)
    with pytest.raises(VerificationError, match="no signature protects"):
        verify_ofd(write_package({**files, "/Doc_0/Res/extra.png": b"\x89PNG"}))
    without_font = {path: data for path, data in files.items() if not path.endswith(".ttf")}
    with pytest.raises(VerificationError, match="missing"):
        verify_ofd(write_package(without_font))


def test_an_unsigned_package_is_refused(signer):
    unsigned = build_ofd(licence_face())
    with pytest.raises(VerificationError, match="Signatures.xml"):  # OFD.xml names a signature list it lacks
        verify_ofd(write_package(unsigned.files))


def test_a_package_escaping_its_root_or_not_a_zip_is_refused(sealed):
    with pytest.raises(VerificationError):
        verify_ofd(b"not a zip")
    files = read_package(sealed)
    with pytest.raises(VerificationError):
        read_package(write_package({**files, "/../evil": b"x"}))


def test_a_key_the_seal_does_not_certify_cannot_sign(signer):
    with pytest.raises(OfdSigningError):
        OfdSealSigner(key=SM2PrivateKey.generate(), seal_der=signer.seal_der, certificate=signer.certificate)


def test_a_signature_from_another_seal_key_is_refused(signer):
    """A forger's seal with the same name and picture, made by another maker: the
    document verifies as that seal's, never as the real one (the es_id and maker differ
    only if the caller checks them against the trust list; the maker is reported)."""
    forged = render_ofd(licence_face(holder_name="福州冒名科技有限公司"), signer=ofd_signer(),
                        signed_at=START + timedelta(days=400))
    report = verify_ofd(forged)
    assert report.signatures[0].maker == verify_ofd(forged).signatures[0].maker
    # Swapping the real seal's SignedValue (over the genuine face) into the forged package breaks the
    # dataHash. (Over the same face it would be the genuine document: rendering is deterministic.)
    files = read_package(forged)
    genuine = read_package(render_ofd(licence_face(), signer=signer, signed_at=START + timedelta(days=400)))
    files["/Doc_0/Signs/Sign_0/SignedValue.dat"] = genuine["/Doc_0/Signs/Sign_0/SignedValue.dat"]
    with pytest.raises(VerificationError):
        verify_ofd(write_package(files))


def test_signing_outside_the_seal_validity_is_refused(signer):
    late = render_ofd(licence_face(), signer=signer, signed_at=END + timedelta(days=1))
    with pytest.raises(VerificationError, match="validity"):
        verify_ofd(late)


def test_an_annotated_copy_prints_its_purpose_on_the_page(signer):
    annotation = Annotation(purpose="办理银行开户", department_name="某银行", expires_at=datetime(2026, 12, 31, tzinfo=UTC))
    sealed = render_ofd(licence_face(annotation=annotation), signer=signer, signed_at=START + timedelta(days=400))
    verify_ofd(sealed)
    content = package_files(sealed)["/Doc_0/Pages/Page_0/Content.xml"].decode()
    assert content.count("仅用于办理银行开户（某银行）") == 4


def test_an_already_signed_package_is_not_signed_again(sealed, signer):
    with pytest.raises(OfdSigningError, match="signed already"):
        sign_ofd(read_package(sealed), signer=signer, stamp=build_ofd(licence_face()).stamp, signed_at=START)


def test_characters_xml_cannot_carry_do_not_break_the_package(signer):
    face = licence_face(fields=[("经营范围", "软件\x01开发\x1f；咨询")])
    sealed = render_ofd(face, signer=signer, signed_at=START + timedelta(days=400))
    verify_ofd(sealed)
    assert "软件\ufffd开发\ufffd；咨询" in package_files(sealed)["/Doc_0/Pages/Page_0/Content.xml"].decode()


def test_a_signature_carrying_a_timestamp_as_ofdrw_tags_it_still_reads(sealed):
    """timeStamp is [0] EXPLICIT (ofdrw writes DERTaggedObject(true, 0, …)); certhub
    writes none but reads one, and it is outside what the seal signs."""
    files = read_package(sealed)
    value = SES_Signature.load(files["/Doc_0/Signs/Sign_0/SignedValue.dat"])
    stamped = SES_Signature({
        "to_sign": value["to_sign"], "cert": value["cert"], "signature_alg_id": value["signature_alg_id"],
        "signature": value["signature"], "time_stamp": b"\x30\x00",
    }).dump()
    assert stamped.endswith(b"\xa0\x05\x03\x03\x00\x30\x00")  # [0] constructed, around the BIT STRING
    files["/Doc_0/Signs/Sign_0/SignedValue.dat"] = stamped
    assert verify_ofd(write_package(files)).signatures
