"""Errors of presentations, redemption and holder proxies (no HTTP statuses:
certhub/errors.py maps them). Defined in registry.errors, which
registry.service imports too; this module names them for the presentation code."""

from __future__ import annotations

from registry.errors import (
    CodeRefused,
    DelegationInactive,
    DelegationNotFound,
    InvalidPresentationRequest,
    LicenceNotPresentable,
    LicenceRefused,
    PresentationError,
    ProxyNotAllowed,
    RedemptionNotFound,
    Replayed,
)

__all__ = [
    "PresentationError",
    "InvalidPresentationRequest",
    "LicenceNotPresentable",
    "CodeRefused",
    "Replayed",
    "LicenceRefused",
    "ProxyNotAllowed",
    "DelegationInactive",
    "DelegationNotFound",
    "RedemptionNotFound",
]
