"""The world the exchange tests run in: the shipped demo catalog (with the
开餐馆一件事 matter), seals for two issuers, department clients, holders,
a published log checkpoint, and the provincial market regulator's
enterprise register as a real HTTP server on loopback.

The fixtures that build it (`world_connection`, `world`) live in
tests/exchange/conftest.py; modules marked `exchange_world` run in it.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from adapters.sources import BindingRegistry
from catalog.service import document
from exchange.auditlog import publish_checkpoint
from identity import clients
from identity.codes import citizen_id_check_character, uscc_check_character
from identity.holder_auth import HolderAuthority, HolderPrincipal
from registry.setup import ensure_signing_anchors
from signing import service as signing_service
from signing.picture import draw_round_seal
from tests.adapters import loopback
from tests.factories.settings import TEST_SECRET

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "certhub" / "demo" / "catalog.yaml"
KEY_SECRET = TEST_SECRET.encode()
ORIGIN = "registry.test/authorized-use-log"

RESTAURANT = "11350102360444289T9900001000"  # 开餐馆一件事
COUNTER = "11350102360444289T"  # 鼓楼区行政服务中心 (综窗): the consumer
GULOU_SAMR = "113501028147087619"  # 鼓楼区市场监督管理局: issues 营业执照 and 食品经营许可证
GULOU_POLICE = "11350102724606083F"  # 公安鼓楼分局: issues 居民身份证
PROVINCE_SAMR = "113500007574011216"  # provides 企业登记信息 (unconditional)
CITY_SAMR = "113501000308762732"  # 福州市市场监督管理局: the enforcement department
PLATFORM = "11350000899308125J"  # catalog administrator
PROVINCE_POLICE = "11350000947751480D"  # provides 犯罪记录信息 (not shared)

BUSINESS_LICENCE = "11100000032316376T001"
FOOD_LICENCE = "11100000032316376T002"
ID_CARD = "11100000175689532F001"
FIRE_CHECK = "11100000471247392U001"
ENTERPRISE_DATA = "102001/000001"
PROPERTY_DATA = "303001001/000001"
CRIMINAL_RECORD = "306001/000001"

SEAL_PERIOD = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC))


def _uscc(first17: str) -> str:
    return first17 + uscc_check_character(first17)


def _citizen(first17: str) -> str:
    return first17 + citizen_id_check_character(first17)


COMPANY = _uscc("91350102MA8XYW123")  # 福州示例餐饮有限公司
OWNER = _citizen("35010219850301123")  # its legal representative, 张三丰
OTHER_COMPANY = _uscc("91350102MA8XYW456")

ENTERPRISE_FIELDS = ["uscc", "name", "company_type", "legal_representative", "registered_capital",
                     "established_date", "domicile", "registration_status", "registration_authority"]


@functools.cache
def _demo() -> dict:
    return yaml.safe_load(DEMO_CATALOG.read_bytes())


@functools.cache
def world_catalog() -> dict:
    """The part of the demo catalog the exchange tests need (the whole one
    takes a second to load): the 开餐馆一件事 matter, what it names, the
    not-shared criminal record, and every department they reach."""
    demo = _demo()
    matter = next(m for m in demo["matters"] if m["code"] == RESTAURANT)
    named = {m["satisfied_by"].get("code") for m in matter["materials"]} | {CRIMINAL_RECORD}
    types = [t for t in demo["licence_types"] if t["code"] in named]
    type_codes = {t["code"] for t in types}
    for licence_type in types:
        licence_type["dependents"] = [d for d in licence_type["dependents"] if d in type_codes]
    data = [d for d in demo["data_items"] if d["code"] in named]
    wanted = {matter["department"], COUNTER, CITY_SAMR, PLATFORM} | {d["provider"] for d in data}
    wanted |= {code for t in types for code in t["issuers"]}
    by_code = {d["code"]: d for d in demo["departments"]}
    for code in list(wanted):
        while by_code[code].get("parent"):
            code = by_code[code]["parent"]
            wanted.add(code)
    return {"version": 1, "departments": [d for d in demo["departments"] if d["code"] in wanted],
            "licence_types": types, "data_items": data, "matters": [matter]}


@functools.cache
def _seal_picture(name: str) -> bytes:
    return draw_round_seal(organization_name=name, seal_type="电子证照专用章")


def load_world(session) -> None:
    """The catalog, signing anchors, seals for the two issuers, a checkpoint; committed."""
    document.load(session=session, document=document.parse_mapping(copy.deepcopy(world_catalog())))
    ensure_signing_anchors(session=session, key_secret=KEY_SECRET, maker_name="福建省电子印章制作中心")
    for owner, name, types in ((GULOU_SAMR, "福州市鼓楼区市场监督管理局", [BUSINESS_LICENCE, FOOD_LICENCE]),
                               (GULOU_POLICE, "福州市公安局鼓楼分局", [ID_CARD])):
        signing_service.create_seal(session=session, owner_department_code=owner, department_name=name,
                                    seal_type="电子证照专用章", licence_type_codes=types,
                                    valid_from=SEAL_PERIOD[0], valid_to=SEAL_PERIOD[1], key_secret=KEY_SECRET,
                                    picture_png=_seal_picture(name))
    publish_checkpoint(session=session, key_secret=KEY_SECRET, origin=ORIGIN)
    session.commit()


def department(client, session, code: str, *scopes: str, operator: str = "clerk-01") -> dict:
    """Headers of a department system: a fresh client's bearer token and the operator."""
    new = clients.create(session=session, department_code=code, name="test system", scopes=list(scopes))
    session.commit()
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(new.client_id, new.client_secret)).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "X-Operator-Id": operator}


