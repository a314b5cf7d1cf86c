"""The auditor page (/audit) and the public statistics page (/statistics) in
Chromium against a live certhub, on a desktop and a phone viewport.

Holder codes are masked in the table, refusal codes read in Chinese,
anomaly flags are one row per kind, the day chart has every day of the
range, a record opens with its inclusion proof checked in the browser, the
CSV export holds the search's records. The browser saves the checkpoint it
verified and, on the next visit, proves the new one consistent with it; a
forked history raises the alarm. axe-core finds nothing of impact moderate
or higher on any of these states; each writes a screenshot.
"""

from __future__ import annotations

import base64
import csv
import io
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from catalog.access import UseRecord
from certhub.db import create_db_engine, create_sessionmaker
from exchange.auditlog import insert_pending
from exchange.auditlog.checkpoints import get_or_create_signer, log_origin
from signing.transparency import Checkpoint, leaf_hash, root_from_leaf_hashes
from signing.transparency.merkle import consistency_path, in_memory_range_hasher
from tests.web.accessibility import axe_violations
from tests.web.browsing import DESKTOP, PHONE
from tests.web.live import MATTER, PUBLIC_SECURITY, LiveCerthub

pytestmark = pytest.mark.slow  # drives Chromium

VIEWPORTS = [pytest.param(DESKTOP, id="1280"), pytest.param(PHONE, id="360")]
DENYING_OPERATOR = "audit-page-op-77"


def _write(live: LiveCerthub, records: list[UseRecord], *, now: datetime | None = None) -> None:
    """Records written by the log's own writer into the live server's database, then checkpointed."""
    engine = create_db_engine(live.settings.effective_database_url)
    try:
        session = create_sessionmaker(engine)()
        with session, session.begin():
            insert_pending(session=session, records=records, now=now or datetime.now(UTC))
    finally:
        engine.dispose()
    live.publish_checkpoint()


def _granted(live: LiveCerthub, purpose: str = "核验申请人身份（审计页测试）") -> UseRecord:
    return UseRecord(
        kind="redemption",
        department_code=PUBLIC_SECURITY,
        operator_id="fzga-clerk-0117",
        basis="holder_presentation",
        subject_code=live.holder_code,
        licence_ids=(live.licences["proof"],),
        fields=("proof_number", "name"),
        matter_code=MATTER,
        purpose=purpose,
        case_number="AJ-2026-0001",
        request_hash="cd" * 32,
    )


def _denied(reason: str, operator: str = DENYING_OPERATOR) -> UseRecord:
    return UseRecord(
        kind="department_query",
        department_code=PUBLIC_SECURITY,
        operator_id=operator,
        basis="holder_presentation",
        result="denied",
        reason_code=reason,
        matter_code=MATTER,
        purpose="核查（审计页测试）",
        request_hash="ef" * 32,
    )


@pytest.fixture(scope="module")
def logged(live):
    """A granted use of the holder's licence and a burst of six refusals by one
    operator within minutes (two repeated_denials flags), all checkpointed."""
    now = datetime.now(UTC)
    _write(live, [_granted(live)], now=now - timedelta(minutes=30))
    for minute in range(6):
        _write(live, [_denied("consent_missing")], now=now - timedelta(minutes=20 - minute))
    return live


def _sign_in(page, live: LiveCerthub) -> None:
    page.goto(live.base_url + "/audit")
    page.click("#demo-login")  # the demo auditor: audit:read only
    page.wait_for_selector("#audit-app:not([hidden])")


def _search(page) -> None:
    """Run the search and wait for its own answer (not the one signing in started)."""
    page.click("#search-form button[type=submit]")
    page.wait_for_selector('#records-table[aria-busy="false"]')


def _open_tab(page, tab: str) -> None:
    """A tab, through the menu the phone layout may have scrolled away."""
    page.click(f"#{tab}")


