"""OFD layout documents (GB/T 33190) with the department seal's 签章 (GB/T 38540),
served to the issuer and to the holder beside the PNG and the PDF, and as
purpose-limited copies (加注件): verified by certhub's verifier, by an
independent check (pyasn1 + OpenSSL 3), and read by an outside OFD library
(easyofd); each download recorded in the use log like the PNG/PDF ones."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from certhub.cli import app as cli
from certhub.settings import Settings
from exchange.auditlog import LogEntry
from exchange.auditlog.records import parse_entry
from registry.layout.ofd import render_ofd
from signing import service as signing_service
from signing.errors import VerificationError
from signing.ofd import verify_ofd
from signing.ofd.trust import trusted_seal_key
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import (
    KEY_SECRET,
    REGISTRY_ID,
    RESIDENCE_PERMIT,
    build_world,
    business_licence_body,
    citizen_id,
    holder_headers,
    publish_log_checkpoint,
    token_headers,
    trust_store,
)
from tests.factories.ofd import (
    flip_byte,
    independent_check_refuses,
    independent_problems,
    licence_face,
    ofd_signer,
    package_files,
)
from tests.factories.settings import TEST_SECRET

OFD = "application/ofd"
ALICE = citizen_id("35010219900101123")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command (.ci/run installs it)")


@pytest.fixture
def settings(tmp_path) -> Settings:
    # Holders sign in through the development login, which exists only in demo mode.
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True)


@pytest.fixture
def world(db_session):
    """The test world, the city issuer's seal key rotated to SM2 (GB/T 38540 signs with SM2 only)."""
    anchors, seal = build_world(db_session)
    signing_service.rotate_key(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, algorithm="SM2")
    db_session.commit()
    publish_log_checkpoint(db_session)
    return anchors, seal


@pytest.fixture
def sm2_seal(world):
    return world[1]


@pytest.fixture
def city(client, db_session, sm2_seal):
    return token_headers(client, db_session, CITY_SAMR)


@pytest.fixture
def licence(client, city) -> dict:
    response = client.post("/api/v1/licences", json=business_licence_body(), headers=city)
    assert response.status_code == 201, response.text
    return response.json()


def _entries(session, kind: str) -> list[LogEntry]:
    return list(session.scalars(select(LogEntry).where(LogEntry.kind == kind).order_by(LogEntry.id)))


