"""Public, anonymised usage statistics of the exchange, computed from the log.

What the public may see of the exchange at work, as Estonia publishes
X-Road's usage (logs.x-tee.ee): how often each department used another's
licences or data, for which matters, how many attempts were refused and
why, day by day. Nothing personal: no holder, operator, purpose, case number
or field list leaves this module, only department and matter codes (public
bodies and public catalog entries), refusal codes and counts.

Small counts are suppressed: a count of 1 to ``SUPPRESSION_THRESHOLD - 1``
is published as ``"<5"`` (zero stays 0), so a rare use (one query about one
matter on one day) cannot be tied back to the one person it concerned by
someone who knows of it from elsewhere. The suppression is per cell; totals
of suppressed cells are not published beside them (docs/auditlog.md
"Public usage statistics" says what this does and does not hide).

Counts come from the entries themselves (the leaf bytes auditors verify),
not from the search columns beside them; only the time range is selected
by the indexed ``recorded_at`` column.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import DataItem
from exchange.auditlog.errors import InvalidQuery
from exchange.auditlog.models import LogEntry
from exchange.auditlog.records import parse_entry
from exchange.auditlog.search import MAX_RANGE, MAX_SCAN, SHANGHAI
from registry.errors import InvalidIdentifier
from registry.identifiers import LicenceIdentifier

SUPPRESSION_THRESHOLD = 5
SUPPRESSED = f"<{SUPPRESSION_THRESHOLD}"
# A use whose provider cannot be named (a refusal before any licence or data
# item was found, an identifier of another registry's form).
UNKNOWN_PROVIDER = ""
HOLDER_SELF = "holder_self"
HOLDER_VIEWS = "holder_views"


@dataclass(frozen=True)
class DayRange:
    """Whole days in China Standard Time, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidQuery("the last day must not be before the first")
        if (self.last - self.first) + timedelta(days=1) > MAX_RANGE:
            raise InvalidQuery(f"at most {MAX_RANGE.days} days")

    @classmethod
    def ending(cls, last: date, *, days: int) -> DayRange:
        return cls(first=last - timedelta(days=days - 1), last=last)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(0), SHANGHAI)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), SHANGHAI)

    def days(self) -> list[str]:
        count = (self.last - self.first).days + 1
        return [(self.first + timedelta(days=n)).isoformat() for n in range(count)]


def suppress(count: int) -> int | str:
    """A count as published: 0, ``"<5"`` for 1..4, or the count."""
    return count if count == 0 or count >= SUPPRESSION_THRESHOLD else SUPPRESSED


def usage_statistics(*, session: Session, days: DayRange) -> dict:
    """The published statistics of ``days``: per department pair (user →
    provider), per matter, refusals per reason and per day (every day of the
    range, zero days included), granted and denied, small counts suppressed;
    holders' views of their own licences (basis ``holder_self``, and their
    proxies' under ``delegation:<id>``) only as ``holder_views``, per day and in total."""
    rows = session.execute(
        select(LogEntry.recorded_at, LogEntry.entry)
        .where(LogEntry.recorded_at >= days.since, LogEntry.recorded_at < days.until)
        .order_by(LogEntry.recorded_at, LogEntry.id)
        .limit(MAX_SCAN + 1)
    ).all()
    truncated = len(rows) > MAX_SCAN
    records = [(row.recorded_at, parse_entry(row.entry)) for row in rows[:MAX_SCAN]]
    providers = _data_item_providers(
        session=session, codes={code for _, r in records for code in r.get("data_items") or ()}
    )
    totals: Counter = Counter()
    by_day: dict[str, Counter] = {day: Counter() for day in days.days()}
    by_pair: dict[tuple[str, str], Counter] = defaultdict(Counter)
    by_matter: dict[str, Counter] = defaultdict(Counter)
    refusals: Counter = Counter()
    for recorded_at, record in records:
        result = record["result"]
        day = by_day[recorded_at.astimezone(SHANGHAI).date().isoformat()]
        # A holder looking at their own licences, or their proxy looking for
        # them, is no department using them: counted apart, in no department's figures.
        if record.get("basis") == HOLDER_SELF or str(record.get("basis") or "").startswith("delegation:"):
            totals[HOLDER_VIEWS] += 1
            day[HOLDER_VIEWS] += 1
            continue
        totals[result] += 1
        day[result] += 1
        for provider in _providers_of(record, providers):
            by_pair[(record["department"], provider)][result] += 1
        # Uses without a matter (a layout download) are counted under "".
        by_matter[record.get("matter") or ""][result] += 1
        if result == "denied":
            refusals[record.get("reason") or "unknown"] += 1
    return {
        "first_day": days.first.isoformat(),
        "last_day": days.last.isoformat(),
        "time_zone": "Asia/Shanghai",
        "suppression_threshold": SUPPRESSION_THRESHOLD,
        "totals": {**_counts(totals), HOLDER_VIEWS: suppress(totals[HOLDER_VIEWS])},
        "by_day": [
            {"day": day, **_counts(counts), HOLDER_VIEWS: suppress(counts[HOLDER_VIEWS])}
            for day, counts in by_day.items()
        ],
        "by_department_pair": [
            {"user": user, "provider": provider, **_counts(counts)}
            for (user, provider), counts in sorted(by_pair.items())
        ],
        "by_matter": [{"matter": matter, **_counts(counts)} for matter, counts in sorted(by_matter.items())],
        "refusals_by_reason": [
            {"reason": reason, "count": suppress(count)} for reason, count in sorted(refusals.items())
        ],
        "truncated": truncated,
    }


def _counts(counter: Counter) -> dict:
    return {"granted": suppress(counter["granted"]), "denied": suppress(counter["denied"])}


def _data_item_providers(*, session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.execute(select(DataItem.code, DataItem.provider_code).where(DataItem.code.in_(sorted(codes))))
    return {row.code: row.provider_code for row in rows}


def _providers_of(record: dict, data_item_providers: dict[str, str]) -> Iterable[str]:
    """The departments whose licences or data the use concerned: each
    licence's issuer (from its GB/T 36904 identifier), each data item's
    provider (from the catalog); once each."""
    found: set[str] = set()
    for identifier in record.get("licence_ids") or ():
        try:
            found.add(LicenceIdentifier.parse(identifier).issuer_code)
        except InvalidIdentifier:
            found.add(UNKNOWN_PROVIDER)
    for code in record.get("data_items") or ():
        found.add(data_item_providers.get(code, UNKNOWN_PROVIDER))
    return sorted(found) or [UNKNOWN_PROVIDER]
