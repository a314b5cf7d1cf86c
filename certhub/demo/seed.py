"""Prepare the demo: schema, the shipped catalog, a demo API client, and
demo holders with licences in every status (holders.yaml)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import LicenceType, LicenceTypeIssuer
from catalog.service import departments, document
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from certhub.settings import Settings
from identity import clients
from identity.codes import citizen_id_check_character, uscc_check_character
from identity.models import ApiClient
from identity.scopes import KNOWN_SCOPES
from registry.errors import ValidityEnded
from registry.models import IdempotencyKey, Licence
from registry.service import issue, lifecycle
from registry.service.authority import Actor
from registry.service.records import china_date
from registry.setup import ensure_signing_anchors
from signing import service as signing_service
from signing.algorithms import Algorithm
from signing.encoding import b64url_encode
from signing.statuses import KeyStatus, SealStatus
from storage.base import utcnow

CATALOG_FILE = Path(__file__).parent / "catalog.yaml"
HOLDERS_FILE = Path(__file__).parent / "holders.yaml"
DEMO_OPERATOR = "demo-seed"
DEMO_CLIENT_NAME = "演示平台管理客户端 (demo platform client)"
DEMO_ISSUER_CLIENT_NAME = "演示发证业务系统 (demo issuing client)"


@dataclass(frozen=True)
class DemoHolder:
    """A demo holder to sign in as with the demo-only development login."""

    code: str
    code_type: str
    name: str


@dataclass(frozen=True)
class DemoIssuer:
    """A client of a department that issues licences: a client acts as its
    own department, and only an issuing department may issue (the platform
    client's department issues nothing)."""

    client_id: str
    client_secret: str
    department_code: str
    department_name: str
    type_names: tuple[str, ...]


@dataclass(frozen=True)
class DemoInfo:
    summary: str
    client_id: str
    client_secret: str
    holder: DemoHolder | None = None
    issuer: DemoIssuer | None = None
    root_public_key_b64url: str = ""  # DER SubjectPublicKeyInfo, what verifiers pin (--root-key)


def prepare_demo(settings: Settings) -> DemoInfo:
    engine = create_db_engine(settings.effective_database_url, run_jobs=True)
    try:
        upgrade(engine)
        session = create_sessionmaker(engine)()
        with session, session.begin():
            parsed = document.parse_yaml(CATALOG_FILE.read_bytes())
            report = document.load(session=session, document=parsed)
            client = _fresh_demo_client(session=session, platform=parsed.departments[0].code)
            issuer = _fresh_issuer_client(session=session)
            key_secret = settings.secret_bytes()
            anchors = ensure_signing_anchors(session=session, key_secret=key_secret,
                                             maker_name="福建省电子印章制作中心")
            seals = _seal_every_issuer(session=session, key_secret=key_secret)
            signer = issue.Signer(registry_id=settings.registry_id, key_secret=key_secret)
            licences, holder = _seed_holders(session=session, signer=signer)
        summary = f"{report.summary()}; seals: {seals} new; demo licences: {licences} new"
        root_key = b64url_encode(base64.b64decode(anchors.root_public_key_der_b64))
        return DemoInfo(summary=summary, client_id=client.client_id, client_secret=client.client_secret,
                        holder=holder, issuer=issuer, root_public_key_b64url=root_key)
    finally:
        engine.dispose()


DEMO_SEAL_VALIDITY = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC))


# Each issuing department holds two 电子证照专用章, one per document format's algorithm: ES256
# (the PAdES signature of the PDF layout: PDF readers verify no SM2) and SM2 (the GB/T 38540 签章
# of the OFD layout, SM2 with SM3 only). The SM2 seal is made last, so it is the department's
# default seal for sealing licences (the newest e-licence seal; registry.service.authority).
DEMO_SEAL_ALGORITHMS = (Algorithm.ES256, Algorithm.SM2)


def _seal_every_issuer(*, session: Session, key_secret: bytes) -> int:
    """The demo seals each department that issues licences lacks, drawn
    automatically, for the types it issues; seals it has are kept."""
    issued: dict[str, list[str]] = {}
    for row in session.scalars(select(LicenceTypeIssuer).order_by(LicenceTypeIssuer.id)):
        issued.setdefault(row.department_code, []).append(row.type_code)
    created = 0
    for code, type_codes in issued.items():
        held = {_current_algorithm(seal) for seal in signing_service.list_seals(
            session=session, owner_department_code=code, status=SealStatus.ACTIVE)}
        department = departments.get_or_raise(session=session, code=code)
        for algorithm in DEMO_SEAL_ALGORITHMS:
            if algorithm in held:
                continue
            signing_service.create_seal(
                session=session,
                owner_department_code=code,
                department_name=department.name,
                seal_type="电子证照专用章",
                licence_type_codes=type_codes,
                valid_from=DEMO_SEAL_VALIDITY[0],
                valid_to=DEMO_SEAL_VALIDITY[1],
                key_secret=key_secret,
                algorithm=algorithm,
            )
            created += 1
    return created


def _current_algorithm(seal) -> str | None:
    current = next((key for key in reversed(seal.keys) if key.status == KeyStatus.ACTIVE), None)
    return None if current is None else str(current.algorithm)


