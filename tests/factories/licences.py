"""A small world to issue licences in: the test catalog plus a citizen
licence type, signing anchors, a seal per issuer, and API clients."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache

from sqlalchemy.orm import Session

from adapters.imports.mapping import MappedRow
from catalog.service import document
from identity import clients
from identity.codes import citizen_id_check_character
from registry.models import Licence
from registry.service import issue, lifecycle
from registry.service.authority import Actor
from registry.setup import ensure_signing_anchors, root_public_key
from signing import service as signing_service
from signing.picture import draw_round_seal
from signing.truststore import TrustStore
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, DEFINER, FOOD_LICENCE, catalog_mapping
from tests.factories.settings import TEST_SECRET

REGISTRY_ID = "https://registry.test"
KEY_SECRET = TEST_SECRET.encode()
SEAL_START = datetime(2025, 1, 1, tzinfo=UTC)
SEAL_END = datetime(2035, 1, 1, tzinfo=UTC)
RESIDENCE_PERMIT = DEFINER + "003"
COMPANY = "91350100MA2XXXXXX"  # 17 characters: the check character is added below
SIGNER = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
CITY_IMPORTER = Actor(department_code=CITY_SAMR, operator="bulk-test")  # the city issuer's bulk import


def citizen_id(first17: str = "35010219900101123") -> str:
    return first17 + citizen_id_check_character(first17)


def world_mapping() -> dict:
    mapping = catalog_mapping()
    mapping["licence_types"].append({
        "code": RESIDENCE_PERMIT,
        "name": "居住证",
        "name_en": "Residence permit",
        "holder_kind": "natural_person",
        "issuers": [CITY_SAMR],
        "fields": [
            {"key": "address", "label": "居住地址", "label_en": "Address", "type": "string", "required": True,
             "max_length": 50},
            {"key": "floor_area", "label": "面积", "type": "number"},
            {"key": "moved_in", "label": "居住起始日期", "type": "date"},
        ],
        "validity": {"kind": "given"},
    })
    return mapping


@cache
def _seal_picture() -> bytes:
    # Drawing the seal takes most of a world's set-up; every test's seal may look the same.
    return draw_round_seal(organization_name="福州市市场监督管理局", seal_type="电子证照专用章")


def build_world(session: Session, *, key_secret: bytes = KEY_SECRET):
    """Load the catalog, create the anchors and a seal for the city issuer; commit.
    `key_secret`: the app's, when its keys live in a PKCS#11 token (a signing.hsm.KeySecret)."""
    document.load(session=session, document=document.parse_mapping(world_mapping()))
    anchors = ensure_signing_anchors(session=session, key_secret=key_secret, maker_name="福建省电子印章制作中心")
    seal = signing_service.create_seal(
        session=session, owner_department_code=CITY_SAMR, department_name="福州市市场监督管理局", seal_type="电子证照专用章",
        licence_type_codes=[BUSINESS_LICENCE, FOOD_LICENCE, RESIDENCE_PERMIT], valid_from=SEAL_START,
        valid_to=SEAL_END, key_secret=key_secret, picture_png=_seal_picture(),
    )
    session.commit()
    return anchors, seal


def token_headers(client, session: Session, department: str, scopes=("licence:issue", "licence:manage")) -> dict:
    new = clients.create(session=session, department_code=department, name="licence system", scopes=list(scopes))
    session.commit()
    token = client.post(
        "/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(new.client_id, new.client_secret)
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def company_uscc() -> str:
    from identity.codes import uscc_check_character

    return COMPANY + uscc_check_character(COMPANY)


def business_licence_body(**overrides) -> dict:
    code = company_uscc()
    body = {
        "type_code": BUSINESS_LICENCE,
        "holder": {"name": "福州示例餐饮有限公司", "code": code, "code_type": "001"},
        "face": {"uscc": code, "name": "福州示例餐饮有限公司", "legal_rep": "张三丰", "kind": "有限责任公司",
                 "founded": "2020-05-01"},
    }
    body.update(overrides)
    return body


def trust_store(client, anchors) -> TrustStore:
    store = TrustStore()
    store.pin_root(registry_id=REGISTRY_ID, root_public_key=root_public_key(anchors.root_public_key_der_b64))
    store.add_json(client.get("/.well-known/certhub/trust-list").content)
    return store


def publish_log_checkpoint(session: Session, *, key_secret: bytes = KEY_SECRET) -> None:
    """A fresh checkpoint of the authorized-use log: without one, every
    granted data use (downloads, holder reads) is refused (fail closed)."""
    from exchange.auditlog import log_origin, publish_checkpoint

    publish_checkpoint(session=session, key_secret=key_secret, origin=log_origin(REGISTRY_ID))
    session.commit()


def holder_headers(client, *, code: str, code_type: str = "111", name: str = "张三") -> dict:
    """A holder session through the demo-only development login (the app must be in demo mode)."""
    response = client.post("/api/v1/holders/dev-login",
                           json={"holder_code": code, "holder_code_type": code_type, "name": name,
                                 **({"operator_name": "王经办"} if code_type == "001" else {})})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['session_token']}"}



def issue_residence_permit_through_the_api(client, session: Session, *, holder_code: str) -> dict:
    """A 居住证 for 张三 (``holder_code``) issued by the city's client through the API, with a fresh
    log checkpoint so that the holder's reads are served; the licence as the API answered it."""
    city = token_headers(client, session, CITY_SAMR)
    body = {"type_code": RESIDENCE_PERMIT, "holder": {"name": "张三", "code": holder_code, "code_type": "111"},
            "face": {"address": "福州市鼓楼区五四路1号"}, "valid_from": "2025-01-01", "valid_until": "2035-12-31"}
    issued = client.post("/api/v1/licences", json=body, headers=city)
    assert issued.status_code == 201, issued.text
    publish_log_checkpoint(session)
    return issued.json()

def issue_licence(session) -> Licence:
    """A business licence issued below HTTP by the city issuer; committed."""
    body = business_licence_body()
    request = issue.IssueRequest(
        type_code=body["type_code"], holder_name=body["holder"]["name"], holder_code=body["holder"]["code"],
        holder_code_type=body["holder"]["code_type"], face=body["face"],
    )
    signer = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    licence = issue.issue(session=session, actor=Actor(department_code=CITY_SAMR, client_id="c", operator="op-1"),
                          request=request, signer=signer)
    session.commit()
    return licence


def revoke_licence(session, licence: Licence) -> None:
    signer = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    lifecycle.revoke(session=session, actor=Actor(department_code=CITY_SAMR, client_id="c", operator="op-1"),
                     identifier=licence.versions[-1].identifier, reason="虚假登记", signer=signer)
    session.commit()


def resident_row(ordinal: int, *, key: str | None = None, address: str = "福州市鼓楼区五四路1号", **overrides) -> MappedRow:
    """A row of a legacy residence-permit system, mapped, as the importer reads it."""
    fields = {
        "ordinal": ordinal, "row": ordinal + 1, "source_key": key or f"JZZ{ordinal:06d}",
        "holder_name": "张三", "holder_code": citizen_id(f"350102199001{ordinal % 28 + 1:02d}{ordinal % 1000:03d}"),
        "holder_code_type": "111", "valid_from": date(2025, 1, 1), "valid_until": date(2028, 1, 1),
        "face": {"address": address, "floor_area": 80},
    }
    fields.update(overrides)
    return MappedRow(**fields)
