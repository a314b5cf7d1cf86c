"""Merkle Tree Hash, inclusion and consistency proofs (RFC 9162 §2.1).

Proof generation is written once against a *range hasher* — a function
returning MTH(D[start:end]) — so the same code serves an in-memory list of
leaf hashes and the tile-backed store in ``treehashes``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from signing.transparency.errors import ProofVerificationError

HASH_SIZE = 32
# SPEC: RFC 9162 §2.1.1 — MTH({}) = HASH() for the empty tree.
EMPTY_ROOT = hashlib.sha256(b"").digest()
# No tree this library handles may exceed 2**63 - 1 leaves (tlog-tiles
# levels stop at 63 and sizes travel as uint64 elsewhere).
MAX_TREE_SIZE = (1 << 63) - 1
# A proof for a tree of at most 2**63 leaves has at most 63 (inclusion) or
# 2 * 63 (consistency) hashes; anything longer is rejected before hashing.
MAX_INCLUSION_PROOF_HASHES = 63
MAX_CONSISTENCY_PROOF_HASHES = 126

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256

RangeHasher = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry)."""
    # SPEC: RFC 9162 §2.1.1 — MTH({d(0)}) = HASH(0x00 || d(0)).
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(*, left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    # SPEC: RFC 9162 §2.1.1 — MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
    return _sha256(_NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162 §2.1.1: the largest power of two smaller than n (n > 1)."""
    if n < 2:
        raise ValueError("n must be at least 2")
    return 1 << ((n - 1).bit_length() - 1)


def complete_subtree_root(concatenated_hashes: bytes) -> bytes:
    """MTH of a power-of-two run of hashes given as one concatenated buffer.

    Sibling pairs are adjacent in the buffer, so each level is one pass of
    ``HASH(0x01 || buf[64i:64i+64])`` without building pair lists.
    """
    count, remainder = divmod(len(concatenated_hashes), HASH_SIZE)
    if remainder or count == 0 or count & (count - 1):
        raise ValueError("need a non-empty power-of-two number of 32-byte hashes")
    level = concatenated_hashes
    while len(level) > HASH_SIZE:
        level = b"".join(
            _sha256(_NODE_PREFIX + level[offset : offset + 2 * HASH_SIZE]).digest()
            for offset in range(0, len(level), 2 * HASH_SIZE)
        )
    return level


def fold_subtree_roots(roots: Sequence[bytes]) -> bytes:
    """Combine left-to-right complete-subtree roots of strictly decreasing size.

    The subtrees of a tree of size n are given by the bits of n, largest
    first; RFC 9162 §2.1.1 splits off the left one each time, so the fold
    runs from the right.
    """
    if not roots:
        return EMPTY_ROOT
    accumulated = roots[-1]
    for root in reversed(roots[:-1]):
        accumulated = node_hash(left=root, right=accumulated)
    return accumulated


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, in O(n) hashes and O(log n) memory."""
    # A binary counter of complete subtrees: stack[i] holds a root of size
    # 2**sizes[i]; equal neighbours merge, as when adding one to a counter.
    stack: list[bytes] = []
    sizes: list[int] = []
    for leaf in leaf_hashes:
        _check_hash(leaf)
        stack.append(leaf)
        sizes.append(0)
        while len(sizes) > 1 and sizes[-1] == sizes[-2]:
            right = stack.pop()
            sizes.pop()
            stack[-1] = node_hash(left=stack[-1], right=right)
            sizes[-1] += 1
    return fold_subtree_roots(stack)


def in_memory_range_hasher(leaf_hashes: Sequence[bytes]) -> RangeHasher:
    """A range hasher over a list held in memory (tests, small logs)."""
    return lambda start, end: root_from_leaf_hashes(leaf_hashes[start:end])


def inclusion_path(*, index: int, size: int, range_hash: RangeHasher) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, ordered from the leaf upwards."""
    _check_size(size)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} outside tree of size {size}")
    siblings: list[bytes] = []
    start, end = 0, size
    # SPEC: RFC 9162 §2.1.3.1 — walk down from the root, recording the
    # sibling at each split; reversed at the end to run leaf-first.
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if index - start < k:
            siblings.append(range_hash(start + k, end))
            end = start + k
        else:
            siblings.append(range_hash(start, start + k))
            start += k
    siblings.reverse()
    return siblings


def consistency_path(*, old_size: int, new_size: int, range_hash: RangeHasher) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1; empty when m is 0 or m == n."""
    _check_size(new_size)
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} not within 0..{new_size}")
    if old_size in (0, new_size):
        return []
    nodes: list[bytes] = []
    start, end, m = 0, new_size, old_size
    starts_at_old_root = True
    # SPEC: RFC 9162 §2.1.4.1 — SUBPROOF(m, D[n], b), unrolled from the top.
    while True:
        if m == end - start:
            if not starts_at_old_root:
                nodes.append(range_hash(start, end))
            break
        k = largest_power_of_two_below(end - start)
        if m <= k:
            nodes.append(range_hash(start + k, end))
            end = start + k
        else:
            nodes.append(range_hash(start, start + k))
            start += k
            m -= k
            starts_at_old_root = False
    nodes.reverse()
    return nodes


def verify_inclusion(
    *, leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofVerificationError unless ``proof`` shows ``leaf`` at ``index``."""
    computed = root_from_inclusion_proof(leaf=leaf, index=index, size=size, proof=proof)
    if computed != root:
        raise ProofVerificationError("inclusion proof does not lead to the root", code="inclusion_proof_invalid")


def root_from_inclusion_proof(*, leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies, per RFC 9162 §2.1.3.2."""
    _check_hash(leaf)
    _check_proof(proof, MAX_INCLUSION_PROOF_HASHES)
    # SPEC: RFC 9162 §2.1.3.2 step 1.
    if not 0 <= index < size:
        raise ProofVerificationError(f"leaf index {index} outside tree of size {size}", code="inclusion_proof_invalid")
    # Steps 2-3.
    fn, sn, r = index, size - 1, leaf
    # Step 4.
    for p in proof:
        if sn == 0:
            raise ProofVerificationError("inclusion proof is too long", code="inclusion_proof_invalid")
        if fn & 1 or fn == sn:
            r = node_hash(left=p, right=r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(left=r, right=p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        raise ProofVerificationError("inclusion proof is too short", code="inclusion_proof_invalid")
    return r


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofVerificationError unless ``proof`` links the two tree heads."""
    _check_hash(old_root)
    _check_hash(new_root)
    _check_proof(proof, MAX_CONSISTENCY_PROOF_HASHES)
    _check_size(new_size)
    if not 0 <= old_size <= new_size:
        raise _inconsistent(f"old size {old_size} is larger than new size {new_size}")
    # Trivial cases the RFC algorithm does not cover: every tree extends the
    # empty tree, and a tree is consistent with itself only if roots match.
    if old_size == 0:
        if proof or old_root != EMPTY_ROOT:
            raise _inconsistent("a proof from the empty tree must be empty and start at HASH()")
        return
    if old_size == new_size:
        if proof or old_root != new_root:
            raise _inconsistent("equal sizes need an empty proof and equal roots")
        return
    # SPEC: RFC 9162 §2.1.4.2 step 1.
    if not proof:
        raise _inconsistent("empty consistency proof")
    path = list(proof)
    # Step 2.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Step 3.
    fn, sn = old_size - 1, new_size - 1
    # Step 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise _inconsistent("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(left=c, right=fr)
            sr = node_hash(left=c, right=sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(left=sr, right=c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0 or fr != old_root or sr != new_root:
        raise _inconsistent("consistency proof does not lead to both roots")


def _inconsistent(message: str) -> ProofVerificationError:
    return ProofVerificationError(message, code="consistency_proof_invalid")


def _check_hash(value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ValueError("a Merkle tree hash is exactly 32 bytes")


def _check_proof(proof: Sequence[bytes], limit: int) -> None:
    if len(proof) > limit:
        raise ProofVerificationError(f"proof has {len(proof)} hashes, more than {limit}", code="proof_invalid")
    for value in proof:
        _check_hash(value)


def _check_size(size: int) -> None:
    if not 0 <= size <= MAX_TREE_SIZE:
        raise ValueError(f"tree size {size} out of range")
