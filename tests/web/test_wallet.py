"""The citizen's wallet at /wallet, phone first and on a desktop: granting a
consent (and approving a department's request), acting for family within a
delegation, use records people can read, expiry reminders and use notices,
亮证 that works at a real counter (wake lock, the typed fallback digits, the
printed QR offline) and disputes whose refusals are said in words.
Each page state is checked with axe-core (no violation of impact moderate or
higher) and photographed into test-artifacts/web/."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import httpx
import pytest

from certhub.db import create_db_engine, create_sessionmaker
from identity import clients
from identity.codes import citizen_id_check_character
from signing.qr import decode_qr_image
from tests.web.browsing import DESKTOP, PHONE
from tests.web.live import (
    CRIMINAL_RECORD_ISSUER,
    CRIMINAL_RECORD_PROOF,
    MATTER,
    MATTER_NAME,
    PROPERTY_CERTIFICATE,
    PROPERTY_ISSUER,
    Client,
    LiveCerthub,
)

pytestmark = pytest.mark.slow  # drives Chromium

VIEWPORTS = [pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")]
SERIOUS = {"moderate", "serious", "critical"}
PURPOSE = "办理个人无犯罪记录证明开具，核验申请人身份"
DEMO_HOLDER_NAME = "林晓梅"  # certhub/demo/holders.yaml: licences about to expire


def demo_holder_code() -> str:
    first17 = "35010219880315204"
    return first17 + citizen_id_check_character(first17)


def axe_clean(page) -> None:
    """axe-core (shipped by axe-playwright-python) finds nothing moderate or worse in the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
             for v in results.response["violations"] if v.get("impact") in SERIOUS]
    assert found == [], found


def sign_in(page, live: LiveCerthub, *, code: str | None = None, name: str | None = None, hash_: str = "") -> None:
    page.goto(live.base_url + "/wallet" + hash_)
    page.fill("#holder-code", code or live.holder_code)
    page.fill("#holder-name", name or live.holder_name)
    page.click("#dev-login button[type=submit]")
    page.wait_for_selector(".licence-card")


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


def test_the_printed_qr_is_shown_offline_from_the_saved_copy(browsing, live):
    page = browsing.page(PHONE, mobile=True)
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
        browsing.shot(page, "wallet-offline-360")
    finally:
        page.context.set_offline(False)
    checked = httpx.post(f"{live.base_url}/api/v1/verify", json={"qr_text": text})
    assert checked.json()["valid"] is True and checked.json()["kind"] == "licence"
