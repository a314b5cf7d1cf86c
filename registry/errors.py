"""The registry's exception family (no HTTP statuses here; the app maps them)."""

from __future__ import annotations


class RegistryError(Exception):
    code = "registry_error"


class InvalidIdentifier(RegistryError):
    code = "invalid_identifier"


class RegistryNotInitialised(RegistryError):
    """The registry has no trust-root key or seal maker yet."""

    code = "not_initialised"
