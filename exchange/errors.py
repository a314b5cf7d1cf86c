"""The exchange's exception family (agreements, consent, mandates, queries,
plans). No HTTP statuses here: certhub/errors.py maps them in one table."""

from __future__ import annotations


class ExchangeError(Exception):
    code = "exchange_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidExchangeRequest(ExchangeError):
    """A request breaks a rule of the exchange; the message names the field."""

    code = "invalid_exchange_request"


class SubjectInvalid(InvalidExchangeRequest):
    """The subject is not a valid 身份证号 (type 111) or USCC (type 001)."""

    code = "subject_invalid"


class AgreementNotFound(ExchangeError):
    """No such agreement, or the caller is not a party to it (one answer for both)."""

    code = "agreement_not_found"


class ConsentNotFound(ExchangeError):
    code = "consent_not_found"


class MandateNotFound(ExchangeError):
    code = "mandate_not_found"


class NotParty(ExchangeError):
    """The caller is a party but not the one who may take this step
    (e.g. a consumer deciding on its own application)."""

    code = "not_permitted"


class IllegalTransition(ExchangeError):
    """The agreement, consent or mandate is not in a state that allows this step."""

    code = "invalid_transition"


class Refusal(ExchangeError):
    """A policy said no. Never an HTTP error by itself: the query answers it
    as a per-item result with this machine code, and logs it."""

    code = "refused"

    def __init__(self, code: str, message: str, *, basis: str | None = None) -> None:
        super().__init__(message, code=code)
        # The basis the refused access was checked under, where one is known
        # (e.g. the withdrawn consent's "consent:<id>"): the log records it.
        self.basis = basis
