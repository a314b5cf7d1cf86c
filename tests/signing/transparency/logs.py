"""Builds tiled logs on disk with either writer, and damages them on purpose."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from signing.transparency.note import NoteSigner
from signing.transparency.writer import DirectoryStorage, LogWriter

from .independent_writer import IndependentLog

ORIGIN = "certhub.example/auditlog"
SEED = bytes(range(32))


@dataclass(frozen=True)
class BuiltLog:
    directory: Path
    verifier_key: str
    checkpoint: bytes


def sample_entries(count: int, *, start: int = 0) -> list[bytes]:
    # Varied lengths so bundle offsets are not regular.
    return [b"use %d:" % i + b"x" * (i % 37) for i in range(start, start + count)]


def build_reference(directory: Path, entries: list[bytes], *, seed: bytes = SEED) -> BuiltLog:
    signer = NoteSigner(name=ORIGIN, seed=seed)
    writer = LogWriter(storage=DirectoryStorage(directory), origin=ORIGIN, signers=[signer])
    # Two batches, so partial tiles are extended rather than written once.
    half = len(entries) // 2
    if half:
        writer.append(entries[:half])
    checkpoint = writer.append(entries[half:])
    return BuiltLog(directory, signer.verifier.to_key_string(), checkpoint)


def build_independent(directory: Path, entries: list[bytes], *, seed: bytes = SEED) -> BuiltLog:
    log = IndependentLog(name=ORIGIN, seed=seed)
    checkpoint = log.write(directory, entries)
    return BuiltLog(directory, log.verifier_key, checkpoint)


WRITERS = {"reference": build_reference, "independent": build_independent}


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def entry_offset(bundle: Path, position: int) -> tuple[int, int]:
    """(offset of the length prefix, length) of entry ``position`` in a bundle."""
    data = bundle.read_bytes()
    offset = 0
    for _ in range(position):
        offset += 2 + int.from_bytes(data[offset : offset + 2], "big")
    return offset, int.from_bytes(data[offset : offset + 2], "big")
