"""The adapters' exception family. Every error carries a machine-readable
`code` and no HTTP status; messages never contain personal data (subjects
are masked) or secrets."""

from __future__ import annotations


class AdapterError(Exception):
    code = "adapter_error"


# -- configuration -----------------------------------------------------------


class AdapterConfigError(AdapterError):
    """A binding or target configuration cannot be used; the message says where."""

    code = "invalid_adapter_config"


class UnknownBinding(AdapterConfigError):
    code = "unknown_binding"


class BindingMismatch(AdapterConfigError):
    """A binding's field mapping does not match the catalog data item's fields."""

    code = "binding_mismatch"


class InvalidSubject(AdapterError):
    """The subject is not a valid 身份证号 / USCC for the data item's subject kind."""

    code = "invalid_subject"


# -- provider faults ----------------------------------------------------------


class SourceError(AdapterError):
    """A provider's system failed or misbehaved.

    `counts_against_provider` says whether the failure feeds the binding's
    circuit breaker: outages do, a subject-specific problem does not.
    """

    code = "source_error"
    counts_against_provider = False

    def __init__(self, message: str, *, binding: str | None = None) -> None:
        super().__init__(f"{binding}: {message}" if binding else message)
        self.binding = binding


class ProviderUnavailable(SourceError):
    code = "provider_unavailable"
    counts_against_provider = True


class ProviderTimeout(SourceError):
    code = "provider_timeout"
    counts_against_provider = True


class MalformedResponse(SourceError):
    code = "malformed_response"
    counts_against_provider = True


class ResponseTooLarge(SourceError):
    code = "response_too_large"


class ProviderRejected(SourceError):
    """The provider answered with a 4xx other than not-found (e.g. our credentials are wrong)."""

    code = "provider_rejected"


class InvalidData(SourceError):
    """The provider's data does not fit the catalog's field types."""

    code = "invalid_data"


class CircuitOpen(SourceError):
    """The binding failed repeatedly; calls are refused until the cool-down ends."""

    code = "circuit_open"


# -- federation ---------------------------------------------------------------


class StaleSource(AdapterError):
    """No copy of a federated document young enough to serve."""

    code = "stale_source"


class FederationFetchFailed(AdapterError):
    code = "federation_fetch_failed"


class DocumentRejected(AdapterError):
    """A fetched federated document failed the source's validation."""

    code = "document_rejected"


# -- webhooks -----------------------------------------------------------------


class InvalidWebhook(AdapterError):
    code = "invalid_webhook"


# -- data return --------------------------------------------------------------


class DataReturnError(AdapterError):
    code = "data_return_error"


class TicketNotFound(DataReturnError):
    code = "ticket_not_found"


class IllegalTransition(DataReturnError):
    """The ticket's state does not allow this step."""

    code = "illegal_transition"


class NotPermitted(DataReturnError):
    """The calling department may not take this step on this ticket."""

    code = "not_permitted"


class InvalidTicket(DataReturnError):
    code = "invalid_ticket"


class DeliveryFailed(DataReturnError):
    code = "delivery_failed"
