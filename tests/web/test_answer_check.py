"""The holder's wallet checks, in their own browser, that what a department
received about them is what the use record committed to: a department's
exchange query is answered with the holder's licence; the wallet's 用证记录
shows it 已核验 (the digests recomputed with WebCrypto over the values and
salts the record view returns); a value changed on the way is shown as not
matching; a redemption, which commits to no answer, shows no such line."""

from __future__ import annotations

import json

import httpx
import pytest

from exchange.auditlog.answers import verify_answer
from tests.web.browsing import PHONE
from tests.web.live import CRIMINAL_RECORD_PROOF, PROPERTY_ISSUER, PUBLIC_SECURITY, LiveCerthub

pytestmark = pytest.mark.slow  # drives Chromium

CONSUMER = PROPERTY_ISSUER  # 福州市不动产登记中心 asks for the holder's 无犯罪记录证明
TRANSFER_MATTER = "1235010020552657570700012002"  # 不动产转移登记（存量房买卖）
CONSUMER_OPERATOR = {"X-Operator-Id": "bdc-officer-0007"}


def _answered_query(live: LiveCerthub) -> dict:
    """An agreement (applied for, approved), the holder's consent, then the query; its granted result."""
    applied = live.call("POST", "/api/v1/exchange/agreements", client=live.issuers[CONSUMER], scope="exchange:query",
                        headers=CONSUMER_OPERATOR, json={
                            "item": CRIMINAL_RECORD_PROOF, "provider": PUBLIC_SECURITY, "matters": [TRANSFER_MATTER],
                            "fields": ["proof_number", "result"], "reason": "存量房买卖登记核验卖方无犯罪记录"})
    assert applied.status_code == 201, applied.text
    decided = live.call("POST", f"/api/v1/exchange/agreements/{applied.json()['id']}/decision",
                        client=live.issuers[PUBLIC_SECURITY], scope="exchange:provide",
                        headers={"X-Operator-Id": "fzga-officer-0032"}, json={"decision": "approve"})
    assert decided.status_code == 200, decided.text
    consent = httpx.post(f"{live.base_url}/api/v1/holders/me/consents", timeout=30,
                         headers={"Authorization": f"Bearer {live.holder_token()}"},
                         json={"department": CONSUMER, "matter": TRANSFER_MATTER, "items": [CRIMINAL_RECORD_PROOF]})
    assert consent.status_code == 201, consent.text
    answered = live.call("POST", "/api/v1/exchange/query", client=live.issuers[CONSUMER], scope="exchange:query",
                         headers=CONSUMER_OPERATOR, json={
                             "subject": {"code": live.holder_code, "type": "111"}, "matter": TRANSFER_MATTER,
                             "purpose": "存量房买卖：核验卖方无犯罪记录", "case_number": "BDC-2026-0001",
                             "items": [CRIMINAL_RECORD_PROOF]})
    assert answered.status_code == 200, answered.text
    [result] = answered.json()["results"]
    assert result["result"] == "granted" and len(result["licences"]) == len(result["answer_salts"]) >= 1
    return result


def _records(page, live: LiveCerthub) -> None:
    page.goto(live.base_url + "/wallet")
    page.fill("#holder-code", live.holder_code)
    page.fill("#holder-name", live.holder_name)
    page.click("#dev-login button[type=submit]")
    page.wait_for_selector(".licence-card")
    page.click("#tab-records")


def test_the_wallet_checks_what_went_out_against_the_record(browsing, live):
    result = _answered_query(live)
    live.publish_checkpoint()

    wallet = browsing.page(PHONE, mobile=True)
    _records(wallet, live)
    line = wallet.wait_for_selector('#records .record[data-kind="department_query"][data-result="granted"] '
                                    '.answer[data-answer="verified"]')
    assert "已核验" in line.inner_text()
    assert wallet.locator('.answer[data-answer="mismatch"]').count() == 0
    # A redemption at a counter (its licence is sealed, and shown at the counter) commits to no answer.
    assert wallet.locator('#records .record[data-kind="redemption"] .answer').count() == 0
    browsing.shot(wallet, "wallet-records-answer-360")

    # The same records with one disclosed value changed on the way to the browser: not what was committed to.
    def tampered(route):
        body = route.fetch().json()
        for item in body["records"]:
            if item.get("disclosed"):
                item["disclosed"]["values"][0]["fields"]["result"] = "有犯罪记录"
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body, ensure_ascii=False))

    changed = browsing.page(PHONE, mobile=True)
    changed.route("**/api/v1/holders/me/use-records", tampered)
    _records(changed, live)
    bad = changed.wait_for_selector('#records .record[data-kind="department_query"] .answer[data-answer="mismatch"]')
    assert "不符" in bad.inner_text()
    # And what the department was given back (its values and salts) opens the very same record's commitment.
    view = httpx.get(f"{live.base_url}/api/v1/holders/me/use-records", timeout=30,
                     headers={"Authorization": f"Bearer {live.holder_token()}"}).json()
    [record] = [item["record"] for item in view["records"]
                if item["record"]["kind"] == "department_query" and item["record"]["result"] == "granted"]
    verify_answer(record=record, values=result["licences"], salts=result["answer_salts"])
