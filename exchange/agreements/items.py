"""What can be shared: a catalog licence type or data item, seen the same
way by agreements, consents, queries and plans."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from catalog import snapshots
from catalog.service import data_items, licence_types
from exchange.agreements.models import ItemKind
from exchange.errors import InvalidExchangeRequest

# Licence types carry no sharing attribute in the catalog: licences are the
# holder's documents, so the issuer always decides (有条件共享).
LICENCE_SHARING = "conditional"
_HOLDER_CODE_TYPE = {"natural_person": "111", "organisation": "001"}


@dataclass(frozen=True)
class SharedItem:
    kind: str
    code: str
    name: str
    fields: tuple[dict, ...]  # catalog field specs: key, label, type, sensitive, mask
    providers: tuple[str, ...]  # the data item's provider, or the licence type's issuers
    sharing_attribute: str  # unconditional | conditional | not_shared
    not_shared_reason: str | None
    holder_kind: str  # natural_person | organisation
    adapter_kind: str | None = None
    adapter_name: str | None = None

    @property
    def field_keys(self) -> list[str]:
        return [f["key"] for f in self.fields]

    @property
    def subject_kind(self) -> str:
        """The adapters' name for ``holder_kind``: what a binding's subject is."""
        return self.holder_kind

    @property
    def holder_code_type(self) -> str:
        return _HOLDER_CODE_TYPE[self.holder_kind]

    def field(self, key: str) -> dict:
        for spec in self.fields:
            if spec["key"] == key:
                return spec
        raise KeyError(key)


def find(*, session: Session, code: str) -> SharedItem | None:
    """The licence type (current version) or data item with this code,
    remembered for a few seconds once found (catalog.snapshots)."""
    if not isinstance(code, str) or not 1 <= len(code) <= 40:
        return None
    return snapshots.memo_for(session=session).get(("shared_item", code), lambda: _load(session=session, code=code),
                                           keep=lambda item: item is not None)


def _load(*, session: Session, code: str) -> SharedItem | None:
    licence_type = licence_types.get_current(session=session, code=code)
    if licence_type is not None:
        return SharedItem(
            kind=ItemKind.LICENCE_TYPE, code=code, name=licence_type.name, fields=tuple(licence_type.fields),
            providers=tuple(licence_types.issuers(session=session, code=code)), sharing_attribute=LICENCE_SHARING,
            not_shared_reason=None, holder_kind=licence_type.holder_kind,
        )
    item = data_items.get(session=session, code=code)
    if item is not None:
        return SharedItem(
            kind=ItemKind.DATA_ITEM, code=code, name=item.name, fields=tuple(item.fields),
            providers=(item.provider_code,), sharing_attribute=item.sharing_attribute,
            not_shared_reason=item.not_shared_reason, holder_kind=item.subject_kind,
            adapter_kind=item.adapter_kind, adapter_name=item.adapter_name,
        )
    return None


def find_or_raise(*, session: Session, code: str) -> SharedItem:
    item = find(session=session, code=code)
    if item is None:
        raise InvalidExchangeRequest(f"item {code!r} is neither a licence type nor a data item in the catalog")
    return item
