"""A counter's verification receipt (核验回执): the redemption as recorded,
printed as a PDF/A and signed by the redeeming department's seal under the
registry's document root, checked by pdfsig and pyHanko; the department's
alone; none from a department that holds no seal able to sign a PDF."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from identity.masking import MaskRule, mask_value
from signing.service.doccerts import document_root_certificate
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import KEY_SECRET, REGISTRY_ID, token_headers
from tests.factories.pdfsigs import needs_pdfsig, pdfsig_report, pyhanko_status
from tests.factories.presentations import CITIZEN, PURPOSE, build

pytestmark = pytest.mark.slow  # HTTP round trips, PDF signing and an outside verifier


@pytest.fixture
def world(client, app, db_session):
    return build(client, app, db_session)


@pytest.fixture
def city_counter(world) -> dict:
    """A counter of the city bureau, which holds an ES256 seal (the county centre holds none)."""
    return token_headers(world.client, world.session, CITY_SAMR, scopes=("presentation:redeem",))


def _redeemed(world, headers: dict) -> str:
    response = world.redeem(world.code(), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["presentation_id"]


def _receipt(world, presentation_id: str, headers: dict):
    return world.client.get(f"/api/v1/presentations/redemptions/{presentation_id}/receipt.pdf", headers=headers)


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\x00", "")


@needs_pdfsig
def test_the_receipt_says_what_was_verified_and_is_signed_by_the_departments_seal(world, city_counter, tmp_path):
    presentation_id = _redeemed(world, city_counter)
    answer = _receipt(world, presentation_id, city_counter)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert f'filename="receipt-{presentation_id}.pdf"' in answer.headers["content-disposition"]
    pdf = answer.content

    text = _text(pdf)
    assert "亮证核验回执" in text and presentation_id in text
    assert "有效" in text and "CASE-2025-001" in text and "clerk-7" in text and PURPOSE in text
    assert world.residence["identifier"] in text.replace("\n", "")  # a long identifier wraps
    assert mask_value(CITIZEN, MaskRule.id_number) in text and CITIZEN not in text  # the holder's id masked
    assert "福州市市场监督管理局" in text  # the department that verified

    root = document_root_certificate(session=world.session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    report = pdfsig_report(pdf, root=root, tmp_path=tmp_path)
    assert "Signature Validation: Signature is Valid." in report, report
    assert "Certificate Validation: Certificate is Trusted." in report, report
    assert "福州市市场监督管理局" in report  # the department's seal names the signer
    status = pyhanko_status(pdf, root=root)
    assert status.intact and status.valid and status.trusted and status.bottom_line


def test_only_the_redeeming_department_gets_its_receipt(world, city_counter):
    presentation_id = _redeemed(world, city_counter)
    other = _receipt(world, presentation_id, world.counter)  # the county centre's counter
    assert other.status_code == 404 and other.json()["error"] == "redemption_not_found"
    unknown = _receipt(world, "A" * 22, city_counter)
    assert unknown.status_code == 404 and unknown.json()["error"] == "redemption_not_found"
    assert _receipt(world, "not/an id", city_counter).status_code in (404, 422)


def test_a_receipt_needs_the_redeem_scope(world, city_counter):
    presentation_id = _redeemed(world, city_counter)
    issuer = world.city  # the same department, without presentation:redeem
    answer = _receipt(world, presentation_id, issuer)
    assert answer.status_code == 403


def test_a_department_without_a_pdf_seal_gets_no_unsigned_receipt(world):
    presentation_id = _redeemed(world, world.counter)
    answer = _receipt(world, presentation_id, world.counter)
    assert answer.status_code == 409 and answer.json()["error"] == "pdf_not_signable"
