"""Auditor queries: search, statistics, anomaly flags and export.

Every query is bounded (page size, time range, rows scanned) so an auditor's
request cannot turn into a full-table scan of a billion-row log.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from exchange.auditlog.checkpoints import latest_checkpoint
from exchange.auditlog.errors import InvalidQuery
from exchange.auditlog.models import LogEntry
from exchange.auditlog.proofs import prove_rows
from exchange.auditlog.records import parse_entry

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_PAGE = 500
MAX_RANGE = timedelta(days=92)
MAX_SCAN = 200_000
EXPORT_CHUNK = 500
MAX_EXPORT = 1_000_000


# The newest granted uses of one department about one subject that
# ``has_used`` reads: a bound on the rows one dispute request may scan.
MAX_USE_SCAN = 2_000


def has_used(*, session: Session, department_code: str, subject_code: str, licence_ids: Sequence[str]) -> bool:
    """Whether one of the department's granted uses about the subject (a
    query answered, a 亮证 code redeemed) names one of ``licence_ids``.

    The licence ids are inside each record only, so the newest
    ``MAX_USE_SCAN`` of the department's uses about the subject are read
    (both columns are indexed); an older use is not seen, failing closed.
    """
    wanted = set(licence_ids)
    rows = session.scalars(
        select(LogEntry.entry)
        .where(LogEntry.department_code == department_code, LogEntry.subject_code == subject_code,
               LogEntry.result == "granted")
        .order_by(LogEntry.id.desc()).limit(MAX_USE_SCAN)
    )
    return any(wanted.intersection(parse_entry(entry)["licence_ids"]) for entry in rows)


@dataclass(frozen=True)
class SearchFilter:
    department: str | None = None
    operator: str | None = None
    subject: str | None = None
    matter: str | None = None
    basis: str | None = None
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select) -> Select:
        for column, value in (
            (LogEntry.department_code, self.department),
            (LogEntry.operator_id, self.operator),
            (LogEntry.subject_code, self.subject),
            (LogEntry.matter_code, self.matter),
            (LogEntry.basis, self.basis),
            (LogEntry.result, self.result),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(LogEntry.recorded_at >= self.since)
        if self.until is not None:
            query = query.where(LogEntry.recorded_at < self.until)
        return query


@dataclass(frozen=True)
class AnomalyThresholds:
    """Defaults follow common practice for counter systems; tune per region."""

    max_subjects: int = 20  # distinct holders one operator may read ...
    subjects_window: timedelta = timedelta(minutes=10)  # ... within this window
    working_start: time = time(8, 0)
    working_end: time = time(18, 0)
    working_days: frozenset[int] = frozenset(range(5))  # Monday..Friday
    max_denials: int = 5  # denied attempts by one operator ...
    denials_window: timedelta = timedelta(minutes=10)  # ... within this window
    max_flags: int = 1000


def search(*, session: Session, filters: SearchFilter, limit: int = 100, before_id: int | None = None) -> dict:
    """One page, newest first; pass ``next`` back as ``before_id`` for the next."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidQuery(f"limit must be in 1..{MAX_PAGE}")
    query = filters.apply(select(LogEntry))
    if before_id is not None:
        query = query.where(LogEntry.id < before_id)
    rows = list(session.scalars(query.order_by(LogEntry.id.desc()).limit(limit)))
    note, size, proven = prove_rows(session=session, rows=rows)
    return {
        "checkpoint": note,
        "size": size,
        "records": [record.to_json() for record in proven],
        "next": rows[-1].id if len(rows) == limit else None,
    }