def test_the_issuer_downloads_a_sealed_ofd_recorded_in_the_use_log(client, db_session, city, licence, sm2_seal):
    ident = licence["identifier"]
    response = client.get(f"/api/v1/licences/{ident}/layout.ofd", headers={**city, "X-Operator-Id": "clerk-9"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == OFD
    (signature,) = verify_ofd(response.content).signatures
    assert signature.es_id == sm2_seal.es_id and signature.seal_name == sm2_seal.name
    content = package_files(response.content)["/Doc_0/Pages/Page_0/Content.xml"].decode()
    assert ident in content and business_licence_body()["holder"]["name"] in content
    (entry,) = _entries(db_session, "layout_download")
    assert (entry.operator_id, entry.basis, entry.department_code) == ("clerk-9", "issuer", CITY_SAMR)
    assert parse_entry(entry.entry)["licence_ids"] == [ident]


@pytest.mark.slow
@needs_openssl
def test_the_served_ofd_checks_independently_and_one_byte_changed_is_refused(client, city, licence):
    ofd = client.get(f"/api/v1/licences/{licence['identifier']}/layout.ofd", headers=city).content
    assert independent_problems(ofd) == []
    tampered = flip_byte(ofd, "/Doc_0/Pages/Page_0/Content.xml")
    with pytest.raises(VerificationError):
        verify_ofd(tampered)
    assert independent_check_refuses(tampered)


def test_an_annotated_copy_as_ofd_is_sealed_and_recorded(client, db_session, city, licence):
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    response = client.post(f"/api/v1/licences/{licence['identifier']}/copies", headers=city,
                           json={"purpose": "办理银行开户", "expires_at": expires, "format": "ofd"})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == OFD and response.headers["X-Copy-Id"]
    verify_ofd(response.content)
    content = package_files(response.content)["/Doc_0/Pages/Page_0/Content.xml"].decode()
    assert "仅用于办理银行开户" in content
    (entry,) = _entries(db_session, "annotated_copy_download")
    assert parse_entry(entry.entry)["purpose"] == "办理银行开户"
    unknown = client.post(f"/api/v1/licences/{licence['identifier']}/copies", headers=city,
                          json={"purpose": "办理银行开户", "expires_at": expires, "format": "doc"})
    assert unknown.status_code == 422


@pytest.mark.slow
def test_the_holder_downloads_their_own_ofd(client, db_session, city):
    body = business_licence_body()
    body["holder"] = {"name": "张三", "code": ALICE, "code_type": "111"}
    body["type_code"] = RESIDENCE_PERMIT
    body["face"] = {"address": "福州市鼓楼区五四路1号"}
    body["valid_from"], body["valid_until"] = "2025-01-01", "2035-12-31"
    issued = client.post("/api/v1/licences", json=body, headers=city)
    assert issued.status_code == 201, issued.text
    ident = issued.json()["identifier"]
    alice = holder_headers(client, code=ALICE)
    response = client.get(f"/api/v1/holders/me/licences/{ident}/layout.ofd", headers=alice)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == OFD
    verify_ofd(response.content)
    (entry,) = _entries(db_session, "holder_access")
    assert parse_entry(entry.entry)["licence_ids"] == [ident]
    other = holder_headers(client, code=citizen_id("35010219851231002"), name="李四")
    assert client.get(f"/api/v1/holders/me/licences/{ident}/layout.ofd", headers=other).status_code == 404


def test_a_seal_without_an_sm2_key_says_so(client, db_session):
    build_world(db_session)  # the world's seal signs with ES256
    publish_log_checkpoint(db_session)
    city = token_headers(client, db_session, CITY_SAMR)
    licence = client.post("/api/v1/licences", json=business_licence_body(), headers=city).json()
    response = client.get(f"/api/v1/licences/{licence['identifier']}/layout.ofd", headers=city)
    assert response.status_code == 409
    assert response.json()["error"] == "ofd_not_signable" and "SM2" in response.json()["message"]


def test_a_licence_sealed_with_es256_gets_its_ofd_from_the_issuers_sm2_seal(client, db_session):
    """The OFD 签章 is SM2 only: a version sealed by the issuer's ES256 seal is laid out
    under the issuer's own SM2 seal for the type, as the signed PDF takes the ES256 one."""
    _, es256_seal = build_world(db_session)
    publish_log_checkpoint(db_session)
    city = token_headers(client, db_session, CITY_SAMR)
    licence = client.post("/api/v1/licences", json=business_licence_body(), headers=city).json()
    sm2_seal = signing_service.create_seal(
        session=db_session, owner_department_code=CITY_SAMR, department_name="福州市市场监督管理局",
        seal_type="电子证照专用章", licence_type_codes=[es256_seal.licence_type_codes[0]],
        valid_from=es256_seal.valid_from, valid_to=es256_seal.valid_to, key_secret=KEY_SECRET, algorithm="SM2")
    db_session.commit()
    assert licence["seal_signature"]["es_id"] == es256_seal.es_id  # sealed before the SM2 seal existed

    response = client.get(f"/api/v1/licences/{licence['identifier']}/layout.ofd", headers=city)

    assert response.status_code == 200, response.text
    (signature,) = verify_ofd(response.content).signatures
    assert signature.es_id == sm2_seal.es_id


@pytest.mark.slow
# easyofd imports PyMuPDF as fitz, and leaves the files it unpacks open.
@pytest.mark.filterwarnings("ignore:The `fitz` API is deprecated:FutureWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_easyofd_reads_the_page_and_draws_the_seal(client, city, licence, tmp_path, monkeypatch):
    from easyofd.ofd import OFD as EasyOfd  # an outside OFD library (test dependency)

    ofd = client.get(f"/api/v1/licences/{licence['identifier']}/layout.ofd", headers=city).content
    monkeypatch.chdir(tmp_path)  # easyofd unpacks the package into the working directory
    reader = EasyOfd()
    reader.read(ofd, fmt="binary")
    (document,) = reader.data
    texts = [line["text"] for page in document["page_info"].values() for line in page["text_list"]]
    assert business_licence_body()["holder"]["name"] in texts and f"证照标识 {licence['identifier']}" in texts
    assert [float(v) for v in document["page_size"][0]] == [0, 0, 210, 297] or document["default_page_size"]
    (stamp,) = document["signatures_page_id"][0]
    left, top, width, height = (float(v) for v in stamp["Boundary"].split())
    # Rendered (easyofd draws through reportlab, PyMuPDF rasterises): the seal's red lies in the stamp box.
    page = reader.pdf2img(reader.to_pdf())[0].convert("RGB")
    scale = page.width / 210
    box = page.crop((int(left * scale), int(top * scale), int((left + width) * scale), int((top + height) * scale)))
    pixels = box.tobytes()
    red = sum(1 for i in range(0, len(pixels), 3) if pixels[i] > 150 and pixels[i + 1] < 100 and pixels[i + 2] < 100)
    assert red > 0.03 * box.width * box.height
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    assert buffer.tell() > 0


@pytest.mark.slow
def test_certhub_verify_checks_the_seal_against_the_registry_trust_list(client, world, city, licence, tmp_path):
    anchors, seal = world
    ofd = client.get(f"/api/v1/licences/{licence['identifier']}/layout.ofd", headers=city).content
    (path := tmp_path / "licence.ofd").write_bytes(ofd)
    (trust := tmp_path / "trust-list.json").write_bytes(client.get("/.well-known/certhub/trust-list").content)
    result = CliRunner().invoke(cli, ["verify", str(path), "--trust-list", str(trust),
                                      "--root-key", anchors.root_public_key_der_b64])
    assert result.exit_code == 0, result.output
    assert f"seal and key in the trust list of {REGISTRY_ID}" in result.output
    # Another seal, with the same name and picture but not in the trust list, is not vouched for.
    forged = render_ofd(licence_face(), signer=ofd_signer(), signed_at=datetime.now(UTC))
    (forged_path := tmp_path / "forged.ofd").write_bytes(forged)
    refused = CliRunner().invoke(cli, ["verify", str(forged_path), "--trust-list", str(trust),
                                       "--root-key", anchors.root_public_key_der_b64])
    assert refused.exit_code == 1 and refused.output.startswith("INVALID OFD: unknown_key")
    (signature,) = verify_ofd(ofd).signatures
    assert trusted_seal_key(signature, trust_store=trust_store(client, anchors)).key.es_id == seal.es_id
