"""The PDF layout document is PDF/A-2b and carries the issuing department's
PAdES signature, with the chain to the registry's document root, and an
RFC 3161 time-stamp from a real TSA (OpenSSL on loopback, tests/tsa.py) when
one is configured.

Checked by two independent verifiers: poppler's `pdfsig` (NSS), told to
trust the registry's document root, and pyHanko's validator with that root
as its only trust anchor. Both must refuse the document once one byte of the
signed range changes."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from pydantic import ValidationError
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader
from sqlalchemy import func, select
from typer.testing import CliRunner

from certhub.app import create_app
from certhub.cli import app as cli
from certhub.db import create_db_engine, create_sessionmaker
from certhub.demo.state import read_state as read_demo_state
from certhub.settings import Settings
from exchange.auditlog import log_origin, publish_checkpoint
from signing import service as signing_service
from signing.algorithms import Algorithm, PrivateKey
from signing.es256 import ES256PrivateKey
from signing.models import DocumentCertificate, SigningKey
from signing.pades import KeySigner, sign_pdf
from signing.service.doccerts import document_root_certificate
from signing.statuses import KeyPurpose
from signing.x509docs import CertificateName, issue_document_root, issue_document_signing_certificate
from storage.cache import InProcessCache
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import (
    KEY_SECRET,
    REGISTRY_ID,
    build_world,
    business_licence_body,
    holder_headers,
    publish_log_checkpoint,
    token_headers,
)
from tests.factories.pdfsigs import needs_pdfsig, pdfsig_report, pyhanko_status
from tests.factories.settings import TEST_SECRET
from tests.tsa import LoopbackTsa

pytestmark = pytest.mark.slow  # HTTP round trips and outside tools



@pytest.fixture
def settings(tmp_path):
    # demo: the holders' development login (the wallet's route) exists only in demo mode.
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True)


@pytest.fixture
def world(db_session):
    return build_world(db_session)


@pytest.fixture
def city(client, db_session, world):
    publish_log_checkpoint(db_session)
    return token_headers(client, db_session, CITY_SAMR)


@pytest.fixture
def licence(client, city) -> dict:
    response = client.post("/api/v1/licences", json=business_licence_body(), headers=city)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def tsa():
    with LoopbackTsa() as authority:
        yield authority


@pytest.fixture
def root_der(db_session, world) -> bytes:
    der = document_root_certificate(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    db_session.commit()
    return der


def _layout(client, city, ident: str) -> bytes:
    response = client.get(f"/api/v1/licences/{ident}/layout.pdf", headers=city)
    assert response.status_code == 200, response.text
    return response.content


def _tampered(pdf: bytes) -> bytes:
    """One byte changed inside the first signed range: in the first stream's data,
    so the file still parses and only the digest can tell."""
    start = re.search(rb"stream\r?\n", pdf).end() + 10
    assert start < _signed_range_end(pdf)
    changed = bytearray(pdf)
    changed[start] ^= 0x01
    return bytes(changed)


def _signed_range_end(pdf: bytes) -> int:
    first_range = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)", pdf)
    return int(first_range.group(1)) + int(first_range.group(2))


@needs_pdfsig
def test_issuer_pdf_signature_is_valid_for_pdfsig_and_pyhanko_and_refused_after_one_byte(
        client, city, licence, root_der, tmp_path):
    pdf = _layout(client, city, licence["identifier"])

    report = pdfsig_report(pdf, root=root_der, tmp_path=tmp_path)
    assert "Signature Validation: Signature is Valid." in report, report
    assert "Certificate Validation: Certificate is Trusted." in report, report
    assert "Signature Type: ETSI.CAdES.detached" in report and "Total document signed" in report
    assert "福州市市场监督管理局" in report  # the department's seal names the signer

    status = pyhanko_status(pdf, root=root_der)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.timestamp_validity is None  # PAdES B-B: no TSA configured

    tampered = _tampered(pdf)
    report = pdfsig_report(tampered, root=root_der, tmp_path=tmp_path)
    assert "Signature is Valid." not in report and "Digest Mismatch" in report, report
    status = pyhanko_status(tampered, root=root_der)
    assert not status.intact and not status.bottom_line


def test_the_chain_ends_at_the_registrys_trust_root_key(db_session, client, city, licence, root_der):
    """With an ES256 trust root (the default) the PDFs' anchor is the very key verifiers pin for the trust list."""
    root = x509.load_der_x509_certificate(root_der)
    trust_root = signing_service.get_trust_root_key_or_raise(session=db_session)
    spki = root.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki == trust_root.public_key and root.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    pdf = _layout(client, city, licence["identifier"])
    status = pyhanko_status(pdf, root=root_der)
    leaf = x509.load_der_x509_certificate(status.signing_cert.dump())
    assert leaf.issuer == root.subject
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_certificates_are_issued_once_not_per_download(db_session, client, city, licence, root_der):
    first = pyhanko_status(_layout(client, city, licence["identifier"]), root=root_der)
    second = pyhanko_status(_layout(client, city, licence["identifier"]), root=root_der)
    assert first.signing_cert.dump() == second.signing_cert.dump()
    assert db_session.scalar(select(func.count()).select_from(DocumentCertificate)) == 2  # the root's and the seal key's