def holder(app, code: str, code_type: str, name: str) -> dict:
    principal = HolderPrincipal(holder_code=code, holder_code_type=code_type, name=name, auth_method="dev",
                                session_id=f"s-{code[-4:]}")
    return {"Authorization": f"Bearer {app.state.services.find(HolderAuthority).issue(principal=principal)}"}


def issue(client, headers, body: dict) -> dict:
    response = client.post("/api/v1/licences", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def business_licence(code: str = COMPANY) -> dict:
    return {
        "type_code": BUSINESS_LICENCE,
        "holder": {"name": "福州示例餐饮有限公司", "code": code, "code_type": "001"},
        "face": {"uscc": code, "name": "福州示例餐饮有限公司", "company_type": "有限责任公司（自然人独资）",
                 "legal_representative": "张三丰", "business_scope": "餐饮服务", "established_date": "2024-05-01",
                 "domicile": "福建省福州市鼓楼区五四路100号", "registration_authority": "福州市鼓楼区市场监督管理局",
                 "registration_date": "2024-05-01"},
    }


def food_licence(code: str = COMPANY) -> dict:
    return {
        "type_code": FOOD_LICENCE,
        "holder": {"name": "福州示例餐饮有限公司", "code": code, "code_type": "001"},
        "face": {"operator_name": "福州示例餐饮有限公司", "uscc": code, "legal_representative": "张三丰",
                 "domicile": "福建省福州市鼓楼区五四路100号", "premises": "福建省福州市鼓楼区五四路100号一层",
                 "business_format": "餐饮服务经营者", "business_items": "热食类食品制售",
                 "licence_number": "JY23501020000001", "valid_to": "2029-04-30",
                 "supervising_agency": "鼓楼区市场监督管理局东街所", "complaint_phone": "12315",
                 "issuing_authority": "福州市鼓楼区市场监督管理局", "issue_date": "2024-05-01"},
    }


def id_card(code: str = OWNER) -> dict:
    return {
        "type_code": ID_CARD,
        "holder": {"name": "张三丰", "code": code, "code_type": "111"},
        "face": {"name": "张三丰", "sex": "男", "ethnicity": "汉", "birth_date": "1985-03-01",
                 "address": "福建省福州市鼓楼区五四路100号", "id_number": code,
                 "issuing_authority": "福州市公安局鼓楼分局", "validity_period": "2020.01.01-2040.01.01",
                 "photo": "iVBORw0KGgo="},
        "valid_from": "2020-01-01", "valid_until": "2040-01-01",
    }


def enterprise_record(code: str) -> dict:
    return {"data": {"uscc": code, "name": "福州示例餐饮有限公司", "company_type": "有限责任公司",
                     "legal_representative": "张三丰", "registered_capital": "50万元人民币",
                     "established_date": "2024-05-01", "domicile": "福建省福州市鼓楼区五四路100号",
                     "registration_status": "存续（在营、开业、在册）", "registration_authority": "福州市鼓楼区市场监督管理局"}}


def enterprise_register():
    """The province's enterprise register on loopback: known companies, 404 for others."""
    running = loopback.start()

    def answer(handler):
        code = handler.path.rsplit("/", 1)[-1]
        if code in (COMPANY, OTHER_COMPANY):
            handler.reply(200, json.dumps(enterprise_record(code), ensure_ascii=False).encode())
        else:
            handler.reply(404, b'{"error":"not found"}')

    running.routes["/enterprises"] = answer
    return running


def bindings_for(base_url: str) -> BindingRegistry:
    return BindingRegistry.from_mapping({"http": [{
        "name": "fj_amr_enterprise",
        "url": base_url + "/enterprises/{subject}",
        "records": "/data",
        "fields": {key: f"/{key}" for key in ENTERPRISE_FIELDS},
        "timeouts": {"connect": 1, "read": 2, "deadline": 3},
        "retries": {"attempts": 1},
        "circuit": {"failure_threshold": 100, "cooldown": 1},
    }]}, environ={})


@dataclass
class World:
    counter: dict  # 综窗 (exchange:query)
    gulou_samr: dict  # issuer and provider (licence:issue, exchange:provide)
    gulou_police: dict
    city_samr: dict  # enforcement (exchange:query)
    admin: dict  # catalog:admin
    register: loopback.Running


WORLD_CLIENTS = {  # name: department, scopes, operator
    "counter": (COUNTER, ["exchange:query"], "clerk-07"),
    "gulou_samr": (GULOU_SAMR, ["licence:issue", "exchange:provide"], "samr-02"),
    "gulou_police": (GULOU_POLICE, ["licence:issue", "exchange:provide"], "police-03"),
    "city_samr": (CITY_SAMR, ["exchange:query"], "inspector-9"),
    "admin": (PLATFORM, ["catalog:admin"], "admin-1"),
}


def apply(client, headers, item: str, *, fields: list[str], matters=(RESTAURANT,), provider=None,
          clear_fields=(), valid_until=None, reason="开餐馆一件事免提交营业执照") -> dict:
    body = {"item": item, "matters": list(matters), "fields": fields, "clear_fields": list(clear_fields),
            "reason": reason}
    if provider:
        body["provider"] = provider
    if valid_until:
        body["valid_until"] = valid_until
    response = client.post("/api/v1/exchange/agreements", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def decide(client, headers, agreement_id: int, **body) -> dict:
    body.setdefault("decision", "approve")
    response = client.post(f"/api/v1/exchange/agreements/{agreement_id}/decision", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def consent(client, headers, department_code: str, items: list[str], matter=RESTAURANT, **extra) -> dict:
    response = client.post("/api/v1/holders/me/consents", json={"department": department_code, "matter": matter,
                                                                "items": items, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def query(client, headers, subject: str, subject_type: str, items: list, matter=RESTAURANT, **extra):
    body = {"subject": {"code": subject, "type": subject_type}, "items": items, "matter": matter,
            "purpose": "开餐馆一件事：核验经营者证照", "case_number": "GL-2025-000123", **extra}
    return client.post("/api/v1/exchange/query", json=body, headers=headers)


def results_by_item(body: dict) -> dict:
    return {r["item"]: r for r in body["results"]}
