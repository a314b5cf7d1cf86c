"""Several registries' trust lists in one place (跨省互认, cross-region recognition).

A verifier pins each registry's root key once; trust lists are accepted only
under their registry's pinned root, and a newer list replaces an older one
(a list with a lower sequence number is refused as a rollback).

Root rollover: a list held (verified) that names another active `trust_root`
key of its registry hands trust over to it — the next list may be signed by
that key, which is then pinned too. A list signed by a root that the held
list says was retired or revoked at or before the new list's issue time is
refused, so a rotated-out root cannot take the registry back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from signing.algorithms import PublicKey
from signing.errors import InvalidInput, VerificationError
from signing.statuses import KeyPurpose, SealStatus
from signing.trust_entries import TrustedKey
from signing.trustlist import DEFAULT_GRACE, MAX_TRUST_LIST_BYTES, TrustList


@dataclass(frozen=True)
class ResolvedKey:
    registry_id: str
    key: TrustedKey
    trust_list: TrustList


KeyRefusalCode = Literal["key_not_valid", "type_not_allowed"]


@dataclass(frozen=True)
class KeyRefusal:
    """Why a key found in a trust list does not vouch for what it signed at a given time."""

    code: KeyRefusalCode
    message: str


def refuse_key_at(resolved: ResolvedKey, *, issuer: str, at: datetime, purpose: KeyPurpose) -> KeyRefusal | None:
    """None when the key belongs to `issuer`'s registry, serves `purpose` and was usable at `at`."""
    key = resolved.key
    if resolved.registry_id != issuer:
        return KeyRefusal("key_not_valid", f"key {key.kid} belongs to {resolved.registry_id}, not to the issuer {issuer}")
    if key.purpose != purpose:
        return KeyRefusal("key_not_valid", f"key {key.kid} is a {key.purpose} key, not a {purpose} key")
    unusable_from = key.unusable_from()
    if unusable_from is not None and at >= unusable_from:
        return KeyRefusal("key_not_valid", f"key {key.kid} was {key.status} at {unusable_from.isoformat()}, before iat")
    if at < key.valid_from:
        return KeyRefusal("key_not_valid", f"key {key.kid} did not exist yet at iat")
    return None


def refuse_seal_key_at(
    resolved: ResolvedKey, *, issuer: str, at: datetime, issuer_code: str, type_code: str
) -> KeyRefusal | None:
    """None when a seal key of `issuer_code`'s seal could vouch for a licence of `type_code` at `at`:
    the key as in `refuse_key_at`, the seal neither revoked nor suspended then, within its validity,
    owned by the issuing department and listing the licence type."""
    refusal = refuse_key_at(resolved, issuer=issuer, at=at, purpose=KeyPurpose.SEAL)
    if refusal is not None:
        return refusal
    key = resolved.key
    seal = resolved.trust_list.seal(key.es_id) if key.es_id is not None else None
    if seal is None:
        return KeyRefusal("key_not_valid", f"key {key.kid} belongs to no seal in the trust list")
    revoked_from = seal.revoked_from()
    if revoked_from is not None and at >= revoked_from:
        return KeyRefusal("key_not_valid", f"seal {seal.es_id} was revoked at {revoked_from.isoformat()}")
    if seal.status == SealStatus.SUSPENDED or any(s.covers(at) for s in seal.suspensions):
        return KeyRefusal("key_not_valid", f"seal {seal.es_id} is or was suspended")
    if not seal.valid_from <= at <= seal.valid_to:
        return KeyRefusal("key_not_valid", f"seal {seal.es_id} was outside its validity at iat")
    # The issuer is the seal's owner: a department signs with its own seal or, under a
    # cross-level authorization, with the issuer's (registry.service.authority).
    if issuer_code != seal.owner:
        return KeyRefusal("key_not_valid", f"seal {seal.es_id} belongs to {seal.owner}, not to the issuer {issuer_code}")
    if not seal.allows_licence_type(type_code):
        return KeyRefusal("type_not_allowed", f"seal {seal.es_id} may not sign licence type {type_code}")
    return None


