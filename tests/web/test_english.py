"""Every page in English, in Chromium, on a phone and on a desktop: the
switch in the header turns the page to English and the choice is kept; a
browser that prefers English gets English on its first visit; no Chinese is
left in what the page shows except data the server sent (names of licences,
departments, people); axe finds nothing of impact moderate or higher."""

from __future__ import annotations

import re

import pytest

from certhub.demo import seed
from certhub.web.i18n import catalog
from tests.web.accessibility import axe_violations
from tests.web.browsing import DESKTOP, PHONE
from tests.web.live import MATTER, LiveCerthub

pytestmark = pytest.mark.slow  # drives Chromium

VIEWPORTS = [pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")]
CJK_RUN = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")
PURPOSE = "办理个人无犯罪记录证明开具，核验申请人身份"
EN = catalog("en")

# What the page shows, as a screen reader would get it too: each text of the
# body (hidden parts included: they are shown later), the labels and
# alternative texts of elements, and the title; not the language switch,
# which names Chinese in Chinese and says so with its lang attribute.
_SHOWN_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('[lang^="zh"], script').forEach((node) => node.remove());
  const attributes = Array.from(body.querySelectorAll("[aria-label], [alt], [title], [placeholder]")).map((node) =>
    ["aria-label", "alt", "title", "placeholder"].map((name) => node.getAttribute(name) || "").join("\\n"));
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode.nodeValue);
  return [document.title, ...texts, ...attributes].join("\\n");
}"""


class ServerData:
    """Everything the server sent the page as data (its API answers) and the
    demo's own data files: the only places Chinese on an English page may come from."""

    def __init__(self, page) -> None:
        self.responses = []
        page.on("response", self._keep)

    def _keep(self, response) -> None:
        if "/api/" in response.url:
            self.responses.append(response)

    def text(self) -> str:
        parts = [path.read_text(encoding="utf-8") for path in sorted(seed.HOLDERS_FILE.parent.glob("*.yaml"))]
        parts.append(PURPOSE)
        for response in self.responses:
            try:
                parts.append(response.text())
            except Exception:  # noqa: BLE001 - a body the browser has already let go of (an earlier page)
                continue
        return "\n".join(parts)


def assert_english(page, data: ServerData, state: str) -> None:
    assert page.get_attribute("html", "lang") == "en", state
    shown = page.evaluate(_SHOWN_TEXT)
    assert EN["base.e_licence_services"] in shown and EN["base.my_licences"] in shown, state
    known = data.text()
    stray = sorted({run for run in CJK_RUN.findall(shown) if run not in known})
    assert stray == [], f"{state}: Chinese that is not data: {stray}"
    violations = axe_violations(page)
    assert violations == [], (state, violations)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{state}: the page scrolls sideways"


def english_page(browsing, viewport, path: str):
    """A Chinese-speaking browser opens the page, then switches it to English."""
    page = browsing.page(viewport, mobile=viewport is PHONE)
    data = ServerData(page)
    page.goto(browsing.live.base_url + path)
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("#language-switch") == "English"
    page.click("#language-switch")
    page.wait_for_selector('html[lang="en"]')
    assert page.url == browsing.live.base_url + path
    assert page.inner_text("#language-switch") == "中文"
    return page, data


