"""The department console (/console) in a real browser against a real certhub
on loopback: the demo officer of 福州市公安局 signs in as themself and every
flow goes through the same public API a department system uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from certhub.db import create_db_engine, create_sessionmaker
from identity import clients
from identity.codes import citizen_id_check_character
from registry.models import LicenceDispute
from tests.web.browsing import DESKTOP, PHONE
from tests.web.live import CRIMINAL_RECORD_ISSUER, PUBLIC_SECURITY, LiveCerthub

pytestmark = pytest.mark.slow  # drives Chromium

PROPERTY_CERTIFICATE = "11100000464367345J001"  # 不动产权证书, issued by the property registry
# The demo's officer of 福州市公安局 (certhub/demo/staff.yaml).
OFFICER = "fzga-officer-0032"


def console_ready(browsing, live: LiveCerthub, viewport=DESKTOP):
    page = browsing.page(viewport, mobile=viewport is PHONE)
    page.goto(live.base_url + "/console")
    page.click("#demo-login")
    page.wait_for_selector("#console-app:not([hidden])")
    return page


def open_tab(page, tab: str) -> None:
    page.click(f"#tab-{tab}")
    page.wait_for_selector(f"#panel-{tab}:not([hidden])")


def test_the_officer_signs_in_and_sees_only_their_departments_use(browsing, live):
    # A use by the public security bureau (its issuing system downloads a layout) and one by another department.
    assert CRIMINAL_RECORD_ISSUER == PUBLIC_SECURITY
    for department in (PUBLIC_SECURITY, "123501002055265757"):
        identifier = live.licences["proof" if department == PUBLIC_SECURITY else "property"]
        answer = live.call("GET", f"/api/v1/licences/{identifier}/layout.png", client=live.issuers[department],
                           scope="licence:manage")
        assert answer.status_code == 200, answer.text
    page = console_ready(browsing, live)
    whoami = page.locator("#whoami")
    assert OFFICER in whoami.inner_text() and "部门业务人员" in whoami.inner_text()
    page.wait_for_function("() => document.getElementById('usage-totals').dataset.granted > 0")
    # The page's figures are the API's for the officer's own department, and only those.
    token = page.evaluate("JSON.parse(sessionStorage.getItem('certhub.console')).token")
    shown = int(page.get_attribute("#usage-totals", "data-granted"))
    now = datetime.now(UTC)
    params = {"since": (now - timedelta(days=30)).isoformat(), "until": (now + timedelta(minutes=1)).isoformat()}
    stats = httpx.get(f"{live.base_url}/api/v1/usage/stats", params=params,
                      headers={"Authorization": f"Bearer {token}"}).json()
    assert stats["department"] == PUBLIC_SECURITY and stats["totals"]["granted"] == shown
    assert page.locator('#usage-kinds .bar-row[data-key="layout_download"]').count() == 1
    assert "下载版式文件" in page.inner_text("#usage-kinds")
    assert shown >= 1 and page.locator("#usage-days tbody tr").count() >= 1
    browsing.shot(page, "console-usage-1280")
    # Signing out leaves nothing of the department on the screen.
    page.click("#sign-out")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.locator("#usage-days tbody tr").count() == 0
    assert page.evaluate("sessionStorage.getItem('certhub.console')") is None


def test_a_clerk_is_not_let_into_the_console(browsing, live):
    page = browsing.page(DESKTOP)
    page.goto(live.base_url + "/console")
    token = live.staff_id_token(roles=["clerk"])  # the province's provider: a clerk, not an officer
    page.click("details summary")
    page.fill("#staff-id-token", token)
    page.click("#staff-oidc-login button[type=submit]")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "没有本页面的权限" in page.inner_text("#signin-error")
    assert page.is_hidden("#console-app")


PROPERTY_REGISTRY = "123501002055265757"  # 福州市不动产登记中心: the consumer applying
CRIMINAL_RECORD_PROOF = "11100000175689532F003"
TRANSFER_MATTER = "1235010020552657570700012002"  # 不动产转移登记（存量房买卖）
HOUSING_MATTER = "1135010080916364821000003001"  # 人才引进住房申报


def apply_for_the_proof(live: LiveCerthub, reason: str) -> int:
    """The property registry applies for the bureau's 无犯罪记录证明 (a licence type: the provider decides)."""
    answer = live.call("POST", "/api/v1/exchange/agreements", client=live.issuers[PROPERTY_REGISTRY],
                       scope="exchange:query", headers={"X-Operator-Id": "bdc-officer-0007"}, json={
                           "item": CRIMINAL_RECORD_PROOF, "provider": PUBLIC_SECURITY, "matters": [TRANSFER_MATTER, HOUSING_MATTER],
                           "fields": ["proof_number", "name", "result", "issue_date"], "reason": reason})
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "pending"
    return answer.json()["id"]


