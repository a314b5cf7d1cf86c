"""The three apps in a real browser against a real certhub on loopback.

The holder shows a 亮证 code on a phone-sized wallet; its text is read from
the page and typed into the counter page the way a scanner gun types (keys
then Enter); the counter shows 有效 with the fields, then 已使用 for the
same code; a code of a licence revoked meanwhile shows 无效 · 已吊销; the
auditor finds the records and verifies the log. Every page must load
nothing from outside this server and log no script errors.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timedelta

import base45
import cbor2
import httpx
import pytest

from signing.transparency.cosignature import Cosigner
from tests.web.browsing import DESKTOP, PHONE
from tests.web.live import ID_CARD_ADDRESS, MATTER, MATTER_NAME, PROOF_NUMBER, LiveCerthub

pytestmark = pytest.mark.slow  # drives Chromium

# The demo's counter clerk (certhub/demo/staff.yaml): the operator every use record names.
OPERATOR = "fzga-clerk-0117"
PURPOSE = "办理个人无犯罪记录证明开具，核验申请人身份"


def wallet_sign_in(page, live: LiveCerthub) -> None:
    page.goto(live.base_url + "/wallet")
    page.fill("#holder-code", live.holder_code)
    page.fill("#holder-name", live.holder_name)
    page.click("#dev-login button[type=submit]")
    page.wait_for_selector(".licence-card")


def present(page, identifiers: list[str]) -> str:
    """Select the licences, show the 亮证 code and return its text."""
    for identifier in identifiers:
        page.check(f'.licence-card[data-identifier="{identifier}"] + .licence-pick input')
    page.click("#present-selected")
    page.wait_for_function("() => document.getElementById('qr-text').dataset.qrText.startsWith('EL1:')")
    page.wait_for_function("() => document.getElementById('qr-image').complete")
    return page.get_attribute("#qr-text", "data-qr-text")


def counter_ready(page, live: LiveCerthub) -> None:
    """The demo clerk signed in (the demo's staff identity provider), the matter and purpose chosen."""
    page.goto(live.base_url + "/counter")
    page.click("#demo-login")
    choose_matter(page)


def choose_matter(page) -> None:
    page.wait_for_selector(f'#matter option[value="{MATTER}"]', state="attached")
    page.select_option("#matter", MATTER)
    page.fill("#purpose", PURPOSE)
    page.click("#setup button[type=submit]")
    page.wait_for_selector("#scan-area:not([hidden])")


def scan(page, text: str, verdict: str):
    """Type the code as a scanner gun does, into whatever has the focus."""
    assert page.evaluate("document.activeElement.id") == "scan-input", "the scan input must hold the focus"
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    return page.wait_for_selector(f'#result [data-verdict="{verdict}"]')


def test_presented_code_is_valid_once_then_used(browsing, live):
    wallet = browsing.page(PHONE, mobile=True)
    wallet.clock.install()  # the page's own clock, moved forward below instead of waiting 40 s
    counter = browsing.page(DESKTOP)
    counter_ready(counter, live)
    wallet_sign_in(wallet, live)
    browsing.shot(wallet, "wallet-licences-360")

    code = present(wallet, [live.licences["id_card"], live.licences["proof"]])
    browsing.shot(wallet, "wallet-present-360")
    assert wallet.locator("#countdown").inner_text().startswith("剩余")

    scan(counter, code, "valid")
    result = counter.locator("#result")
    counter.wait_for_selector("#result article")
    text = result.inner_text()
    assert "有效" in text and "居民身份证" in text
    assert "住址" in text and ID_CARD_ADDRESS in text  # a disclosed face field, with its label
    assert "信任列表更新于" in text and "有效期" in text
    assert counter.locator(f'#result [data-identifier="{live.licences["id_card"]}"] .badge').inner_text() == "有效"
    # The proof is not a material of this matter: named, its data not shown.
    assert PROOF_NUMBER not in text and "无犯罪记录证明" in counter.inner_text("#result [data-not-for-matter]")
    browsing.shot(counter, "counter-valid-1280")
    # After the result the scan input has the focus again, ready for the next code.
    assert counter.evaluate("document.activeElement.id") == "scan-input"

    used = scan(counter, code, "invalid")
    assert "无效" in used.inner_text() and "已使用" in used.inner_text()
    assert used.get_attribute("data-code") == "replayed"
    assert MATTER_NAME in counter.locator("#setup-summary").inner_text()
    browsing.shot(counter, "counter-used-1280")

    # The wallet replaces the code before the counter stops accepting it (TTL 15 s in these tests, and
    # the 30 s clock-skew allowance: 45 s, replaced with 15 % of that left): 40 s on, it has.
    wallet.clock.fast_forward(40_000)
    wallet.wait_for_function(
        "code => { const t = document.getElementById('qr-text').dataset.qrText; return t && t !== code; }",
        arg=code, timeout=15_000,
    )


def test_code_of_a_revoked_licence_is_refused_with_the_reason(browsing, live):
    wallet = browsing.page(PHONE, mobile=True)
    counter = browsing.page(DESKTOP)
    counter_ready(counter, live)
    wallet_sign_in(wallet, live)
    code = present(wallet, [live.licences["property"]])
    live.revoke(live.licences["property"], "123501002055265757")

    refused = scan(counter, code, "invalid")
    assert "无效" in refused.inner_text() and "已吊销" in refused.inner_text()
    assert refused.get_attribute("data-code") == "revoked"
    assert counter.locator("#result article").count() == 0  # no licence data shown
    browsing.shot(counter, "counter-revoked-1280")

    # A code that is not a certhub code at all: a format error, in plain Chinese.
    garbage = scan(counter, "HELLO-WORLD", "invalid")
    assert "格式错误" in garbage.inner_text()


def test_auditor_finds_the_records_and_the_log_verifies(browsing, live):
    _redeem_once(browsing, live)
    live.publish_checkpoint()

    audit = browsing.page(DESKTOP)
    audit.goto(live.base_url + "/audit")
    audit.click("#demo-login")  # demo mode: a token with audit:read only
    audit.wait_for_selector("#audit-app:not([hidden])")
    audit.fill("#f-subject", live.holder_code)
    audit.select_option("#f-basis", "holder_presentation")
    audit.click("#search-form button[type=submit]")
    row = audit.wait_for_selector('#records-table tbody tr[data-kind="redemption"][data-result="granted"]')
    assert MATTER_NAME in row.inner_text() and OPERATOR in row.inner_text() and PURPOSE in row.inner_text()
    assert audit.locator('#records-table tbody tr[data-result="granted"]').count() >= 1
    browsing.shot(audit, "audit-search-1280")

    audit.click("#tab-stats")
    audit.click("#stats-form button[type=submit]")
    audit.wait_for_selector("#dept-bars .bar-row")
    browsing.shot(audit, "audit-stats-1280")

    audit.click("#tab-anomalies")
    audit.click("#anomaly-form button[type=submit]")
    audit.wait_for_function("() => document.querySelector('#anomalies-table tbody').children.length > 0 "
                            "|| !document.getElementById('anomalies-empty').hidden")

    audit.click("#tab-verify")
    audit.click("#verify-log")
    verdict = audit.wait_for_selector('#verify-result[data-ok="true"]')
    text = verdict.inner_text()
    assert "日志验证通过" in text and "有效" in text
    size = int(text.split("记录条数")[1].split()[0])
    assert size >= 1
    browsing.shot(audit, "audit-verify-1280")

    # The holder sees the same use, its proof checked in the browser against the signed checkpoint.
    wallet = browsing.page(PHONE, mobile=True)
    wallet_sign_in(wallet, live)
    wallet.click("#tab-records")
    wallet.wait_for_selector('#records .record[data-kind="redemption"] .proof[data-proof="ok"]')
    assert wallet.get_attribute("#records-checkpoint", "data-signature") == "ok"
    assert wallet.locator('.proof[data-proof="bad"]').count() == 0
    browsing.shot(wallet, "wallet-records-360")


def test_the_wallet_checks_the_witnesses_it_pinned(browsing, live):
    """The holder's proof check counts the checkpoint's cosignatures under the
    witness policy its browser pinned (on first use, the log's own)."""
    _redeem_once(browsing, live)
    live.publish_checkpoint()
    wallet = browsing.page(PHONE, mobile=True)
    wallet_sign_in(wallet, live)
    wallet.click("#tab-records")
    wallet.wait_for_selector('#records-checkpoint[data-signature="ok"]')
    pinned = wallet.evaluate("JSON.parse(localStorage.getItem('certhub.witnessPolicy'))")
    assert live.witness is not None and pinned == {"threshold": 1, "vkeys": [live.witness.vkey]}
    wallet.wait_for_selector('#records .record .proof[data-proof="ok"]')
    # A browser that pinned another witness does not accept this log's checkpoint, nor proofs up to it.
    stranger = Cosigner.generate("witness.elsewhere.test/w9").verifier.to_key_string()
    wallet.evaluate("policy => localStorage.setItem('certhub.witnessPolicy', JSON.stringify(policy))",
                    {"threshold": 1, "vkeys": [stranger]})
    wallet.click("#tab-licences")
    wallet.click("#tab-records")
    wallet.wait_for_selector('#records-checkpoint[data-signature="bad"]')
    wallet.wait_for_selector('#records .record .proof[data-proof="pending"]')
    assert wallet.locator('.proof[data-proof="ok"]').count() == 0


def _redeem_once(browsing, live) -> None:
    counter = browsing.page(DESKTOP)
    counter_ready(counter, live)
    wallet = browsing.page(PHONE, mobile=True)
    wallet_sign_in(wallet, live)
    scan(counter, present(wallet, [live.licences["proof"]]), "valid")


def test_wallet_detail_layout_dispute_and_masked_disclosure(browsing, live):
    wallet = browsing.page(PHONE, mobile=True)
    wallet_sign_in(wallet, live)
    wallet.click(f'.licence-card[data-identifier="{live.licences["proof"]}"]')
    wallet.wait_for_selector("#licence-detail:not([hidden])")
    wallet.wait_for_function("() => document.getElementById('detail-fields').children.length > 4")
    assert PROOF_NUMBER in wallet.locator("#detail-fields").inner_text()
    assert "证明编号" in wallet.locator("#detail-fields").inner_text()
    wallet.click("#show-layout")
    wallet.wait_for_function("() => document.getElementById('layout-image').naturalWidth > 100")
    browsing.shot(wallet, "wallet-detail-360")

    wallet.click("#present-this")
    wallet.wait_for_function("() => document.getElementById('qr-text').dataset.disclosure === 'full'")
    wallet.check('input[name="disclosure"][value="masked"]')
    wallet.wait_for_function("() => document.getElementById('qr-text').dataset.disclosure === 'masked'")
    wallet.click("#present-close")

    wallet.click("#dispute-this")
    wallet.wait_for_selector('#dispute-field option[value="result"]', state="attached")
    wallet.select_option("#dispute-field", "issuing_authority")
    wallet.fill("#dispute-reason", "出具单位应为福州市公安局鼓楼分局")
    wallet.fill("#dispute-value", "福州市公安局鼓楼分局")
    wallet.click("#dispute-form button[type=submit]")
    wallet.wait_for_selector('#disputes .record[data-status="open"]')
    assert "异议已提交" in wallet.locator("#dispute-message").inner_text()
    browsing.shot(wallet, "wallet-disputes-360")

    consent = live.grant_consent()
    wallet.click("#tab-consents")
    item = wallet.wait_for_selector(f'#consents .record[data-consent="{consent}"][data-status="active"]')
    assert "福州市公安局" in item.inner_text() and MATTER_NAME in item.inner_text()
    assert "无犯罪记录证明" in item.inner_text()
    wallet.once("dialog", lambda dialog: dialog.accept())  # 确定撤回对“…”的授权吗？
    wallet.click(f'#consents .record[data-consent="{consent}"] button')
    wallet.wait_for_selector(f'#consents .record[data-consent="{consent}"][data-status="withdrawn"]')
    browsing.shot(wallet, "wallet-consents-360")


def test_chinese_is_drawn_with_the_served_font(browsing, live):
    page = browsing.page(DESKTOP)
    page.goto(live.base_url + "/")
    page.evaluate("document.fonts.ready")
    page.wait_for_function("() => document.fonts.check('16px certhub-sc', '电子证照服务平台')")
    loaded = page.evaluate(
        "Array.from(document.fonts).filter(f => f.family.replace(/\"/g, '') === 'certhub-sc' && f.status === 'loaded').length")
    assert loaded >= 1
    measures = page.evaluate("""() => {
        const text = '电子证照服务平台';
        const span = (family, content) => {
            const node = document.createElement('span');
            node.style.font = '32px ' + family;
            node.style.whiteSpace = 'nowrap';
            node.textContent = content;
            document.body.appendChild(node);
            const width = node.getBoundingClientRect().width;
            node.remove();
            return width;
        };
        // U+E000.. (private use) have no glyph in any font: .notdef boxes.
        const boxes = '\\ue000\\ue001\\ue002\\ue003\\ue004\\ue005\\ue006\\ue007';
        const pixels = (family, ch) => {
            const canvas = document.createElement('canvas');
            canvas.width = canvas.height = 48;
            const ctx = canvas.getContext('2d');
            ctx.font = '40px ' + family;
            ctx.fillText(ch, 2, 40);
            return Array.from(ctx.getImageData(0, 0, 48, 48).data).join(',');
        };
        return {
            real: span('certhub-sc', text),
            fallbackOnly: span('monospace', text),
            boxesInPageFont: span('certhub-sc', boxes),
            distinctGlyphs: new Set(['证', '照', '服', '务'].map(ch => pixels('certhub-sc', ch))).size,
            sameAsBox: pixels('certhub-sc', '证') === pixels('certhub-sc', '\\ue000'),
        };
    }""")
    # Real glyphs: every character draws differently, and unlike a .notdef box.
    assert measures["distinctGlyphs"] == 4
    assert not measures["sameAsBox"]
    # This machine has no CJK font of its own: without the served font, the text is boxes of another width.
    assert measures["real"] != measures["fallbackOnly"]
    assert measures["real"] > 0 and measures["boxesInPageFont"] > 0


@pytest.mark.parametrize("path", ["/", "/wallet", "/counter", "/audit", "/console", "/statistics"])
def test_pages_fit_a_360px_phone_and_a_desktop(browsing, live, path):
    name = path.strip("/") or "home"
    for label, viewport in (("360", PHONE), ("1280", DESKTOP)):
        page = browsing.page(viewport, mobile=label == "360")
        page.goto(live.base_url + path)
        page.evaluate("document.fonts.ready")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways at {label} px"
        browsing.shot(page, f"{name}-{label}")


def test_keyboard_only_large_font_mode_and_scan_focus(browsing, live):
    page = browsing.page(DESKTOP)
    page.goto(live.base_url + "/")
    for _ in range(12):  # Tab through the header to the large-font toggle
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "large-font-toggle":
            break
    assert page.evaluate("document.activeElement.id") == "large-font-toggle"
    base = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    page.keyboard.press("Enter")
    assert page.evaluate("document.documentElement.classList.contains('large')")
    assert page.get_attribute("#large-font-toggle", "aria-pressed") == "true"
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") > base * 1.2
    page.goto(live.base_url + "/counter")  # remembered across pages (localStorage)
    assert page.evaluate("document.documentElement.classList.contains('large')")
    browsing.shot(page, "counter-large-font-1280")

    counter_ready(page, live)
    # A click on empty space, or keys typed while a button has the focus, land in the scan input.
    page.focus("#change-setup")
    page.keyboard.type("EL1")
    assert page.evaluate("document.activeElement.id") == "scan-input"
    assert page.input_value("#scan-input") == "EL1"
    page.fill("#scan-input", "")
    page.mouse.click(5, 400)
    assert page.evaluate("document.activeElement.id") == "scan-input"
    page.focus("#large-font-toggle")
    page.keyboard.press(" ")
    assert not page.evaluate("document.documentElement.classList.contains('large')")


class HeldAnswers:
    """The real server's answers to one page's POSTs to `pattern`, held back
    until released: a slow link, with the request already at the server."""

    def __init__(self, page, pattern: str) -> None:
        self.page = page
        self.held: list = []
        self.holding = True
        page.route(pattern, self._handle)

    def _handle(self, route) -> None:
        if route.request.method != "POST" or not self.holding:
            route.fallback()
            return
        self.held.append((route, route.fetch()))

    def wait_for(self, count: int) -> None:
        for _ in range(400):  # the route handlers run while the page is waited on
            if len(self.held) >= count:
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"{count} request(s) were expected, {len(self.held)} came")

    def release(self) -> None:
        self.holding = False
        for route, answer in self.held:
            route.fulfill(response=answer)
        self.held.clear()


