"""Prepare the demo: schema, the shipped catalog, a demo API client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import ApiClient
from catalog.scopes import KNOWN_SCOPES
from catalog.service import clients, document
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from certhub.settings import Settings

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
        return DemoInfo(summary=report.summary(), client_id=client.client_id, client_secret=client.client_secret)
    finally:
        engine.dispose()


def _fresh_demo_client(*, session: Session, platform: str) -> clients.NewClient:
    """A new secret at every start: the demo prints working credentials
    without ever keeping a known secret in the database."""
    for old in session.scalars(select(ApiClient).where(ApiClient.name == DEMO_CLIENT_NAME)):
        old.active = False
    return clients.create(session=session, department_code=platform, name=DEMO_CLIENT_NAME, scopes=list(KNOWN_SCOPES))