def agreement_as_consumer(live: LiveCerthub, agreement_id: int) -> dict:
    answer = live.call("GET", f"/api/v1/exchange/agreements/{agreement_id}", client=live.issuers[PROPERTY_REGISTRY],
                       scope="exchange:query")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_officer_approves_an_application_narrower_and_refuses_one_with_a_legal_reason(browsing, live):
    narrowed = apply_for_the_proof(live, "存量房买卖登记核验卖方无犯罪记录")
    refused = apply_for_the_proof(live, "批量核验购房人背景")
    page = console_ready(browsing, live)
    open_tab(page, "agreements")
    card = page.wait_for_selector(f'#agreements-list [data-agreement="{narrowed}"]')
    assert "福州市不动产登记中心" in card.inner_text() and "无犯罪记录证明" in card.inner_text()
    browsing.shot(page, "console-agreements-1280")
    # Approve for one matter and two fields only: untick the rest.
    page.uncheck(f'#ag-{narrowed}-matter input[value="{HOUSING_MATTER}"]')
    page.uncheck(f'#ag-{narrowed}-field input[value="name"]')
    page.uncheck(f'#ag-{narrowed}-field input[value="issue_date"]')
    page.click(f"#ag-{narrowed} button.approve")
    page.wait_for_selector("#console-ok:not([hidden])")
    decided = agreement_as_consumer(live, narrowed)
    assert decided["status"] == "approved"
    assert decided["matters"] == [TRANSFER_MATTER] and decided["fields"] == ["proof_number", "result"]

    # A refusal without its legal reason is not sent.
    page.wait_for_selector(f"#ag-{refused} button.refuse")
    page.click(f"#ag-{refused} button.refuse")
    page.wait_for_selector("#console-error:not([hidden])")
    assert "法律依据" in page.inner_text("#console-error")
    assert agreement_as_consumer(live, refused)["status"] == "pending"
    legal_reason = "依据《中华人民共和国个人信息保护法》第六条，批量核验超出办理事项所必需的范围"
    page.fill(f"#ag-{refused}-reason", legal_reason)
    page.click(f"#ag-{refused} button.refuse")
    page.wait_for_selector("#console-ok:not([hidden])")
    decided = agreement_as_consumer(live, refused)
    assert decided["status"] == "refused" and decided["decision_reason"] == legal_reason

    # Decided applications leave the pending list and show under their status.
    page.wait_for_function(f"() => !document.querySelector('#agreements-list [data-agreement=\"{refused}\"]')")
    page.select_option("#ag-status", "refused")
    page.click("#agreements-form button[type=submit]")
    shown = page.wait_for_selector(f'#agreements-list [data-agreement="{refused}"][data-status="refused"]')
    assert legal_reason in shown.inner_text()


def test_the_agreements_are_decided_with_the_keyboard(browsing, live):
    agreement = apply_for_the_proof(live, "存量房买卖登记核验")
    page = console_ready(browsing, live)
    page.focus("#tab-usage")
    page.keyboard.press("ArrowRight")  # WAI-ARIA tabs: the arrow keys move between them
    assert page.evaluate("document.activeElement.id") == "tab-agreements"
    page.wait_for_selector(f"#ag-{agreement} button.approve")
    page.focus(f"#ag-{agreement} button.approve")
    page.keyboard.press("Enter")
    page.wait_for_selector("#console-ok:not([hidden])")
    assert agreement_as_consumer(live, agreement)["status"] == "approved"


def holder_disputes(live: LiveCerthub, field: str, reason: str, proposed: str) -> int:
    answer = httpx.post(f"{live.base_url}/api/v1/holders/me/disputes", timeout=30,
                        headers={"Authorization": f"Bearer {live.holder_token()}"},
                        json={"identifier": live.licences["proof"], "field": field, "reason": reason,
                              "proposed_value": proposed})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def deadline_passed(live: LiveCerthub, dispute_id: int) -> None:
    """The dispute was raised long ago: its deadline is a day behind (the registry's own table, as time would leave it)."""
    engine = create_db_engine(live.settings.effective_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(LicenceDispute).where(LicenceDispute.id == dispute_id)
                               .values(due_at=datetime.now(UTC) - timedelta(days=1)))
    finally:
        engine.dispose()


