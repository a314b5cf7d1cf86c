"""Asking the log's witnesses to cosign each new checkpoint.

# SPEC: C2SP tlog-witness "add-checkpoint", C2SP tlog-cosignature.
After a checkpoint is committed, each configured witness is sent it with
the consistency proof from the size that witness last cosigned; valid
cosignature lines are stored (``auditlog_cosignatures``) and appended to
the checkpoint's note. A witness that is down, slow or refuses never
blocks appends or checkpointing: ``/log/health`` says whether the policy
(k of n) is met. Verifiers decide with their own pinned policy, never this one.

What ``/log/checkpoint`` serves (``served_checkpoint``): the newest
checkpoint k witnesses have cosigned, as a witnessed log publishes, so a
verifier never fetches one in the moment between its commit and its
witnesses' answers. Only when none of the last ``WITNESSED_LOOKBACK``
checkpoints was (a long outage of the witnesses) is the newest served
as it is: a log does not stand still for ever behind its witnesses, and
every verifier's policy then fails loudly instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from exchange.auditlog.integration import DbTileReader
from exchange.auditlog.models import LogCheckpoint, LogCosignature
from signing.transparency import consistency_proof, tiles_for_consistency_proof
from signing.transparency.cosignature import CosignerVerifier, WitnessPolicy, add_cosignatures
from signing.transparency.errors import TransparencyLogError
from signing.transparency.note import NoteSignature
from signing.transparency.witness import AddCheckpointRequest, HttpPost, WitnessAnswer, submit_checkpoint
from storage.egress import BodyRefused, Egress, EgressClient, EgressError

log = logging.getLogger("certhub.auditlog")


@dataclass(frozen=True)
class LogWitness:
    """One configured witness: its vkey (name and key) and submission URL."""

    verifier: CosignerVerifier
    url: str

    @property
    def name(self) -> str:
        return self.verifier.name


@dataclass(frozen=True)
class WitnessRound:
    """What the last round got: who cosigned which size, and why others did not."""

    size: int
    cosigned_by: tuple[str, ...]
    missing: dict[str, str]
    threshold: int
    at: datetime

    @property
    def met(self) -> bool:
        return len(self.cosigned_by) >= self.threshold


@dataclass(eq=False)
class LogWitnesses:
    """The log's witnesses, the policy it publishes them under, and the last round."""

    witnesses: tuple[LogWitness, ...]
    threshold: int
    post: HttpPost
    # Told each round's outcome (certhub.metrics), without the exchange importing certhub.
    observe: Callable[..., None] | None = None
    _last: WitnessRound | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        WitnessPolicy(witnesses=tuple(w.verifier for w in self.witnesses), threshold=self.threshold)

    @classmethod
    def over_egress(
        cls, witnesses: Sequence[LogWitness], *, threshold: int, egress: Egress, timeout_s: float,
        observe: Callable[..., None] | None = None,
    ) -> LogWitnesses:
        return cls(witnesses=tuple(witnesses), threshold=threshold,
                   post=EgressPost(egress.client(timeout=(timeout_s, timeout_s))), observe=observe)

    @property
    def policy(self) -> WitnessPolicy:
        return WitnessPolicy(witnesses=tuple(w.verifier for w in self.witnesses), threshold=self.threshold)

    @property
    def last_round(self) -> WitnessRound | None:
        with self._lock:
            return self._last

    def record(self, result: WitnessRound) -> None:
        with self._lock:
            self._last = result
        if self.observe is not None:
            self.observe(cosigned=len(result.cosigned_by), met=result.met)

    def to_json(self) -> dict:
        last = self.last_round
        return {
            "threshold": self.threshold,
            "witnesses": [{"name": w.name, "vkey": w.verifier.to_key_string()} for w in self.witnesses],
            "policy_met": None if last is None else last.met,
            "last_round": None if last is None else {
                "size": last.size, "cosigned_by": list(last.cosigned_by), "missing": last.missing,
                "at": last.at.isoformat(timespec="seconds"),
            },
        }


class EgressPost:
    """``HttpPost`` through the deployment's egress client; no redirect followed."""

    def __init__(self, client: EgressClient) -> None:
        self._client = client

    def __call__(self, url: str, *, body: bytes, limit: int) -> tuple[int, str, bytes]:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        try:
            with self._client.request("POST", url, headers=headers, body=body) as response:
                data = response.read_bounded(max_bytes=limit)
                return response.status, response.headers.get("Content-Type", ""), data
        except (EgressError, BodyRefused) as error:
            raise OSError(f"POST {url}: {type(error).__name__}") from None


