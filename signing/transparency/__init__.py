"""Tamper-evident, append-only transparency logs (the authorized-use log).

A standalone library: RFC 9162 Merkle trees, C2SP tlog-tiles storage,
C2SP signed notes and checkpoints, a reference writer and an independent
verifier. Like the rest of ``signing`` it imports nothing else of certhub.
"""

from signing.transparency.bundles import decode_entry_bundle, encode_entry_bundle
from signing.transparency.checkpoint import Checkpoint
from signing.transparency.errors import (
    LogVerificationError,
    MalformedError,
    NoteVerificationError,
    ProofVerificationError,
    TileNotFoundError,
    TransparencyLogError,
    VerificationError,
)
from signing.transparency.integrator import Integration, TileWrite, integrate
from signing.transparency.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from signing.transparency.note import NoteSigner, NoteVerifier, open_note, sign_note
from signing.transparency.tiles import BundleCoord, TileCoord, parse_path, tiles_for_size
from signing.transparency.treehashes import (
    MemoryTiles,
    TileReader,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    read_leaf_hash,
    tiles_for_consistency_proof,
    tiles_for_inclusion_proof,
    tree_root,
)
from signing.transparency.verifier import VerificationReport, verify_log

__all__ = [
    "EMPTY_ROOT",
    "BundleCoord",
    "Checkpoint",
    "Integration",
    "LogVerificationError",
    "MalformedError",
    "MemoryTiles",
    "NoteSigner",
    "NoteVerificationError",
    "NoteVerifier",
    "ProofVerificationError",
    "TileCoord",
    "TileNotFoundError",
    "TileReader",
    "TileWrite",
    "TransparencyLogError",
    "VerificationError",
    "VerificationReport",
    "consistency_proof",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "inclusion_proof",
    "inclusion_proofs",
    "integrate",
    "leaf_hash",
    "node_hash",
    "open_note",
    "parse_path",
    "read_leaf_hash",
    "root_from_leaf_hashes",
    "sign_note",
    "tiles_for_consistency_proof",
    "tiles_for_inclusion_proof",
    "tiles_for_size",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