def dispute_as_issuer(live: LiveCerthub, dispute_id: int) -> dict:
    answer = live.call("GET", f"/api/v1/licences/disputes/{dispute_id}", client=live.issuers[PUBLIC_SECURITY],
                       scope="licence:manage")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_officer_handles_disputes_overdue_first_accepting_and_rejecting(browsing, live):
    on_time = holder_disputes(live, "issuing_authority", "出具单位应为分局", "福州市公安局鼓楼分局")
    late = holder_disputes(live, "sex", "性别登记有误", "男")
    deadline_passed(live, late)
    page = console_ready(browsing, live)
    open_tab(page, "disputes")
    page.wait_for_selector(f'#disputes-list [data-dispute="{on_time}"]')
    order = page.eval_on_selector_all("#disputes-list .dispute", "cards => cards.map(c => c.dataset.dispute)")
    assert order.index(str(late)) < order.index(str(on_time)), "the overdue dispute comes first"
    late_card = page.locator(f"#dp-{late}")
    assert late_card.get_attribute("data-overdue") == "true" and "已逾期" in late_card.inner_text()
    assert "出具单位" in page.inner_text(f"#dp-{on_time}") and "福州市公安局鼓楼分局" in page.inner_text(f"#dp-{on_time}")
    browsing.shot(page, "console-disputes-1280")

    # Reject needs a reason; with one, the dispute is rejected and the licence stays as it is.
    page.click(f"#dp-{late} button.reject")
    page.wait_for_selector("#console-error:not([hidden])")
    assert dispute_as_issuer(live, late)["status"] == "open"
    page.fill(f"#dp-{late}-reason", "经核对户籍档案，性别登记无误")
    page.click(f"#dp-{late} button.reject")
    page.wait_for_selector("#console-ok:not([hidden])")
    rejected = dispute_as_issuer(live, late)
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == "经核对户籍档案，性别登记无误"

    # Accept with the proposed value (prefilled): a new sealed version carries it.
    page.wait_for_selector(f"#dp-{on_time} button.accept")
    assert page.input_value(f"#dp-{on_time}-value") == "福州市公安局鼓楼分局"
    page.click(f"#dp-{on_time} button.accept")
    page.wait_for_selector("#console-ok:not([hidden])")
    accepted = dispute_as_issuer(live, on_time)
    assert accepted["status"] == "accepted" and accepted["corrected_version"] is not None
    licence = live.call("GET", f"/api/v1/licences/{accepted['licence_identifier']}", client=live.issuers[PUBLIC_SECURITY],
                        scope="licence:manage").json()
    current = licence["versions"][-1]["identifier"]
    face = live.call("GET", f"/api/v1/licences/{current}", client=live.issuers[PUBLIC_SECURITY],
                     scope="licence:manage").json()["face"]
    assert face["issuing_authority"] == "福州市公安局鼓楼分局" and face["sex"] == "女"
    # Decided disputes leave the open list.
    page.wait_for_function(f"() => !document.querySelector('#disputes-list [data-dispute=\"{on_time}\"]')")


def licence_as_issuer(live: LiveCerthub, identifier: str) -> dict:
    answer = live.call("GET", f"/api/v1/licences/{identifier}", client=live.issuers[PUBLIC_SECURITY],
                       scope="licence:manage")
    assert answer.status_code == 200, answer.text
    return answer.json()


def layout_shown(page, identifier: str) -> None:
    """The layout PNG of that version is on screen: fetched with the officer's token, decoded by the browser."""
    page.wait_for_selector(f'#lv-layout[data-identifier="{identifier}"]')
    assert page.evaluate("document.getElementById('lv-layout').naturalWidth") > 200


