import pytest

from catalog.service import document
from identity import clients
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, ENTERPRISE_DATA, MATTER, catalog_mapping


@pytest.fixture
def loaded(db_session):
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    db_session.commit()


def _token(client, db_session, scopes):
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="test system", scopes=scopes)
    db_session.commit()
    response = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": new.client_id, "client_secret": new.client_secret},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_public_reads(client, loaded):
    departments = client.get("/api/v1/catalog/departments").json()
    assert {d["name"] for d in departments} >= {"福州市市场监督管理局", "鼓楼区行政服务中心"}
    licence_type = client.get(f"/api/v1/catalog/licence-types/{BUSINESS_LICENCE}").json()
    assert licence_type["name"] == "营业执照" and licence_type["version"] == 1
    assert licence_type["issuers"] == [CITY_SAMR]
    assert client.get(f"/api/v1/catalog/data-items/{ENTERPRISE_DATA}").json()["sharing"] == {"attribute": "unconditional"}
    matter = client.get(f"/api/v1/catalog/matters/{MATTER}").json()
    assert [m["key"] for m in matter["materials"]] == ["business_licence", "enterprise", "fire", "lease"]
    assert "营业执照" in client.get("/api/v1/catalog/export").text


def test_unknown_entries_are_404_with_the_error_shape(client, loaded):
    response = client.get("/api/v1/catalog/matters/NOSUCHMATTER")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "matter NOSUCHMATTER not found"}


def test_writes_need_a_token(client, loaded):
    body = catalog_mapping()["departments"][1]
    response = client.put(f"/api/v1/catalog/departments/{body['code']}", json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_writes_need_the_admin_scope(client, db_session, loaded):
    token = _token(client, db_session, ["licence:issue"])
    body = catalog_mapping()["departments"][1]
    response = client.put(
        f"/api/v1/catalog/departments/{body['code']}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert "catalog:admin" in response.json()["message"]


def test_admin_updates_a_licence_type_creating_a_version(client, db_session, loaded):
    token = _token(client, db_session, ["catalog:admin"])
    body = catalog_mapping()["licence_types"][1]
    body["fields"].append({"key": "address", "label": "经营场所", "type": "string"})
    response = client.put(
        f"/api/v1/catalog/licence-types/{body['code']}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    versions = client.get(f"/api/v1/catalog/licence-types/{body['code']}/versions").json()
    assert [v["is_current"] for v in versions] == [False, True]


def test_admin_write_with_a_broken_reference_is_422(client, db_session, loaded):
    token = _token(client, db_session, ["catalog:admin"])
    body = catalog_mapping()["data_items"][0]
    body["provider"] = "11350100MB00000079"
    response = client.put(
        f"/api/v1/catalog/data-items/{body['code']}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (404, 422)
    assert response.json()["error"] in {"unknown_reference", "invalid_request"}


def test_token_endpoint_refuses_bad_credentials(client, db_session, loaded):
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="x", scopes=["catalog:admin"])
    db_session.commit()
    for secret in ["wrong", new.client_secret + "x"]:
        response = client.post(
            "/api/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": new.client_id, "client_secret": secret},
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"


def test_token_via_basic_auth_and_narrowed_scope(client, db_session, loaded):
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="x", scopes=["catalog:admin", "licence:issue"])
    db_session.commit()
    response = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": "licence:issue"},
        auth=(new.client_id, new.client_secret),
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "licence:issue"
    wider = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": "audit:read"},
        auth=(new.client_id, new.client_secret),
    )
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


@pytest.mark.slow
def test_unsupported_grant(client):
    response = client.post("/api/v1/oauth/token", data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_deactivated_client_cannot_get_tokens(client, db_session, loaded):
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="x", scopes=["catalog:admin"])
    clients.deactivate(session=db_session, client_id=new.client_id)
    db_session.commit()
    response = client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(new.client_id, new.client_secret),
    )
    assert response.status_code == 401


def test_tampered_or_foreign_tokens_are_refused(client, db_session, loaded):
    token = _token(client, db_session, ["catalog:admin"])
    header, payload, signature = token.split(".")
    # Change the first character: the last one carries 2 unused bits, so
    # changing it can leave the decoded signature as it was.
    forged = f"{header}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    body = catalog_mapping()["departments"][1]
    response = client.put(
        f"/api/v1/catalog/departments/{body['code']}", json=body, headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401


@pytest.mark.slow
def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/catalog/licence-types" in paths and "/api/v1/oauth/token" in paths


def test_matter_existence_check(db_session):
    from catalog.service import matters
    from tests.factories.catalog import MATTER

    assert matters.exists(session=db_session, code="no-such-matter") is False
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    assert matters.exists(session=db_session, code=MATTER) is True
