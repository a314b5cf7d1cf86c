"""Prepare the demo: schema, the shipped catalog, a demo API client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import ApiClient, LicenceTypeIssuer
from catalog.scopes import KNOWN_SCOPES
from catalog.service import clients, departments, document
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from certhub.settings import Settings
from registry.setup import ensure_signing_anchors
from signing import service as signing_service

CATALOG_FILE = Path(__file__).parent / "catalog.yaml"
DEMO_CLIENT_NAME = "演示平台管理客户端 (demo platform client)"


@dataclass(frozen=True)
class DemoInfo:
    summary: str
    client_id: str
    client_secret: str


def prepare_demo(settings: Settings) -> DemoInfo:
    engine = create_db_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        session = create_sessionmaker(engine)()
        with session, session.begin():
            parsed = document.parse_yaml(CATALOG_FILE.read_bytes())
            report = document.load(session=session, document=parsed)
            client = _fresh_demo_client(session=session, platform=parsed.departments[0].code)
            key_secret = settings.secret_bytes()
            ensure_signing_anchors(session=session, key_secret=key_secret, maker_name="福建省电子印章制作中心")
            seals = _seal_every_issuer(session=session, key_secret=key_secret)
        summary = f"{report.summary()}; seals: {seals} new"
        return DemoInfo(summary=summary, client_id=client.client_id, client_secret=client.client_secret)
    finally:
        engine.dispose()


DEMO_SEAL_VALIDITY = (datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2035, 1, 1, tzinfo=timezone.utc))


def _seal_every_issuer(*, session: Session, key_secret: bytes) -> int:
    """An 电子证照专用章 for each department that issues licences, drawn
    automatically, for the types it issues. Departments with a seal keep it."""
    issued: dict[str, list[str]] = {}
    for row in session.scalars(select(LicenceTypeIssuer).order_by(LicenceTypeIssuer.id)):
        issued.setdefault(row.department_code, []).append(row.type_code)
    created = 0
    for code, type_codes in issued.items():
        if signing_service.list_seals(session, owner_department_code=code):
            continue
        department = departments.get_or_raise(session=session, code=code)
        signing_service.create_seal(
            session,
            owner_department_code=code,
            department_name=department.name,
            seal_type="电子证照专用章",
            licence_type_codes=type_codes,
            valid_from=DEMO_SEAL_VALIDITY[0],
            valid_to=DEMO_SEAL_VALIDITY[1],
            key_secret=key_secret,
        )
        created += 1
    return created


def _fresh_demo_client(*, session: Session, platform: str) -> clients.NewClient:
    """A new secret at every start: the demo prints working credentials
    without ever keeping a known secret in the database."""
    for old in session.scalars(select(ApiClient).where(ApiClient.name == DEMO_CLIENT_NAME)):
        old.active = False
    return clients.create(session=session, department_code=platform, name=DEMO_CLIENT_NAME, scopes=list(KNOWN_SCOPES))
