"""C2SP tlog-witness: the add-checkpoint body, the witness's checks against
its SQLite state, and the evidence it keeps of a fork."""

from __future__ import annotations

import base64

import pytest

from signing.transparency.cosignature import WitnessPolicy, add_cosignatures
from signing.transparency.errors import MalformedError
from signing.transparency.note import NoteSigner
from signing.transparency.treehashes import consistency_proof
from signing.transparency.witness import (
    REFUSAL_STATUS,
    AddCheckpointRequest,
    Witness,
    WitnessRefusal,
    parse_cosignatures,
    parse_size,
)
from signing.transparency.witness_store import SqliteWitnessStore, load_or_create_cosigner
from signing.transparency.writer import LogWriter, MemoryStorage

ORIGIN = "certhub.example/authorized-use-log"

# The C2SP tlog-witness spec's example request body.
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+"
    "zyWE+xeMcTOAYQ8=\n"
).encode()
SPEC_RESPONSE = (
    "\u2014 witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2Hg"
    "LatVs0pWh6Up69HVOw==\n"
    "\u2014 witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJ"
    "lqU3rXXvpysAdyP3wQ==\n"
).encode()


def test_spec_request_parses_and_round_trips():
    request = AddCheckpointRequest.from_bytes(SPEC_REQUEST)
    assert request.old_size == 20852014 and len(request.proof) == 4
    assert request.checkpoint_note.startswith(b"example.com/behind-the-sofa\n20852163\n")
    assert request.to_bytes() == SPEC_REQUEST


def test_spec_response_lines_parse():
    lines = parse_cosignatures(SPEC_RESPONSE)
    assert [line.name for line in lines] == ["witness.example/w1", "witness.example/w2"]
    assert all(len(line.signature) == 72 for line in lines)
    assert parse_size(b"20852014\n") == 20852014


@pytest.mark.parametrize(
    "body",
    [
        b"old 01\n\nx",  # leading zero
        b"old 1\nnot base64!\n\nx",
        b"old 1\n" + b"AAAA\n" + b"\nx",  # not a 32-byte hash
        b"old 1\nx",  # no empty line
        b"old 0\n" + b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(64)) + b"\nx",  # 64 proof lines
    ],
)
def test_malformed_requests_are_refused(body):
    with pytest.raises(MalformedError):
        AddCheckpointRequest.from_bytes(body)


class _Log:
    """A log written by the reference writer, with a second key to forge a fork."""

    def __init__(self) -> None:
        self.signer = NoteSigner.generate(ORIGIN)
        self.writer = LogWriter(storage=MemoryStorage(), origin=ORIGIN, signers=[self.signer])

    def grow(self, count: int) -> bytes:
        start = self.writer.size
        return self.writer.append([b"entry %d" % i for i in range(start, start + count)])

    def request(self, *, old_size: int, note: bytes) -> bytes:
        new_size = self.writer.size
        proof = (
            consistency_proof(old_size=old_size, new_size=new_size, reader=self.writer.tile_reader)
            if 0 < old_size < new_size
            else []
        )
        return AddCheckpointRequest(old_size=old_size, proof=tuple(proof), checkpoint_note=note).to_bytes()


@pytest.fixture
def witness(tmp_path):
    log = _Log()
    store = SqliteWitnessStore(tmp_path / "w1")
    cosigner = load_or_create_cosigner(tmp_path / "w1", name="witness.example/w1")
    yield (
        Witness(cosigner=cosigner, logs={ORIGIN: [log.signer.verifier]}, store=store, clock=lambda: 1_800_000_000),
        log,
        store,
    )
    store.close()


def test_witness_cosigns_a_consistent_sequence(witness):
    wit, log, _ = witness
    first = log.grow(5)
    lines = parse_cosignatures(wit.add_checkpoint(log.request(old_size=0, note=first)))
    policy = WitnessPolicy(witnesses=(wit.cosigner.verifier,), threshold=1)
    assert policy.require(add_cosignatures(first, lines), log_verifiers=[log.signer.verifier]).met
    second = log.grow(300)
    lines = parse_cosignatures(wit.add_checkpoint(log.request(old_size=5, note=second)))
    result = policy.require(add_cosignatures(second, lines), log_verifiers=[log.signer.verifier])
    assert result.checkpoint.size == 305
    # The same checkpoint again (the log re-publishes when nothing changed) is cosigned again.
    assert parse_cosignatures(wit.add_checkpoint(log.request(old_size=305, note=second)))


