"""Licence identifiers (证照标识).

SPEC: GB/T 36904 — `1.2.156.3005.2.{type code}.{issuer code}.{serial}.{version}.{check}`:
the OID arc of e-licences, the licence type code, the issuing authority's
code, a serial number, a three-digit version, and a check character computed
with ISO 7064 MOD 37,36 over the four middle fields concatenated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from catalog.codes import validate_licence_type_code
from identity.codes import validate_uscc
from identity.errors import InvalidCode
from registry.errors import InvalidIdentifier

OID_PREFIX = "1.2.156.3005.2"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUES = {ch: i for i, ch in enumerate(_ALPHABET)}
_SERIAL_RE = re.compile(r"^[0-9A-Z]{1,30}$")
_REGION_RE = re.compile(r"^[0-9]{6}$")
MAX_VERSION = 999


def iso7064_mod37_36(text: str) -> str:
    """The check character of ISO 7064 MOD 37,36 (hybrid system, M = 36)."""
    # SPEC: ISO/IEC 7064:2003 §7 (hybrid systems): P starts at M; for each
    # character S = (P + value) mod M, with 0 read as M; P = 2S mod (M + 1).
    # The check value makes (P + check) mod M == 1.
    modulus = 36
    product = modulus
    for ch in text:
        value = _VALUES.get(ch)
        if value is None:
            raise InvalidIdentifier(f"character {ch!r} is not allowed in a licence identifier")
        total = (product + value) % modulus or modulus
        product = (2 * total) % (modulus + 1)
    return _ALPHABET[(modulus + 1 - product) % modulus]


@dataclass(frozen=True)
class LicenceIdentifier:
    type_code: str
    issuer_code: str
    serial: str
    version: int

    @property
    def check(self) -> str:
        return iso7064_mod37_36(f"{self.type_code}{self.issuer_code}{self.serial}{self.version:03d}")

    def __str__(self) -> str:
        return f"{OID_PREFIX}.{self.type_code}.{self.issuer_code}.{self.serial}.{self.version:03d}.{self.check}"

    def with_version(self, version: int) -> LicenceIdentifier:
        return LicenceIdentifier(self.type_code, self.issuer_code, self.serial, version)

    @property
    def base(self) -> str:
        """The identifier without version and check: the same for every version."""
        return f"{OID_PREFIX}.{self.type_code}.{self.issuer_code}.{self.serial}"

    @classmethod
    def for_issue(cls, *, type_code: str, issuer_code: str, serial: str, version: int = 1) -> LicenceIdentifier:
        """Strict: what we issue uses a catalog type code and a USCC issuer."""
        try:
            validate_licence_type_code(type_code)
            validate_uscc(issuer_code, what="issuer code")
        except InvalidCode as exc:
            raise InvalidIdentifier(str(exc)) from None
        _check_serial_and_version(serial, version)
        return cls(type_code, issuer_code, serial, version)

    @classmethod
    def parse(cls, text: str) -> LicenceIdentifier:
        """Lenient about other issuers (USCC or 6-digit region code), strict
        about structure and the check character."""
        if not isinstance(text, str) or len(text) > 120:
            raise InvalidIdentifier("licence identifier must be a string of at most 120 characters")
        if not text.startswith(OID_PREFIX + "."):
            raise InvalidIdentifier(f"licence identifier must start with {OID_PREFIX}")
        parts = text[len(OID_PREFIX) + 1 :].split(".")
        if len(parts) != 5:
            raise InvalidIdentifier("licence identifier must have type, issuer, serial, version and check fields")
        type_code, issuer_code, serial, version_text, check = parts
        try:
            validate_licence_type_code(type_code)
        except InvalidCode as exc:
            raise InvalidIdentifier(str(exc)) from None
        if not (_REGION_RE.match(issuer_code) or _is_uscc(issuer_code)):
            raise InvalidIdentifier(f"issuer code {issuer_code!r} is neither a USCC nor a 6-digit region code")
        if not re.fullmatch(r"[0-9]{3}", version_text):
            raise InvalidIdentifier(f"version {version_text!r} must be three digits")
        identifier = cls(type_code, issuer_code, serial, int(version_text))
        _check_serial_and_version(serial, identifier.version)
        if check != identifier.check:
            raise InvalidIdentifier(f"wrong check character {check!r} (expected {identifier.check!r})")
        return identifier


def _is_uscc(code: str) -> bool:
    try:
        validate_uscc(code)
    except InvalidCode:
        return False
    return True


def _check_serial_and_version(serial: str, version: int) -> None:
    if not _SERIAL_RE.match(serial):
        raise InvalidIdentifier(f"serial {serial!r} must be 1-30 digits or capital letters")
    if not 1 <= version <= MAX_VERSION:
        raise InvalidIdentifier(f"version {version} must be between 1 and {MAX_VERSION}")
