"""The holder's feed of use notices: the light "what is new" a wallet polls
to tell the holder at once when someone used their data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from exchange.auditlog.notices import MAX_NOTICES, use_notices
from identity.deps import HolderDep
from storage.base import utcnow
from storage.sessions import SessionDep

router = APIRouter(prefix="/api/v1/holders/me", tags=["holders"])


class UseNotice(BaseModel):
    time: str
    kind: str
    department: str
    result: str
    licence_ids: list[str]
    data_items: list[str]
    matter: str | None
    purpose: str | None


class UseNotices(BaseModel):
    cursor: int = Field(description="pass as `after` next time; opaque, only ever grows")
    notices: list[UseNotice] = Field(description="uses by others since `after`, oldest first (the holder's own "
                                                 "views and uses still under a covert mandate's embargo are left "
                                                 "out); empty on the first call, which only returns where to start")


@router.get("/use-notices", response_model=UseNotices)
def my_use_notices(session: SessionDep, holder: HolderDep,
                   after: Annotated[int | None, Query(ge=0, le=2**62)] = None) -> UseNotices:
    """The wallet's subscription to uses of the holder's data: poll with the
    last cursor (on resume, or every half minute while open) and tell the
    holder of each new use. The same notices are pushed, encrypted, to the
    browsers the holder subscribed (exchange.webpush) where the platform
    allows a push service; the feed works everywhere (docs/web.md)."""
    cursor, found = use_notices(session=session, subject_code=holder.holder_code, after=after, now=utcnow(),
                                limit=MAX_NOTICES)
    return UseNotices(cursor=cursor, notices=[UseNotice(**notice) for notice in found])