def _pick(page, identifier: str) -> None:
    page.check(f'.licence-card[data-identifier="{identifier}"] + .licence-pick input')


def _shown_code(page) -> str:
    return page.get_attribute("#qr-text", "data-qr-text") or ""


def _public_check(live: LiveCerthub, code: str) -> dict:
    return httpx.post(f"{live.base_url}/api/v1/verify", json={"qr_text": code}, timeout=30).json()


def test_the_code_on_screen_carries_the_disclosure_the_screen_shows(browsing, live):
    wallet = browsing.page(PHONE, mobile=True)
    wallet_sign_in(wallet, live)
    _pick(wallet, live.licences["proof"])
    slow = HeldAnswers(wallet, "**/api/v1/presentations")
    wallet.click("#present-selected")  # asks for a code with the default disclosure, 完整信息
    slow.wait_for(1)
    # Every disclosure a code on screen ever carries, from now on.
    wallet.evaluate("""() => {
        window.shownDisclosures = [];
        const text = document.getElementById('qr-text');
        new MutationObserver(() => { if (text.dataset.qrText) window.shownDisclosures.push(text.dataset.disclosure); })
            .observe(text, { attributes: true });
    }""")
    wallet.check('input[name="disclosure"][value="masked"]')  # while the full code is on its way
    assert _shown_code(wallet) == "" and wallet.is_hidden("#qr-image")
    assert "隐藏敏感信息" in wallet.inner_text("#present-disclosure")
    slow.release()  # the full code arrives after the switch: it must never be shown
    wallet.wait_for_function("() => document.getElementById('qr-text').dataset.disclosure === 'masked'")
    code = _shown_code(wallet)
    assert "本码出示范围：隐藏敏感信息" in wallet.inner_text("#present-disclosure")
    assert wallet.get_attribute("#present-disclosure", "data-disclosure") == "masked"
    assert wallet.evaluate("window.shownDisclosures") and "full" not in wallet.evaluate("window.shownDisclosures")
    checked = _public_check(live, code)
    assert checked["valid"] is True and checked["summary"]["disclosure"] == "masked"
    browsing.shot(wallet, "wallet-present-masked-360")


