"""The signing tests' world: the department that owns seals, the licence
types they cover, and a fixed clock.

Times are fixed and passed explicitly (`now=`), so lifecycle tests can place
signatures before and after a rotation or compromise exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

KEY_SECRET = "signing-tests-key-encryption-secret"
REGISTRY_ID = "https://registry.fj.test"
OWNER = "11350100MB0000001X"
PROVINCE = "11350000MB0000002Y"
OTHER_DEPARTMENT = "11350200MB0000003Z"
LICENCE_TYPE = "11100000000013338W001"
OTHER_LICENCE_TYPE = "11100000000013338W002"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)
