"""The citizen's wallet at /wallet, phone first and on a desktop: granting a
consent (and approving a department's request), acting for family within a
delegation, use records people can read, expiry reminders and use notices,
亮证 that works at a real counter (wake lock, the typed fallback digits, the
printed QR offline) and disputes whose refusals are said in words.
Each page state is checked with axe-core (no violation of impact moderate or
higher) and photographed into test-artifacts/web/."""

from __future__ import annotations

import base64
import io
import json
import time

import httpx
import pytest
from PIL import Image

from certhub.db import create_db_engine, create_sessionmaker
from identity import clients
from identity.codes import citizen_id_check_character
from signing.qr import decode_qr_image
from tests.factories.web_push import UserAgent
from tests.web.accessibility import axe_violations
from tests.web.browsing import DESKTOP, PHONE
from tests.web.live import (
    CRIMINAL_RECORD_ISSUER,
    CRIMINAL_RECORD_PROOF,
    MATTER,
    MATTER_NAME,
    PROPERTY_ISSUER,
    Client,
    LiveCerthub,
)

pytestmark = pytest.mark.slow  # drives Chromium

VIEWPORTS = [pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")]
PURPOSE = "办理个人无犯罪记录证明开具，核验申请人身份"
DEMO_HOLDER_NAME = "林晓梅"  # certhub/demo/holders.yaml: licences about to expire


def demo_holder_code() -> str:
    first17 = "35010219880315204"
    return first17 + citizen_id_check_character(first17)


def axe_clean(page) -> None:
    """axe-core (tests/web/accessibility) finds nothing moderate or worse in the page as it is now."""
    found = axe_violations(page)
    assert found == [], found


def sign_in(page, live: LiveCerthub, *, code: str | None = None, name: str | None = None, hash_: str = "",
            shown: str = ".licence-card") -> None:
    page.goto(live.base_url + "/wallet" + hash_)
    page.fill("#holder-code", code or live.holder_code)
    page.fill("#holder-name", name or live.holder_name)
    page.click("#dev-login button[type=submit]")
    page.wait_for_selector(shown)


def holder_token(live: LiveCerthub, *, code: str, name: str) -> str:
    answer = httpx.post(f"{live.base_url}/api/v1/holders/dev-login", json={"holder_code": code, "name": name})
    answer.raise_for_status()
    return answer.json()["session_token"]


def make_code(live: LiveCerthub, identifier: str) -> dict:
    answer = httpx.post(f"{live.base_url}/api/v1/presentations",
                        headers={"Authorization": f"Bearer {live.holder_token()}"},
                        json={"licences": [identifier], "disclosure": "full"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def redeem(live: LiveCerthub, client, body: dict, *, path: str = "redeem") -> httpx.Response:
    return live.call("POST", f"/api/v1/presentations/{path}", client=client, scope="presentation:redeem", json={"operator_id": "fzga-clerk-0117", "matter_code": MATTER,
                                                        "purpose": PURPOSE, **body})


@pytest.fixture(scope="module")
def counter_client(live):
    """The public security bureau's system may redeem codes (the issuers' clients are made without that scope)."""

    engine = create_db_engine(live.settings.effective_database_url)
    try:
        session = create_sessionmaker(engine)()
        with session, session.begin():
            made = clients.create(session=session, department_code=CRIMINAL_RECORD_ISSUER, name="综窗系统 (wallet tests)",
                                  scopes=["presentation:redeem"])
    finally:
        engine.dispose()
    return Client(made.client_id, made.client_secret)


# ------------------------------------------------------------ 5. 亮证 at a real counter


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_presenting_keeps_the_screen_on_and_shows_digits_the_counter_accepts_once(
        browsing, live, counter_client, viewport):
    page = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(page, live)
    page.check(f'.licence-card[data-identifier="{live.licences["proof"]}"] + .licence-pick input')
    page.click("#present-selected")
    page.wait_for_function("() => /^[0-9]{10}$/.test(document.getElementById('short-code').dataset.shortCode)")
    digits = page.get_attribute("#short-code", "data-short-code")
    assert page.inner_text("#short-code") == f"{digits[:3]} {digits[3:6]} {digits[6:]}"  # grouped to read aloud
    assert "亮度" in page.inner_text("#brightness-hint")
    page.wait_for_function("() => document.getElementById('wake-lock-state').dataset.wakeLock !== ''")
    assert page.get_attribute("#wake-lock-state", "data-wake-lock") == "held"
    axe_clean(page)
    browsing.shot(page, f"wallet-present-short-code-{viewport['width']}")

    typed = redeem(live, counter_client, {"short_code": f"{digits[:3]} {digits[3:6]} {digits[6:]}"},
                   path="redeem-short-code")
    assert typed.status_code == 200, typed.text
    assert typed.json()["licences"][0]["type_code"] == CRIMINAL_RECORD_PROOF
    again = redeem(live, counter_client, {"short_code": digits}, path="redeem-short-code")
    assert again.status_code == 409 and again.json()["error"] == "replayed"

    page.click("#present-close")
    assert page.get_attribute("#wake-lock-state", "data-wake-lock") == ""  # released with the code


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_printed_qr_is_shown_offline_from_the_saved_copy(browsing, live, viewport):
    page = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(page, live)
    page.wait_for_function("() => document.body.dataset.offlineReady === 'true'")
    page.click(f'.licence-card[data-identifier="{live.licences["proof"]}"]')
    page.wait_for_selector("#licence-detail:not([hidden])")
    page.click("#save-offline")
    page.wait_for_selector('#save-offline-state[data-saved="true"]')
    # The service worker holds the page once it controls it (the first load registered it).
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.wait_for_selector(".licence-card")

    page.context.set_offline(True)
    try:
        page.reload()
        page.wait_for_selector("#offline:not([hidden]) .offline-copy img")
        assert "无网络" in page.inner_text("#offline-state")
        copy = page.locator(f'.offline-copy[data-identifier="{live.licences["proof"]}"]')
        src = copy.locator("img").get_attribute("src")
        text = decode_qr_image(base64.b64decode(src.split(",", 1)[1]))
        assert text.startswith("EL1:")
        axe_clean(page)
        browsing.shot(page, f"wallet-offline-{viewport['width']}")
    finally:
        page.context.set_offline(False)
    checked = httpx.post(f"{live.base_url}/api/v1/verify", json={"qr_text": text})
    assert checked.json()["valid"] is True and checked.json()["kind"] == "licence"


# ------------------------------------------------------------ 1. consent


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_consent_is_granted_in_the_wallet_saying_exactly_what_to_whom_until_when(browsing, live, viewport):
    page = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(page, live)
    page.click("#tab-consents")
    page.wait_for_selector(f'#consent-matter option[value="{MATTER}"]', state="attached")
    page.select_option("#consent-matter", MATTER)
    page.check(f'input[name="consent-item"][value="{CRIMINAL_RECORD_PROOF}"]')
    page.fill("#consent-until", "2027-03-31")
    page.dispatch_event("#consent-until", "change")
    summary = page.inner_text("#consent-summary")
    assert "福州市公安局" in summary and MATTER_NAME in summary and "无犯罪记录证明" in summary
    assert "2027-03-31" in summary
    axe_clean(page)
    browsing.shot(page, f"wallet-consent-form-{viewport['width']}")
    before = page.locator('#consents .record[data-status="active"]').count()
    page.click("#consent-form button[type=submit]")
    page.wait_for_selector("#consent-message.alert-ok")
    page.wait_for_function(f"() => document.querySelectorAll('#consents .record[data-status=\"active\"]').length > {before}")
    granted = httpx.get(f"{live.base_url}/api/v1/holders/me/consents",
                        headers={"Authorization": f"Bearer {live.holder_token()}"}).json()
    newest = granted[0]
    assert (newest["department"], newest["matter"], newest["items"]) == (CRIMINAL_RECORD_ISSUER, MATTER,
                                                                         [CRIMINAL_RECORD_PROOF])
    assert newest["valid_until"].startswith("2027-03-31T15:59:59")  # the end of that day, China time


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_departments_consent_request_waits_for_the_holder_to_approve_it(browsing, live, viewport):
    request = {"matter": MATTER, "items": [CRIMINAL_RECORD_PROOF], "valid_until": "2027-01-31"}
    encoded = base64.urlsafe_b64encode(json.dumps(request).encode()).decode().rstrip("=")
    page = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(page, live, hash_=f"#consent-request={encoded}", shown="#consent-request:not([hidden])")  # opens on it
    text = page.inner_text("#consent-request-text")
    assert "福州市公安局" in text and MATTER_NAME in text and "2027-01-31" in text
    axe_clean(page)
    browsing.shot(page, f"wallet-consent-request-{viewport['width']}")
    page.click("#consent-request-approve")
    page.wait_for_selector("#consent-request", state="hidden")
    newest = httpx.get(f"{live.base_url}/api/v1/holders/me/consents",
                       headers={"Authorization": f"Bearer {live.holder_token()}"}).json()[0]
    assert newest["valid_until"].startswith("2027-01-31") and newest["status"] == "active"


# ------------------------------------------------------------ 2. family and proxies


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_parent_acts_for_the_family_member_who_delegated_and_the_delegation_is_revoked(browsing, live, viewport):
    # The demo's citizen delegates, in her wallet, to 林晓梅 (the demo's wallet holder): show her proof, consent to its use.
    owner = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(owner, live)
    owner.click("#tab-family")
    owner.wait_for_selector(f'#delegation-types input[value="{CRIMINAL_RECORD_PROOF}"]')
    owner.fill("#delegation-proxy", demo_holder_code())
    owner.check(f'#delegation-types input[value="{CRIMINAL_RECORD_PROOF}"]')
    owner.check('input[name="delegation-action"][value="consent"]')
    owner.click("#delegation-form button[type=submit]")
    owner.wait_for_selector("#delegation-message.alert-ok")
    given = owner.locator("#delegations-given .record[data-active=true]").first
    given.wait_for()
    delegation = given.get_attribute("data-delegation")
    axe_clean(owner)

    # 林晓梅 picks her in the 代办 list: no ID number nor licence identifier typed.
    proxy = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(proxy, live, code=demo_holder_code(), name=DEMO_HOLDER_NAME)
    proxy.click("#tab-family")
    received = proxy.locator(f'#delegations-received .record[data-delegation="{delegation}"]')
    received.wait_for()
    assert "亮证" in received.inner_text() and "无犯罪记录证明" in received.inner_text()
    received.locator("button.act-for").click()
    listed = proxy.locator(f'#acting-for-licences .record[data-identifier="{live.licences["proof"]}"]')
    listed.wait_for()
    assert proxy.locator("#acting-for-licences .record").count() == 1  # only the delegated type
    assert live.holder_code not in proxy.inner_text("#acting-for")  # the code is shown masked
    axe_clean(proxy)
    browsing.shot(proxy, f"wallet-family-{viewport['width']}")
    listed.locator("button.proxy-present").click()
    proxy.wait_for_function("() => document.getElementById('qr-text').dataset.qrText.startsWith('EL1:')")
    assert "代他人出示" in proxy.inner_text("#present-licences") and "无犯罪记录证明" in proxy.inner_text("#present-licences")
    proxy.click("#present-close")

    # ... and consents for her from the same list.
    proxy.click("#tab-family")
    received.locator("button.act-for").click()
    listed.locator("button.proxy-consent").click()
    proxy.wait_for_selector(f'#consent-items input[value="{CRIMINAL_RECORD_PROOF}"]:checked')
    assert proxy.input_value("#consent-for") == delegation
    proxy.select_option("#consent-matter", MATTER)
    proxy.click("#consent-form button[type=submit]")
    proxy.wait_for_selector("#consent-message.alert-ok")

    # The principal reads in her use records that her proxy looked at her licences.
    owner.click("#tab-records")
    line = owner.locator(f'.record-proxy[data-delegation="{delegation}"]').first
    line.wait_for()
    assert "代办人" in line.inner_text() and demo_holder_code()[-4:] in line.inner_text()
    axe_clean(owner)
    browsing.shot(owner, f"wallet-proxy-record-{viewport['width']}")

    # She revokes; the proxy's list refuses, said in words.
    owner.click("#tab-family")
    owner.on("dialog", lambda dialog: dialog.accept())
    owner.locator(f'#delegations-given .record[data-delegation="{delegation}"] button').click()
    owner.wait_for_selector(f'#delegations-given .record[data-delegation="{delegation}"][data-active="false"]')
    proxy.click("#tab-family")
    received.locator("button.act-for").wait_for(state="detached")  # no longer offered
    refused = httpx.get(f"{live.base_url}/api/v1/holders/me/delegations/{delegation}/licences",
                        headers={"Authorization": f"Bearer {holder_token(live, code=demo_holder_code(), name=DEMO_HOLDER_NAME)}"})
    assert refused.status_code == 403 and refused.json()["error"] == "delegation_inactive"
    refused = httpx.post(f"{live.base_url}/api/v1/presentations",
                         headers={"Authorization": f"Bearer {holder_token(live, code=demo_holder_code(), name=DEMO_HOLDER_NAME)}"},
                         json={"licences": [live.licences["proof"]], "on_behalf_of": live.holder_code})
    assert refused.status_code == 403 and refused.json()["error"] == "proxy_not_allowed"


def test_a_proxy_whose_delegation_ended_is_told_so_in_words(browsing, live):
    principal = {"Authorization": f"Bearer {live.holder_token()}"}
    made = httpx.post(f"{live.base_url}/api/v1/holders/me/delegations", headers=principal, json={
        "proxy": {"code": demo_holder_code(), "code_type": "111"}, "relation": "guardian",
        "type_codes": [CRIMINAL_RECORD_PROOF], "actions": ["present"], "valid_until": "2027-12-31T00:00:00+08:00"})
    assert made.status_code == 201, made.text
    delegation = made.json()["id"]
    proxy = browsing.page(PHONE, mobile=True)
    sign_in(proxy, live, code=demo_holder_code(), name=DEMO_HOLDER_NAME)
    proxy.click("#tab-family")
    button = proxy.locator(f'#delegations-received .record[data-delegation="{delegation}"] button.act-for')
    button.wait_for()
    # Revoked while the proxy's page still offers it.
    assert httpx.post(f"{live.base_url}/api/v1/holders/me/delegations/{delegation}/revoke",
                      headers=principal).status_code == 200
    button.click()
    proxy.wait_for_selector("#wallet-error:not([hidden])")
    assert "该委托已撤销或已过期" in proxy.inner_text("#wallet-error")
    assert proxy.is_hidden("#acting-for")


# ------------------------------------------------------------ 3. use records


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_use_records_say_which_licence_and_fields_went_to_whom_and_fold_the_holders_own_views(
        browsing, live, counter_client, viewport):
    for _ in range(21):  # more uses than one page holds
        made = make_code(live, live.licences["proof"])
        assert redeem(live, counter_client, {"qr_text": made["qr_text"]}).status_code == 200
    live.publish_checkpoint()
    page = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(page, live)
    page.click(f'.licence-card[data-identifier="{live.licences["proof"]}"]')  # two more views of her own
    page.wait_for_selector("#licence-detail:not([hidden])")
    page.click("#tab-records")
    page.wait_for_selector('#records .record[data-kind="redemption"] .proof[data-proof]')
    first = page.locator('#records .record[data-kind="redemption"]').first
    first.locator(".record-fields").wait_for()
    page.wait_for_function("() => /证明编号/.test(document.querySelector('#records .record[data-kind=redemption] .record-fields').textContent)")
    words = first.inner_text()
    assert "福州市公安局" in words and "无犯罪记录证明" in words and MATTER_NAME in words and PURPOSE in words
    assert "face." not in words
    # The holder's own views: one folded line a day, never one line each.
    self_rows = page.locator('#records .record-self')
    assert self_rows.count() >= 1
    assert int(self_rows.first.get_attribute("data-self-count")) >= 2
    assert page.locator('#records > .record[data-kind="holder_access"]:not(.record-self)').count() == 0
    assert page.locator("#records > li").count() == 20 and page.is_enabled("#records-next")
    axe_clean(page)
    browsing.shot(page, f"wallet-records-readable-{viewport['width']}")

    page.click("#records-next")
    assert "第 2 /" in page.inner_text("#records-page")
    page.select_option("#filter-department", PROPERTY_ISSUER)  # her own views name the issuer of what she read
    assert page.locator('#records .record[data-kind="redemption"]').count() == 0
    assert page.locator("#records .record-self").count() >= 1
    page.select_option("#filter-department", "")
    page.select_option("#filter-licence", live.licences["property"].rsplit(".", 2)[0])
    assert page.locator('#records .record[data-kind="redemption"]').count() == 0
    page.select_option("#filter-licence", "")
    page.fill("#filter-from", "2099-01-01")
    page.dispatch_event("#filter-from", "change")
    page.wait_for_selector("#records-empty:not([hidden])")
    assert "没有符合筛选条件" in page.inner_text("#records-empty")


# ------------------------------------------------------------ 4. reminders and notices


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_expiry_reminders_and_a_notice_when_someone_uses_the_licence(browsing, live, counter_client, viewport):
    demo = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(demo, live, code=demo_holder_code(), name=DEMO_HOLDER_NAME)
    demo.wait_for_selector("#reminders:not([hidden]) .reminder")
    reminders = demo.inner_text("#reminders")
    assert "到期" in reminders and "续办" in reminders
    axe_clean(demo)
    browsing.shot(demo, f"wallet-reminders-{viewport['width']}")

    page = browsing.page(viewport, mobile=viewport is PHONE)
    page.clock.install()
    sign_in(page, live)
    page.wait_for_function("() => sessionStorage.getItem('certhub.wallet.seen') !== null")
    made = make_code(live, live.licences["proof"])
    assert redeem(live, counter_client, {"qr_text": made["qr_text"]}).status_code == 200
    page.clock.fast_forward(31_000)
    page.wait_for_selector("#use-notice:not([hidden])")
    notice = page.inner_text("#use-notice")
    assert "福州市公安局" in notice and "使用了您的无犯罪记录证明" in notice
    axe_clean(page)
    browsing.shot(page, f"wallet-use-notice-{viewport['width']}")


# Chromium's own PushManager.subscribe registers with the browser vendor's push
# service (FCM), which a test must not reach, and which Debian's Chromium has
# no keys for. So the page's call is answered here with the subscription the
# test made (its endpoint on the loopback push service the server allows),
# and the key the page passed is kept for the test to compare: everything
# from the page's call to the encrypted message and the service worker's
# notification is the real code.
SUBSCRIBE_STUB = """
(() => {
  const made = %s;
  let current = null;
  PushManager.prototype.subscribe = function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__pushKey = btoa(String.fromCharCode.apply(null, key)).replace(/[+]/g, "-").replace(/[/]/g, "_").replace(/=+$/, "");
    window.__pushVisible = options.userVisibleOnly;
    current = { endpoint: made.endpoint, toJSON: () => made,
                unsubscribe: () => { current = null; return Promise.resolve(true); } };
    return Promise.resolve(current);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
})();
"""


def _service_worker(page, origin: str):
    """A DevTools session on the page, and the wallet service worker's registration id in it."""
    cdp = page.context.new_cdp_session(page)
    found: list[str] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: found.extend(
        r["registrationId"] for r in event["registrations"] if r["scopeURL"].startswith(origin + "/wallet")))
    cdp.send("ServiceWorker.enable")
    page.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")
    give_up = time.monotonic() + 10
    while not found and time.monotonic() < give_up:
        page.wait_for_timeout(100)
    assert found, "the wallet's service worker is not registered"
    return cdp, found[0]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_wallet_subscribes_to_web_push_and_a_use_arrives_encrypted_and_is_shown(
        browsing, live, counter_client, viewport):
    agent = UserAgent(f"{live.push_service.base_url}/push/wallet-{viewport['width']}")
    page = browsing.page(viewport, mobile=viewport is PHONE)
    page.context.grant_permissions(["notifications"], origin=live.base_url)
    page.context.add_init_script(SUBSCRIBE_STUB % json.dumps(agent.subscription))
    sign_in(page, live)
    page.wait_for_selector("#push-box:not([hidden])")
    axe_clean(page)
    page.click("#push-toggle")
    page.wait_for_selector('#push-toggle[data-on="true"]')
    assert "已开启" in page.inner_text("#push-state")
    browsing.shot(page, f"wallet-push-on-{viewport['width']}")
    holder = {"Authorization": f"Bearer {live.holder_token()}"}
    state = httpx.get(f"{live.base_url}/api/v1/holders/me/web-push", headers=holder).json()
    assert page.evaluate("window.__pushKey") == state["public_key"] and page.evaluate("window.__pushVisible") is True
    assert state["subscriptions"] >= 1

    # A counter uses her proof: the server pushes, encrypted, to the push service her browser chose.
    made = make_code(live, live.licences["proof"])
    assert redeem(live, counter_client, {"qr_text": made["qr_text"]}).status_code == 200
    path = agent.endpoint[len(live.push_service.base_url):]
    give_up = time.monotonic() + 60  # the server's push round runs every 5 s
    while not live.push_service.requests_to(path) and time.monotonic() < give_up:
        time.sleep(0.2)
    [message] = live.push_service.requests_to(path)[:1]
    notice = agent.decrypt(message.body)
    assert (notice["kind"], notice["result"], notice["department"]) == ("redemption", "granted", "福州市公安局")

    # The browser hands the decrypted message to the service worker, which shows it.
    cdp, registration = _service_worker(page, live.base_url)
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": live.base_url, "registrationId": registration, "data": json.dumps(notice, ensure_ascii=False)})
    page.wait_for_function("""() => navigator.serviceWorker.ready.then(r => r.getNotifications())
                                 .then(shown => shown.some(n => n.body.includes("福州市公安局使用了您的证照或数据")))""")

    page.click("#push-toggle")
    page.wait_for_selector('#push-toggle[data-on="false"]')
    remaining = httpx.get(f"{live.base_url}/api/v1/holders/me/web-push", headers=holder).json()["subscriptions"]
    assert remaining == state["subscriptions"] - 1

    # The worker has no catalog: the page hands it the words of a notice, so
    # once the wallet has been opened in English, notices come in English.
    page.goto(f"{live.base_url}/web/language/en?next=/wallet")
    page.wait_for_function("""() => caches.match("/wallet-sw/notice-words")
                                 .then(kept => kept ? kept.json() : null).then(words => !!words && words.locale === "en")""")
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": live.base_url, "registrationId": registration, "data": json.dumps(notice, ensure_ascii=False)})
    page.wait_for_function("""() => navigator.serviceWorker.ready.then(r => r.getNotifications())
                                 .then(shown => shown.some(n => n.title === "Use alert" &&
                                                                n.body.startsWith("福州市公安局 used your licences or data (")))""")


# ------------------------------------------------------------ 6. disputes


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_refused_dispute_is_said_in_words_not_codes(browsing, live, viewport):
    page = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(page, live)
    page.click("#tab-disputes")
    page.wait_for_selector(f'#dispute-licence option[value="{live.licences["proof"]}"]', state="attached")
    page.select_option("#dispute-licence", live.licences["proof"])
    page.wait_for_selector('#dispute-field option[value="result"]', state="attached")
    page.fill("#dispute-reason", "结论有误" * 10)
    # A reason of control characters only the server refuses (the page sends what was typed).
    page.evaluate("() => { document.getElementById('dispute-reason').value = '结论\\u0007有误'; }")
    page.click("#dispute-form button[type=submit]")
    page.wait_for_selector("#dispute-message.alert-error")
    message = page.inner_text("#dispute-message")
    assert "控制字符" in message and "invalid" not in message and "（" not in message
    axe_clean(page)
    browsing.shot(page, f"wallet-dispute-error-{viewport['width']}")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_dispute_carries_evidence_and_a_refused_file_is_said_in_words(browsing, live, viewport):
    page = browsing.page(viewport, mobile=viewport is PHONE)
    sign_in(page, live)
    page.click("#tab-disputes")
    page.wait_for_selector(f'#dispute-licence option[value="{live.licences["proof"]}"]', state="attached")
    page.select_option("#dispute-licence", live.licences["proof"])
    page.wait_for_selector('#dispute-field option[value="issuing_authority"]', state="attached")
    page.select_option("#dispute-field", "issuing_authority")
    page.fill("#dispute-reason", "出具单位应为鼓楼分局")
    page.set_input_files("#dispute-files", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    page.click("#dispute-form button[type=submit]")
    page.wait_for_selector("#dispute-message.alert-error")
    assert "不是 JPG、PNG 或 PDF" in page.inner_text("#dispute-message")  # said before anything is sent

    page.set_input_files("#dispute-files", files=[{"name": "证明.png", "mimeType": "image/png", "buffer": _png()}])
    page.click("#dispute-form button[type=submit]")
    page.wait_for_selector('#dispute-message[data-attached="1"]')
    assert "已附 1 个证明材料" in page.inner_text("#dispute-message")
    axe_clean(page)
    browsing.shot(page, f"wallet-dispute-attachment-{viewport['width']}")

    # A file that only claims to be a picture: the server refuses it, and the page says why in words.
    page.fill("#dispute-reason", "出具日期有误")
    page.select_option("#dispute-field", "issue_date")
    page.set_input_files("#dispute-files", files=[{"name": "x.png", "mimeType": "image/png", "buffer": b"<html>"}])
    page.click("#dispute-form button[type=submit]")
    page.wait_for_selector("#dispute-message.alert-error")
    words = page.inner_text("#dispute-message")
    assert "附件仅支持 JPG、PNG 或 PDF" in words and "invalid" not in words


# ------------------------------------------------------------ OpenID4VP: presenting a credential (#27 point 5)

NON_EXTRACTABLE_KEY = """() => new Promise((resolve) => {
  const open = indexedDB.open("certhub-wallet", 1);
  open.onsuccess = () => {
    const get = open.result.transaction("keys").objectStore("keys").get("holder");
    get.onsuccess = () => resolve({extractable: get.result.privateKey.extractable, type: get.result.privateKey.type});
  };
})"""


def test_the_wallet_presents_exactly_the_asked_claims_signed_by_its_own_webcrypto_key(browsing, live, counter_client):
    asked = live.call("POST", "/api/v1/oid4vp/counter-requests", client=counter_client, scope="presentation:redeem",
                      json={"matter_code": MATTER, "purpose": PURPOSE})
    assert asked.status_code == 201, asked.text
    names = [c["path"][0] for c in asked.json()["authorization_request"]["dcql_query"]["credentials"][0]["claims"]]
    page = browsing.page(DESKTOP)
    sign_in(page, live)
    page.fill("#vp-link", asked.json()["authorization_request_uri"])
    page.click("#vp-open button[type=submit]")
    page.wait_for_selector("#vp-offer:not([hidden])")
    # Before approving, the holder sees who asks, why, and exactly the claims.
    assert PURPOSE in page.inner_text("#vp-purpose")
    assert sorted(page.eval_on_selector_all("#vp-claims li", "items => items.map(i => i.dataset.claim)")) == sorted(names)
    axe_clean(page)
    page.click("#vp-approve")
    page.wait_for_selector('#vp-state[data-state="done"], #vp-state[data-state="error"]')
    assert page.get_attribute("#vp-state", "data-state") == "done", page.inner_text("#vp-state")
    result = live.call("GET", f"/api/v1/oid4vp/requests/{asked.json()['request_id']}", client=counter_client,
                       scope="presentation:redeem").json()
    assert result["status"] == "verified", result
    (credential,) = result["credentials"].values()
    assert sorted(credential["claims"]) == sorted(names) and credential["status"] == "valid"
    assert credential["key_bound_at"]  # the KB-JWT WebCrypto signed was checked against cnf
    assert page.evaluate(NON_EXTRACTABLE_KEY) == {"extractable": False, "type": "private"}
