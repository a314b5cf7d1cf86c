"""Shared helpers for the authorized-use log tests."""

from __future__ import annotations

from datetime import datetime, timezone

from exchange.auditlog import record_use

DEPT = "11350100MB0000001X"
OTHER_DEPT = "11350100MB0000002Y"
SECRET = b"test-secret-" + b"x" * 40
ORIGIN = "registry.test/authorized-use-log"
HOLDER = "350102199001011234"


def use(session, **overrides):
    values = dict(
        kind="department_query",
        department_code=DEPT,
        operator_id="clerk-7",
        basis="holder_presentation",
        subject_code=HOLDER,
        licence_ids=["1.2.156.3005.2.11100000000013338W001.350100.000001.001.X"],
        fields=["姓名", "holder_code"],
        matter_code="350100-0001",
        purpose="办理营业执照变更",
        case_number="CASE-1",
        request_hash="ab" * 32,
    )
    values.update(overrides)
    return record_use(session=session, **values)


def at(hour: int, minute: int = 0, day: int = 3) -> datetime:
    """A UTC time on a weekday (2025-03-03 was a Monday)."""
    return datetime(2025, 3, day, hour, minute, tzinfo=timezone.utc)
