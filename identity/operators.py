"""The operator: the person at the keyboard behind a department client.

A department system calls with its own client credentials; the person who
caused the call is named in the ``X-Operator-Id`` header so that the use
log can say who, not only which system. The value is the department's own
staff identifier (not a name), bounded and restricted to a safe alphabet so
it can be logged and searched without escaping.
"""

from __future__ import annotations

import re

from identity.errors import InvalidCode

OPERATOR_HEADER = "X-Operator-Id"
MAX_OPERATOR_LENGTH = 64
# The same alphabet as the use log's codes (exchange.auditlog.records), so
# every accepted operator id can be recorded.
_OPERATOR = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:\-]{0,63}")


def validate_operator_id(value: str) -> str:
    if not _OPERATOR.fullmatch(value):
        raise InvalidCode(
            f"{OPERATOR_HEADER} must be 1-{MAX_OPERATOR_LENGTH} characters of letters, digits, '.', '_', ':' or '-'"
        )
    return value