def witness_round(sessionmaker: sessionmaker[Session], witnesses: LogWitnesses) -> WitnessRound | None:
    """Ask every witness to cosign the latest checkpoint and store what comes back; own transaction."""
    with sessionmaker() as session:
        try:
            result = witness_latest(session=session, witnesses=witnesses)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    if result is not None:
        witnesses.record(result)
        if not result.met:
            log.warning("witness policy not met for checkpoint size %d: %d of %d (%s)", result.size,
                        len(result.cosigned_by), result.threshold,
                        ", ".join(f"{name}: {why}" for name, why in sorted(result.missing.items())))
    return result


# About three hours of checkpoints at the default 10 s interval.
WITNESSED_LOOKBACK = 1000


def served_checkpoint(*, session: Session, threshold: int) -> LogCheckpoint | None:
    """The checkpoint the log publishes: the newest one ``threshold`` of its
    witnesses cosigned (0: no witnesses), or the newest (see the module's docstring)."""
    newest = session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1))
    if newest is None or threshold <= 0:
        return newest
    witnessed_id = session.scalar(
        select(LogCosignature.checkpoint_id)
        .where(LogCosignature.checkpoint_id > newest.id - WITNESSED_LOOKBACK)
        .group_by(LogCosignature.checkpoint_id)
        .having(func.count(func.distinct(LogCosignature.witness)) >= threshold)
        .order_by(LogCosignature.checkpoint_id.desc()).limit(1))
    if witnessed_id is None or witnessed_id == newest.id:
        return newest
    return session.get(LogCheckpoint, witnessed_id)


def witness_latest(*, session: Session, witnesses: LogWitnesses) -> WitnessRound | None:
    """Cosign the newest checkpoint with every witness that will; the caller commits."""
    checkpoint = session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1).with_for_update())
    if checkpoint is None:
        return None
    cosigned: list[str] = []
    missing: dict[str, str] = {}
    lines: list[NoteSignature] = []
    # A checkpoint asked about twice (the checkpointer and POST /api/v1/audit/checkpoint) keeps one line a witness.
    already = set(session.scalars(select(LogCosignature.witness).where(LogCosignature.checkpoint_id == checkpoint.id)))
    for witness in witnesses.witnesses:
        if witness.name in already:
            cosigned.append(witness.name)
            continue
        answer = _ask(session=session, witness=witness, checkpoint=checkpoint, post=witnesses.post)
        if answer.cosignatures:
            cosigned.append(witness.name)
            lines.extend(answer.cosignatures)
            now = datetime.now(UTC)
            for line in answer.cosignatures:
                session.add(LogCosignature(checkpoint_id=checkpoint.id, witness=witness.name, size=checkpoint.size,
                                           line=line.to_line().rstrip("\n"), cosigned_at=now))
        else:
            missing[witness.name] = answer.refused or "no answer"
    if lines:
        checkpoint.note = add_cosignatures(bytes(checkpoint.note), lines)
    session.flush()
    return WitnessRound(size=checkpoint.size, cosigned_by=tuple(cosigned), missing=missing,
                        threshold=witnesses.threshold, at=datetime.now(UTC))


def _ask(*, session: Session, witness: LogWitness, checkpoint: LogCheckpoint, post: HttpPost) -> WitnessAnswer:
    old_size = _last_cosigned_size(session=session, witness=witness.name, up_to=checkpoint.size)
    answer = _submit(session=session, witness=witness, checkpoint=checkpoint, post=post, old_size=old_size)
    # The witness holds another size (its state was lost, or ours was): try once from its size.
    if answer.conflict_size is not None and answer.conflict_size != old_size and answer.conflict_size <= checkpoint.size:
        answer = _submit(session=session, witness=witness, checkpoint=checkpoint, post=post,
                         old_size=answer.conflict_size)
    if answer.conflict_size is not None:
        return WitnessAnswer(refused=f"witness holds size {answer.conflict_size}")
    return answer


def _submit(
    *, session: Session, witness: LogWitness, checkpoint: LogCheckpoint, post: HttpPost, old_size: int
) -> WitnessAnswer:
    new_size = checkpoint.size
    proof: list[bytes] = []
    if 0 < old_size < new_size:
        tiles = DbTileReader(session=session).prefetch(tiles_for_consistency_proof(old_size=old_size, new_size=new_size))
        proof = consistency_proof(old_size=old_size, new_size=new_size, reader=tiles)
    # The note may already carry other witnesses' lines: a witness ignores lines by keys it does not know.
    request = AddCheckpointRequest(old_size=old_size, proof=tuple(proof), checkpoint_note=bytes(checkpoint.note))
    try:
        return submit_checkpoint(post, url=witness.url, request=request, witness=witness.verifier)
    except (OSError, TransparencyLogError) as error:
        log.warning("witness %s: no answer (%s)", witness.name, type(error).__name__)
        return WitnessAnswer(refused="unreachable")


def _last_cosigned_size(*, session: Session, witness: str, up_to: int) -> int:
    size = session.scalar(
        select(func.max(LogCosignature.size)).where(LogCosignature.witness == witness, LogCosignature.size <= up_to)
    )
    return 0 if size is None else int(size)
