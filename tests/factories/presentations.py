"""A world for 亮证 tests: the licence world plus a citizen and a company
holding licences, a counter department with the redeem scope, and a fresh
use-log checkpoint (granted uses are refused without one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from exchange.auditlog import log_origin, publish_checkpoint
from identity.holder_auth import HolderAuthority
from tests.factories.catalog import CITY_SAMR, COUNTY_CENTRE, MATTER
from tests.factories.licences import (
    KEY_SECRET,
    REGISTRY_ID,
    RESIDENCE_PERMIT,
    build_world,
    business_licence_body,
    citizen_id,
    company_uscc,
    token_headers,
    trust_store,
)

CITIZEN = citizen_id("35010219900101123")
OTHER_CITIZEN = citizen_id("35010219850505432")
PROXY = citizen_id("35010219600303111")
PURPOSE = "开餐馆一件事：核验营业执照"


def holder_auth(app, *, code: str, code_type: str = "111", name: str = "张三丰", operator_name: str | None = None) -> dict:
    """A holder session token, made by the app's own holder authority."""
    authority = app.state.services.find(HolderAuthority)
    principal = authority.new_principal(holder_code=code, holder_code_type=code_type, name=name, auth_method="dev",
                                        operator_name=operator_name)
    return {"Authorization": f"Bearer {authority.issue(principal=principal)}"}


def residence_body(holder_code: str = CITIZEN, **overrides) -> dict:
    body = {
        "type_code": RESIDENCE_PERMIT,
        "holder": {"name": "张三丰", "code": holder_code, "code_type": "111"},
        "face": {"address": "福州市鼓楼区五四路100号", "floor_area": 88.5, "moved_in": "2020-06-01"},
        "valid_from": "2025-01-01",
        "valid_until": "2035-12-31",
    }
    body.update(overrides)
    return body


def publish_log(session: Session) -> None:
    publish_checkpoint(session=session, key_secret=KEY_SECRET, origin=log_origin(REGISTRY_ID))
    session.commit()


@dataclass
class World:
    client: object
    app: object
    session: Session
    anchors: object
    city: dict
    counter: dict
    citizen: dict
    company: dict
    residence: dict = field(default_factory=dict)
    business: dict = field(default_factory=dict)

    def issue(self, body: dict) -> dict:
        response = self.client.post("/api/v1/licences", json=body, headers=self.city)
        assert response.status_code == 201, response.text
        return response.json()

    def present(self, identifiers, *, disclosure: str = "full", headers: dict | None = None, **extra):
        return self.client.post("/api/v1/presentations", headers=headers or self.citizen,
                                json={"licences": list(identifiers), "disclosure": disclosure, **extra})

    def code(self, identifier: str | None = None, **kwargs) -> str:
        response = self.present([identifier or self.residence["identifier"]], **kwargs)
        assert response.status_code == 201, response.text
        return response.json()["qr_text"]

    def redeem(self, qr_text: str, *, headers: dict | None = None, **overrides):
        body = {"qr_text": qr_text, "operator_id": "clerk-7", "matter_code": MATTER, "purpose": PURPOSE,
                "case_number": "CASE-2025-001"}
        body.update(overrides)
        return self.client.post("/api/v1/presentations/redeem", json=body, headers=headers or self.counter)

    def trust_store(self):
        return trust_store(self.client, self.anchors)


def build(client, app, session: Session, *, log: bool = True) -> World:
    anchors, _seal = build_world(session)
    world = World(
        client=client, app=app, session=session, anchors=anchors,
        city=token_headers(client, session, CITY_SAMR),
        counter=token_headers(client, session, COUNTY_CENTRE, scopes=("presentation:redeem",)),
        citizen=holder_auth(app, code=CITIZEN),
        company=holder_auth(app, code=company_uscc(), code_type="001", name="福州示例餐饮有限公司",
                            operator_name="张三丰"),
    )
    world.residence = world.issue(residence_body())
    world.business = world.issue(business_licence_body())
    if log:
        publish_log(session)
    return world
