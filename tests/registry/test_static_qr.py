"""Printed licences carry a static EL1 QR: made by the issuing seal, expiring
with the licence, verifiable offline with the trust list alone; scanned
from the rendered PNG and PDF."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from PIL import Image
from pypdf import PdfReader

from registry.service import documents, reads
from signing.keys import load_public_key
from signing.qr import QrVerificationError, decode_qr_image, verify_qr
from signing.statuslist import verify_status_list_token
from tests.factories.licences import KEY_SECRET, REGISTRY_ID
from tests.factories.presentations import build, publish_log, residence_body

pytestmark = pytest.mark.slow  # most of its tests are the slow tail (HTTP and database round trips)


@pytest.fixture
def world(client, app, db_session):
    return build(client, app, db_session, log=False)


def _status_lists(world, licence):
    uri = licence["status_list"]["uri"]
    list_id = uri.rsplit("/", 1)[1]
    key = load_public_key(world.client.get(f"/api/v1/status-lists/{list_id}/key").content)
    token = verify_status_list_token(world.client.get(f"/api/v1/status-lists/{list_id}").text, public_keys=[key],
                                     subject=uri)
    return {uri: token}


def _png(world, identifier):
    view = reads.get_or_raise(session=world.session, identifier=identifier)
    return documents.layout_png(session=world.session, view=view, registry_id=REGISTRY_ID, key_secret=KEY_SECRET)


def test_the_layout_png_carries_a_verifiable_static_qr(world):
    licence = world.residence
    png = _png(world, licence["identifier"])
    image = Image.open(io.BytesIO(png))
    # Crop the corner the QR is printed in, as a scanner would frame it.
    width, height = image.size
    corner = image.crop((0, height // 2, width // 2, height))
    out = io.BytesIO()
    corner.save(out, format="PNG")
    text = decode_qr_image(out.getvalue())
    assert text.startswith("EL1:") and len(text) <= 400

    now = datetime.now(UTC)
    result = verify_qr(text, trust_store=world.trust_store(), now=now, status_lists=_status_lists(world, licence))
    assert result.kind == "licence" and result.issuer == REGISTRY_ID and result.status == "valid"
    summary = result.summary
    assert summary.identifier == licence["identifier"] and summary.type_code == licence["type_code"]
    assert summary.holder_name_masked == "张*丰" and summary.issuer_code == licence["issuer_code"]
    assert (summary.status_idx, summary.status_uri) == (licence["status_list"]["idx"], licence["status_list"]["uri"])
    assert summary.valid_until.isoformat() == "2035-12-31"
    # exp is the end of the last valid day, China time.
    assert result.expires_at == datetime(2035, 12, 31, 16, 0, tzinfo=UTC)
    assert result.key.es_id is not None  # signed by a seal key, whose entry lists the types it may sign


def test_a_licence_that_has_ended_keeps_its_documents_whose_code_verifies_as_expired(world):
    # The holder's record of a licence past its validity: its layout documents are still made, and their
    # code, signed after that end, says the licence has expired.
    ended = world.issue(residence_body(valid_from="2024-01-01", valid_until="2036-12-31"))
    # Time passes: the validity it was issued with has run out (a licence past its end is not issued).
    reads.get_or_raise(session=world.session, identifier=ended["identifier"]).version.valid_until = date(2025, 12, 31)
    world.session.commit()
    publish_log(world.session)  # the holder's documents are served while the use log is published
    pdf = world.client.get(f"/api/v1/holders/me/licences/{ended['identifier']}/layout.pdf", headers=world.citizen)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = decode_qr_image(_png(world, ended["identifier"]))
    with pytest.raises(QrVerificationError) as refused:
        verify_qr(text, trust_store=world.trust_store(), now=datetime.now(UTC))
    assert refused.value.code == "expired"


def test_a_permanent_licence_qr_has_no_expiry(world):
    text = decode_qr_image(_png(world, world.business["identifier"]))
    result = verify_qr(text, trust_store=world.trust_store(), now=datetime.now(UTC))
    assert result.expires_at is None and result.summary.valid_until is None


def test_the_pdf_carries_the_same_kind_of_qr(world):
    view = reads.get_or_raise(session=world.session, identifier=world.residence["identifier"])
    pdf = documents.layout_pdf(session=world.session, view=view, registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    texts = []
    for picture in PdfReader(io.BytesIO(pdf)).pages[0].images:
        buffer = io.BytesIO()
        picture.image.convert("RGB").save(buffer, format="PNG")
        try:
            texts.append(decode_qr_image(buffer.getvalue()))
        except QrVerificationError:
            continue  # the seal picture
    [text] = texts
    result = verify_qr(text, trust_store=world.trust_store(), now=datetime.now(UTC))
    assert result.summary.identifier == world.residence["identifier"]


def test_a_revoked_licence_qr_fails_its_status_check(world):
    identifier = world.residence["identifier"]
    text = decode_qr_image(_png(world, identifier))
    revoked = world.client.post(f"/api/v1/licences/{identifier}/revoke", json={"reason": "吊销"}, headers=world.city)
    assert revoked.status_code == 200
    with pytest.raises(QrVerificationError) as caught:
        verify_qr(text, trust_store=world.trust_store(), now=datetime.now(UTC),
                  status_lists=_status_lists(world, revoked.json()))
    assert caught.value.code == "revoked"
