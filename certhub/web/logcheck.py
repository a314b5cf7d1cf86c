"""The auditor console's "verify the log" action.

It runs the very verifier ``certhub audit verify`` runs
(``signing.transparency.verifier.verify_log``), over this server's own log
as it publishes it under ``/log/`` (checkpoint, hash tiles, entry bundles):
the source below reads the same rows the ``/log/`` routes serve, so the
check is the one an outside auditor would make over HTTP, without the
server calling itself.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from exchange.auditlog.checkpoints import verifier_key
from exchange.auditlog.config import LogConfig
from exchange.auditlog.models import LogEntry, LogTile
from exchange.auditlog.witnessing import LogWitnesses, served_checkpoint
from identity.deps import require_scopes
from signing.transparency import BundleCoord, LogVerificationError, MalformedError, encode_entry_bundle, parse_path
from signing.transparency.cosignature import WitnessPolicy
from signing.transparency.sources import CHECKPOINT_PATH
from signing.transparency.verifier import VerificationReport, verify_log
from wiring import optional_service, service

router = APIRouter(prefix="/web/api", tags=["web pages"])


class DatabaseLogSource:
    """A ``LogSource`` over this server's log tables, path for path what
    ``exchange.auditlog.log_api`` serves. One short session per fetch: the
    verifier fetches from several threads."""

    def __init__(self, sessions: sessionmaker[Session], *, witness_threshold: int = 0) -> None:
        self._sessions = sessions
        # The checkpoint is the one /log/checkpoint serves: the newest this many witnesses cosigned.
        self._witness_threshold = witness_threshold

    def describe(self) -> str:
        return "this server's log (/log/)"

    def fetch(self, path: str, *, max_bytes: int) -> bytes | None:
        with self._sessions() as session:
            data = self._read(session, path)
        return None if data is None else data[: max_bytes + 1]

    def _read(self, session: Session, path: str) -> bytes | None:
        if path == CHECKPOINT_PATH:
            served = served_checkpoint(session=session, threshold=self._witness_threshold)
            return None if served is None else bytes(served.note)
        try:
            coord = parse_path(path)
        except MalformedError as error:
            raise LogVerificationError(f"refusing to fetch {path!r}: {error}", code="fetch_failed", path=path) from None
        if isinstance(coord, BundleCoord):
            entries = session.scalars(
                select(LogEntry.entry)
                .where(LogEntry.leaf_index >= coord.first_leaf, LogEntry.leaf_index < coord.first_leaf + coord.width)
                .order_by(LogEntry.leaf_index)
            ).all()
            return encode_entry_bundle([bytes(entry) for entry in entries]) if entries else None
        data = session.scalar(
            select(LogTile.data).where(LogTile.level == coord.level, LogTile.tile_index == coord.index)
        )
        if data is None or len(data) < coord.byte_length:
            return None
        return bytes(data[: coord.byte_length])


class VerifyLogRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # An auditor should bring the verifier key obtained out of band; without
    # one, the key this server publishes at /log/verifier-key is used (and
    # the answer says so).
    key: Annotated[str | None, Field(min_length=1, max_length=512)] = None
    entries: bool = True
    # The witnesses' cosignature/v1 vkeys the auditor trusts, and how many must
    # have cosigned (default: all). Without them, the witnesses this server is
    # configured with are required (and the answer says so).
    witnesses: Annotated[list[Annotated[str, Field(min_length=1, max_length=512)]] | None,
                         Field(max_length=31)] = None
    witness_quorum: Annotated[int | None, Field(ge=0, le=31)] = None


def _report_json(report: VerificationReport, *, key: str, key_source: str, witness_source: str | None) -> dict:
    return {
        "cosigned_by": list(report.cosigned_by),
        "witness_source": witness_source,
        "ok": True,
        "origin": report.origin,
        "size": report.size,
        "root_hash": base64.b64encode(report.root_hash).decode("ascii"),
        "signature_ok": True,
        "tiles_checked": report.tiles_checked,
        "entries_checked": report.entries_checked,
        "key": key,
        "key_source": key_source,
    }


def check_log(
    *, sessions: sessionmaker[Session], origin: str, key: str | None, entries: bool,
    witnesses: WitnessPolicy | None = None, server_witnesses: WitnessPolicy | None = None,
) -> dict:
    """``witnesses`` is the auditor's own policy; without one, ``server_witnesses`` (this server's) is required."""
    policy, witness_source = (witnesses, "given") if witnesses is not None else (server_witnesses, "server")
    if policy is None:
        witness_source = None
    key_source = "given"
    if key is None:
        with sessions() as session:
            key = verifier_key(session=session, origin=origin)
        key_source = "server"
    if key is None:
        return {"ok": False, "code": "missing_checkpoint", "message": "the log has no signing key yet", "path": None,
                "index": None}
    try:
        report = verify_log(
            source=DatabaseLogSource(sessions, witness_threshold=server_witnesses.threshold if server_witnesses else 0),
            verifier_key=key, check_entries=entries, origin=origin,
            # Database reads are quick; one fetcher keeps to one connection at a time.
            fetch_threads=1, witness_policy=policy,
        )
    except LogVerificationError as error:
        return {"ok": False, "code": error.code, "message": error.message, "path": error.path, "index": error.index,
                "key": key, "key_source": key_source, "witness_source": witness_source}
    return _report_json(report, key=key, key_source=key_source, witness_source=witness_source)


@router.post("/verify-log", dependencies=[Depends(require_scopes("audit:read"))])
async def verify_this_log(
    body: VerifyLogRequest, sessions: Annotated[sessionmaker, service(sessionmaker)],
    config: Annotated[LogConfig, service(LogConfig)],
    log_witnesses: Annotated[LogWitnesses | None, optional_service(LogWitnesses)],
) -> dict:
    """Verify the whole log like ``certhub audit verify --url <this server>/log``
    (with ``--witness``); a failed verification is an answer (``ok: false``),
    not an HTTP error."""
    try:
        given = None if not body.witnesses else WitnessPolicy.from_key_strings(
            body.witnesses, threshold=len(body.witnesses) if body.witness_quorum is None else body.witness_quorum)
    except MalformedError as error:
        return {"ok": False, "code": "bad_witness_policy", "message": str(error), "path": None, "index": None}
    return await run_in_threadpool(
        check_log,
        sessions=sessions,
        origin=config.origin,
        key=body.key,
        entries=body.entries,
        witnesses=given,
        server_witnesses=log_witnesses.policy if log_witnesses is not None else None,
    )