def test_a_new_code_is_never_preceded_by_the_previous_one(browsing, live):
    wallet = browsing.page(PHONE, mobile=True)
    wallet_sign_in(wallet, live)
    first = present(wallet, [live.licences["proof"]])
    wallet.click("#present-close")
    slow = HeldAnswers(wallet, "**/api/v1/presentations")
    wallet.click("#present-selected")  # 亮证 again: the new code is slow to come
    slow.wait_for(1)
    assert _shown_code(wallet) == "" and wallet.is_hidden("#qr-image")
    assert "剩余" not in wallet.inner_text("#countdown")
    slow.release()
    wallet.wait_for_function(
        "code => { const t = document.getElementById('qr-text').dataset.qrText; return t && t !== code; }", arg=first)
    second = _shown_code(wallet)
    assert _public_check(live, first)["error"] == "superseded"  # the previous code is dead everywhere

    slow = HeldAnswers(wallet, "**/api/v1/presentations")
    wallet.click("#present-refresh")  # 立即刷新: the same while the next one comes
    slow.wait_for(1)
    assert _shown_code(wallet) == "" and wallet.is_hidden("#qr-image")
    slow.release()
    wallet.wait_for_function(
        "code => { const t = document.getElementById('qr-text').dataset.qrText; return t && t !== code; }", arg=second)


