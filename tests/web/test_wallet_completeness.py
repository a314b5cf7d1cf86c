"""The wallet proves, in the browser, that the 用证记录 list is all of the
holder's uses up to the checkpoint — and says so when a use was left out
(here by changing ``auditlog_entries.subject_code`` in the live database)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, update

from exchange.auditlog import LogEntry
from tests.web.browsing import PHONE
from tests.web.test_browser import wallet_sign_in

pytestmark = pytest.mark.slow  # drives Chromium

ELSEWHERE = "350102197001011239"


def _open_records(page) -> str:
    page.click("#tab-records")
    node = page.wait_for_selector('#records-completeness[data-complete="ok"], #records-completeness[data-complete="bad"]')
    return node.get_attribute("data-complete")


def test_the_wallet_proves_the_list_complete_and_catches_a_hidden_use(browsing, live):
    wallet = browsing.page(PHONE, mobile=True)
    wallet_sign_in(wallet, live)  # reading the licences is itself a logged use of the holder's data
    live.publish_checkpoint()
    wallet.reload()
    wallet.wait_for_selector(".licence-card")
    live.publish_checkpoint()
    assert _open_records(wallet) == "ok"
    assert "均已列出" in wallet.inner_text("#records-completeness")

    engine = create_engine(live.settings.effective_database_url)
    try:
        with engine.begin() as connection:
            row_id = connection.scalar(select(LogEntry.id).where(
                LogEntry.subject_code == live.holder_code, LogEntry.leaf_index.is_not(None)).order_by(LogEntry.id))
            connection.execute(update(LogEntry).where(LogEntry.id == row_id).values(subject_code=ELSEWHERE))
        page = browsing.page(PHONE, mobile=True)
        wallet_sign_in(page, live)
        assert _open_records(page) == "bad"
        assert "核验失败" in page.inner_text("#records-completeness")
        assert page.locator('.proof[data-proof="bad"]').count() == 0  # every record shown still verifies
    finally:
        with engine.begin() as connection:
            connection.execute(update(LogEntry).where(LogEntry.id == row_id).values(subject_code=live.holder_code))
        engine.dispose()
