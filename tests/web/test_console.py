"""The department console (/console) in a real browser against a real certhub
on loopback: the demo officer of 福州市公安局 signs in as themself and every
flow goes through the same public API a department system uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.web.browsing import DESKTOP, PHONE
from tests.web.live import CRIMINAL_RECORD_ISSUER, PUBLIC_SECURITY, LiveCerthub

pytestmark = pytest.mark.slow  # drives Chromium

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
