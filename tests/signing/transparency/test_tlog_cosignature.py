"""C2SP tlog-cosignature (cosignature/v1, Ed25519) and the k-of-n witness policy."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from signing.transparency.checkpoint import Checkpoint
from signing.transparency.cosignature import (
    Cosigner,
    CosignerVerifier,
    WitnessPolicy,
    WitnessPolicyError,
    add_cosignatures,
    cosignature_timestamp,
    cosigned_message,
)
from signing.transparency.errors import MalformedError, NoteVerificationError, VerificationError
from signing.transparency.note import Note, NoteSignature, NoteSigner

# The C2SP tlog-cosignature spec's example: a checkpoint, its log signature
# and a cosignature line, and the message that cosignature signs.
SPEC_CHECKPOINT_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_NOTE = (
    SPEC_CHECKPOINT_TEXT + "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+"
    "zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5"
    "nNo0xUe+mbIUBkBIfZ+qnA==\n"
).encode()
SPEC_SIGNED_MESSAGE = (
    b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
# A native cosignature/v1 vkey (type 0x04) from transparency-dev/formats' tests:
# an outside check of the key ID formula with the 0x04 type byte.
OUTSIDE_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
ORIGIN = "certhub.example/authorized-use-log"


def test_spec_example_cosignature_carries_the_spec_timestamp_and_message():
    note = Note.from_bytes(SPEC_NOTE)
    log_line, cosignature_line = note.signatures
    assert cosignature_line.name == "witness.example.com/w1"
    assert len(cosignature_line.signature) == 72  # 8-byte timestamp || 64-byte Ed25519 signature
    timestamp = cosignature_timestamp(cosignature_line.signature)
    assert timestamp == 1679315147
    assert cosigned_message(checkpoint_text=note.text, timestamp=timestamp) == SPEC_SIGNED_MESSAGE
    # The log's own line is a plain 64-byte Ed25519 signature, not a cosignature.
    with pytest.raises(MalformedError):
        cosignature_timestamp(log_line.signature)


def test_outside_vkey_parses_and_round_trips():
    verifier = CosignerVerifier.from_key_string(OUTSIDE_VKEY)
    assert verifier.to_key_string() == OUTSIDE_VKEY
    assert verifier.key_id == hashlib.sha256(b"remora.n621.de\n\x04" + verifier.public_key).digest()[:4]


def test_log_vkey_type_is_not_a_cosigner_key():
    log_key = NoteSigner.generate(ORIGIN).verifier.to_key_string()
    with pytest.raises(MalformedError):
        CosignerVerifier.from_key_string(log_key)


def test_cosigner_key_strings_round_trip():
    cosigner = Cosigner.generate("witness.example/w1")
    again = Cosigner.from_key_string(cosigner.to_key_string())
    assert again.verifier == cosigner.verifier
    assert CosignerVerifier.from_key_string(cosigner.verifier.to_key_string()) == cosigner.verifier
    assert "PRIVATE" not in repr(cosigner)


def test_cosignature_bytes_are_timestamp_then_ed25519_over_the_spec_message():
    cosigner = Cosigner(name="witness.example/w1", seed=bytes(range(32)))
    line = cosigner.cosign(checkpoint_text=SPEC_CHECKPOINT_TEXT, timestamp=1679315147)
    assert line.signature[:8] == struct.pack(">Q", 1679315147)
    Ed25519PublicKey.from_public_bytes(cosigner.verifier.public_key).verify(line.signature[8:], SPEC_SIGNED_MESSAGE)
    assert cosigner.verifier.verified_timestamp(checkpoint_text=SPEC_CHECKPOINT_TEXT, signature=line.signature) == (
        1679315147
    )
    other_text = SPEC_CHECKPOINT_TEXT.replace("20852163", "20852164")
    assert cosigner.verifier.verified_timestamp(checkpoint_text=other_text, signature=line.signature) is None


def _cosigned_checkpoint(cosigners: list[Cosigner]) -> tuple[bytes, NoteSigner]:
    log = NoteSigner.generate(ORIGIN)
    note = Checkpoint(origin=ORIGIN, size=5, root_hash=bytes(32)).sign(signers=[log])
    text = Note.from_bytes(note).text
    lines = [cosigner.cosign(checkpoint_text=text, timestamp=1_700_000_000) for cosigner in cosigners]
    return add_cosignatures(note, lines), log


def test_policy_met_names_the_witnesses_that_cosigned():
    w1, w2, w3 = (Cosigner.generate(f"witness.example/w{i}") for i in (1, 2, 3))
    note, log = _cosigned_checkpoint([w1, w3])
    policy = WitnessPolicy(witnesses=(w1.verifier, w2.verifier, w3.verifier), threshold=2)
    result = policy.require(note, log_verifiers=[log.verifier])
    assert result.met and result.cosigned_by == ("witness.example/w1", "witness.example/w3")
    assert result.checkpoint.size == 5


def test_policy_unmet_when_fewer_than_k_cosigned():
    w1, w2 = Cosigner.generate("witness.example/w1"), Cosigner.generate("witness.example/w2")
    note, log = _cosigned_checkpoint([w1])
    policy = WitnessPolicy(witnesses=(w1.verifier, w2.verifier), threshold=2)
    assert not policy.evaluate(note, log_verifiers=[log.verifier]).met
    with pytest.raises(WitnessPolicyError) as raised:
        policy.require(note, log_verifiers=[log.verifier])
    assert raised.value.code == "witness_policy_unmet"


def test_cosignature_by_an_unlisted_witness_does_not_count():
    listed, stranger = Cosigner.generate("witness.example/w1"), Cosigner.generate("witness.example/w9")
    note, log = _cosigned_checkpoint([stranger])
    policy = WitnessPolicy(witnesses=(listed.verifier,), threshold=1)
    assert policy.evaluate(note, log_verifiers=[log.verifier]).cosigned_by == ()


def test_forged_cosignature_by_a_listed_witness_rejects_the_note():
    w1 = Cosigner.generate("witness.example/w1")
    note, log = _cosigned_checkpoint([])
    forged = NoteSignature(name=w1.name, key_id=w1.verifier.key_id, signature=struct.pack(">Q", 1) + bytes(64))
    with pytest.raises(VerificationError) as raised:
        WitnessPolicy(witnesses=(w1.verifier,), threshold=1).evaluate(
            add_cosignatures(note, [forged]), log_verifiers=[log.verifier]
        )
    assert raised.value.code == "bad_cosignature"


def test_cosignatures_do_not_replace_the_log_signature():
    w1 = Cosigner.generate("witness.example/w1")
    note, _ = _cosigned_checkpoint([w1])
    someone_else = NoteSigner.generate(ORIGIN)
    with pytest.raises(NoteVerificationError):
        WitnessPolicy(witnesses=(w1.verifier,), threshold=1).evaluate(note, log_verifiers=[someone_else.verifier])


def test_policy_bounds():
    w1 = Cosigner.generate("witness.example/w1")
    with pytest.raises(MalformedError):
        WitnessPolicy(witnesses=(w1.verifier,), threshold=2)
    with pytest.raises(MalformedError):
        WitnessPolicy(witnesses=(w1.verifier, w1.verifier), threshold=1)
    assert WitnessPolicy.from_key_strings([w1.verifier.to_key_string()], threshold=1).witnesses == (w1.verifier,)


def test_add_cosignatures_keeps_one_copy_of_a_line():
    w1 = Cosigner.generate("witness.example/w1")
    note, _ = _cosigned_checkpoint([w1])
    line = Note.from_bytes(note).signatures[-1]
    assert add_cosignatures(note, [line]) == note
    assert base64.b64encode(line.key_id + line.signature).decode() in note.decode()
