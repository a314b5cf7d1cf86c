"""The short numeric fallback of a 亮证 code: a clerk types ten digits when
the QR cannot be scanned; the same presentation, once, recorded, and guessing
is bounded per clerk and per department."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from catalog.access import UseLog
from exchange.auditlog import LogEntry
from exchange.auditlog.records import parse_entry
from identity.ratelimit import Limits, RateLimited, RateLimiter
from registry.presentations.errors import CodeRefused
from registry.presentations.models import Presentation
from registry.presentations.redeem import SHORT_CODE_ATTEMPTS, Counter, redeem_short_code
from registry.presentations.trust import RegistryTrust
from storage.cache import InProcessCache
from tests.factories.catalog import COUNTY_CENTRE, MATTER
from tests.factories.licences import token_headers
from tests.factories.presentations import CITIZEN, PURPOSE, build

pytestmark = pytest.mark.slow


@pytest.fixture
def world(client, app, db_session):
    return build(client, app, db_session)


def _present(world, **kwargs) -> dict:
    response = world.present([world.residence["identifier"]], **kwargs)
    assert response.status_code == 201, response.text
    return response.json()


def _redeem(world, short_code: str, *, headers=None, **overrides):
    body = {"short_code": short_code, "operator_id": "clerk-7", "matter_code": MATTER, "purpose": PURPOSE,
            **overrides}
    return world.client.post("/api/v1/presentations/redeem-short-code", json=body, headers=headers or world.counter)


def _denied(world) -> list[LogEntry]:
    return list(world.session.scalars(select(LogEntry).where(
        LogEntry.kind == "redemption", LogEntry.result == "denied").order_by(LogEntry.id)))


def test_a_presentation_has_ten_digits_stored_with_it(world):
    made = _present(world)
    assert len(made["short_code"]) == 10 and made["short_code"].isdigit()
    row = world.session.get(Presentation, made["id"])
    assert row.short_code == made["short_code"]


def test_the_digits_redeem_the_presentation_once_and_record_the_use(world):
    made = _present(world, disclosure="full")
    typed = f"{made['short_code'][:3]} {made['short_code'][3:6]}-{made['short_code'][6:]}"  # as a clerk types it
    response = _redeem(world, typed)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["presentation_id"] == made["id"] and body["licences"][0]["fields"]["address"] == "福州市鼓楼区五四路100号"
    granted = world.session.scalars(select(LogEntry).where(LogEntry.kind == "redemption",
                                                            LogEntry.result == "granted")).all()
    [record] = [parse_entry(entry.entry) for entry in granted]
    assert record["subject"] == CITIZEN and record["department"] == COUNTY_CENTRE
    assert record["licence_ids"] == [world.residence["identifier"]]

    again = _redeem(world, made["short_code"])
    assert again.status_code == 409 and again.json()["error"] == "replayed"
    assert world.redeem(made["qr_text"]).json()["error"] == "replayed"  # the QR and the digits are one code


def test_the_qr_used_first_uses_the_digits_up(world):
    made = _present(world)
    assert world.redeem(made["qr_text"]).status_code == 200
    assert _redeem(world, made["short_code"]).json()["error"] == "replayed"


def test_wrong_digits_are_refused_and_recorded(world):
    made = _present(world)
    wrong = f"{(int(made['short_code']) + 1) % 10**10:010d}"
    response = _redeem(world, wrong)
    assert response.status_code == 422 and response.json()["error"] == "unknown_short_code"
    assert "licences" not in response.json()
    [denied] = _denied(world)
    assert denied.reason_code == "unknown_short_code" and denied.department_code == COUNTY_CENTRE


def test_a_replaced_code_and_an_expired_code_say_so(world):
    first = _present(world)
    _present(world)  # the holder asked for a new code: the first is superseded
    assert _redeem(world, first["short_code"]).json()["error"] == "superseded"
    latest = _present(world)
    row = world.session.get(Presentation, latest["id"])
    row.issued_at, row.expires_at = row.issued_at - timedelta(minutes=5), row.expires_at - timedelta(minutes=5)
    world.session.flush()
    assert _redeem(world, latest["short_code"]).json()["error"] == "expired"


def test_two_live_codes_with_the_same_digits_are_refused_not_guessed_between(world):
    mine = _present(world)
    theirs = world.present([world.business["identifier"]], headers=world.company).json()
    world.session.execute(update(Presentation).where(Presentation.id == theirs["id"]).values(
        short_code=mine["short_code"]))
    world.session.flush()
    assert _redeem(world, mine["short_code"]).json()["error"] == "unknown_short_code"


@pytest.mark.parametrize("typed", ["12345", "123456789012", "12345abcde", "１２３４５６７８９０"])
def test_anything_but_ten_digits_is_refused_before_a_lookup(world, typed):
    response = _redeem(world, typed)
    assert response.status_code == 422
    assert _denied(world) == []  # not even counted: nothing was looked up


def test_guessing_is_bounded_per_clerk_a_minute(world):
    made = _present(world)
    wrong = f"{(int(made['short_code']) + 7) % 10**10:010d}"
    # Twice the bound and one more: however the tries fall across minute windows, one window is over it.
    answers = [_redeem(world, wrong) for _ in range(2 * SHORT_CODE_ATTEMPTS.per_clerk + 1)]
    errors = [answer.json()["error"] for answer in answers]
    assert "rate_limited" in errors and set(errors) == {"unknown_short_code", "rate_limited"}
    refused = answers[errors.index("rate_limited")]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "rate_limited" in [entry.reason_code for entry in _denied(world)]
    other_clerk = _redeem(world, made["short_code"], operator_id="clerk-8")
    assert other_clerk.status_code == 200, other_clerk.text


def test_past_the_bound_even_the_right_digits_are_refused(world):
    """At one instant (so in one minute window): the bound counts every try, not only wrong ones."""
    made = _present(world)
    wrong = f"{(int(made['short_code']) + 3) % 10**10:010d}"
    counter = Counter(department_code=COUNTY_CENTRE, client_id="counter-system", operator_id="clerk-9",
                      matter_code=MATTER, purpose=PURPOSE, case_number=None, request_hash="0" * 64)
    services = world.app.state.services
    tries = {"session": world.session, "counter": counter, "trust": services.find(RegistryTrust),
             "cache": InProcessCache(), "recorder": services.find(UseLog), "now": datetime.now(UTC),
             "attempts": RateLimiter(InProcessCache(), default=Limits(per_minute=1, daily=1), clock=lambda: 1e9)}
    for _ in range(SHORT_CODE_ATTEMPTS.per_clerk):
        with pytest.raises(CodeRefused):
            redeem_short_code(short_code=wrong, **tries)
    with pytest.raises(RateLimited):
        redeem_short_code(short_code=made["short_code"], **tries)


def test_the_counter_needs_the_redeem_scope(world, client, db_session):
    made = _present(world)
    headers = token_headers(client, db_session, COUNTY_CENTRE, scopes=("exchange:query",))
    assert _redeem(world, made["short_code"], headers=headers).status_code == 403


def test_a_holder_cannot_redeem_digits(world):
    made = _present(world)
    assert _redeem(world, made["short_code"], headers=world.citizen).status_code in (401, 403)