def test_the_officer_issues_changes_suspends_and_revokes_a_licence_seeing_its_layout(browsing, live):
    first17 = "35010219900101123"
    holder_code = first17 + citizen_id_check_character(first17)
    page = console_ready(browsing, live)
    open_tab(page, "licences")
    page.wait_for_selector(f'#i-type option[value="{CRIMINAL_RECORD_PROOF}"]', state="attached")
    # Only the types the bureau issues are offered.
    offered = page.eval_on_selector_all("#i-type option", "options => options.map(o => o.value)")
    assert CRIMINAL_RECORD_PROOF in offered and "11100000464367345J001" not in offered  # 不动产权证书: not theirs
    page.select_option("#i-type", CRIMINAL_RECORD_PROOF)
    page.fill("#i-holder-name", "王海峰")
    page.fill("#i-holder-code", holder_code)
    face = {"proof_number": "FZGA-2026-0100001", "name": "王海峰", "id_number": holder_code,
            "result": "未发现有犯罪记录", "issuing_authority": "福州市公安局", "issue_date": "2026-12-01"}
    for key, value in face.items():
        page.fill(f"#i-f-{key}", value)
    page.select_option("#i-f-sex", "男")
    page.select_option("#i-f-id_type", "居民身份证")
    # A required field left empty is named before anything is sent.
    page.fill("#i-f-result", "")
    page.click("#issue-form button[type=submit]")
    page.wait_for_selector("#console-error:not([hidden])")
    assert "查询结果" in page.inner_text("#console-error")
    page.fill("#i-f-result", face["result"])
    page.click("#issue-form button[type=submit]")
    view = page.wait_for_selector("#licence-view:not([hidden])[data-status=valid]")
    issued = view.get_attribute("data-identifier")
    licence = licence_as_issuer(live, issued)
    assert licence["holder_code"] == holder_code and licence["face"]["proof_number"] == face["proof_number"]
    layout_shown(page, issued)
    browsing.shot(page, "console-licence-issued-1280")

    # Change: a new sealed version with the changed field only.
    page.fill("#c-f-result", "未发现有犯罪记录（复核）")
    page.fill("#c-reason", "复核后更正查询结果表述")
    page.click("#change-form button[type=submit]")
    page.wait_for_function(f"() => document.getElementById('licence-view').dataset.identifier !== '{issued}'")
    changed = page.get_attribute("#licence-view", "data-identifier")
    assert licence_as_issuer(live, changed)["version"] == 2
    assert licence_as_issuer(live, changed)["face"]["result"] == "未发现有犯罪记录（复核）"
    assert licence_as_issuer(live, issued)["superseded"] is True
    layout_shown(page, changed)

    # Suspend, then resume.
    page.fill("#s-reason", "持证人涉嫌伪造材料，调查期间暂停")
    page.click("#do-suspend")
    page.wait_for_selector("#licence-view[data-status=suspended]")
    assert licence_as_issuer(live, changed)["status"] == "suspended"
    page.click("#do-resume")
    page.wait_for_selector("#licence-view[data-status=valid]")
    assert licence_as_issuer(live, changed)["status"] == "valid"

    # Revoke needs a reason and a confirmation; then the licence is revoked and the actions are gone.
    page.click("#do-revoke")
    page.wait_for_selector("#console-error:not([hidden])")
    page.fill("#s-reason", "以欺骗手段取得，依法撤销")
    page.click("#do-revoke")
    assert "确认吊销" in page.inner_text("#console-error")
    assert licence_as_issuer(live, changed)["status"] == "valid"
    page.check("#s-confirm-revoke")
    page.click("#do-revoke")
    page.wait_for_selector("#licence-view[data-status=revoked]")
    assert licence_as_issuer(live, changed)["status"] == "revoked"
    assert page.is_hidden("#do-revoke") and page.is_hidden("#change-form")
    # Opening an older version's identifier shows the licence as it is now.
    page.fill("#find-identifier", issued)
    page.click("#find-form button[type=submit]")
    page.wait_for_selector(f'#licence-view[data-identifier="{changed}"][data-status=revoked]')
    browsing.shot(page, "console-licence-revoked-1280")


def department_system(live: LiveCerthub, name: str) -> tuple[str, str]:
    """A system of the bureau with its own client (made as `certhub clients create` would)."""
    engine = create_db_engine(live.settings.effective_database_url)
    try:
        session = create_sessionmaker(engine)()
        with session, session.begin():
            new = clients.create(session=session, department_code=PUBLIC_SECURITY, name=name, scopes=["exchange:query"])
        assert new.client_secret is not None
        return new.client_id, new.client_secret
    finally:
        engine.dispose()