def label_of(viewport) -> str:
    return "360" if viewport is PHONE else "1280"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_home_and_statistics_in_english(browsing, viewport):
    page, data = english_page(browsing, viewport, "/")
    assert page.inner_text("h1") == EN["index.e_licence_services"]
    assert_english(page, data, "home")
    browsing.shot(page, f"english-home-{label_of(viewport)}")
    # Remembered: the next page opens in English without asking again.
    page.click('a[href="/statistics"]')
    page.wait_for_selector("#public-day-chart svg")
    page.wait_for_load_state("networkidle")
    assert_english(page, data, "statistics")
    browsing.shot(page, f"english-statistics-{label_of(viewport)}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_wallet_in_english(browsing, live: LiveCerthub, viewport):
    page, data = english_page(browsing, viewport, "/wallet")
    assert_english(page, data, "wallet sign-in")
    page.fill("#holder-code", live.holder_code)
    page.fill("#holder-name", live.holder_name)
    page.click("#dev-login button[type=submit]")
    page.wait_for_selector(".licence-card")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#tab-records") == EN["wallet.use_records"]
    assert_english(page, data, "wallet licences")
    browsing.shot(page, f"english-wallet-{label_of(viewport)}")

    page.click("#tab-records")
    page.wait_for_selector("#panel-records:not([hidden])")
    page.wait_for_load_state("networkidle")
    assert_english(page, data, "wallet records")

    page.click("#tab-licences")
    page.check(f'.licence-card[data-identifier="{live.licences["id_card"]}"] + .licence-pick input')
    page.click("#present-selected")
    page.wait_for_function("() => (document.getElementById('qr-text').dataset.qrText || '').startsWith('EL1:')")
    assert page.inner_text("#countdown").startswith(EN["wallet.remaining"].strip())
    assert_english(page, data, "wallet presenting")
    browsing.shot(page, f"english-wallet-present-{label_of(viewport)}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_counter_in_english(browsing, live: LiveCerthub, viewport):
    page, data = english_page(browsing, viewport, "/counter")
    assert page.is_visible("#demo-login")
    assert_english(page, data, "staff sign-in")
    page.click("#demo-login")
    page.wait_for_selector(f'#matter option[value="{MATTER}"]', state="attached")
    assert_english(page, data, "counter setup")
    page.select_option("#matter", MATTER)
    page.fill("#purpose", PURPOSE)
    page.click("#setup button[type=submit]")
    page.wait_for_selector("#scan-area:not([hidden])")

    page.keyboard.type(live.presentation_code([live.licences["id_card"], live.licences["proof"]]))
    page.keyboard.press("Enter")
    page.wait_for_selector('#result [data-verdict="valid"]')
    page.wait_for_selector("#result article")
    assert EN["counter.verified"] + "2" + EN["counter.licence_s_this_use_has_been"] in page.inner_text("#result")
    assert_english(page, data, "counter valid")
    browsing.shot(page, f"english-counter-valid-{label_of(viewport)}")

    page.click("#next-person")
    page.focus("#scan-input")
    page.keyboard.type("EL1:THIS-IS-NOT-BASE45")
    page.keyboard.press("Enter")
    refused = page.wait_for_selector('#result [data-verdict="invalid"]')
    assert EN["counter.malformed"] in refused.inner_text()
    assert_english(page, data, "counter refused")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_audit_in_english(browsing, viewport):
    page, data = english_page(browsing, viewport, "/audit")
    assert_english(page, data, "audit sign-in")
    page.click("#demo-login")
    page.wait_for_selector("#audit-app:not([hidden])")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector('#records-table[aria-busy="false"]')
    page.wait_for_load_state("networkidle")
    assert_english(page, data, "audit search")
    browsing.shot(page, f"english-audit-{label_of(viewport)}")
    for tab in ("tab-anomalies", "tab-stats", "tab-verify"):
        page.click(f"#{tab}")
        page.wait_for_load_state("networkidle")
        assert_english(page, data, f"audit {tab}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_console_in_english(browsing, viewport):
    page, data = english_page(browsing, viewport, "/console")
    assert_english(page, data, "console sign-in")
    page.click("#demo-login")
    page.wait_for_selector("#console-app:not([hidden])")
    page.wait_for_load_state("networkidle")
    assert_english(page, data, "console usage")
    browsing.shot(page, f"english-console-{label_of(viewport)}")
    for tab in ("tab-agreements", "tab-disputes", "tab-licences", "tab-systems"):
        page.click(f"#{tab}")
        page.wait_for_load_state("networkidle")
        assert_english(page, data, f"console {tab}")


def test_a_browser_that_prefers_english_gets_english_first_and_may_switch_back(browsing):
    page = browsing.page(PHONE, mobile=True, locale="en-US")
    page.goto(browsing.live.base_url + "/wallet")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == EN["wallet.my_licences"]
    page.click("#language-switch")
    page.wait_for_selector('html[lang="zh-CN"]')
    assert page.inner_text("h1") == catalog("zh-CN")["wallet.my_licences"]
    # The choice outlives the browser's preference.
    page.reload()
    assert page.get_attribute("html", "lang") == "zh-CN"
