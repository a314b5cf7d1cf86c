"""What an EL1 QR code says: CWT claims (RFC 8392) and our two private claims.

| key | claim | value |
|---|---|---|
| 1 | iss | registry id (text) |
| 4 | exp | expiry, seconds since the epoch (absent: no expiry) |
| 6 | iat | issued at, seconds since the epoch |
| 7 | cti | token id (bytes): the presentation id (UTF-8) for 亮证 codes |
| -65537 | licence | licence summary map (static QR), keys below |
| -65538 | presentation | presentation map (dynamic 亮证 QR), keys below |

-65537 and -65538 lie in the CWT registry's private-use range (RFC 8392
§9.1: integers less than -65536). Summary keys are one character to keep
the code small: t type code, i identifier, h masked holder name, o issuer
code, f valid from, u valid until (absent: no end), x status-list index,
l status-list URI. t and o are left out when the identifier is a GB/T 36904
identifier that carries them (`1.2.156.3005.2.<t>.<o>.…`). Dates are
integers counting days since 1970-01-01 (the value of RFC 8943 tag 100,
untagged: two bytes less per date).
Presentation keys: l licence identifiers (array), d disclosure ("f" full or
"m" masked).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from signing.errors import InvalidInput

CLAIM_ISS = 1  # SPEC: RFC 8392 §3.1.1
CLAIM_EXP = 4  # SPEC: RFC 8392 §3.1.4
CLAIM_NBF = 5
CLAIM_IAT = 6  # SPEC: RFC 8392 §3.1.6
CLAIM_CTI = 7  # SPEC: RFC 8392 §3.1.7
CLAIM_LICENCE = -65537
CLAIM_PRESENTATION = -65538
CLAIM_HCERT = -260  # SPEC: hcert spec 1.0.8 §3.3.1

_EPOCH = date(1970, 1, 1)
_MAX_DAYS = 2_932_896  # 9999-12-31
_GBT36904 = re.compile(r"1\.2\.156\.3005\.2\.([0-9A-Za-z]+)\.([0-9A-Za-z]+)\.")  # SPEC: GB/T 36904
_CODE = re.compile(r"[0-9A-Za-z._:/-]{1,128}")  # type, identifier (GB/T 36904) and issuer codes
_URI = re.compile(r"https?://[\x21-\x7e]{1,200}")
_PRESENTATION_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_MAX_NAME = 32
_MAX_LICENCES = 16
MAX_STATUS_INDEX = (1 << 24) - 1

DISCLOSURE_CODES = {"full": "f", "masked": "m"}
_DISCLOSURES = {code: name for name, code in DISCLOSURE_CODES.items()}


def _code(value: Any, name: str, pattern: re.Pattern[str] = _CODE) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInput(f"{name} is missing or not of the expected form")
    return value


def _masked_name(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_NAME or not value.isprintable():
        raise InvalidInput(f"masked holder name must be 1 to {_MAX_NAME} printable characters")
    return value


def _date(value: Any, name: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(f"{name} must be a date")
    return value


@dataclass(frozen=True)
class LicenceSummary:
    """The licence facts a static QR carries; the holder's name is already masked ("张*")."""

    type_code: str
    identifier: str
    holder_name_masked: str
    issuer_code: str
    valid_from: date
    valid_until: date | None
    status_idx: int
    status_uri: str

    def __post_init__(self) -> None:
        _code(self.type_code, "type_code")
        _code(self.identifier, "identifier")
        _masked_name(self.holder_name_masked)
        _code(self.issuer_code, "issuer_code")
        _date(self.valid_from, "valid_from")
        if self.valid_until is not None and _date(self.valid_until, "valid_until") < self.valid_from:
            raise InvalidInput("valid_until is before valid_from")
        if type(self.status_idx) is not int or not 0 <= self.status_idx <= MAX_STATUS_INDEX:
            raise InvalidInput(f"status_idx must be an integer in 0..{MAX_STATUS_INDEX}")
        _code(self.status_uri, "status_uri", _URI)

    def to_claim(self) -> dict[str, Any]:
        claim: dict[str, Any] = {"i": self.identifier, "h": self.holder_name_masked}
        if _codes_in(self.identifier) != (self.type_code, self.issuer_code):
            claim["t"], claim["o"] = self.type_code, self.issuer_code
        claim["f"] = _days(self.valid_from)
        if self.valid_until is not None:
            claim["u"] = _days(self.valid_until)
        claim["x"], claim["l"] = self.status_idx, self.status_uri
        return claim

    @classmethod
    def from_claim(cls, value: Any) -> LicenceSummary:
        """InvalidInput for anything that is not a well-formed summary map."""
        claim = _map(value, required={"i", "h", "f", "x", "l"}, optional={"t", "o", "u"}, what="licence claim")
        if ("t" in claim) != ("o" in claim):
            raise InvalidInput("licence claim carries both t and o or neither")
        codes = (claim["t"], claim["o"]) if "t" in claim else _codes_in(claim["i"])
        if codes is None:
            raise InvalidInput("licence claim lacks t and o, and the identifier does not carry them")
        return cls(
            type_code=codes[0],
            identifier=claim["i"],
            holder_name_masked=claim["h"],
            issuer_code=codes[1],
            valid_from=_from_days(claim["f"], "valid_from"),
            valid_until=_from_days(claim["u"], "valid_until") if "u" in claim else None,
            status_idx=claim["x"],
            status_uri=claim["l"],
        )