def test_the_wallet_counts_down_to_when_the_counter_stops_accepting(browsing, live):
    wallet = browsing.page(PHONE, mobile=True)
    wallet_sign_in(wallet, live)
    _pick(wallet, live.licences["proof"])
    with wallet.expect_response(lambda r: r.url.endswith("/api/v1/presentations") and r.request.method == "POST") \
            as answered:
        wallet.click("#present-selected")
    body = answered.value.json()
    accepted_until = datetime.fromisoformat(body["accepted_until"])
    assert accepted_until - datetime.fromisoformat(body["expires_at"]) == timedelta(seconds=30)
    wallet.wait_for_function("code => document.getElementById('qr-text').dataset.qrText === code",
                             arg=body["qr_text"])
    assert wallet.get_attribute("#qr-text", "data-accepted-until") == body["accepted_until"]
    left = int(re.search(r"剩余 (\d+) 秒", wallet.inner_text("#countdown")).group(1))
    # Counting to `exp` would show at most ttl_seconds; the counter accepts until accepted_until.
    assert body["ttl_seconds"] < left <= body["seconds_left"]


def _api_code(live: LiveCerthub, identifier: str) -> str:
    answer = httpx.post(f"{live.base_url}/api/v1/presentations", timeout=30,
                        headers={"Authorization": f"Bearer {live.holder_token()}"},
                        json={"licences": [identifier], "disclosure": "full"})
    assert answer.status_code == 201, answer.text
    return answer.json()["qr_text"]