@pytest.fixture
def tsa_client(request, tmp_path, migrated_engine, session_factory, db_session, world):
    """A client of an app whose settings name a TSA (CERTHUB_TSA_URL), built through the composition root."""

    def make(url: str):
        settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, tsa_url=url)
        client = TestClient(create_app(settings, engine=migrated_engine, cache=InProcessCache(),
                                       sessions=session_factory))
        client.__enter__()
        request.addfinalizer(lambda: client.__exit__(None, None, None))
        publish_log_checkpoint(db_session)
        headers = token_headers(client, db_session, CITY_SAMR)
        issued = client.post("/api/v1/licences", json=business_licence_body(), headers=headers)
        assert issued.status_code == 201, issued.text
        return client, headers, issued.json()["identifier"]

    return make


@needs_pdfsig
def test_with_a_tsa_the_signature_is_time_stamped_and_the_token_validates(tsa_client, root_der, tsa, tmp_path):
    client, city, ident = tsa_client(tsa.url)
    pdf = _layout(client, city, ident)
    assert tsa.replies >= 1

    status = pyhanko_status(pdf, root=root_der, tsa_root=tsa.ca_certificate)
    assert status.bottom_line
    token = status.timestamp_validity
    assert token is not None and token.intact and token.valid and token.trusted
    assert abs(token.timestamp - datetime.now(UTC)) < timedelta(minutes=5)
    report = pdfsig_report(pdf, root=root_der, tmp_path=tmp_path)
    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report

    # The token is the TSA's: checked against another anchor it is not trusted.
    untrusted = pyhanko_status(pdf, root=root_der, tsa_root=root_der)
    assert untrusted.timestamp_validity is not None and not untrusted.timestamp_validity.trusted

    tampered = pyhanko_status(_tampered(pdf), root=root_der, tsa_root=tsa.ca_certificate)
    assert not tampered.intact and not tampered.bottom_line


def test_a_tsa_that_does_not_answer_refuses_the_download(tsa_client):
    with LoopbackTsa() as gone:
        url = gone.url  # a loopback port nothing listens on once it has stopped
    client, city, ident = tsa_client(url)
    response = client.get(f"/api/v1/licences/{ident}/layout.pdf", headers=city)
    assert response.status_code == 503 and response.json()["error"] == "timestamp_unavailable"


def test_the_tsa_setting_takes_only_http_urls(tmp_path):
    for bad in ("ftp://tsa.example/", "tsa.example", "http://"):
        with pytest.raises(ValidationError):
            Settings(secret_key=TEST_SECRET, data_dir=tmp_path, tsa_url=bad)
    assert Settings(secret_key=TEST_SECRET, data_dir=tmp_path, tsa_url="").tsa_url is None