class TrustStore:
    def __init__(self) -> None:
        self._roots: dict[str, list[PublicKey]] = {}
        self._lists: dict[str, TrustList] = {}

    def pin_root(self, *, registry_id: str, root_public_key: PublicKey) -> None:
        """Trust `root_public_key` to sign `registry_id`'s lists (several may be pinned during a root rollover)."""
        if not isinstance(registry_id, str) or not registry_id:
            raise InvalidInput("registry id must be a non-empty string")
        pins = self._roots.setdefault(registry_id, [])
        if root_public_key not in pins:
            pins.append(root_public_key)

    def add_json(self, data: bytes | str, *, now: datetime | None = None, grace: timedelta = DEFAULT_GRACE) -> TrustList:
        """Verify a trust list under its registry's pinned root and hold it."""
        registry_id = _claimed_registry(data)
        pins = self._roots.get(registry_id)
        if not pins:
            raise VerificationError("trust_list_untrusted", f"no root key is pinned for registry {registry_id!r}")
        candidates = [*pins, *(k.public_key for k in self._handed_over(registry_id) if k.public_key not in pins)]
        trust_list = TrustList.from_json(data, root_public_key=candidates, now=now, grace=grace)
        self.add(trust_list)
        return trust_list

    def _handed_over(self, registry_id: str) -> list[TrustedKey]:
        """Active trust-root keys the held list of `registry_id` names (a root rollover's successor)."""
        held = self._lists.get(registry_id)
        if held is None:
            return []
        return [k for k in held.content.keys if k.purpose == KeyPurpose.TRUST_ROOT and k.unusable_from() is None]

    def _retired_root(self, trust_list: TrustList) -> TrustedKey | None:
        """The held list's entry saying the new list's root was retired or revoked by the time it signed."""
        held = self._lists.get(trust_list.registry_id)
        if held is None:
            return None
        for key in held.keys_for_kid(trust_list.signature_kid):
            unusable_from = key.unusable_from()
            if key.purpose == KeyPurpose.TRUST_ROOT and unusable_from is not None and unusable_from <= trust_list.issued_at:
                return key
        return None

    def add(self, trust_list: TrustList) -> None:
        """Hold an already verified trust list; refuse one older than the list held."""
        if trust_list.registry_id not in self._roots:
            raise VerificationError("trust_list_untrusted", f"no root key is pinned for registry {trust_list.registry_id!r}")
        pins = self._roots[trust_list.registry_id]
        successor = [k for k in self._handed_over(trust_list.registry_id) if k.kid == trust_list.signature_kid]
        if not any(p.kid == trust_list.signature_kid for p in pins) and not successor:
            raise VerificationError("trust_list_untrusted", "trust list was not signed by the pinned root")
        if self._retired_root(trust_list) is not None:
            raise VerificationError(
                "trust_list_untrusted",
                f"trust list #{trust_list.sequence} is signed by root {trust_list.signature_kid}, "
                "which the held list says was rotated out or revoked before it was issued",
            )
        held = self._lists.get(trust_list.registry_id)
        if held is not None and trust_list.sequence < held.sequence:
            raise VerificationError(
                "trust_list_rollback",
                f"trust list #{trust_list.sequence} is older than the held #{held.sequence}",
            )
        for key in successor:
            if key.public_key not in pins:
                pins.append(key.public_key)  # the rollover's new root, vouched for by the held list
        self._lists[trust_list.registry_id] = trust_list

    def trust_list(self, registry_id: str) -> TrustList | None:
        return self._lists.get(registry_id)

    @property
    def registry_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._lists))

    def resolve_kid(self, kid: str, *, registry_id: str | None = None) -> list[ResolvedKey]:
        """Every key with `kid`, across all held registries (or only `registry_id`)."""
        lists = [self._lists[registry_id]] if registry_id in self._lists else [] if registry_id else self._lists.values()
        return [ResolvedKey(t.registry_id, key, t) for t in lists for key in t.keys_for_kid(kid)]


def _claimed_registry(data: bytes | str) -> str:
    """The registry id a list claims, read before verification only to pick the pin."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not isinstance(raw, bytes) or len(raw) > MAX_TRUST_LIST_BYTES:
        raise VerificationError("too_large", "trust list is over the 16 MiB limit or not bytes")
    try:
        registry_id = json.loads(raw)["payload"]["registry_id"]
    except (ValueError, KeyError, TypeError):
        raise VerificationError("malformed", "trust list names no registry") from None
    if not isinstance(registry_id, str):
        raise VerificationError("malformed", "trust list registry id is not a string")
    return registry_id