def _forged(code: str) -> str:
    """The code with one bit of its signature flipped."""
    sign1 = cbor2.loads(zlib.decompress(base45.b45decode(code.removeprefix("EL1:"))))
    protected, unprotected, payload, signature = sign1.value
    parts = [protected, unprotected, payload, bytes([signature[0] ^ 1]) + signature[1:]]
    return "EL1:" + base45.b45encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, parts)))).decode()


def test_faults_are_not_verdicts_and_a_forged_code_still_is(browsing, live):
    counter = browsing.page(DESKTOP)
    counter_ready(counter, live)
    forged = scan(counter, _forged(_api_code(live, live.licences["proof"])), "invalid")
    assert "无效" in forged.inner_text() and forged.get_attribute("data-code") == "signature_invalid"

    code = _api_code(live, live.licences["proof"])
    fault: dict = {"now": None}

    def on_redeem(route) -> None:
        if fault["now"] is None:
            route.fallback()
        elif fault["now"] == "lost":
            route.abort("internetdisconnected")
        else:
            status = fault["now"]
            route.fulfill(status=status, json={"error": {401: "invalid_token", 503: "log_unavailable"}[status],
                                               "message": "…"})

    counter.route("**/api/v1/presentations/redeem", on_redeem)
    for now, reason in (("lost", "网络连接中断"), (503, "暂停服务"), (401, "登录已失效")):
        fault["now"] = now
        shown = scan(counter, code, "unverified")
        text = shown.inner_text()
        assert "未能核验" in text and reason in text and "无效" not in text, text
        assert "此码尚未核验" in text or "尚不知道" in text  # and what to do
        browsing.shot(counter, f"counter-unverified-{now}-1280")
        if now == 503:
            # None of that said anything about the code: it is valid.
            fault["now"] = None
            assert "有效" in scan(counter, code, "valid").inner_text()
            code = _api_code(live, live.licences["proof"])