def test_the_holders_wallet_pdf_carries_the_same_signature(client, city, root_der):
    body = business_licence_body()
    issued = client.post("/api/v1/licences", json=body, headers=city).json()
    holder = holder_headers(client, code=body["holder"]["code"], code_type="001", name=body["holder"]["name"])
    response = client.get(f"/api/v1/holders/me/licences/{issued['identifier']}/layout.pdf", headers=holder)
    assert response.status_code == 200, response.text
    assert pyhanko_status(response.content, root=root_der).bottom_line


def test_a_purpose_limited_copy_is_signed_too(client, city, licence, root_der):
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    response = client.post(f"/api/v1/licences/{licence['identifier']}/copies",
                           json={"purpose": "办理银行开户", "expires_at": expires}, headers=city)
    assert response.status_code == 201, response.text
    assert pyhanko_status(response.content, root=root_der).bottom_line


def test_the_layout_is_pdf_a_2b(client, city, licence):
    """What PDF/A-2b asks of the file that the library writes: XMP naming part 2,
    conformance B, and an sRGB output intent with its ICC profile. (Full
    conformance is veraPDF's to judge; see docs/formats.md.)"""
    pdf = _layout(client, city, licence["identifier"])
    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    # Kept through the signature's incremental update (signing.pades._keep_xmp), as an element or an attribute.
    assert re.search(rb'pdfaid:part(>|=")2', xmp) and re.search(rb'pdfaid:conformance(>|=")B', xmp), xmp
    (intent,) = reader.trailer["/Root"]["/OutputIntents"]
    intent = intent.get_object()
    assert intent["/S"] == "/GTS_PDFA1" and intent["/DestOutputProfile"].get_object().get_data()[36:40] == b"acsp"
    assert reader.pdf_header >= "%PDF-1.7"


def test_an_sm2_only_issuer_is_refused_clearly(db_session, client, city, licence, world):
    _, seal = world
    signing_service.rotate_key(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, algorithm="SM2")
    db_session.commit()
    response = client.get(f"/api/v1/licences/{licence['identifier']}/layout.pdf", headers=city)
    assert response.status_code == 409 and response.json()["error"] == "pdf_not_signable"
    assert "SM2" in response.json()["message"]


def test_a_trust_root_that_is_not_es256_gets_a_dedicated_document_root(db_session, client, city, licence):
    signing_service.create_trust_root_key(session=db_session, key_secret=KEY_SECRET, algorithm="SM2")
    db_session.commit()
    root_der = document_root_certificate(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    db_session.commit()
    root_spki = x509.load_der_x509_certificate(root_der).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    row = db_session.scalars(select(SigningKey).where(SigningKey.public_key == root_spki)).one()
    assert row.purpose == KeyPurpose.DOCUMENT_ROOT and row.algorithm == "ES256"
    assert pyhanko_status(_layout(client, city, licence["identifier"]), root=root_der).bottom_line


class _TokenKey(PrivateKey):
    """A key that only signs, as one in a hardware token does: no secret to hand over."""

    algorithm = Algorithm.ES256

    def __init__(self) -> None:
        self._inner = ES256PrivateKey.generate()
        self.signed = 0

    @property
    def public_key(self):
        return self._inner.public_key

    def sign(self, data: bytes) -> bytes:
        self.signed += 1
        return self._inner.sign(data)

    def secret_bytes(self) -> bytes:
        raise AssertionError("a token key is never exported")


@needs_pdfsig
def test_certificates_and_signature_are_made_through_the_key_abstraction(tmp_path):
    """Root, certificate and PDF signature from keys that only expose `sign`; OpenSSL checks the chain."""
    root_key, department_key = _TokenKey(), _TokenKey()
    now = datetime.now(UTC)
    root = issue_document_root(root_key=root_key, name=CertificateName("test root", "test"),
                               not_before=now - timedelta(days=1), not_after=now + timedelta(days=30))
    leaf = issue_document_signing_certificate(
        root_key=root_key, root_certificate=root, subject_key=department_key.public_key,
        name=CertificateName("测试局电子证照专用章", "test", "11350100MB0000000X"),
        not_before=now - timedelta(hours=1), not_after=now + timedelta(days=10))
    for name, der in (("root.pem", root), ("leaf.pem", leaf)):
        (tmp_path / name).write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
    verified = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", str(tmp_path / "root.pem"),
                               str(tmp_path / "leaf.pem")], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr

    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    signed = sign_pdf(bytes(document.output()), signer=KeySigner(key=department_key, certificate=leaf, chain=[root]))
    assert root_key.signed == 2 and department_key.signed == 1
    assert pyhanko_status(signed, root=root).bottom_line
    report = pdfsig_report(signed, root=root, tmp_path=tmp_path)
    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report


