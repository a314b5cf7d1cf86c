"""Fetching what a query answers: licences from the registry (current
version, status, sealed record) or a data item's records from the
provider's own system through its adapter binding.

Provider failures become refusals with a clear machine code; the adapter
already keeps subjects masked in its own logs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from adapters import errors as adapter_errors
from adapters.sources import BindingRegistry
from exchange.agreements.items import SharedItem
from exchange.errors import Refusal
from exchange.query.masking import Grant, disclose
from registry.models import Licence
from registry.service import reads

MAX_LICENCES = 20
MAX_RECORDS = 50


def effective_status(licence: Licence, *, now: datetime) -> str:
    """The stored status, or expired once the last valid day (China time) has passed (the licence's rule)."""
    return licence.status_at(now)


def licences(*, session: Session, subject_code: str, subject_code_type: str, item: SharedItem,
             grants: dict[str, Grant], now: datetime) -> list[dict]:
    """The subject's licences of the type issued by providers the consumer
    has an agreement with (``grants`` by issuer), newest first, disclosed
    as each agreement grants. Licences of other issuers are not answered."""
    found = []
    for licence in reads.list_for_holder(session=session, holder_code=subject_code, holder_code_type=subject_code_type,
                                         type_code=item.code):
        grant = grants.get(licence.issuer_code)
        if grant is None:
            continue
        found.append(_licence_entry(item, licence, grant, now=now))
        if len(found) >= MAX_LICENCES:
            break
    return found


def _licence_entry(item: SharedItem, licence: Licence, grant: Grant, *, now: datetime) -> dict:
    version = next(v for v in licence.versions if v.version == licence.current_version)
    entry = {
        "identifier": version.identifier,
        "issuer_code": licence.issuer_code,
        "status": effective_status(licence, now=now),
        "version": version.version,
        "valid_from": version.valid_from.isoformat(),
        "valid_until": version.valid_until.isoformat() if version.valid_until else None,
        "fields": disclose(item, version.face, grant),
        "masked_fields": grant.masked_fields(item),
    }
    # The sealed record carries the whole face and the holder's name, so it
    # goes out only where the agreement already discloses all of it in clear.
    if set(grant.fields) == set(item.field_keys) and not grant.masked_fields(item):
        entry["sealed_record"] = version.record
        entry["seal_signature"] = reads.LicenceView(licence=licence, version=version).signature.to_dict()
    return entry


_PROVIDER_DOWN = (adapter_errors.ProviderUnavailable, adapter_errors.ProviderTimeout, adapter_errors.CircuitOpen)


def data_records(*, bindings: BindingRegistry | None, item: SharedItem, subject_code: str,
                 grant: Grant) -> list[dict]:
    """The provider's records for the subject, disclosed as granted."""
    if bindings is None or item.adapter_kind not in ("http", "sql"):
        raise Refusal("provider_not_connected",
                      f"{item.name} has no adapter binding to its provider's system on this hub")
    try:
        records = bindings.fetch(data_item=item, subject=subject_code)
    except adapter_errors.InvalidSubject:
        raise Refusal("subject_invalid", "the provider's adapter refused the subject code") from None
    except _PROVIDER_DOWN as error:
        raise Refusal("provider_unavailable", f"the provider's system is unavailable ({error.code})") from None
    except adapter_errors.SourceError as error:
        raise Refusal("provider_error", f"the provider's system answered unusable data ({error.code})") from None
    except adapter_errors.AdapterConfigError as error:
        raise Refusal("provider_not_connected", f"the adapter binding is not usable ({error.code})") from None
    if len(records) > MAX_RECORDS:
        raise Refusal("provider_error", f"the provider answered more than {MAX_RECORDS} records for one subject")
    return [disclose(item, record, grant) for record in records]
