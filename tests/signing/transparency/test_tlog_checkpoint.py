"""C2SP tlog-checkpoint: construction, parsing, signing."""

from __future__ import annotations

import base64

import pytest

from signing.transparency.checkpoint import Checkpoint
from signing.transparency.errors import MalformedError, NoteVerificationError
from signing.transparency.note import NoteSigner, sign_note

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
URLSAFE_ROOT = base64.urlsafe_b64encode(b"\xff" * 32).decode()


def test_text_round_trip_with_and_without_extensions():
    for checkpoint in [
        Checkpoint(origin="example.com/log", size=0, root_hash=ROOT),
        Checkpoint(origin="example.com/log", size=20852163, root_hash=ROOT, extensions=("ext one", "ext two")),
    ]:
        assert Checkpoint.from_text(checkpoint.to_text()) == checkpoint


def test_text_layout_is_origin_size_root():
    text = Checkpoint(origin="example.com/log", size=42, root_hash=ROOT).to_text()
    assert text == f"example.com/log\n42\n{ROOT_B64}\n"


def test_signed_round_trip():
    signer = NoteSigner.generate("example.com/log")
    checkpoint = Checkpoint(origin="example.com/log", size=7, root_hash=ROOT)
    note = checkpoint.sign(signers=[signer])
    assert Checkpoint.from_note(note, verifiers=[signer.verifier]) == checkpoint
    assert Checkpoint.from_note(note, verifiers=[signer.verifier], origin="example.com/log") == checkpoint
    with pytest.raises(MalformedError):
        Checkpoint.from_note(note, verifiers=[signer.verifier], origin="other.example/log")
    with pytest.raises(NoteVerificationError):
        Checkpoint.from_note(note, verifiers=[NoteSigner.generate("example.com/log").verifier])


@pytest.mark.parametrize(
    "text",
    [
        f"example.com/log\n42\n{ROOT_B64}",  # no final newline
        "example.com/log\n42\n",
        f"example.com/log\n042\n{ROOT_B64}\n",
        f"example.com/log\n+42\n{ROOT_B64}\n",
        f"example.com/log\n 42\n{ROOT_B64}\n",
        f"example.com/log\n4_2\n{ROOT_B64}\n",
        f"example.com/log\n-1\n{ROOT_B64}\n",
        f"example.com/log\n\u0664\u0662\n{ROOT_B64}\n",  # non-ASCII digits
        f"example.com/log\n99999999999999999999\n{ROOT_B64}\n",
        f"\n42\n{ROOT_B64}\n",
        f"example.com/log\n42\n{ROOT_B64[:-1]}\n",
        f"example.com/log\n42\n{base64.b64encode(bytes(31)).decode()}\n",
        f"example.com/log\n42\n{URLSAFE_ROOT}\n",
        f"example.com/log\n42\n{ROOT_B64}\n\n",  # empty extension line
        f"example.com/log\n42\n{ROOT_B64}\next\n\nmore\n",
    ],
)
def test_strict_parsing(text):
    with pytest.raises(MalformedError):
        Checkpoint.from_text(text)


def test_constructor_validates():
    for kwargs in [
        {"origin": "", "size": 1, "root_hash": ROOT},
        {"origin": "a\nb", "size": 1, "root_hash": ROOT},
        {"origin": "a", "size": -1, "root_hash": ROOT},
        {"origin": "a", "size": True, "root_hash": ROOT},
        {"origin": "a", "size": 1, "root_hash": ROOT[:31]},
        {"origin": "a", "size": 1, "root_hash": ROOT, "extensions": ("",)},
        {"origin": "a", "size": 1, "root_hash": ROOT, "extensions": ["list"]},
    ]:
        with pytest.raises(MalformedError):
            Checkpoint(**kwargs)


def test_note_with_malformed_body_is_rejected_after_signature_check():
    signer = NoteSigner.generate("example.com/log")
    note = sign_note(text="example.com/log\nnot-a-size\nxx\n", signers=[signer])
    with pytest.raises(MalformedError):
        Checkpoint.from_note(note, verifiers=[signer.verifier])


def test_errors_belong_to_the_signing_family():
    from signing.errors import SigningError

    with pytest.raises(SigningError) as error:
        Checkpoint.from_text("x\n")
    assert error.value.code == "malformed"
