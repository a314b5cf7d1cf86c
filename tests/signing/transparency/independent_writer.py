"""A second tiled-log writer, written separately and as plainly as possible.

It shares nothing with ``signing.transparency``: every tile hash is the
Merkle Tree Hash of its leaves computed by direct recursion over the raw
entries (RFC 9162 §2.1.1), tile paths and the signed checkpoint are
formatted here from the C2SP specs, and only the standard library and
``cryptography`` are used. If the verifier accepts what this writes, the
two sides agree on the formats rather than on shared code.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HEIGHT = 8
WIDTH = 256


def merkle_tree_hash(entries: list[bytes]) -> bytes:
    if len(entries) == 0:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < len(entries):
        k *= 2
    left = merkle_tree_hash(entries[:k])
    right = merkle_tree_hash(entries[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def index_path(n: int) -> str:
    digits = str(n)
    while len(digits) % 3:
        digits = "0" + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def tile_path(level: int | str, n: int, width: int) -> str:
    path = f"tile/{level}/{index_path(n)}"
    if width < WIDTH:
        path += f".p/{width}"
    return path


class IndependentLog:
    def __init__(self, *, name: str, seed: bytes) -> None:
        self.name = name
        self.private_key = Ed25519PrivateKey.from_private_bytes(seed)
        public_key = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        digest = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public_key).digest()
        self.key_hash = digest[:4]
        self.verifier_key = name + "+" + digest[:4].hex() + "+" + base64.b64encode(b"\x01" + public_key).decode()

    def signed_checkpoint(self, entries: list[bytes]) -> bytes:
        root = merkle_tree_hash(entries)
        text = f"{self.name}\n{len(entries)}\n{base64.b64encode(root).decode()}\n"
        signature = self.private_key.sign(text.encode())
        line = "\u2014 " + self.name + " " + base64.b64encode(self.key_hash + signature).decode() + "\n"
        return (text + "\n" + line).encode()

    def write(self, directory: Path, entries: list[bytes]) -> bytes:
        size = len(entries)
        level = 0
        while size // (WIDTH**level) > 0:
            span = WIDTH**level  # leaves under one hash at this level
            hash_count = size // span
            for n in range((hash_count + WIDTH - 1) // WIDTH):
                first = n * WIDTH
                last = min(first + WIDTH, hash_count)
                hashes = [merkle_tree_hash(entries[i * span : (i + 1) * span]) for i in range(first, last)]
                self._put(directory, tile_path(level, n, last - first), b"".join(hashes))
                if level == 0:
                    bundle = b"".join(len(e).to_bytes(2, "big") + e for e in entries[first:last])
                    self._put(directory, tile_path("entries", n, last - first), bundle)
            level += 1
        checkpoint = self.signed_checkpoint(entries)
        self._put(directory, "checkpoint", checkpoint)
        return checkpoint

    @staticmethod
    def _put(directory: Path, relative: str, data: bytes) -> None:
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