@dataclass(frozen=True)
class PresentationClaim:
    """A 亮证 presentation: which of the holder's licences, and how much of them to disclose."""

    presentation_id: str
    licence_identifiers: tuple[str, ...]
    disclosure: str  # "full" | "masked"

    def __post_init__(self) -> None:
        _code(self.presentation_id, "presentation_id", _PRESENTATION_ID)
        if not isinstance(self.licence_identifiers, tuple) or not 0 < len(self.licence_identifiers) <= _MAX_LICENCES:
            raise InvalidInput(f"a presentation names 1 to {_MAX_LICENCES} licences")
        for identifier in self.licence_identifiers:
            _code(identifier, "licence identifier")
        if len(set(self.licence_identifiers)) != len(self.licence_identifiers):
            raise InvalidInput("a presentation names each licence once")
        if self.disclosure not in DISCLOSURE_CODES:
            raise InvalidInput("disclosure must be 'full' or 'masked'")

    def to_claim(self) -> dict[str, Any]:
        return {"l": list(self.licence_identifiers), "d": DISCLOSURE_CODES[self.disclosure]}

    @classmethod
    def from_claim(cls, value: Any, *, presentation_id: str) -> PresentationClaim:
        claim = _map(value, required={"l", "d"}, optional=set(), what="presentation claim")
        identifiers = claim["l"]
        if not isinstance(identifiers, list):
            raise InvalidInput("presentation licences must be an array")
        if claim["d"] not in _DISCLOSURES:
            raise InvalidInput("presentation disclosure must be 'f' or 'm'")
        return cls(presentation_id, tuple(identifiers), _DISCLOSURES[claim["d"]])


def _map(value: Any, *, required: set[str], optional: set[str], what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a map")
    keys = set(value)
    if not required <= keys or keys - required - optional:
        raise InvalidInput(f"{what} needs keys {sorted(required)} (and may have {sorted(optional)})")
    return value


def _codes_in(identifier: Any) -> tuple[str, str] | None:
    match = _GBT36904.match(identifier) if isinstance(identifier, str) else None
    return (match.group(1), match.group(2)) if match else None


def _days(value: date) -> int:
    return (value - _EPOCH).days


def _from_days(value: Any, name: str) -> date:
    if type(value) is not int or not 0 <= value <= _MAX_DAYS:
        raise InvalidInput(f"{name} must be a day count since 1970-01-01")
    return _EPOCH + timedelta(days=value)


def epoch_seconds(moment: datetime) -> int:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise InvalidInput("times must be timezone-aware datetimes")
    return int(moment.timestamp())


def from_epoch(value: Any, name: str) -> datetime:
    # SPEC: RFC 8392 §2 NumericDate — integer (or floating) seconds since the epoch.
    if type(value) is float and value == value and abs(value) < 1e11:
        value = int(value)
    if type(value) is not int or not 0 <= value < 1 << 40:
        raise InvalidInput(f"{name} must be a NumericDate")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput(f"{name} is out of range") from None


def presentation_cti(presentation_id: str) -> bytes:
    return _code(presentation_id, "presentation_id", _PRESENTATION_ID).encode("ascii")


def licence_identifiers(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidInput("licence_identifiers must be a sequence of identifiers")
    return tuple(values)
