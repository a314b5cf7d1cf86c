"""A relying party (a hotel) registered with certhub: its organisation as a department, its API
client with the verify scope, its registration through the catalog API, and its bearer token."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.schemas import DepartmentIn
from catalog.service import departments
from identity import clients
from tests.factories.catalog import uscc
from tests.factories.clients import admin_headers

HOTEL = uscc("91350100MA8HTL000")
BANK = uscc("91350100MA8BNK000")
HOTEL_PURPOSE = "入住登记：核验住客身份与居住地"


@dataclass(frozen=True)
class RelyingPartyClient:
    client_id: str
    headers: dict


def register_relying_party(client, db_session, *, allowed: dict[str, list[str]], code: str = HOTEL,
                           name: str = "榕城大酒店", purpose: str = HOTEL_PURPOSE) -> RelyingPartyClient:
    departments.upsert(session=db_session, entry=DepartmentIn(code=code, name=name, region="350100", level="city"))
    new = clients.create(session=db_session, department_code=code, name=f"{name} front desk",
                         scopes=["presentation:verify"])
    db_session.commit()
    registered = client.put(f"/api/v1/catalog/relying-parties/{new.client_id}", headers=admin_headers(client, db_session),
                            json={"client_id": new.client_id, "name": name, "purpose": purpose, "allowed": allowed})
    assert registered.status_code == 200, registered.text
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(new.client_id, new.client_secret)).json()["access_token"]
    return RelyingPartyClient(client_id=new.client_id, headers={"Authorization": f"Bearer {token}"})


def dcql(vct: str, *names: str, query_id: str = "licence") -> dict:
    """SPEC: OpenID4VP 1.0 §6 — one dc+sd-jwt credential of type `vct`, the named top-level claims."""
    return {"credentials": [{"id": query_id, "format": "dc+sd-jwt", "meta": {"vct_values": [vct]},
                             "claims": [{"path": [name]} for name in names]}]}
