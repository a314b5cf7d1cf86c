"""The reference writer, run against both storage implementations."""

from __future__ import annotations

import pytest

from signing.transparency.bundles import decode_entry_bundle
from signing.transparency.checkpoint import Checkpoint
from signing.transparency.errors import MalformedError, NoteVerificationError
from signing.transparency.merkle import leaf_hash, root_from_leaf_hashes, verify_inclusion
from signing.transparency.note import NoteSigner
from signing.transparency.tiles import bundles_for_size, tiles_for_size
from signing.transparency.treehashes import inclusion_proof, tree_root
from signing.transparency.writer import DirectoryStorage, LogWriter, MemoryStorage, StorageTileReader

from .logs import ORIGIN, sample_entries


@pytest.fixture(params=["memory", "directory"])
def storage(request, tmp_path):
    return MemoryStorage() if request.param == "memory" else DirectoryStorage(tmp_path / "log")


@pytest.fixture
def signer():
    return NoteSigner.generate(ORIGIN)


def test_appends_produce_all_resources_and_a_signed_checkpoint(storage, signer):
    writer = LogWriter(storage=storage, origin=ORIGIN, signers=[signer])
    entries = sample_entries(600)
    for start in range(0, 600, 150):
        writer.append(entries[start : start + 150])
    checkpoint = Checkpoint.from_note(storage.read("checkpoint"), verifiers=[signer.verifier])
    assert checkpoint.size == 600
    assert checkpoint.root_hash == root_from_leaf_hashes([leaf_hash(e) for e in entries])
    for coord in tiles_for_size(600):
        assert storage.read(coord.path) is not None, coord.path
    for coord in bundles_for_size(600):
        assert decode_entry_bundle(storage.read(coord.path)) == entries[coord.first_leaf : coord.first_leaf + coord.width]
    # Partial tiles of earlier checkpoints stay available.
    assert storage.read("tile/0/000.p/150") is not None


def test_reopened_writer_continues_the_same_log(storage, signer):
    entries = sample_entries(400)
    LogWriter(storage=storage, origin=ORIGIN, signers=[signer]).append(entries[:123])
    reopened = LogWriter(storage=storage, origin=ORIGIN, signers=[signer])
    assert reopened.size == 123
    reopened.append(entries[123:])
    assert reopened.checkpoint.root_hash == root_from_leaf_hashes([leaf_hash(e) for e in entries])
    assert reopened.read_entry(0) == entries[0]
    assert reopened.read_entry(399) == entries[399]
    with pytest.raises(IndexError):
        reopened.read_entry(400)


def test_inclusion_proofs_from_written_tiles(storage, signer):
    writer = LogWriter(storage=storage, origin=ORIGIN, signers=[signer])
    entries = sample_entries(300)
    writer.append(entries)
    reader = StorageTileReader(storage)
    for index in (0, 255, 256, 299):
        proof = inclusion_proof(index=index, size=300, reader=reader)
        verify_inclusion(leaf=leaf_hash(entries[index]), index=index, size=300, proof=proof,
                         root=writer.checkpoint.root_hash)
    # Proofs at an earlier size use the partial tiles kept from then, or full ones.
    writer.append(sample_entries(10, start=300))
    proof = inclusion_proof(index=3, size=300, reader=reader)
    verify_inclusion(leaf=leaf_hash(entries[3]), index=3, size=300, proof=proof,
                     root=root_from_leaf_hashes([leaf_hash(e) for e in entries]))


def test_writer_refuses_foreign_checkpoints_and_oversized_entries(storage, signer):
    LogWriter(storage=storage, origin=ORIGIN, signers=[signer]).append([b"a"])
    with pytest.raises(NoteVerificationError):
        LogWriter(storage=storage, origin=ORIGIN, signers=[NoteSigner.generate(ORIGIN)])
    with pytest.raises(MalformedError):
        LogWriter(storage=storage, origin=ORIGIN, signers=[signer]).append([b"x" * 70000])


def test_directory_storage_refuses_paths_outside_the_layout(tmp_path):
    storage = DirectoryStorage(tmp_path)
    for path in ["../escape", "tile/0/../../x", "/etc/passwd"]:
        with pytest.raises(MalformedError):
            storage.write(path=path, data=b"x")


def test_roots_at_sizes_that_never_had_a_checkpoint(storage, signer):
    writer = LogWriter(storage=storage, origin=ORIGIN, signers=[signer])
    entries = sample_entries(800)
    writer.append(entries[:500])
    writer.append(entries[500:])
    hashes = [leaf_hash(e) for e in entries]
    for size in range(0, 801, 17):
        assert tree_root(size=size, reader=writer.tile_reader) == root_from_leaf_hashes(hashes[:size])