# --- staff sign-in and the counter shift --------------------------------------


def _session_token(page, name: str = "counter") -> str:
    return page.evaluate(f"JSON.parse(sessionStorage.getItem('certhub.{name}') || '{{}}').token || ''")


def test_staff_sign_in_through_the_identity_provider_puts_the_person_in_the_log(browsing, live):
    """The clerk signs in with an ID token from the province's provider; the
    page sends no operator of its own, and the log names the signed-in person."""
    counter = browsing.page(DESKTOP)
    sent: list[dict] = []
    counter.on("request", lambda request: sent.append({"headers": request.headers, "body": request.post_data})
               if request.url.endswith("/api/v1/presentations/redeem") else None)
    counter.goto(live.base_url + "/counter")
    assert counter.locator("#client-secret").count() == 0  # no department credential on the page
    counter.click("#signin details summary")  # an ID token already at hand
    counter.fill("#staff-id-token", live.staff_id_token(staff_id="fzga-clerk-2001", name="吴雨桐"))
    counter.click("#staff-oidc-login button[type=submit]")
    choose_matter(counter)
    # The person, their role and their department by name, from the session and the catalog.
    counter.wait_for_function("() => document.getElementById('whoami').textContent.includes('福州市公安局')")
    whoami = counter.locator("#whoami").inner_text()
    assert "fzga-clerk-2001" in whoami and "综窗人员" in whoami and "吴*桐" in whoami
    browsing.shot(counter, "counter-staff-signed-in-1280")

    wallet = browsing.page(PHONE, mobile=True)
    wallet_sign_in(wallet, live)
    scan(counter, present(wallet, [live.licences["proof"]]), "valid")
    [request] = sent
    assert "x-operator-id" not in request["headers"] and "operator_id" not in (request["body"] or "")

    live.publish_checkpoint()
    audit = browsing.page(DESKTOP)
    audit.goto(live.base_url + "/audit")
    audit.click("#demo-login")  # the demo auditor: audit:read only
    audit.wait_for_selector("#audit-app:not([hidden])")
    assert "审计人员" in audit.locator("#whoami").inner_text()
    audit.fill("#f-subject", live.holder_code)
    audit.fill("#f-operator", "fzga-clerk-2001")
    audit.click("#search-form button[type=submit]")
    row = audit.wait_for_selector('#records-table tbody tr[data-kind="redemption"][data-result="granted"]')
    assert "fzga-clerk-2001" in row.inner_text() and PURPOSE in row.inner_text()


