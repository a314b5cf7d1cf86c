"""The sorted Merkle map: a key's value or its absence, proven against the
root, and forged absences refused."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from signing.transparency import EMPTY_ROOT, ProofVerificationError
from signing.transparency.sortedmap import MapLookupProof, SortedMap, verify_lookup


def _key(n: int) -> bytes:
    return hashlib.sha256(str(n).encode()).digest()


def _map(count: int) -> tuple[SortedMap, list[bytes]]:
    keys = [_key(n) for n in range(count)]
    return SortedMap([(key, n.to_bytes(4, "big")) for n, key in enumerate(keys)], key_length=32, value_length=4), keys


@pytest.mark.parametrize("count", [1, 2, 3, 7, 64, 101])
def test_every_key_is_proven_with_its_value(count):
    subject_map, keys = _map(count)
    root = subject_map.root()
    for n, key in enumerate(keys):
        proof = MapLookupProof.from_json(subject_map.prove(key).to_json())  # through JSON, as a holder gets it
        assert verify_lookup(proof=proof, key=key, size=count, root=root) == n.to_bytes(4, "big")


@pytest.mark.parametrize("count", [0, 1, 2, 5, 64])
def test_absent_keys_are_proven_absent_at_the_ends_and_between(count):
    subject_map, keys = _map(count)
    ordered = sorted(keys)
    probes = [b"\x00" * 32, b"\xff" * 32] + [bytes(key[:-1]) + bytes([key[-1] ^ 1]) for key in ordered]
    for probe in probes:
        if probe in keys:
            continue
        proof = subject_map.prove(probe)
        assert verify_lookup(proof=proof, key=probe, size=count, root=subject_map.root()) is None
    assert count or subject_map.root() == EMPTY_ROOT


def test_a_present_key_cannot_be_shown_absent():
    subject_map, keys = _map(16)
    root = subject_map.root()
    ordered = sorted(keys)
    hidden = ordered[5]
    below, above = subject_map.prove(ordered[4]).found, subject_map.prove(ordered[6]).found
    # Neighbours two apart: the leaf between them is the hidden key.
    forged = MapLookupProof(key=hidden, size=16, below=below, above=above)
    with pytest.raises(ProofVerificationError, match="not adjacent"):
        verify_lookup(proof=forged, key=hidden, size=16, root=root)
    # Only a lower neighbour that is not the last leaf.
    with pytest.raises(ProofVerificationError, match="last leaf"):
        verify_lookup(proof=MapLookupProof(key=hidden, size=16, below=below), key=hidden, size=16, root=root)
    # Another key's leaf passed off as this one's.
    with pytest.raises(ProofVerificationError, match="another key"):
        verify_lookup(proof=MapLookupProof(key=hidden, size=16, found=below), key=hidden, size=16, root=root)


def test_a_changed_value_does_not_verify():
    subject_map, keys = _map(9)
    proof = subject_map.prove(keys[3])
    assert proof.found is not None
    changed = dataclasses.replace(proof, found=dataclasses.replace(proof.found, value=b"\x00\x00\x00\x63"))
    with pytest.raises(ProofVerificationError):
        verify_lookup(proof=changed, key=keys[3], size=9, root=subject_map.root())


def test_duplicate_keys_and_wrong_lengths_are_refused():
    with pytest.raises(ValueError, match="twice"):
        SortedMap([(_key(1), b"aaaa"), (_key(1), b"bbbb")], key_length=32, value_length=4)
    with pytest.raises(ValueError, match="fixed lengths"):
        SortedMap([(_key(1), b"aaa")], key_length=32, value_length=4)
