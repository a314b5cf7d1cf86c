"""A verifiable map: an RFC 9162 Merkle tree over key-value leaves sorted by key.

The authorized-use log commits, in each checkpoint, to a map from a
subject's keyed tag to how many entries name that subject and the index of
the latest one. A holder is given the proof of their tag's leaf (or of its
absence) and checks it against the signed checkpoint: with it, "these are
all uses of my data up to checkpoint N" is a check, not a promise.

Leaf ``i`` is ``key || value`` of the ``i``-th key in ascending byte order
(keys of one fixed length, so no two leaves can be confused). Hashing is the
log's own (RFC 9162 §2.1.1, ``leaf_hash``/``node_hash``), so a proof is an
ordinary inclusion proof.

* Membership of ``key``: its leaf, its position and an inclusion proof.
* Absence of ``key``: the leaves just below and just above it (one of them
  absent at the ends of the map), each with its position and inclusion
  proof; the positions must be neighbours (or the first/last position), so
  no leaf lies between them.

Like the rest of ``signing.transparency`` this imports nothing else of certhub.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from signing.transparency.errors import ProofVerificationError
from signing.transparency.merkle import (
    EMPTY_ROOT,
    in_memory_range_hasher,
    inclusion_path,
    leaf_hash,
    root_from_leaf_hashes,
    verify_inclusion,
)

MAX_MAP_PROOF_HASHES = 64


@dataclass(frozen=True)
class MapLeafProof:
    """One leaf of the map, where it sits, and its inclusion proof."""

    position: int
    key: bytes
    value: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict:
        return {
            "position": self.position,
            "key": base64.b64encode(self.key).decode("ascii"),
            "value": base64.b64encode(self.value).decode("ascii"),
            "proof": [base64.b64encode(node).decode("ascii") for node in self.proof],
        }

    @classmethod
    def from_json(cls, data: dict) -> MapLeafProof:
        try:
            proof = tuple(base64.b64decode(node, validate=True) for node in data["proof"])
            if len(proof) > MAX_MAP_PROOF_HASHES:
                raise ValueError("proof too long")
            return cls(position=int(data["position"]), key=base64.b64decode(data["key"], validate=True),
                       value=base64.b64decode(data["value"], validate=True), proof=proof)
        except (KeyError, TypeError, ValueError) as error:
            raise ProofVerificationError(f"malformed map leaf proof: {error}", code="map_proof_invalid") from None


@dataclass(frozen=True)
class MapLookupProof:
    """The answer for one key: ``found`` (its leaf), or the neighbours that
    show it is absent (``below``/``above``, either None at an end)."""

    key: bytes
    size: int
    found: MapLeafProof | None = None
    below: MapLeafProof | None = None
    above: MapLeafProof | None = None

    def to_json(self) -> dict:
        def one(leaf: MapLeafProof | None) -> dict | None:
            return None if leaf is None else leaf.to_json()

        return {"key": base64.b64encode(self.key).decode("ascii"), "size": self.size,
                "found": one(self.found), "below": one(self.below), "above": one(self.above)}

    @classmethod
    def from_json(cls, data: dict) -> MapLookupProof:
        def one(value: dict | None) -> MapLeafProof | None:
            return None if value is None else MapLeafProof.from_json(value)

        try:
            return cls(key=base64.b64decode(data["key"], validate=True), size=int(data["size"]),
                       found=one(data.get("found")), below=one(data.get("below")), above=one(data.get("above")))
        except (KeyError, TypeError, ValueError) as error:
            raise ProofVerificationError(f"malformed map proof: {error}", code="map_proof_invalid") from None


class SortedMap:
    """A map held in memory, sorted by key, with its root and lookup proofs."""

    def __init__(self, items: Sequence[tuple[bytes, bytes]], *, key_length: int, value_length: int) -> None:
        ordered = sorted(items)
        for position, (key, value) in enumerate(ordered):
            if len(key) != key_length or len(value) != value_length:
                raise ValueError("every key and value must have the map's fixed lengths")
            if position and ordered[position - 1][0] == key:
                raise ValueError("a key appears twice")
        self._keys = [key for key, _ in ordered]
        self._values = [value for _, value in ordered]
        self._hashes = [leaf_hash(key + value) for key, value in ordered]
        self.key_length = key_length

    @property
    def size(self) -> int:
        return len(self._keys)

    def root(self) -> bytes:
        return root_from_leaf_hashes(self._hashes) if self._hashes else EMPTY_ROOT

    def _leaf(self, position: int) -> MapLeafProof:
        path = inclusion_path(index=position, size=self.size, range_hash=in_memory_range_hasher(self._hashes))
        return MapLeafProof(position=position, key=self._keys[position], value=self._values[position],
                            proof=tuple(path))

    def prove(self, key: bytes) -> MapLookupProof:
        if len(key) != self.key_length:
            raise ValueError("the key has the wrong length")
        position = bisect.bisect_left(self._keys, key)
        if position < self.size and self._keys[position] == key:
            return MapLookupProof(key=key, size=self.size, found=self._leaf(position))
        below = self._leaf(position - 1) if position > 0 else None
        above = self._leaf(position) if position < self.size else None
        return MapLookupProof(key=key, size=self.size, below=below, above=above)


def verify_lookup(*, proof: MapLookupProof, key: bytes, size: int, root: bytes) -> bytes | None:
    """The value ``key`` maps to in the map of ``size`` leaves with ``root``,
    or None when the proof shows it absent; raise ProofVerificationError
    when the proof does not show either."""

    def check(leaf: MapLeafProof) -> None:
        verify_inclusion(leaf=leaf_hash(leaf.key + leaf.value), index=leaf.position, size=size,
                         proof=list(leaf.proof), root=root)

    def refuse(message: str) -> ProofVerificationError:
        return ProofVerificationError(message, code="map_proof_invalid")

    if proof.key != key or proof.size != size:
        raise refuse("the map proof is for another key or map")
    if proof.found is not None:
        if proof.found.key != key:
            raise refuse("the map leaf is another key's")
        check(proof.found)
        return proof.found.value
    if size == 0:
        if root != EMPTY_ROOT or proof.below is not None or proof.above is not None:
            raise refuse("an empty map has the empty root and no leaves")
        return None
    below, above = proof.below, proof.above
    if below is None and above is None:
        raise refuse("absence needs a neighbouring leaf")
    if below is not None:
        if not below.key < key:
            raise refuse("the lower neighbour is not below the key")
        check(below)
    if above is not None:
        if not key < above.key:
            raise refuse("the upper neighbour is not above the key")
        check(above)
    # The leaves are sorted (whoever recomputes the map checks that), so
    # nothing lies between adjacent positions: the key is absent.
    if below is None and above is not None and above.position != 0:
        raise refuse("the key sorts first but the upper neighbour is not the first leaf")
    if above is None and below is not None and below.position != size - 1:
        raise refuse("the key sorts last but the lower neighbour is not the last leaf")
    if below is not None and above is not None and above.position != below.position + 1:
        raise refuse("the neighbours are not adjacent")
    return None