def test_the_counter_signs_in_at_the_identity_provider_and_comes_back_signed_in(browsing, live):
    """The authorization code flow with PKCE: to the provider's login page and back, the session
    token handed over in the URL fragment and gone from the address bar at once."""
    browsing.allow(live.staff_provider.issuer)
    live.staff_provider.login_claims = {"staff_id": "fzga-clerk-3003", "name": "林海川"}
    try:
        counter = browsing.page(DESKTOP)
        counter.goto(live.base_url + "/counter")
        with counter.expect_navigation(url=re.compile(re.escape(live.base_url) + "/counter")):
            counter.click("#staff-provider-login")
        choose_matter(counter)
    finally:
        live.staff_provider.login_claims = {}
    assert "fzga-clerk-3003" in counter.locator("#whoami").inner_text()
    assert "staff_session" not in counter.url and "#" not in counter.url
    me = httpx.get(f"{live.base_url}/api/v1/staff/me", headers={"Authorization": f"Bearer {_session_token(counter)}"})
    assert me.json()["staff_id"] == "fzga-clerk-3003" and me.json()["auth_method"] == "oidc"
    assert any(path.startswith("/authorize?") for path in live.staff_provider.requests)


def test_the_session_is_refreshed_while_the_clerk_works_keeping_matter_and_purpose(browsing, live):
    counter = browsing.page(DESKTOP)
    counter.clock.install()  # the page's own clock, so the refresh comes without waiting 14 minutes
    counter_ready(counter, live)
    first = _session_token(counter)
    summary = counter.locator("#setup-summary").inner_text()
    assert MATTER_NAME in summary and PURPOSE in summary

    counter.keyboard.press("Shift")  # someone works at the counter
    counter.clock.run_for(15 * 60 * 1000 - 50 * 1000)  # 50 s before the 15-minute token expires
    counter.wait_for_function("() => document.body.dataset.staffRefreshed")
    second = _session_token(counter)
    assert second and second != first
    assert httpx.get(f"{live.base_url}/api/v1/staff/me",
                     headers={"Authorization": f"Bearer {second}"}).json()["staff_id"] == OPERATOR
    # Still at the scanner, with the same matter and purpose; the refreshed token redeems.
    assert counter.locator("#setup-summary").inner_text() == summary
    assert counter.evaluate("document.activeElement.id") == "scan-input"
    assert "有效" in scan(counter, _api_code(live, live.licences["proof"]), "valid").inner_text()

    # A reload of the page keeps the session and the matter and purpose too.
    counter.reload()
    counter.wait_for_selector("#scan-area:not([hidden])")
    assert counter.locator("#setup-summary").inner_text() == summary