def _fresh_demo_client(*, session: Session, platform: str) -> clients.NewClient:
    """A new secret at every start: the demo prints working credentials
    without ever keeping a known secret in the database."""
    for old in session.scalars(select(ApiClient).where(ApiClient.name == DEMO_CLIENT_NAME)):
        old.active = False
    return clients.create(session=session, department_code=platform, name=DEMO_CLIENT_NAME, scopes=list(KNOWN_SCOPES))


def _fresh_issuer_client(*, session: Session) -> DemoIssuer | None:
    """A client of the first department that issues licences (the catalog's
    first issuer row), with a new secret at every start like the platform's."""
    for old in session.scalars(select(ApiClient).where(ApiClient.name == DEMO_ISSUER_CLIENT_NAME)):
        old.active = False
    first = session.scalar(select(LicenceTypeIssuer).order_by(LicenceTypeIssuer.id).limit(1))
    if first is None:
        return None
    code = first.department_code
    types = session.execute(select(LicenceType.name).join(LicenceTypeIssuer,
                                                          LicenceTypeIssuer.type_code == LicenceType.code)
                            .where(LicenceTypeIssuer.department_code == code, LicenceType.is_current.is_(True))
                            .order_by(LicenceTypeIssuer.id))
    new = clients.create(session=session, department_code=code, name=DEMO_ISSUER_CLIENT_NAME,
                         scopes=list(KNOWN_SCOPES))
    return DemoIssuer(client_id=new.client_id, client_secret=new.client_secret, department_code=code,
                      department_name=departments.get_or_raise(session=session, code=code).name,
                      type_names=tuple(dict.fromkeys(types.scalars())))


def holder_code(entry: dict) -> str:
    """A demo holder's code: the GB 11643 or GB 32100 check character added."""
    first17 = entry["code_first17"]
    if entry["code_type"] == "111":
        return first17 + citizen_id_check_character(first17)
    return first17 + uscc_check_character(first17)


def _seed_holders(*, session: Session, signer: issue.Signer) -> tuple[int, DemoHolder | None]:
    """Issue each demo licence once (its key is the idempotency key), apply
    what happens to it next, then run the expiry job. Returns how many
    licences were issued and the holder the banner offers for the wallet."""
    data = yaml.safe_load(HOLDERS_FILE.read_text(encoding="utf-8"))
    today = china_date(utcnow())
    created, login = 0, None
    for entry in data["holders"]:
        code = holder_code(entry)
        if entry.get("wallet_login"):
            login = DemoHolder(code=code, code_type=entry["code_type"], name=entry["name"])
        for spec in entry["licences"]:
            key = f"demo:{spec['key']}"
            if session.scalar(select(IdempotencyKey.id).where(IdempotencyKey.department_code == spec["issuer"],
                                                              IdempotencyKey.key == key)):
                continue
            actor = Actor(department_code=spec["issuer"], operator=DEMO_OPERATOR)
            request = _issue_request(entry, spec, code=code, today=today)
            try:
                with session.begin_nested():
                    licence = issue.issue(session=session, actor=actor, request=request, signer=signer, idempotency_key=key)
            except ValidityEnded:
                # Already past its validity: issued while it was valid, on its first day (or the demo seals'
                # first, 09:00 China Standard Time); the expiry job below then expires it, as it would have.
                first_day = max(request.valid_from, DEMO_SEAL_VALIDITY[0].date())
                licence = issue.issue(session=session, actor=actor, request=request, signer=signer, idempotency_key=key,
                                      now=datetime.combine(first_day, time(1, 0), tzinfo=UTC))
            _what_happens_next(session, licence=licence, then=spec.get("then") or {}, actor=actor, signer=signer)
            created += 1
    lifecycle.expire_due(session=session, signer=signer)
    return created, login


def _issue_request(entry: dict, spec: dict, *, code: str, today: date) -> issue.IssueRequest:
    if "valid_from_days_ago" in spec:
        valid_from = today - timedelta(days=int(spec["valid_from_days_ago"]))
    else:
        valid_from = date.fromisoformat(spec["valid_from"])
    valid_until = date.fromisoformat(spec["valid_until"]) if "valid_until" in spec else None
    placeholders = {"$holder_code": code, "$valid_from": valid_from.isoformat()}
    face = {k: placeholders.get(v, v) if isinstance(v, str) else v for k, v in spec["face"].items()}
    return issue.IssueRequest(type_code=spec["type"], holder_name=entry["name"], holder_code=code,
                              holder_code_type=entry["code_type"], face=face, valid_from=valid_from,
                              valid_until=valid_until)


def _what_happens_next(session: Session, *, licence: Licence, then: dict, actor: Actor, signer: issue.Signer) -> None:
    identifier = lifecycle.current_version(session=session, licence=licence).identifier
    if "change" in then:
        lifecycle.change(session=session, actor=actor, identifier=identifier, face=then["change"]["face"],
                         reason=then["change"].get("reason"), signer=signer)
    if "suspend" in then:
        lifecycle.suspend(session=session, actor=actor, identifier=identifier, reason=then["suspend"], signer=signer)
    if "revoke" in then:
        lifecycle.revoke(session=session, actor=actor, identifier=identifier, reason=then["revoke"], signer=signer)
