"""The log's public face in the C2SP tlog-tiles URL layout under ``/log/``.

# SPEC: C2SP tlog-tiles — ``checkpoint``, ``tile/<L>/<N>[.p/<W>]`` and
# ``tile/entries/<N>[.p/<W>]``. Hashes and checkpoints are public: leaves are
# salted, so they reveal nothing. Entry bundles are personal data and are
# served only to callers holding ``audit:read``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import select

from catalog.access import UseLog
from exchange.auditlog.checkpoints import verifier_key, verifier_keys
from exchange.auditlog.config import LogConfig
from exchange.auditlog.errors import NotInLog
from exchange.auditlog.models import LogEntry, LogTile
from exchange.auditlog.recorder import UseRecorder
from exchange.auditlog.timestamps import newest_timestamped
from exchange.auditlog.witnessing import LogWitnesses, served_checkpoint
from identity.deps import require_scopes
from signing.transparency import BundleCoord, MalformedError, TileCoord, encode_entry_bundle, parse_path
from storage.sessions import ReadSessionDep, SessionDep
from wiring import Services, optional_service, service

router = APIRouter(prefix="/log", tags=["authorized-use log"])

_IMMUTABLE = "public, max-age=31536000, immutable"
# Partial tiles and checkpoints change as the log grows.
_SHORT = "no-cache"


def _parse(path: str) -> TileCoord | BundleCoord:
    try:
        return parse_path(path)
    except MalformedError as error:
        raise NotInLog(f"not a tile path: {error}", code="not_found") from None


def _binary(data: bytes, *, full: bool) -> Response:
    return Response(
        content=data,
        media_type="application/octet-stream",
        headers={"Cache-Control": _IMMUTABLE if full else _SHORT},
    )


@router.get("/checkpoint", response_class=PlainTextResponse)
def get_checkpoint(session: SessionDep,
                   witnesses: Annotated[LogWitnesses | None, optional_service(LogWitnesses)]) -> Response:
    """The newest checkpoint the log's witnesses cosigned (k of them), with their lines
    (exchange.auditlog.witnessing.served_checkpoint); without witnesses, the newest."""
    latest = served_checkpoint(session=session, threshold=witnesses.threshold if witnesses is not None else 0)
    if latest is None:
        raise NotInLog("no checkpoint has been published yet", code="not_found")
    return Response(content=bytes(latest.note), media_type="text/plain; charset=utf-8", headers={"Cache-Control": _SHORT})


@router.get("/timestamp")
def get_timestamp(session: SessionDep) -> Response:
    """The newest time-stamped checkpoint and the TSA's RFC 3161 TimeStampResp
    over its note text (signing.transparency.timestamps), as one JSON object:
    public, like the checkpoint; a verifier proves it consistent with the
    current checkpoint. 404 until the first time-stamp."""
    stamped = newest_timestamped(session=session)
    if stamped is None:
        raise NotInLog("no checkpoint has been time-stamped yet", code="not_found")
    return Response(content=stamped.to_json(), media_type="application/json", headers={"Cache-Control": _SHORT})


@router.get("/health")
def get_health(request: Request, session: SessionDep,
               witnesses: Annotated[LogWitnesses | None, optional_service(LogWitnesses)]) -> JSONResponse:
    """Public, no personal data: whether data is being served and why not,
    the last checkpoint's size and age, and how many records await
    sequencing. 200 while serving, 503 while the fail-closed rule holds."""
    services: Services = request.app.state.services
    recorder = services.find_optional(UseLog)
    if not isinstance(recorder, UseRecorder):
        body = {"status": "unavailable", "serving": False, "reason": "no authorized-use log is configured"}
        return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})
    health = recorder.health(session=session)
    body = health.to_json()
    # Whether the last checkpoint met the log's own witness policy: reported, never a reason to stop serving.
    body["witnessing"] = witnesses.to_json() if witnesses is not None else None
    return JSONResponse(body, status_code=200 if health.serving else 503, headers={"Cache-Control": "no-store"})


@router.get("/witnesses")
def get_witnesses(witnesses: Annotated[LogWitnesses | None, optional_service(LogWitnesses)]) -> JSONResponse:
    """The witnesses this log asks and its k: a convenience copy. Verifiers
    pin their own policy out of band; a log cannot vouch for its witnesses."""
    if witnesses is None:
        raise NotInLog("this log has no witnesses configured", code="not_found")
    body = witnesses.to_json()
    return JSONResponse({"threshold": body["threshold"], "witnesses": body["witnesses"]},
                        headers={"Cache-Control": _SHORT})


@router.get("/verifier-key", response_class=PlainTextResponse)
def get_verifier_key(session: SessionDep, log: Annotated[LogConfig, service(LogConfig)]) -> Response:
    """Convenience copy; auditors should also obtain the key out of band."""
    key = verifier_key(session=session, origin=log.origin)
    if key is None:
        raise NotInLog("the log has no signing key yet", code="not_found")
    return PlainTextResponse(key + "\n")


@router.get("/verifier-keys", response_class=PlainTextResponse)
def get_verifier_keys(session: SessionDep, log: Annotated[LogConfig, service(LogConfig)]) -> Response:
    """The key history, one verifier key string a line, oldest first, the
    active key last: checkpoints signed before a key rotation verify with a
    retired key (docs/operations.md "Key rotation")."""
    keys = verifier_keys(session=session, origin=log.origin)
    if not keys:
        raise NotInLog("the log has no signing key yet", code="not_found")
    return PlainTextResponse("".join(key + "\n" for key in keys))


@router.get("/tile/entries/{rest:path}", dependencies=[Depends(require_scopes("audit:read"))])
def get_entry_bundle(rest: str, session: ReadSessionDep) -> Response:
    coord = _parse(f"tile/entries/{rest}")
    assert isinstance(coord, BundleCoord)
    entries = session.scalars(
        select(LogEntry.entry)
        .where(LogEntry.leaf_index >= coord.first_leaf, LogEntry.leaf_index < coord.first_leaf + coord.width)
        .order_by(LogEntry.leaf_index)
    ).all()
    if not entries:
        raise NotInLog(f"{coord.path} is not in the log", code="not_found")
    # Served as stored, even if rows went missing: a verifier then names the
    # first leaf that does not match instead of just seeing a 404.
    response = _binary(encode_entry_bundle([bytes(entry) for entry in entries]), full=coord.is_full)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/tile/{level}/{rest:path}")
def get_tile(level: str, rest: str, session: ReadSessionDep) -> Response:
    coord = _parse(f"tile/{level}/{rest}")
    if not isinstance(coord, TileCoord):
        raise NotInLog("not a hash tile path", code="not_found")
    data = session.scalar(select(LogTile.data).where(LogTile.level == coord.level, LogTile.tile_index == coord.index))
    if data is None or len(data) < coord.byte_length:
        raise NotInLog(f"{coord.path} is not in the log", code="not_found")
    # A stored tile only grows: its first W hashes are the partial tile .p/W.
    return _binary(bytes(data[: coord.byte_length]), full=coord.is_full)
