"""Mask rules for sensitive fields (最小必要: show only what the purpose needs)."""

from __future__ import annotations

from enum import StrEnum
from typing import overload


class MaskRule(StrEnum):
    none = "none"
    name = "name"  # 张三丰 -> 张*丰, 张三 -> 张*
    id_number = "id_number"  # 350102199001011234 -> 3501**********1234
    phone = "phone"  # 13812345678 -> 138****5678
    address = "address"  # keep the first six characters
    full = "full"  # every character masked


@overload
def mask_value(value: str, rule: MaskRule | str) -> str: ...
@overload
def mask_value(value: None, rule: MaskRule | str) -> None: ...
@overload
def mask_value(value: str | None, rule: MaskRule | str) -> str | None: ...
@overload
def mask_value(value: object, rule: MaskRule | str) -> object: ...
def mask_value(value: object, rule: MaskRule | str) -> object:
    """Mask one field value; non-strings under a rule other than none are fully hidden."""
    rule = MaskRule(rule)
    if rule is MaskRule.none or value is None:
        return value
    if not isinstance(value, str):
        return "***"
    if rule is MaskRule.full:
        return "*" * max(len(value), 1)
    if rule is MaskRule.name:
        if len(value) <= 1:
            return "*"
        if len(value) == 2:
            return value[0] + "*"
        return value[0] + "*" * (len(value) - 2) + value[-1]
    if rule is MaskRule.id_number:
        return _keep_ends(value, head=4, tail=4)
    if rule is MaskRule.phone:
        return _keep_ends(value, head=3, tail=4)
    # address
    return value[:6] + ("*" * 4 if len(value) > 6 else "")


def _keep_ends(value: str, *, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]
