"""What a holder sees of the log: every use of their own data, each with an
inclusion proof against the signed checkpoint returned alongside, and what
each use disclosed with the salts of its commitments (their own data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from exchange.auditlog import answers, proofs, subjects
from exchange.auditlog.schemas import HolderAnswerCheckIn
from identity.deps import HolderDep
from registry.config import RegistryConfig
from storage.base import utcnow
from storage.sessions import SessionDep
from wiring import service

router = APIRouter(prefix="/api/v1/holders/me", tags=["holders"])


@router.get("/use-records")
def my_use_records(session: SessionDep, holder: HolderDep,
                   registry: Annotated[RegistryConfig, service(RegistryConfig)]) -> dict:
    """用证记录: who used the holder's licences or data, when, for which matter
    and on what legal basis — including supervision access and refusals —
    and, where the record commits to its answer, what went out
    (``disclosed``: the values and their salts), with the proof that the
    list is all of them up to the checkpoint; uses under a covert mandate's
    embargo are counted but not shown until it ends."""
    return proofs.records_for_subject(session=session, subject_code=holder.holder_code,
                                      tag_key=subjects.tag_key(registry.key_secret), now=utcnow(),
                                      hide_embargoed=True, with_disclosed=True).to_json()


@router.post("/use-records/check")
def check_my_answer(session: SessionDep, holder: HolderDep, body: HolderAnswerCheckIn) -> dict:
    """Whether an answer about the holder (the one kept for them, or one a
    department showed them) is what the record with ``leaf_hash`` committed to."""
    given = None if body.answer is None else answers.DisclosedValues(values=body.answer.values,
                                                                     salts=body.answer.salts)
    return answers.check_for_holder(session=session, subject_code=holder.holder_code, leaf_hash_b64=body.leaf_hash,
                                    now=utcnow(), given=given)