def _check_range(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidQuery("since and until must carry a time zone")
    if not timedelta(0) < until - since <= MAX_RANGE:
        raise InvalidQuery(f"the range must be positive and at most {MAX_RANGE.days} days")


def _scan(*, session: Session, since: datetime, until: datetime, department_code: str | None = None):
    columns = (
        LogEntry.id, LogEntry.leaf_index, LogEntry.recorded_at, LogEntry.department_code,
        LogEntry.operator_id, LogEntry.subject_code, LogEntry.matter_code, LogEntry.basis, LogEntry.result,
        LogEntry.kind,
    )
    query = select(*columns).where(LogEntry.recorded_at >= since, LogEntry.recorded_at < until)
    if department_code is not None:
        query = query.where(LogEntry.department_code == department_code)
    query = query.order_by(LogEntry.recorded_at, LogEntry.id).limit(MAX_SCAN + 1)
    rows = session.execute(query).all()
    return rows[:MAX_SCAN], len(rows) > MAX_SCAN


def statistics(*, session: Session, since: datetime, until: datetime) -> dict:
    """Counts per department and per day (Asia/Shanghai), granted and denied."""
    _check_range(since, until)
    rows, truncated = _scan(session=session, since=since, until=until)
    by_department: dict[str, Counter] = defaultdict(Counter)
    by_day: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        by_department[row.department_code][row.result] += 1
        by_day[row.recorded_at.astimezone(SHANGHAI).date().isoformat()][row.result] += 1
    return {
        "by_department": {key: dict(value) for key, value in sorted(by_department.items())},
        "by_day": {key: dict(value) for key, value in sorted(by_day.items())},
        "truncated": truncated,
    }


def department_statistics(*, session: Session, department_code: str, since: datetime, until: datetime) -> dict:
    """One department's own uses (the records naming it as the user), counted
    per day (Asia/Shanghai), per matter and per kind, granted and denied: what
    its officers see of their own work, never another department's."""
    _check_range(since, until)
    rows, truncated = _scan(session=session, since=since, until=until, department_code=department_code)
    totals: Counter = Counter()
    by_day: dict[str, Counter] = defaultdict(Counter)
    by_matter: dict[str, Counter] = defaultdict(Counter)
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        totals[row.result] += 1
        by_day[row.recorded_at.astimezone(SHANGHAI).date().isoformat()][row.result] += 1
        # Uses without a matter (a holder's own view, a layout download) are counted under "".
        by_matter[row.matter_code or ""][row.result] += 1
        by_kind[row.kind][row.result] += 1
    return {
        "department": department_code,
        "totals": dict(totals),
        "by_day": {key: dict(value) for key, value in sorted(by_day.items())},
        "by_matter": {key: dict(value) for key, value in sorted(by_matter.items())},
        "by_kind": {key: dict(value) for key, value in sorted(by_kind.items())},
        "truncated": truncated,
    }


def anomalies(
    *, session: Session, since: datetime, until: datetime, thresholds: AnomalyThresholds | None = None
) -> dict:
    """Flags for an auditor to look at; a flag is a lead, not a verdict."""
    _check_range(since, until)
    limits = thresholds or AnomalyThresholds()
    rows, truncated = _scan(session=session, since=since, until=until)
    flags: list[dict] = []

    def flag(kind: str, row, **extra) -> None:
        if len(flags) < limits.max_flags:
            flags.append({"flag": kind, "id": row.id, "index": row.leaf_index, "department": row.department_code,
                          "operator": row.operator_id, "time": row.recorded_at.isoformat(), **extra})

    recent_subjects: dict[str, deque] = defaultdict(deque)
    recent_denials: dict[str, deque] = defaultdict(deque)
    for row in rows:
        granted = row.result == "granted"
        # A holder reading their own data, or their proxy reading it for them, needs no matter; everyone else does.
        if granted and row.matter_code is None and row.basis != "holder_self" and not row.basis.startswith("delegation:"):
            flag("no_matter", row)
        local = row.recorded_at.astimezone(SHANGHAI)
        in_hours = limits.working_start <= local.time() < limits.working_end
        if granted and (local.weekday() not in limits.working_days or not in_hours):
            flag("off_hours", row, local_time=local.isoformat())
        if granted and row.subject_code is not None:
            window = recent_subjects[row.operator_id]
            window.append((row.recorded_at, row.subject_code))
            while window[0][0] < row.recorded_at - limits.subjects_window:
                window.popleft()
            distinct = len({subject for _, subject in window})
            if distinct > limits.max_subjects:
                flag("many_subjects", row, distinct_subjects=distinct)
        if not granted:
            window = recent_denials[row.operator_id]
            window.append(row.recorded_at)
            while window[0] < row.recorded_at - limits.denials_window:
                window.popleft()
            if len(window) >= limits.max_denials:
                flag("repeated_denials", row, denials=len(window))
    return {"flags": flags, "truncated": truncated or len(flags) >= limits.max_flags}


def check_export(*, filters: SearchFilter, limit: int = MAX_EXPORT) -> None:
    """Raise InvalidQuery unless the export is bounded: by a holder, or by a
    time range of at most ``MAX_RANGE``; and by ``limit`` records."""
    if not 1 <= limit <= MAX_EXPORT:
        raise InvalidQuery(f"limit must be in 1..{MAX_EXPORT}")
    if filters.since is None or filters.until is None:
        if filters.subject is None:
            raise InvalidQuery("an export needs since and until (or a subject)")
        if filters.since is not None and filters.since.tzinfo is None:
            raise InvalidQuery("since must carry a time zone")
        if filters.until is not None and filters.until.tzinfo is None:
            raise InvalidQuery("until must carry a time zone")
        return
    _check_range(filters.since, filters.until)


def export_lines(*, session: Session, filters: SearchFilter, limit: int = MAX_EXPORT) -> Iterator[str]:
    """Stream JSON lines: the checkpoint the proofs refer to, then each record
    (oldest first) with its inclusion proof, then an ``end`` line.

    The bounds are checked before anything is yielded. Rows come from one
    statement read in batches (``yield_per``), so memory holds one batch and
    its proofs, never the export; the ``end`` line lets a reader tell a
    complete export from a cut connection.
    """
    check_export(filters=filters, limit=limit)
    return _export(session=session, filters=filters, limit=limit)


def _export(*, session: Session, filters: SearchFilter, limit: int) -> Iterator[str]:
    # One checkpoint for the whole export, even if another is published meanwhile.
    pinned = latest_checkpoint(session=session)
    note = None if pinned is None else bytes(pinned.note).decode("utf-8")
    size = 0 if pinned is None else pinned.size
    yield json.dumps({"checkpoint": note, "size": size}, ensure_ascii=False) + "\n"
    columns = select(LogEntry.id, LogEntry.leaf_index, LogEntry.entry)
    query = filters.apply(columns).order_by(LogEntry.id).limit(limit + 1)
    result = session.execute(query.execution_options(yield_per=EXPORT_CHUNK))
    count = 0
    truncated = False
    try:
        for rows in result.partitions():
            if count + len(rows) > limit:
                rows = rows[: limit - count]
                truncated = True
            _, _, proven = prove_rows(session=session, rows=rows, checkpoint=pinned)
            for record in proven:
                yield json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True) + "\n"
            count += len(rows)
            if truncated:
                break
    finally:
        result.close()
    yield json.dumps({"end": {"records": count, "truncated": truncated}}) + "\n"