def token_status(live: LiveCerthub, client_id: str, secret: str) -> int:
    return httpx.post(f"{live.base_url}/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                      auth=(client_id, secret)).status_code


def test_the_officer_rotates_a_clients_secret_seen_once_and_disables_it(browsing, live):
    client_id, old_secret = department_system(live, "出入境业务系统")
    page = console_ready(browsing, live)
    open_tab(page, "systems")
    row = f'#clients-table tr[data-client="{client_id}"]'
    page.wait_for_selector(row)
    assert old_secret not in page.content()
    page.click(f"{row} button.rotate")
    page.wait_for_selector("#secret-box:not([hidden])")
    new_secret = page.inner_text("#secret-value")
    assert new_secret and new_secret != old_secret
    assert token_status(live, client_id, old_secret) == 401
    assert token_status(live, client_id, new_secret) == 200
    browsing.shot(page, "console-systems-secret-1280")
    # Closed, the secret is gone from the page.
    page.click("#secret-done")
    assert new_secret not in page.content()

    # Disabling takes a second press; then the client gets no more tokens.
    page.click(f"{row} button.disable")
    assert "确认停用" in page.inner_text(f"{row} button.disable")
    assert token_status(live, client_id, new_secret) == 200
    page.click(f"{row} button.disable")
    page.wait_for_selector(f'{row}[data-active="false"]')
    assert token_status(live, client_id, new_secret) == 401


def bureau_may_use_property_certificates(live: LiveCerthub) -> None:
    """A subscription needs an active agreement for its types: the bureau applies, the registry approves."""
    answer = live.call("POST", "/api/v1/exchange/agreements", client=live.issuers[PUBLIC_SECURITY],
                       scope="exchange:query", headers={"X-Operator-Id": "fzga-officer-0032"}, json={
                           "item": PROPERTY_CERTIFICATE, "provider": PROPERTY_REGISTRY, "matters": [TRANSFER_MATTER],
                           "fields": ["certificate_number", "right_holder"], "reason": "核验涉案房产权属"})
    assert answer.status_code == 201, answer.text
    decided = live.call("POST", f"/api/v1/exchange/agreements/{answer.json()['id']}/decision",
                        client=live.issuers[PROPERTY_REGISTRY], scope="exchange:provide",
                        headers={"X-Operator-Id": "bdc-officer-0007"}, json={"decision": "approve"})
    assert decided.status_code == 200, decided.text


def test_the_officer_subscribes_rotates_the_signing_secret_and_cancels(browsing, live):
    bureau_may_use_property_certificates(live)
    page = console_ready(browsing, live)
    open_tab(page, "systems")
    page.wait_for_selector(f'#sub-types input[value="{PROPERTY_CERTIFICATE}"]')
    # Only a public https address will be called back: a private one is refused (no traffic: an address, no name).
    page.fill("#sub-url", "http://10.0.0.1/hook")
    page.check('#sub-events input[value="revoked"]')
    page.check(f'#sub-types input[value="{PROPERTY_CERTIFICATE}"]')
    page.click("#subscribe-form button[type=submit]")
    page.wait_for_selector("#console-error:not([hidden])")
    assert "回调地址不可用" in page.inner_text("#console-error")
    # The demo may call back on loopback (nothing listens on the discard port; no licence of this type is revoked here).
    page.fill("#sub-url", "http://127.0.0.1:9/hook")
    page.click("#subscribe-form button[type=submit]")
    page.wait_for_selector("#secret-box:not([hidden])")
    first_secret = page.inner_text("#secret-value")
    listed = live.call("GET", "/api/v1/exchange/subscriptions", client=live.issuers[PUBLIC_SECURITY],
                       scope="exchange:query").json()
    subscription = next(s for s in listed if s["callback_url"] == "http://127.0.0.1:9/hook" and s["status"] == "active")
    assert subscription["event_kinds"] == ["revoked"] and subscription["licence_type_codes"] == [PROPERTY_CERTIFICATE]
    assert first_secret and first_secret not in str(listed)
    row = f'#subscriptions-table tr[data-subscription="{subscription["id"]}"]'
    page.wait_for_selector(row)
    assert "不动产权证书" in page.inner_text(row)
    page.click("#secret-done")

    page.click(f"{row} button.rotate")
    page.wait_for_function(f"() => !document.getElementById('secret-box').hidden && "
                           f"document.getElementById('secret-value').textContent !== '{first_secret}'")
    page.click("#secret-done")
    page.click(f"{row} button.dead")
    page.wait_for_selector("#dead-letters h3")
    assert "没有失败投递" in page.inner_text("#dead-letters")

    page.click(f"{row} button.cancel")
    page.click(f"{row} button.cancel")
    page.wait_for_selector(f'{row}[data-status="cancelled"]')
    cancelled = live.call("GET", f"/api/v1/exchange/subscriptions/{subscription['id']}",
                          client=live.issuers[PUBLIC_SECURITY], scope="exchange:query").json()
    assert cancelled["status"] == "cancelled"


@pytest.mark.parametrize("tab", ["usage", "agreements", "disputes", "licences", "systems"])
def test_every_panel_fits_a_360px_phone_in_large_text(browsing, live, tab):
    page = console_ready(browsing, live, PHONE)
    page.click("#large-font-toggle")
    assert page.evaluate("document.documentElement.classList.contains('large')")
    open_tab(page, tab)
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the {tab} panel scrolls sideways at 360 px in large text"
    browsing.shot(page, f"console-{tab}-360-large")
