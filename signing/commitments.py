"""Salted hash commitments to disclosed values: a digest that binds a value
without revealing it, opened later by showing the value and its salt.

The authorized-use log puts one digest per disclosed item of an answer in
the use record; the salts go to whoever received the answer (and to the
holder the data is about), never into the log. With the salt a dispute can
prove which value went out; without it, even a low-entropy value (a sex, a
status, a date) cannot be guessed from the digest.

# SPEC: RFC 9901 (SD-JWT) §4.2.1 — a salted disclosure is the JSON array
# [salt, value], the salt at least 128 bits from a secure random source
# (§9.3), and its digest is SHA-256 over its bytes (§4.2.3). We encode the
# array as RFC 8785 canonical JSON (signing.canonical) instead of SD-JWT's
# base64url of the issuer's own serialisation, so that anyone holding the
# value and the salt recomputes the same bytes, and write salt and digest
# as lowercase hex, as the log writes its other salts and digests.

Standalone: imports nothing of certhub but ``signing``, so an offline
verifier can check an answer with this module alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from signing.canonical import canonical_json
from signing.errors import InvalidInput

SCHEME = "sha-256/rfc8785-salted"  # what an entry's answer commitment names as its hash
SALT_BYTES = 16  # 128 bits: RFC 9901 §9.3's minimum
MAX_ITEMS = 100  # the use record's list bound (catalog.access.MAX_LIST)
_HEX_SALT = re.compile(rf"[0-9a-f]{{{2 * SALT_BYTES}}}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Commitment:
    """One disclosed item's salt and digest (hex)."""

    salt: str
    digest: str


def new_salt() -> str:
    return os.urandom(SALT_BYTES).hex()


def digest_of(value: Any, *, salt: str) -> str:
    """The commitment's digest: SHA-256 of the canonical JSON of ``[salt, value]``."""
    if not isinstance(salt, str) or not _HEX_SALT.fullmatch(salt):
        raise InvalidInput(f"salt must be {2 * SALT_BYTES} lowercase hex digits")
    # One pass: the value is canonicalised once, inside the array, and hashed once.
    return hashlib.sha256(canonical_json([salt, value])).hexdigest()


def commit(values: Sequence[Any]) -> list[Commitment]:
    """A fresh commitment to each value, in order: a new salt per value."""
    if len(values) > MAX_ITEMS:
        raise InvalidInput(f"at most {MAX_ITEMS} values are committed to at once")
    commitments = []
    for value in values:
        salt = new_salt()
        commitments.append(Commitment(salt=salt, digest=digest_of(value, salt=salt)))
    return commitments


def matches(*, values: Sequence[Any], salts: Sequence[str], digests: Sequence[str]) -> bool:
    """Whether ``values`` with ``salts`` open exactly ``digests``: as many
    values as digests, each in its place. A malformed salt or a value JSON
    cannot carry is no match."""
    if not len(values) == len(salts) == len(digests) or len(digests) > MAX_ITEMS:
        return False
    for value, salt, digest in zip(values, salts, digests, strict=True):
        if not isinstance(digest, str) or not _HEX_DIGEST.fullmatch(digest):
            return False
        try:
            computed = digest_of(value, salt=salt)
        except InvalidInput:
            return False
        if not hmac.compare_digest(computed, digest):
            return False
    return True
