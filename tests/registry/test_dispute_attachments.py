"""Evidence attached to a holder's dispute: JPEG, PNG or PDF by their first
bytes, bounded in size and number, only to the holder's own open dispute,
and read by the issuing department that decides it."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from certhub.settings import Settings
from registry.service.dispute_attachments import MAX_BYTES, MAX_PER_DISPUTE
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import (
    REGISTRY_ID,
    build_world,
    citizen_id,
    holder_headers,
    issue_residence_permit_through_the_api,
    token_headers,
)
from tests.factories.settings import TEST_SECRET

ALICE = citizen_id("35010219900101123")
BOB = citizen_id("35010219851231002")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True)


@pytest.fixture
def world(client, db_session):
    build_world(db_session)
    city = token_headers(client, db_session, CITY_SAMR)
    issued = issue_residence_permit_through_the_api(client, db_session, holder_code=ALICE)
    alice = holder_headers(client, code=ALICE)
    dispute = client.post("/api/v1/holders/me/disputes", headers=alice, json={
        "identifier": issued["identifier"], "field": "address", "reason": "门牌号错了"})
    assert dispute.status_code == 201, dispute.text
    return {"city": city, "alice": alice, "dispute": dispute.json()["id"]}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, format="PNG")
    return out.getvalue()


def _attach(client, world, content: bytes, media_type: str, *, headers=None):
    return client.post(f"/api/v1/holders/me/disputes/{world['dispute']}/attachments", content=content,
                       headers={**(headers or world["alice"]), "Content-Type": media_type})


def test_the_holder_attaches_evidence_the_issuer_reads(client, world):
    png = _png()
    answer = _attach(client, world, png, "image/png")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["media_type"] == "image/png" and body["size"] == len(png)
    listed = client.get(f"/api/v1/holders/me/disputes/{world['dispute']}/attachments", headers=world["alice"]).json()
    assert [a["id"] for a in listed] == [body["id"]]
    issuer = client.get(f"/api/v1/licences/disputes/{world['dispute']}/attachments/{body['id']}",
                        headers=world["city"])
    assert issuer.status_code == 200 and issuer.content == png
    assert issuer.headers["content-disposition"].startswith("attachment")


@pytest.mark.parametrize(("content", "media_type"), [
    (b"<html><script>alert(1)</script></html>", "image/png"),  # not what it claims to be
    (b"%PDF-1.7 ...", "image/png"),  # a PDF declared as a picture
    (b"MZ\x90\x00", "application/octet-stream"),
    (b"", "image/png"),
])
def test_anything_but_jpeg_png_or_pdf_is_refused(client, world, content, media_type):
    answer = _attach(client, world, content, media_type)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_dispute"
    assert "attachment" in answer.json()["message"]


def test_size_and_number_are_bounded(client, world):
    too_big = b"%PDF-" + b"0" * MAX_BYTES
    assert _attach(client, world, too_big, "application/pdf").status_code == 422
    for _ in range(MAX_PER_DISPUTE):
        assert _attach(client, world, _png(), "image/png").status_code == 201
    one_more = _attach(client, world, _png(), "image/png")
    assert one_more.status_code == 422 and "at most" in one_more.json()["message"]


def test_another_holders_dispute_is_not_found(client, world):
    bob = holder_headers(client, code=BOB, name="李四")
    assert _attach(client, world, _png(), "image/png", headers=bob).status_code == 404
    assert client.get(f"/api/v1/holders/me/disputes/{world['dispute']}/attachments", headers=bob).status_code == 404


def test_a_decided_dispute_takes_no_more_files(client, world):
    rejected = client.post(f"/api/v1/licences/disputes/{world['dispute']}/reject", headers=world["city"],
                           json={"reason": "地址无误", "operator": "审核员"})
    assert rejected.status_code == 200, rejected.text
    answer = _attach(client, world, _png(), "image/png")
    assert answer.status_code == 422 and "no longer open" in answer.json()["message"]
