"""The clerk's counter page (窗口核验) in a real Chromium against a real
certhub on loopback: the holder's photo, the matter's checklist and only the
licences the matter needs; "下一位" and the auto-clear taking the previous
person's data off the page; the verdict's sound and its mute; the shift's
masked history; the camera read by jsQR, loaded only when the camera opens
(Chromium's fake camera playing a QR frame made here). axe-core finds no
violation of impact moderate or higher in any of these states."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pypdf import PdfReader

from signing.qr import render_qr_png
from tests.registry.oid4vp_wallet import TestWallet
from tests.web.accessibility import axe_violations
from tests.web.browsing import DESKTOP, PHONE, Browsing
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.web.live import ID_CARD_ADDRESS, MATTER, PROOF_NUMBER, LiveCerthub

pytestmark = pytest.mark.slow  # drives Chromium

PURPOSE = "办理个人无犯罪记录证明开具，核验申请人身份"
# The init script that counts the verdict's tones: every oscillator started, by frequency.
COUNT_TONES = """
window.tones = [];
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function () { window.tones.push(this.frequency.value); return start.apply(this, arguments); };
"""


def counter_ready(page, live: LiveCerthub, *, situation: str | None = None) -> None:
    """The demo clerk signed in, the matter (and its situation) and purpose chosen."""
    page.goto(live.base_url + "/counter")
    page.click("#demo-login")
    page.wait_for_selector(f'#matter option[value="{MATTER}"]', state="attached")
    page.select_option("#matter", MATTER)
    page.wait_for_selector("#situation-field:not([hidden])")
    if situation:
        page.select_option("#situation", situation)
    page.fill("#purpose", PURPOSE)
    page.click("#setup button[type=submit]")
    page.wait_for_selector("#scan-area:not([hidden])")


def scan(page, text: str, verdict: str):
    """Type the code as a scanner gun does, into the scan input that holds the focus."""
    assert page.evaluate("document.activeElement.id") == "scan-input"
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    return page.wait_for_selector(f'#result [data-verdict="{verdict}"]')


def code_for(live: LiveCerthub, identifiers: list[str], *, disclosure: str = "full") -> str:
    return live.presentation_code(identifiers, disclosure=disclosure)


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert violations == [], violations


def result_children(page) -> int:
    return page.evaluate("document.getElementById('result').childElementCount")


def test_the_holders_photo_the_matters_checklist_and_only_its_licences(browsing, live):
    page = browsing.page(DESKTOP)
    counter_ready(page, live)
    scan(page, code_for(live, [live.licences["id_card"], live.licences["proof"]]), "valid")

    card = page.locator(f'#result article[data-identifier="{live.licences["id_card"]}"]')
    photo = card.locator("figure[data-photo] img")
    # The licence's own picture (90 x 120), drawn, and its base64 text nowhere as text.
    assert photo.evaluate("img => img.complete && img.naturalWidth") == 90
    assert photo.get_attribute("alt") == f"照片：{live.holder_name}"
    assert "iVBOR" not in page.inner_text("#result")
    assert ID_CARD_ADDRESS in card.inner_text()

    # 本人申请: the form (paper), the applicant's ID card (shown here) and the hukou (a data check).
    checklist = page.locator("#checklist li")
    assert checklist.evaluate_all("items => items.map(i => [i.dataset.material, i.dataset.satisfied])") == [
        ["application_form", "false"], ["applicant_id", "true"], ["hukou", "false"]]
    assert "已满足" in page.inner_text('#checklist [data-material="applicant_id"]')
    assert "纸质" in page.inner_text('#checklist [data-material="application_form"]')
    assert "数据共享" in page.inner_text('#checklist [data-material="hukou"]')

    # The proof is no material of this matter: named, none of its data on the page.
    assert page.locator(f'#result [data-identifier="{live.licences["proof"]}"]').count() == 0
    assert PROOF_NUMBER not in page.content()
    assert "无犯罪记录证明" in page.inner_text("#result [data-not-for-matter]")
    assert_accessible(page)
    browsing.shot(page, "counter-photo-checklist-1280")

    # A masked disclosure hides the photo (the catalog masks it in full): said so, nothing drawn.
    page.click("#next-person")
    scan(page, code_for(live, [live.licences["id_card"]], disclosure="masked"), "valid")
    hidden = page.wait_for_selector('#result [data-photo="masked"]')
    assert "照片已隐藏" in hidden.inner_text()
    assert page.locator("#result img").count() == 0
    assert_accessible(page)


def test_a_valid_result_fits_a_phone_too(browsing, live):
    page = browsing.page(PHONE, mobile=True)  # a tablet or phone at a mobile counter
    counter_ready(page, live)
    scan(page, code_for(live, [live.licences["id_card"], live.licences["proof"]]), "valid")
    page.wait_for_selector("#result figure[data-photo] img")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the counter scrolls sideways at 360 px"
    assert_accessible(page)
    browsing.shot(page, "counter-photo-checklist-360")
    page.click("#change-setup")  # a new setup: the person's data leaves the page with it
    assert result_children(page) == 0 and ID_CARD_ADDRESS not in page.content()


def test_a_proxys_situation_asks_for_the_agents_materials_too(browsing, live):
    page = browsing.page(DESKTOP)
    counter_ready(page, live, situation="by_proxy")
    assert "委托他人代为申请" in page.inner_text("#setup-summary")
    scan(page, code_for(live, [live.licences["id_card"]]), "valid")
    materials = page.locator("#checklist li").evaluate_all("items => items.map(i => [i.dataset.material, i.dataset.satisfied])")
    assert materials == [["application_form", "false"], ["applicant_id", "true"], ["hukou", "false"],
                         ["agent_id", "false"], ["power_of_attorney", "false"]]  # one ID card is not the agent's too


def test_next_person_and_the_auto_clear_take_the_data_off_the_page(browsing, live):
    page = browsing.page(DESKTOP)
    page.clock.install()  # the page's own clock: the auto-clear comes without waiting for it
    counter_ready(page, live)
    assert page.input_value("#auto-clear") == "60"  # the default
    assert page.is_hidden("#next-person")

    scan(page, code_for(live, [live.licences["id_card"]]), "valid")
    assert ID_CARD_ADDRESS in page.content()
    assert_accessible(page)
    page.click("#next-person")
    # Removed from the document, not hidden: nothing of the person is left in the page.
    assert result_children(page) == 0
    assert ID_CARD_ADDRESS not in page.content() and live.holder_name not in page.content()
    assert page.is_hidden("#next-person")
    assert page.evaluate("document.activeElement.id") == "scan-input"

    page.select_option("#auto-clear", "30")
    page.focus("#scan-input")
    scan(page, code_for(live, [live.licences["id_card"]]), "valid")
    page.clock.run_for(29_000)
    assert ID_CARD_ADDRESS in page.content()
    page.clock.run_for(2_000)
    assert result_children(page) == 0 and ID_CARD_ADDRESS not in page.content()

    page.reload()  # the delay chosen is the counter PC's own setting
    page.wait_for_selector("#scan-area:not([hidden])")
    assert page.input_value("#auto-clear") == "30"
    page.select_option("#auto-clear", "0")  # 不自动清屏
    page.focus("#scan-input")
    scan(page, code_for(live, [live.licences["id_card"]]), "valid")
    page.clock.run_for(10 * 60_000)
    assert ID_CARD_ADDRESS in page.content()


def test_the_verdict_sounds_unless_muted(browsing, live):
    page = browsing.page(DESKTOP)
    page.add_init_script(COUNT_TONES)
    counter_ready(page, live)
    code = code_for(live, [live.licences["id_card"]])
    scan(page, code, "valid")
    assert page.evaluate("window.tones") == [880, 1320]  # rising: 有效
    scan(page, code, "invalid")  # used already
    assert page.evaluate("window.tones") == [880, 1320, 330, 220]  # falling: 无效

    page.click("#mute-toggle")
    assert page.get_attribute("#mute-toggle", "aria-pressed") == "true"
    assert_accessible(page)
    page.click("#next-person")
    scan(page, code_for(live, [live.licences["id_card"]]), "valid")
    assert page.evaluate("window.tones") == [880, 1320, 330, 220]
    page.reload()  # muted stays muted on this PC
    page.wait_for_selector("#scan-area:not([hidden])")
    assert page.get_attribute("#mute-toggle", "aria-pressed") == "true"


def test_the_shifts_history_is_masked_and_goes_at_sign_out(browsing, live):
    page = browsing.page(DESKTOP)
    counter_ready(page, live)
    assert page.is_visible("#history-empty") and page.is_hidden("#history-table")
    code = code_for(live, [live.licences["id_card"]])
    scan(page, code, "valid")
    scan(page, code, "invalid")
    page.click("#next-person")

    rows = page.locator("#history-table tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.verdict)") == ["invalid", "valid"]  # newest first
    assert "已使用" in rows.nth(0).inner_text()
    valid = rows.nth(1).inner_text()
    assert "居民身份证" in valid and "林*雯" in valid
    assert live.holder_name not in page.inner_text("#history")
    assert live.holder_code not in page.content()
    assert_accessible(page)
    browsing.shot(page, "counter-history-1280")

    with page.expect_navigation():  # the session ended on the server, then the page reloaded
        page.click("#sign-out")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('certhub.counter.history')") is None
    assert page.locator("#history-table tbody tr").count() == 0
    page.click("#demo-login")
    page.wait_for_selector("#scan-area:not([hidden]), #setup:not([hidden])")
    assert page.locator("#history-table tbody tr").count() == 0


def test_the_receipt_for_the_case_file_downloads_from_the_counter(browsing, live):
    page = browsing.page(DESKTOP)
    counter_ready(page, live)
    scan(page, code_for(live, [live.licences["id_card"]]), "valid")
    presentation_id = page.get_attribute("#result [data-presentation-id]", "data-presentation-id")
    with page.expect_download() as download:
        page.click("#download-receipt")
    assert download.value.suggested_filename == f"核验回执-{presentation_id}.pdf"
    pdf = Path(download.value.path()).read_bytes()
    (browsing.artifacts / "counter-receipt.pdf").write_bytes(pdf)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace("\x00", "")
    assert "亮证核验回执" in text and presentation_id in text and "fzga-clerk-0117" in text
    assert "福州市公安局" in text and PURPOSE in text
    assert live.holder_code not in text and live.holder_code[:4] in text  # the holder's id masked
    assert "/ByteRange" in pdf.decode("latin-1")  # signed (tests/registry/test_receipts.py checks the signature)
    assert page.is_hidden("#receipt-error")
    assert_accessible(page)
    browsing.shot(page, "counter-receipt-1280")


def write_qr_video(path: Path, text: str, *, frames: int = 3) -> None:
    """A Y4M video (what Chromium's fake camera plays, looping) of the QR of `text` on white."""
    picture = Image.open(io.BytesIO(render_qr_png(text, box_size=6))).convert("L")
    side = min(picture.width, 460)
    picture = picture.resize((side, side), Image.NEAREST)
    frame = Image.new("L", (640, 480), 255)
    frame.paste(picture, ((640 - side) // 2, (480 - side) // 2))
    # SPEC: YUV4MPEG2 — 4:2:0, full range (C420jpeg): the grey picture is the Y plane, the chroma neutral.
    chroma = bytes([128]) * (320 * 240)
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            out.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)


def test_the_camera_reads_the_code_with_jsqr_loaded_only_then(browser, live, artifacts, tmp_path):
    video = tmp_path / "holder-code.y4m"
    write_qr_video(video, code_for(live, [live.licences["id_card"]]))
    camera_browser = browser.browser_type.launch(executable_path=str(CHROMIUM), args=[
        *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    session = Browsing(camera_browser, live, artifacts)
    try:
        page = session.page(DESKTOP)
        page.context.grant_permissions(["camera"], origin=live.base_url)
        # As on Chromium for Linux and Windows: no BarcodeDetector, whatever this build has.
        page.add_init_script("delete window.BarcodeDetector;")
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        counter_ready(page, live)
        page.wait_for_selector("#camera-button:not([hidden])")
        assert not [url for url in requested if "/vendor/jsqr/" in url]  # not with the page
        assert page.evaluate("typeof window.jsQR") == "undefined"
        assert_accessible(page)

        page.click("#camera-button")
        page.wait_for_selector('#result [data-verdict="valid"]', timeout=40_000)
        assert [url for url in requested if "/static/vendor/jsqr/jsQR." in url]
        assert ID_CARD_ADDRESS in page.inner_text("#result")
        assert page.is_hidden("#camera-view")  # the camera stops once it has read a code
        session.shot(page, "counter-camera-valid-1280")
    finally:
        session.close()
        camera_browser.close()
    assert session.foreign == [] and session.errors == []


def test_the_clerk_types_the_holders_digits_when_no_scanner_reads(browsing, live):
    """The wallet's 10-digit fallback, typed at the counter as the holder reads it out
    (grouped 3-3-4): the same code as the QR, so it verifies once and then says 已使用."""
    answer = httpx.post(f"{live.base_url}/api/v1/presentations", timeout=30,
                        headers={"Authorization": f"Bearer {live.holder_token()}"},
                        json={"licences": [live.licences["id_card"]], "disclosure": "full"})
    assert answer.status_code == 201, answer.text
    digits = answer.json()["short_code"]
    assert len(digits) == 10 and digits.isdigit()
    page = browsing.page(DESKTOP)
    counter_ready(page, live)

    page.fill("#numeric-code", "12345")  # too short: said here, nothing sent
    page.click("#numeric-code-form button[type=submit]")
    assert page.get_attribute("#numeric-code", "aria-invalid") == "true"
    assert "10 位数字" in page.inner_text("#numeric-code-hint")
    assert result_children(page) == 0

    page.fill("#numeric-code", f"{digits[:3]} {digits[3:6]} {digits[6:]}")
    page.click("#numeric-code-form button[type=submit]")
    page.wait_for_selector('#result [data-verdict="valid"]')
    assert page.locator(f'#result article[data-identifier="{live.licences["id_card"]}"]').count() == 1
    assert_accessible(page)
    browsing.shot(page, "counter-numeric-code")

    page.fill("#numeric-code", digits)
    page.click("#numeric-code-form button[type=submit]")
    refused = page.wait_for_selector('#result [data-verdict="invalid"]')
    assert refused.get_attribute("data-code") == "replayed" and "已使用" in refused.inner_text()
    # The QR of the same presentation is used up with it.
    scan(page, answer.json()["qr_text"], "invalid")


def test_a_wallet_presents_only_the_matters_fields_and_the_counter_checks_the_signature(browsing, live):
    """Point 4 of #27: instead of a registry-side mask, the counter asks the holder's wallet
    (OpenID4VP) for the matter's fields; the wallet (the test wallet written from the specs)
    discloses just those under the issuer's signature; the server verifies signature, key
    binding and status, and the page shows the fields with the seal that signed them."""
    page = browsing.page(DESKTOP)
    counter_ready(page, live)
    page.click("#wallet-request-button")
    page.wait_for_selector("#wallet-request:not([hidden])")
    link = page.get_attribute("#wallet-request", "data-link")
    assert link.startswith("openid4vp://") and page.get_attribute("#wallet-request-qr", "src").startswith("data:image/png")
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        wallet = TestWallet(http, registry_id=live.settings.registry_id)
        wallet.take_licence(live.licences["id_card"], holder_headers={"Authorization": f"Bearer {live.holder_token()}"})
        offer = wallet.open(link)
        (asked,) = offer.claims_asked.values()
        assert "address" in asked and "holder_code" not in asked  # the type's required fields, nothing of the record
        answer = wallet.respond(offer, wallet.presentation(offer))
        assert answer.status_code == 200, answer.text
    page.wait_for_selector('#result [data-verdict="valid"]')
    card = page.locator("#result [data-wallet-credential]")
    assert ID_CARD_ADDRESS in card.inner_text()
    assert page.get_attribute("#result [data-signature-checked]", "data-signature-checked")  # the seal that signed
    assert page.locator("#wallet-request").is_hidden()
    assert_accessible(page)
    page.click("#next-person")
    assert result_children(page) == 0