def _no_violations(page) -> None:
    """axe-core finds nothing of impact moderate or higher, and the page does not scroll sideways."""
    violations = axe_violations(page)
    assert violations == [], violations
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the page scrolls sideways"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_table_masks_holders_translates_refusals_and_a_record_proves_itself(browsing, logged, viewport):
    live = logged
    label = "360" if viewport is PHONE else "1280"
    page = browsing.page(viewport, mobile=viewport is PHONE)
    _sign_in(page, live)
    page.wait_for_selector("#log-state:not([hidden])")
    page.fill("#f-subject", live.holder_code)
    _search(page)
    row = page.wait_for_selector('#records-table tbody tr[data-kind="redemption"][data-result="granted"]')
    masked = live.holder_code[:4] + "*" * 10 + live.holder_code[-4:]
    assert row.query_selector(".holder").inner_text() == masked
    assert live.holder_code not in page.locator("#records-table").inner_text()
    assert live.holder_code not in page.locator("#records-table").inner_html()

    row.query_selector(".detail-open").click()
    proof = page.wait_for_selector('#detail-proof[data-proof="ok"]')
    assert "包含证明" in proof.inner_text()
    detail = page.locator("#detail-fields").inner_text()
    assert masked in detail and live.holder_code not in detail and "AJ-2026-0001" in detail
    _no_violations(page)
    browsing.shot(page, f"audit-record-detail-{label}")

    # A refusal names its reason in Chinese, with the code beside it.
    page.fill("#f-subject", "")
    page.fill("#f-operator", DENYING_OPERATOR)
    _search(page)
    page.wait_for_selector('#records-table tbody tr[data-reason="consent_missing"]')
    refused = page.locator('#records-table tbody tr[data-reason="consent_missing"]').first.inner_text()
    assert "未获持证人授权（consent_missing）" in refused


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_anomalies_are_grouped_by_kind_and_the_day_axis_is_continuous(browsing, logged, viewport):
    label = "360" if viewport is PHONE else "1280"
    page = browsing.page(viewport, mobile=viewport is PHONE)
    _sign_in(page, logged)
    _open_tab(page, "tab-anomalies")
    page.select_option("#a-days", "1")
    page.click("#anomaly-form button[type=submit]")
    grouped = page.wait_for_selector('#anomalies-table tbody tr[data-flag="repeated_denials"]')
    # Two flags from the burst of six refusals (and any others), in one row that counts them.
    assert page.locator('#anomalies-table tbody tr[data-flag="repeated_denials"]').count() == 1
    assert int(grouped.get_attribute("data-count")) >= 2
    assert DENYING_OPERATOR in grouped.inner_text()
    kinds = page.eval_on_selector_all("#anomalies-table tbody tr", "rows => rows.map(r => r.dataset.flag)")
    assert len(kinds) == len(set(kinds))
    _no_violations(page)
    browsing.shot(page, f"audit-anomalies-{label}")

    _open_tab(page, "tab-stats")
    page.select_option("#s-days", "30")
    page.click("#stats-form button[type=submit]")
    chart = page.wait_for_selector("#day-chart svg")
    # Every day of the 30-day range (both ends included), the empty ones drawn as zero.
    assert chart.get_attribute("data-days") == "31"
    days = page.eval_on_selector_all("#day-chart svg g[data-day]", "gs => gs.map(g => g.dataset.day)")
    assert len(days) == 31 and days == sorted(days)
    assert page.locator('#day-chart svg g[data-granted="0"][data-denied="0"]').count() >= 1
    _no_violations(page)
    browsing.shot(page, f"audit-stats-{label}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_csv_export_holds_the_searchs_records_masked(browsing, logged, viewport):
    page = browsing.page(viewport, mobile=viewport is PHONE)
    _sign_in(page, logged)
    page.fill("#f-subject", logged.holder_code)
    with page.expect_download() as download:
        page.click("#export-csv")
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["时间", "用证部门", "经办人工号", "持证人（脱敏）"]
    records = rows[1:]
    assert records and all(row[3] == logged.holder_code[:4] + "*" * 10 + logged.holder_code[-4:] for row in records)
    assert logged.holder_code not in text
    assert any(row[7] == "核验申请人身份（审计页测试）" and row[14].isdigit() for row in records)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_browser_proves_the_log_only_grew_since_its_last_visit(browsing, logged, viewport):
    label = "360" if viewport is PHONE else "1280"
    page = browsing.page(viewport, mobile=viewport is PHONE)
    _sign_in(page, logged)
    page.wait_for_selector('#log-state[data-state="first"]')
    first = page.evaluate("window.certhub.logWatch.saved().size")

    _write(logged, [_granted(logged, purpose="一致性核对（审计页测试）")])
    page.reload()
    page.wait_for_selector("#audit-app:not([hidden])")
    state = page.wait_for_selector('#log-state[data-state="consistent"]')
    assert page.evaluate("window.certhub.logWatch.saved().size") > first
    assert "一致地增长" in state.inner_text()
    _no_violations(page)
    browsing.shot(page, f"audit-log-consistent-{label}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_forked_history_raises_the_alarm_and_keeps_the_evidence(browsing, logged, viewport):
    """The server signs a second history (same key, other entries): a browser that saw it keeps the proof."""
    label = "360" if viewport is PHONE else "1280"
    page = browsing.page(viewport, mobile=viewport is PHONE)
    _sign_in(page, logged)
    page.wait_for_selector('#log-state[data-state="first"]')
    saved = page.evaluate("window.certhub.logWatch.saved()")
    fork = _forked_checkpoint(logged, size=saved["size"] - 1)
    page.evaluate(
        """(fork) => {
        const saved = window.certhub.logWatch.saved();
        const lines = fork.split("\\n");
        Object.assign(saved, { note: fork, size: Number(lines[1]), root: lines[2] });
        localStorage.setItem("certhub.audit.checkpoint", JSON.stringify(saved));
    }""",
        fork,
    )
    _open_tab(page, "tab-verify")
    page.click("#recheck-log")
    alarm = page.wait_for_selector('#log-alarm:not([hidden])[data-code="inconsistent_history"]')
    assert "警报" in alarm.inner_text() and "历史被改写" in alarm.inner_text()
    assert page.get_attribute("#log-alarm", "role") == "alert"
    # The fork stays saved (a later honest checkpoint does not replace it) and the conflict is kept.
    assert page.evaluate("window.certhub.logWatch.saved().note") == fork
    assert page.evaluate("window.certhub.logWatch.evidence().saved") == fork
    _no_violations(page)
    browsing.shot(page, f"audit-log-alarm-{label}")

    # A log that shrank below what this browser saw raises the alarm too.
    page.evaluate("""() => {
        const saved = window.certhub.logWatch.saved();
        saved.size = saved.size + 1000;
        localStorage.setItem("certhub.audit.checkpoint", JSON.stringify(saved));
    }""")
    page.click("#recheck-log")
    page.wait_for_selector('#log-alarm:not([hidden])[data-code="log_shrank"]')


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _forked_checkpoint(live: LiveCerthub, *, size: int) -> str:
    """A checkpoint of another history, signed with the log's own key."""
    engine = create_db_engine(live.settings.effective_database_url)
    try:
        session = create_sessionmaker(engine)()
        with session, session.begin():
            origin = log_origin(live.settings.registry_id)
            signer = get_or_create_signer(session=session, key_secret=live.settings.secret_bytes(), origin=origin)
            note = Checkpoint(origin=origin, size=size, root_hash=secrets.token_bytes(32)).sign(signers=[signer])
    finally:
        engine.dispose()
    assert base64.b64decode(note.decode().split("\n")[2])
    return note.decode()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_public_statistics_need_no_sign_in_and_hide_small_counts(browsing, logged, viewport):
    label = "360" if viewport is PHONE else "1280"
    _write(logged, [_denied("provider_unavailable", operator="audit-page-op-78") for _ in range(2)])
    page = browsing.page(viewport, mobile=viewport is PHONE)
    page.goto(logged.base_url + "/statistics")
    page.wait_for_selector('#public-day-chart svg[data-days="30"]')
    # The last 7 days: a period no other test asks for, so no cached answer predates the records above.
    page.select_option("#p-days", "7")
    page.click("#period-form button[type=submit]")
    page.wait_for_selector('#public-day-chart svg[data-days="7"]')
    reasons = {
        row[0]: row[1]
        for row in page.eval_on_selector_all(
            "#reasons-table tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))"
        )
    }
    assert reasons["提供部门系统不可用（provider_unavailable）"] == "<5"
    assert int(reasons["未获持证人授权（consent_missing）"]) >= 5
    assert page.locator("#pairs-table tbody tr").count() >= 1
    content = page.content()
    for personal in (logged.holder_code, DENYING_OPERATOR, "fzga-clerk-0117", "AJ-2026-0001", "核查（审计页测试）"):
        assert personal not in content
    _no_violations(page)
    browsing.shot(page, f"statistics-{label}")


def test_the_browsers_consistency_check_agrees_with_the_logs_own(browsing, live):
    """The page's RFC 9162 consistency check, run by Chromium on proofs that
    signing.transparency builds, for every pair of sizes up to 17 (powers of
    two and not, equal sizes): each proof holds; with one node changed, or
    checked against another old root, none does."""
    leaves = [leaf_hash(f"entry {n}".encode()) for n in range(17)]
    hasher = in_memory_range_hasher(leaves)
    cases = []
    for new in range(1, 18):
        for old in range(1, new + 1):
            proof = consistency_path(old_size=old, new_size=new, range_hash=hasher)
            cases.append(
                {
                    "old": old,
                    "new": new,
                    "old_root": _b64(root_from_leaf_hashes(leaves[:old])),
                    "new_root": _b64(root_from_leaf_hashes(leaves[:new])),
                    "proof": [_b64(n) for n in proof],
                }
            )
    page = browsing.page(DESKTOP)
    page.goto(live.base_url + "/audit")
    results = page.evaluate(
        """async (cases) => {
            const bytes = (t) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
            const check = window.certhub.logWatch.verifyConsistency;
            const out = [];
            for (const c of cases) {
                const proof = c.proof.map(bytes);
                const good = await check(c.old, c.new, bytes(c.old_root), bytes(c.new_root), proof);
                let tampered = false;
                if (proof.length) {
                    const bad = proof.map((node) => node.slice());
                    bad[bad.length - 1][0] ^= 1;
                    tampered = await check(c.old, c.new, bytes(c.old_root), bytes(c.new_root), bad);
                }
                const otherRoot = bytes(c.new_root);
                const wrongOld = c.old !== c.new && await check(c.old, c.new, otherRoot, bytes(c.new_root), proof);
                out.push([c.old, c.new, good, tampered, wrongOld]);
            }
            return out;
        }""",
        cases,
    )
    assert len(results) == 153
    assert [r[:2] for r in results if not r[2]] == []  # every honest proof holds
    assert [r[:2] for r in results if r[3] or r[4]] == []  # no changed proof or other history does


def test_a_checkpoint_not_signed_by_the_saved_key_alarms_until_the_auditor_gives_the_new_key(browsing, logged):
    """As after a key rotation, or a checkpoint signed by someone else: the
    saved key does not verify it (alarm); the key obtained out of band does."""
    page = browsing.page(DESKTOP)
    _sign_in(page, logged)
    page.wait_for_selector('#log-state[data-state="first"]')
    real_key = page.evaluate("window.certhub.logWatch.saved().keys[0]")
    name, _key_id, key = real_key.split("+", 2)
    page.evaluate(
        """(other) => {
            const saved = window.certhub.logWatch.saved();
            saved.keys = [other];
            localStorage.setItem("certhub.audit.checkpoint", JSON.stringify(saved));
        }""",
        f"{name}+00000000+{key}",
    )
    _open_tab(page, "tab-verify")
    page.click("#recheck-log")
    page.wait_for_selector('#log-alarm:not([hidden])[data-code="bad_signature"]')

    page.fill("#verifier-key", real_key)
    page.click("#recheck-log")
    page.wait_for_selector('#log-state[data-state="consistent"]')
    assert page.is_hidden("#log-alarm")
    assert real_key in page.evaluate("window.certhub.logWatch.saved().keys")


def test_a_checkpoint_served_without_its_witnesses_raises_the_alarm(browsing, logged):
    """The live log has a witness (as the demo does): a server that serves its checkpoint
    without the cosignature (a split view no witness saw) is caught by the browser's own check."""
    page = browsing.page(DESKTOP)
    _sign_in(page, logged)
    page.wait_for_selector('#log-state[data-state="first"], #log-state[data-state="consistent"]')

    def without_cosignatures(route):
        served = route.fetch()
        text, _, signatures = served.text().partition("\n\n")
        # Only the log's own signature line (the note's first): the witness's is dropped.
        route.fulfill(response=served, body=text + "\n\n" + signatures.splitlines()[0] + "\n")

    page.route("**/log/checkpoint", without_cosignatures)
    _open_tab(page, "tab-verify")
    page.click("#recheck-log")
    alarm = page.wait_for_selector('#log-alarm:not([hidden])[data-code="witness_policy_unmet"]')
    assert "见证方" in alarm.inner_text()
