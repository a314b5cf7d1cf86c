"""Sharing agreements, applied for and approved below HTTP."""

from __future__ import annotations

from datetime import timedelta

from exchange.agreements import service as agreements
from storage.base import utcnow
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, COUNTY_CENTRE, MATTER


def approve_agreement(session, *, consumer=COUNTY_CENTRE, type_code=BUSINESS_LICENCE, days=30):
    now = utcnow()
    applied = agreements.apply(
        session=session, consumer_code=consumer, operator="clerk-1", item_code=type_code, provider_code=CITY_SAMR,
        matters=[MATTER], fields=["uscc", "name"], clear_fields=[], valid_until=now + timedelta(days=days),
        reason="开餐馆一件事: 核验营业执照", now=now,
    )
    decided = agreements.decide(session=session, agreement_id=applied.id, provider_code=CITY_SAMR,
                                operator="reviewer-1", approve=True, reason=None, now=now)
    session.commit()
    return decided