@needs_pdfsig
def test_a_demo_licence_pdf_is_signed_under_the_pinned_root(tmp_path, monkeypatch):
    """`certhub demo` as a user runs it: a holder's PDF from its wallet verifies in pdfsig and pyHanko
    under a root whose key is the trust-root key the demo prints to pin, and neither accepts it changed."""
    for name in ("CERTHUB_DATABASE_URL", "CERTHUB_SECRET_KEY", "CERTHUB_DEMO", "CERTHUB_DATA_DIR", "CERTHUB_TSA_URL"):
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "demo"
    seeded = CliRunner().invoke(cli, ["demo", "--prepare-only", "--data-dir", str(data_dir)], catch_exceptions=False)
    assert seeded.exit_code == 0, seeded.output
    pinned = base64.urlsafe_b64decode(re.search(r"trust-root key to pin[^:]*: (\S+)", seeded.output).group(1) + "==")
    login = json.loads(re.search(r"-d '(\{[^']*\})' \S+/api/v1/holders/dev-login", seeded.output).group(1))
    state = read_demo_state(data_dir)
    assert state is not None
    settings = Settings(demo=True, data_dir=data_dir, secret_key=state.secret_key, registry_id=state.registry_id)
    engine = create_db_engine(settings.effective_database_url)
    try:
        with create_sessionmaker(engine)() as session:
            publish_checkpoint(session=session, key_secret=settings.secret_bytes(),
                               origin=log_origin(settings.registry_id))
            session.commit()
        with TestClient(create_app(settings, engine=engine, cache=InProcessCache())) as client:
            token = client.post("/api/v1/holders/dev-login", json=login).json()["session_token"]
            holder = {"Authorization": f"Bearer {token}"}
            rows = client.get("/api/v1/holders/me/licences", headers=holder).json()
            valid = next(row for row in rows if row["status"] == "valid")
            response = client.get(f"/api/v1/holders/me/licences/{valid['identifier']}/layout.pdf", headers=holder)
            assert response.status_code == 200, response.text
    finally:
        engine.dispose()

    pdf = response.content
    (signature,) = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    certificates = [x509.load_der_x509_certificate(c.dump()) for c in signature.signed_data["certificates"]]
    (root,) = [c for c in certificates if c.issuer == c.subject]
    assert root.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) == pinned
    root_der = root.public_bytes(serialization.Encoding.DER)
    (tmp_path / "demo-licence.pdf").write_bytes(pdf)

    report = pdfsig_report(pdf, root=root_der, tmp_path=tmp_path)
    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report
    assert pyhanko_status(pdf, root=root_der).bottom_line
    tampered = _tampered(pdf)
    assert "Digest Mismatch" in pdfsig_report(tampered, root=root_der, tmp_path=tmp_path)
    assert not pyhanko_status(tampered, root=root_der).intact


def test_an_issuer_with_an_sm2_seal_signs_its_pdfs_with_its_es256_seal(db_session, client, city, licence, world,
                                                                         root_der):
    """The version's seal turned SM2: the department's other (ES256) seal for the type signs instead."""
    _, seal = world
    es256 = signing_service.create_seal(
        session=db_session, owner_department_code=CITY_SAMR, department_name="福州市市场监督管理局",
        seal_type="业务专用章", licence_type_codes=seal.licence_type_codes, valid_from=seal.valid_from,
        valid_to=seal.valid_to, key_secret=KEY_SECRET)
    signing_service.rotate_key(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, algorithm="SM2")
    db_session.commit()
    status = pyhanko_status(_layout(client, city, licence["identifier"]), root=root_der)
    assert status.bottom_line
    signer = x509.load_der_x509_certificate(status.signing_cert.dump())
    assert signer.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == es256.name