def test_wrong_old_size_is_a_conflict_naming_the_witnessed_size(witness):
    wit, log, _ = witness
    wit.add_checkpoint(log.request(old_size=0, note=log.grow(5)))
    note = log.grow(3)
    with pytest.raises(WitnessRefusal) as raised:
        wit.add_checkpoint(log.request(old_size=0, note=note))
    assert raised.value.code == "size_conflict" and raised.value.stored_size == 5
    assert REFUSAL_STATUS[raised.value.code] == 409


def test_unknown_origin_and_untrusted_signature_are_refused(witness, tmp_path):
    wit, _, _ = witness
    stranger = LogWriter(
        storage=MemoryStorage(), origin="other.example/log", signers=[NoteSigner.generate("other.example/log")]
    )
    with pytest.raises(WitnessRefusal) as raised:
        wit.add_checkpoint(AddCheckpointRequest(0, (), stranger.append([b"x"])).to_bytes())
    assert REFUSAL_STATUS[raised.value.code] == 404
    impostor = LogWriter(storage=MemoryStorage(), origin=ORIGIN, signers=[NoteSigner.generate(ORIGIN)])
    with pytest.raises(WitnessRefusal) as raised:
        wit.add_checkpoint(AddCheckpointRequest(0, (), impostor.append([b"x"])).to_bytes())
    assert REFUSAL_STATUS[raised.value.code] == 403


def test_same_size_fork_is_refused_and_the_evidence_kept(witness):
    wit, log, store = witness
    witnessed = log.grow(5)
    wit.add_checkpoint(log.request(old_size=0, note=witnessed))
    # The same key signs a different tree of the same size: a split view.
    forked = LogWriter(storage=MemoryStorage(), origin=ORIGIN, signers=[log.signer])
    forked_note = forked.append([b"other %d" % i for i in range(5)])
    body = AddCheckpointRequest(5, (), forked_note).to_bytes()
    with pytest.raises(WitnessRefusal) as raised:
        wit.add_checkpoint(body)
    assert raised.value.code == "fork" and REFUSAL_STATUS["fork"] == 409
    (kept,) = store.evidence_dir.iterdir()
    assert (kept / "witnessed-checkpoint").read_bytes() == witnessed
    assert (kept / "submitted-checkpoint").read_bytes() == forked_note
    assert (kept / "add-checkpoint-request").read_bytes() == body


def test_bad_consistency_proof_is_refused_and_the_evidence_kept(witness):
    wit, log, store = witness
    wit.add_checkpoint(log.request(old_size=0, note=log.grow(5)))
    # A larger tree that does not extend the witnessed one.
    forked = LogWriter(storage=MemoryStorage(), origin=ORIGIN, signers=[log.signer])
    forked_note = forked.append([b"other %d" % i for i in range(9)])
    proof = consistency_proof(old_size=5, new_size=9, reader=forked.tile_reader)
    with pytest.raises(WitnessRefusal) as raised:
        wit.add_checkpoint(AddCheckpointRequest(5, tuple(proof), forked_note).to_bytes())
    assert raised.value.code == "inconsistent" and REFUSAL_STATUS["inconsistent"] == 422
    (kept,) = store.evidence_dir.iterdir()
    assert (kept / "submitted-checkpoint").read_bytes() == forked_note
    # The refused checkpoint did not move the witness: the honest log still goes on.
    assert parse_cosignatures(wit.add_checkpoint(log.request(old_size=5, note=log.grow(1))))


def test_witness_key_is_created_once_and_kept(tmp_path):
    first = load_or_create_cosigner(tmp_path / "state", name="witness.example/w1")
    again = load_or_create_cosigner(tmp_path / "state", name="witness.example/w1")
    assert first.verifier == again.verifier
    assert (tmp_path / "state" / "witness.key").stat().st_mode & 0o077 == 0