def test_an_unattended_counter_lets_its_session_lapse(browsing, live):
    counter = browsing.page(DESKTOP)
    counter.clock.install()
    counter_ready(counter, live)
    # Choosing the matter was work: the first refresh comes (50 s before the 15-minute token expires).
    counter.clock.run_for(15 * 60 * 1000 - 50 * 1000)
    counter.wait_for_function("() => document.body.dataset.staffRefreshed")
    # Then nobody touches the screen for longer than a token lives: no second refresh, and it is signed out.
    with counter.expect_navigation():
        counter.clock.run_for(16 * 60 * 1000)
    counter.wait_for_selector("#signin:not([hidden])")
    assert "长时间未操作" in counter.locator("#signin-error").inner_text()
    assert counter.locator("#scan-area").is_hidden() and _session_token(counter) == ""


def test_sign_out_clears_the_screen_and_ends_the_session(browsing, live):
    counter = browsing.page(DESKTOP)
    counter_ready(counter, live)
    scan(counter, _api_code(live, live.licences["id_card"]), "valid")
    counter.wait_for_selector("#result article")
    assert ID_CARD_ADDRESS in counter.locator("#result").inner_text()  # licence data on the screen
    token = _session_token(counter)

    with counter.expect_navigation():  # the session ended on the server, then the page reloaded
        counter.click("#sign-out")
    counter.wait_for_selector("#signin:not([hidden])")
    assert counter.evaluate("window.sessionStorage.length") == 0
    text = counter.locator("body").inner_text()
    assert ID_CARD_ADDRESS not in text and live.holder_name not in text and PURPOSE not in text
    assert counter.locator("#counter-app").is_hidden() and counter.locator("#result").inner_text() == ""
    browsing.shot(counter, "counter-signed-out-1280")
    # The session is over on the server too: the old token is refused.
    answer = httpx.get(f"{live.base_url}/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and "signed out" in answer.json()["message"]
    # Signing in again starts from the matter choice, not the previous clerk's.
    counter.click("#demo-login")
    counter.wait_for_selector("#setup:not([hidden])")
    assert counter.input_value("#purpose") == ""
