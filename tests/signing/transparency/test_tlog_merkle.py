"""RFC 9162 §2.1 Merkle tree: known answers, a brute-force oracle and pymerkle."""

from __future__ import annotations

import hashlib

import pytest
from pymerkle import InmemoryTree

from signing.transparency.errors import ProofVerificationError
from signing.transparency.merkle import (
    EMPTY_ROOT,
    consistency_path,
    in_memory_range_hasher,
    inclusion_path,
    leaf_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# Certificate Transparency reference vectors (RFC 6962 test data).
CT_LEAVES = [
    b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57", bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CT_CONSISTENCY = {
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}


# --- an oracle written straight from the recursive definitions of RFC 9162 ---

def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(entries: list[bytes]) -> bytes:
    if not entries:
        return _h(b"")
    if len(entries) == 1:
        return _h(b"\x00" + entries[0])
    k = _k(len(entries))
    return _h(b"\x01" + _mth(entries[:k]) + _mth(entries[k:]))


def _path(m: int, entries: list[bytes]) -> list[bytes]:
    if len(entries) == 1:
        return []
    k = _k(len(entries))
    if m < k:
        return _path(m, entries[:k]) + [_mth(entries[k:])]
    return _path(m - k, entries[k:]) + [_mth(entries[:k])]


def _subproof(m: int, entries: list[bytes], whole: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if whole else [_mth(entries)]
    k = _k(n)
    if m <= k:
        return _subproof(m, entries[:k], whole) + [_mth(entries[k:])]
    return _subproof(m - k, entries[k:], False) + [_mth(entries[:k])]


def _entries(n: int) -> list[bytes]:
    return [b"entry-%d" % i for i in range(n)]


def _hashes(entries: list[bytes]) -> list[bytes]:
    return [leaf_hash(entry) for entry in entries]


def _pymerkle_roots(limit: int, entries: list[bytes]) -> list[bytes]:
    tree = InmemoryTree(algorithm="sha256")
    for entry in entries[:limit]:
        tree.append_entry(entry)
    return [tree.get_root(size) for size in range(1, limit + 1)]


def test_known_answer_roots():
    for size in range(len(CT_ROOTS)):
        assert root_from_leaf_hashes(_hashes(CT_LEAVES[:size])).hex() == CT_ROOTS[size]
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]


def test_known_answer_inclusion_proofs():
    hashes = _hashes(CT_LEAVES)
    for (index, size), expected in CT_INCLUSION.items():
        proof = inclusion_path(index=index, size=size, range_hash=in_memory_range_hasher(hashes))
        assert [p.hex() for p in proof] == expected
        verify_inclusion(leaf=hashes[index], index=index, size=size, proof=proof, root=bytes.fromhex(CT_ROOTS[size]))


def test_known_answer_consistency_proofs():
    hashes = _hashes(CT_LEAVES)
    for (old, new), expected in CT_CONSISTENCY.items():
        proof = consistency_path(old_size=old, new_size=new, range_hash=in_memory_range_hasher(hashes))
        assert [p.hex() for p in proof] == expected
        verify_consistency(
            old_size=old, new_size=new, old_root=bytes.fromhex(CT_ROOTS[old]),
            new_root=bytes.fromhex(CT_ROOTS[new]), proof=proof,
        )


def test_roots_match_pymerkle_and_oracle_for_sizes_1_to_300():
    entries = _entries(300)
    hashes = _hashes(entries)
    for size, expected in enumerate(_pymerkle_roots(300, entries), start=1):
        assert root_from_leaf_hashes(hashes[:size]) == expected, size
    for size in (1, 2, 3, 7, 64, 65, 255, 256, 257, 300):
        assert root_from_leaf_hashes(hashes[:size]) == _mth(entries[:size])


@pytest.mark.slow
def test_every_inclusion_proof_up_to_size_64_matches_oracle_and_verifies():
    entries = _entries(64)
    hashes = _hashes(entries)
    for size in range(1, 65):
        root = _mth(entries[:size])
        hasher = in_memory_range_hasher(hashes[:size])
        for index in range(size):
            proof = inclusion_path(index=index, size=size, range_hash=hasher)
            assert proof == _path(index, entries[:size])
            verify_inclusion(leaf=hashes[index], index=index, size=size, proof=proof, root=root)


def test_sampled_inclusion_proofs_up_to_size_300():
    entries = _entries(300)
    hashes = _hashes(entries)
    for size in range(65, 301, 7):
        root = root_from_leaf_hashes(hashes[:size])
        hasher = in_memory_range_hasher(hashes[:size])
        for index in {0, 1, size // 2, size - 2, size - 1}:
            proof = inclusion_path(index=index, size=size, range_hash=hasher)
            verify_inclusion(leaf=hashes[index], index=index, size=size, proof=proof, root=root)


@pytest.mark.slow
def test_every_consistency_proof_up_to_size_48_matches_oracle_and_verifies():
    entries = _entries(48)
    hashes = _hashes(entries)
    roots = [_mth(entries[:size]) for size in range(49)]
    for new in range(1, 49):
        hasher = in_memory_range_hasher(hashes[:new])
        for old in range(new + 1):
            proof = consistency_path(old_size=old, new_size=new, range_hash=hasher)
            if 0 < old < new:
                assert proof == _subproof(old, entries[:new], True)
            else:
                assert proof == []
            verify_consistency(old_size=old, new_size=new, old_root=roots[old], new_root=roots[new], proof=proof)


@pytest.mark.slow
def test_sampled_consistency_proofs_up_to_size_300():
    hashes = _hashes(_entries(300))
    roots = {size: root_from_leaf_hashes(hashes[:size]) for size in range(301)}
    for new in range(49, 301, 13):
        hasher = in_memory_range_hasher(hashes[:new])
        for old in (1, 2, new // 3, new // 2, new - 1, new):
            proof = consistency_path(old_size=old, new_size=new, range_hash=hasher)
            verify_consistency(old_size=old, new_size=new, old_root=roots[old], new_root=roots[new], proof=proof)


def test_inclusion_verification_rejects_every_single_mutation():
    hashes = _hashes(_entries(13))
    root = root_from_leaf_hashes(hashes)
    hasher = in_memory_range_hasher(hashes)
    for index in range(13):
        proof = inclusion_path(index=index, size=13, range_hash=hasher)
        for position in range(len(proof)):
            bad = list(proof)
            bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
            with pytest.raises(ProofVerificationError):
                verify_inclusion(leaf=hashes[index], index=index, size=13, proof=bad, root=root)
        wrong_index = (index + 1) % 13
        with pytest.raises(ProofVerificationError):
            verify_inclusion(leaf=hashes[index], index=wrong_index, size=13, proof=proof, root=root)
        with pytest.raises(ProofVerificationError):
            verify_inclusion(leaf=hashes[index], index=index, size=13, proof=proof + [root], root=root)
        if proof:
            with pytest.raises(ProofVerificationError):
                verify_inclusion(leaf=hashes[index], index=index, size=13, proof=proof[:-1], root=root)


def test_inclusion_verification_rejects_out_of_range_and_oversized_input():
    leaf = leaf_hash(b"x")
    with pytest.raises(ProofVerificationError):
        root_from_inclusion_proof(leaf=leaf, index=1, size=1, proof=[])
    with pytest.raises(ProofVerificationError):
        root_from_inclusion_proof(leaf=leaf, index=0, size=2**70, proof=[leaf] * 70)
    with pytest.raises(ValueError):
        root_from_inclusion_proof(leaf=b"short", index=0, size=1, proof=[])


def test_consistency_verification_rejects_mutations_and_bad_sizes():
    hashes = _hashes(_entries(20))
    roots = {size: root_from_leaf_hashes(hashes[:size]) for size in range(21)}
    hasher = in_memory_range_hasher(hashes)
    proof = consistency_path(old_size=7, new_size=20, range_hash=hasher)
    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = bytes(32)
        with pytest.raises(ProofVerificationError):
            verify_consistency(old_size=7, new_size=20, old_root=roots[7], new_root=roots[20], proof=bad)
    cases = [
        {"old_size": 7, "new_size": 20, "old_root": roots[8], "new_root": roots[20], "proof": proof},
        {"old_size": 7, "new_size": 20, "old_root": roots[7], "new_root": roots[19], "proof": proof},
        {"old_size": 8, "new_size": 20, "old_root": roots[8], "new_root": roots[20], "proof": proof},
        {"old_size": 7, "new_size": 20, "old_root": roots[7], "new_root": roots[20], "proof": []},
        {"old_size": 21, "new_size": 20, "old_root": roots[7], "new_root": roots[20], "proof": proof},
        {"old_size": 20, "new_size": 20, "old_root": roots[19], "new_root": roots[20], "proof": []},
        {"old_size": 0, "new_size": 20, "old_root": roots[20], "new_root": roots[20], "proof": []},
    ]
    for case in cases:
        with pytest.raises(ProofVerificationError):
            verify_consistency(**case)
