"""C2SP signed-note with Ed25519 keys."""

from __future__ import annotations

import base64
import hashlib

import pytest

from signing.transparency.errors import MalformedError, NoteVerificationError
from signing.transparency.note import (
    MAX_SIGNATURES,
    Note,
    NoteSigner,
    NoteVerifier,
    key_id,
    open_note,
    sign_note,
)

# The published golang.org/x/mod/sumdb/note example: an external anchor for
# the key strings, the key ID and the signature line format.
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
).encode()


def test_published_vector_verifies_and_is_reproduced():
    verifier = NoteVerifier.from_key_string(GO_VERIFIER)
    assert verifier.to_key_string() == GO_VERIFIER
    opened = open_note(GO_NOTE, verifiers=[verifier])
    assert opened.text == GO_TEXT and opened.verified_by == ("PeterNeumann",)
    signer = NoteSigner.from_key_string(GO_SIGNER)
    assert signer.to_key_string() == GO_SIGNER
    assert signer.verifier == verifier
    # Ed25519 is deterministic, so signing the same text gives the same note.
    assert sign_note(text=GO_TEXT, signers=[signer]) == GO_NOTE


def test_key_id_is_the_spec_formula():
    signer = NoteSigner.generate("example.com/log")
    public = signer.verifier.public_key
    expected = hashlib.sha256(b"example.com/log\n\x01" + public).digest()[:4]
    assert key_id(name="example.com/log", key_type=1, public_key=public) == expected == signer.key_id
    name, hex_id, material = signer.verifier.to_key_string().split("+", 2)
    assert (name, hex_id) == ("example.com/log", expected.hex())
    assert base64.b64decode(material) == b"\x01" + public


def test_generated_keys_round_trip_and_sign():
    signer = NoteSigner.generate("example.com/log")
    again = NoteSigner.from_key_string(signer.to_key_string())
    assert again.verifier == signer.verifier
    assert NoteVerifier.from_key_string(signer.verifier.to_key_string()) == signer.verifier
    note = sign_note(text="hello\n", signers=[signer])
    assert open_note(note, verifiers=[again.verifier]).text == "hello\n"
    assert "PRIVATE" not in repr(signer)


def test_note_round_trips_through_parser():
    signer = NoteSigner.generate("a.example")
    data = sign_note(text="line one\n\nline three\n", signers=[signer])
    note = Note.from_bytes(data)
    assert note.text == "line one\n\nline three\n"
    assert note.to_bytes() == data


def test_unknown_keys_are_ignored_but_one_known_key_must_verify():
    log = NoteSigner.generate("example.com/log")
    witness = NoteSigner.generate("witness.example")
    data = sign_note(text="body\n", signers=[witness, log])
    assert open_note(data, verifiers=[log.verifier]).verified_by == ("example.com/log",)
    with pytest.raises(NoteVerificationError) as none_known:
        open_note(data, verifiers=[NoteSigner.generate("other").verifier])
    assert none_known.value.code == "unknown_key"


def test_same_name_different_key_is_unknown_not_failing():
    real = NoteSigner.generate("example.com/log")
    impostor = NoteSigner.generate("example.com/log")
    data = sign_note(text="body\n", signers=[impostor])
    with pytest.raises(NoteVerificationError) as error:
        open_note(data, verifiers=[real.verifier])
    assert error.value.code == "unknown_key"


def test_known_key_with_bad_signature_rejects_the_note():
    log = NoteSigner.generate("example.com/log")
    data = sign_note(text="body\n", signers=[log]).replace(b"body", b"bodY")
    with pytest.raises(NoteVerificationError) as error:
        open_note(data, verifiers=[log.verifier])
    assert error.value.code == "bad_signature"


@pytest.mark.parametrize(
    "data",
    [
        "no blank line\n\u2014 a AAAAAAAA\n".encode(),
        "text\n\n\u2014 a AAAAAAAA".encode(),  # no final newline
        b"text\n\n- a AAAAAAAA\n",  # hyphen instead of em dash
        "text\n\n\u2014 a b c\n".encode(),
        "text\n\n\u2014 a AAAA\n".encode(),  # only a key ID, no signature
        "text\n\n\u2014 a AAAAAAAA=\n".encode(),  # non-canonical base64
        "text\n\n\u2014 a+b AAAAAAAA\n".encode(),  # '+' in the key name
        "te\tt\n\n\u2014 a AAAAAAAA\n".encode(),  # control character
        "text\r\n\n\u2014 a AAAAAAAA\n".encode(),
        b"\xff\xfe\n\n\xe2\x80\x94 a AAAAAAAA\n",  # invalid UTF-8
        b"text\n\n",
        ("x" * 70000 + "\n\n\u2014 a AAAAAAAA\n").encode(),
        ("text\n\n" + "\u2014 a AAAAAAAA\n" * (MAX_SIGNATURES + 1)).encode(),
    ],
)
def test_strict_parsing_rejects_malformed_notes(data):
    with pytest.raises(MalformedError):
        Note.from_bytes(data)


def test_sixteen_signatures_are_accepted():
    signers = [NoteSigner.generate(f"w{i}.example") for i in range(16)]
    data = sign_note(text="body\n", signers=signers)
    assert len(open_note(data, verifiers=[signers[7].verifier]).note.signatures) == 16


@pytest.mark.parametrize(
    "key",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case hex
        "PeterNeumann+c74f20a3+AhpjxkHFDw4TEHoMMW84SqogX7FZJqqvywxOIs1stdE1",  # key type 0x02
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # truncated
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "",
    ],
)
def test_bad_verifier_keys_are_rejected(key):
    with pytest.raises(MalformedError):
        NoteVerifier.from_key_string(key)


def test_bad_signer_keys_are_rejected():
    for key in [GO_SIGNER.replace("c74f20a3", "00000000"), GO_SIGNER[len("PRIVATE+KEY+"):], "PRIVATE+KEY+x+1"]:
        with pytest.raises(MalformedError):
            NoteSigner.from_key_string(key)
    with pytest.raises(MalformedError):
        NoteSigner.generate("has space")


def test_sign_note_requires_final_newline():
    with pytest.raises(MalformedError):
        sign_note(text="no newline", signers=[NoteSigner.generate("a")])
