"""What a holder sees of the log: every use of their own data, each with an
inclusion proof against the signed checkpoint returned alongside."""

from __future__ import annotations

from fastapi import APIRouter

from exchange.auditlog import proofs
from identity.deps import HolderDep
from storage.sessions import SessionDep

router = APIRouter(prefix="/api/v1/holders/me", tags=["holders"])


@router.get("/use-records")
def my_use_records(session: SessionDep, holder: HolderDep) -> dict:
    """用证记录: who used the holder's licences or data, when, for which matter
    and on what legal basis — including supervision access and refusals."""
    return proofs.records_for_subject(session=session, subject_code=holder.holder_code).to_json()
