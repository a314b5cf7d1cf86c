"""The push subscriptions' exception family."""

from __future__ import annotations


class SubscriptionError(Exception):
    code = "subscription_error"


class InvalidSubscription(SubscriptionError):
    """A subscription request breaks a rule; the message says which."""

    code = "invalid_subscription"


class UnsafeCallbackUrl(InvalidSubscription):
    """The callback URL would make the hub call somewhere it must not
    (a private, link-local or loopback address: SSRF)."""

    code = "unsafe_callback_url"


class NoAgreement(SubscriptionError):
    """The department has no active sharing agreement for a licence type."""

    code = "no_agreement"


class SubscriptionNotFound(SubscriptionError):
    code = "subscription_not_found"


class DeadLetterNotFound(SubscriptionError):
    code = "dead_letter_not_found"
