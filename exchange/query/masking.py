"""Only the agreed fields, masked by each field's catalog rule unless the
agreement grants clear values (最小必要)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from exchange.agreements.items import SharedItem
from identity.masking import MaskRule, mask_value


@dataclass(frozen=True)
class Grant:
    fields: tuple[str, ...]  # disclosed, in the catalog's order
    clear: frozenset[str]  # sensitive fields the agreements let go out unmasked

    def masked_fields(self, item: SharedItem) -> list[str]:
        return [key for key in self.fields
                if key not in self.clear and MaskRule(item.field(key).get("mask", "none")) is not MaskRule.none]


class _Terms(Protocol):
    """What a grant reads of an agreement (the ORM row or its selected terms)."""

    fields: list[str]
    clear_fields: list[str]


def grant_for(item: SharedItem, agreements: Iterable[_Terms], requested: Sequence[str] | None) -> Grant:
    """The union of what the agreements grant, narrowed to what was asked for."""
    rows = list(agreements)
    agreed = {key for a in rows for key in a.fields}
    wanted = agreed if not requested else agreed & set(requested)
    return Grant(
        fields=tuple(key for key in item.field_keys if key in wanted),
        clear=frozenset(key for a in rows for key in a.clear_fields if key in wanted),
    )


def disclose(item: SharedItem, values: dict, grant: Grant) -> dict:
    """The granted fields of one record or licence face, masked as granted."""
    shown = {}
    for key in grant.fields:
        value = values.get(key)
        rule = item.field(key).get("mask", "none")
        shown[key] = value if key in grant.clear else mask_value(value, rule)
    return shown
