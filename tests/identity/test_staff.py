"""Staff identity: a real OpenID provider on loopback signs staff ID tokens
(staff id, department, roles); certhub opens a staff session of its own,
maps roles to scopes, refreshes it within a shift, ends it on sign-out, and
keeps it apart from holder sessions and department access tokens. The
department API takes a staff session, with the person as the operator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from certhub.app import create_app
from exchange.auditlog import LogEntry
from exchange.auditlog.records import parse_entry
from identity.client_assertions import operator_of
from identity.errors import AuthError, Forbidden
from identity.holder_auth import HolderAuthority
from identity.scopes import KNOWN_SCOPES
from identity.staff_auth import ROLE_SCOPES, STAFF_AUDIENCE, StaffAuthority, StaffPrincipal
from identity.tokens import TokenAuthority
from registry.presentations.models import Redemption
from storage.cache import InProcessCache
from tests.factories.catalog import CITY_SAMR, COUNTY_CENTRE, MATTER
from tests.factories.oidc import OidcProvider
from tests.factories.presentations import CITIZEN, PURPOSE, build
from tests.factories.settings import REGISTRY_ID, app_settings

STAFF_CLIENT = "certhub-staff-console"
CLERK = "clerk-0117"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    instance = OidcProvider(audience=STAFF_CLIENT, claims={
        "staff_id": CLERK, "department_code": COUNTY_CENTRE, "roles": ["clerk"], "name": "陈思远"})
    yield instance
    instance.close()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    # The browser is at the registry's public address: where the provider sends it back to.
    with TestClient(app, base_url=REGISTRY_ID) as test_client:
        yield test_client


@pytest.fixture
def settings(tmp_path, provider):
    # The holders' client at the same provider, as a province runs one provider for both.
    return app_settings(tmp_path, staff_oidc_issuer=provider.issuer, staff_oidc_audience=STAFF_CLIENT,
                        oidc_issuer=provider.issuer, oidc_audience="certhub-wallet")


def _sign_in(client, id_token: str, **extra):
    return client.post("/api/v1/staff/session", json={"id_token": id_token, **extra})


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _authority(app) -> StaffAuthority:
    return app.state.services.find(StaffAuthority)


def _session_for(app, *, roles=("clerk",), staff_id: str = CLERK, department: str = COUNTY_CENTRE) -> str:
    authority = _authority(app)
    principal = authority.new_principal(staff_id=staff_id, department_code=department, roles=list(roles),
                                        name="陈思远", auth_method="dev")
    return authority.issue(principal=principal)[0]


# --- signing in ------------------------------------------------------------


def test_a_staff_id_token_opens_a_short_lived_staff_session(client, provider):
    answer = _sign_in(client, provider.id_token())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    staff = body["staff"]
    assert (staff["staff_id"], staff["department_code"], staff["roles"]) == (CLERK, COUNTY_CENTRE, ["clerk"])
    assert staff["scopes"] == ["exchange:query", "presentation:redeem"]
    assert staff["name"] == "陈*远" and staff["auth_method"] == "oidc"  # masked: a counter screen is seen across the desk
    assert body["expires_in"] == 900 and body["token_type"] == "Bearer"
    token = body["session_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["typ"] == "staff+jwt"
    assert (claims["aud"], claims["iss"], claims["sub"], claims["dept"]) == (STAFF_AUDIENCE, REGISTRY_ID, CLERK,
                                                                             COUNTY_CENTRE)
    assert claims["exp"] - claims["iat"] == 900 and claims["sst"] == claims["iat"]
    assert staff["shift_ends_at"] == claims["sst"] + 12 * 3600
    me = client.get("/api/v1/staff/me", headers=_bearer(token)).json()
    assert me["staff_id"] == CLERK and me["session_id"] == staff["session_id"] == claims["sid"]


@pytest.mark.parametrize(("roles", "scopes"), [
    (["officer"], ["clients:manage", "exchange:provide", "exchange:query", "licence:dispute", "licence:issue", "licence:manage",
                   "seal:admin", "usage:read"]),
    (["auditor"], ["audit:read"]),
    (["clerk", "auditor"], ["audit:read", "exchange:query", "presentation:redeem"]),
    # Roles for other applications at the same provider are left aside; one role may come as a string.
    (["clerk", "hr-admin", "catalog:admin"], ["exchange:query", "presentation:redeem"]),
    ("auditor", ["audit:read"]),
])
def test_roles_map_to_the_scopes_that_exist(client, provider, roles, scopes):
    answer = _sign_in(client, provider.id_token(roles=roles))
    assert answer.status_code == 200, answer.text
    assert answer.json()["staff"]["scopes"] == scopes


def test_every_role_maps_to_known_scopes_and_never_to_platform_powers():
    for scopes in ROLE_SCOPES.values():
        assert scopes <= KNOWN_SCOPES.keys()
        assert not scopes & {"catalog:admin", "metrics:read"}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"roles": ["hr-admin"]}, "no certhub role among the staff member's roles"),
    ({"roles": None}, "ID token lacks the roles claim"),
    ({"staff_id": None}, "ID token lacks the staff_id claim"),
    ({"department_code": None}, "ID token lacks the department_code claim"),
    ({"department_code": "11350102MB0000003X"}, "department code is not a valid unified social credit code"),
    ({"staff_id": "clerk 0117; drop"}, "the staff id must be 1-64 letters"),
    ({"name": None}, "the staff member's name is required"),
    # A holder's ID token (the wallet's client at the same provider) never opens a staff session.
    ({"aud": "certhub-wallet"}, "ID token audience (aud) is not this registry's client id"),
])
def test_unacceptable_staff_id_tokens_are_refused_saying_why(client, provider, overrides, message):
    answer = _sign_in(client, provider.id_token(**overrides))
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_id_token" and message in answer.json()["message"]


def test_a_staff_id_token_opens_one_session_only(client, provider):
    token = provider.id_token()
    assert _sign_in(client, token).status_code == 200
    replay = _sign_in(client, token)
    assert replay.status_code == 401 and "already exchanged" in replay.json()["message"]


def test_without_a_staff_provider_the_oidc_sign_in_is_404(tmp_path, migrated_engine, session_factory, provider):
    app = create_app(app_settings(tmp_path), engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    with TestClient(app) as client:
        answer = _sign_in(client, provider.id_token())
    assert answer.status_code == 404 and answer.json()["error"] == "login_unavailable"


def test_staff_settings_come_together_and_use_another_client_than_holders(tmp_path):
    with pytest.raises(ValidationError, match="together"):
        app_settings(tmp_path, staff_oidc_issuer="https://idp.example.gov.cn")
    with pytest.raises(ValidationError, match="another client id than the holders"):
        app_settings(tmp_path, staff_oidc_issuer="https://idp.example.gov.cn", staff_oidc_audience="certhub",
                     oidc_issuer="https://idp.example.gov.cn", oidc_audience="certhub")
    with pytest.raises(ValidationError, match="https"):
        app_settings(tmp_path, staff_oidc_issuer="http://idp.example.gov.cn", staff_oidc_audience="staff")


# --- the pages' redirect sign-in: authorization code with PKCE ---------------


def _provider_round_trip(client, page: str = "counter") -> str:
    """The browser's way: to certhub's login, on to the provider's login page, back to the callback.
    Returns where the callback sends the browser."""
    start = client.get(f"/web/staff/login?page={page}", follow_redirects=False)
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    answer = httpx.get(authorize, follow_redirects=False)  # the provider signs the person in at once
    assert answer.status_code == 302, answer.text
    back = client.get(answer.headers["location"], follow_redirects=False)
    assert back.status_code == 303 and back.headers["cache-control"] == "no-store"
    return back.headers["location"]


def _fragment(location: str) -> dict:
    path, _, fragment = location.partition("#")
    return {"path": path, **{k: v[0] for k, v in parse_qs(fragment).items()}}


def test_the_code_flow_signs_the_person_in_with_pkce_state_and_nonce(app, client, provider, settings):
    provider.login_claims = {"staff_id": "clerk-2001", "roles": ["clerk"]}
    start = client.get("/web/staff/login?page=audit", follow_redirects=False)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["redirect_uri"] == [settings.registry_id + "/web/staff/callback"]
    assert start.headers["location"].startswith(provider.issuer + "/authorize?")
    assert {k: v[0] for k, v in query.items() if k in ("response_type", "client_id", "scope",
                                                         "code_challenge_method")} == {
        "response_type": "code", "client_id": STAFF_CLIENT, "scope": "openid", "code_challenge_method": "S256"}
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32 and len(query["code_challenge"][0]) == 43
    assert "httponly" in start.headers["set-cookie"].lower() and "samesite=lax" in start.headers["set-cookie"].lower()
    answer = httpx.get(start.headers["location"], follow_redirects=False)
    back = _fragment(client.get(answer.headers["location"], follow_redirects=False).headers["location"])
    assert back["path"] == "/audit" and back["expires_in"] == "900"
    principal = _authority(app).verify(back["staff_session"])
    assert (principal.staff_id, principal.auth_method, principal.roles) == ("clerk-2001", "oidc", frozenset({"clerk"}))
    # The code was redeemed with the verifier whose challenge went to the provider, and not by a client secret.
    [form] = provider.token_requests[-1:]
    assert form["client_id"] == STAFF_CLIENT and "client_secret" not in form and len(form["code_verifier"]) >= 43
    assert form["redirect_uri"] == settings.registry_id + "/web/staff/callback"


def test_the_redirect_uri_is_the_registered_one_whatever_host_a_request_names(client, settings):
    # A Host header is the caller's (or a proxy's) to choose; the address registered at the provider is not.
    start = client.get("/web/staff/login", headers={"Host": "attacker.example"}, follow_redirects=False)
    assert parse_qs(urlsplit(start.headers["location"]).query)["redirect_uri"] == [
        settings.registry_id + "/web/staff/callback"]


def test_a_callback_serves_once_and_only_the_browser_that_started_it(client, provider):
    provider.login_claims = {}
    start = client.get("/web/staff/login?page=counter", follow_redirects=False)
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    # Another browser (no login cookie) bringing this callback: refused, as login CSRF.
    with TestClient(client.app) as stranger:
        refused = stranger.get(callback, follow_redirects=False)
    assert _fragment(refused.headers["location"]) == {"path": "/counter", "staff_error": "login_expired"}
    # The state is spent: not even the right browser may use it now.
    again = client.get(callback, follow_redirects=False)
    assert _fragment(again.headers["location"])["staff_error"] == "login_expired"
    made_up = client.get("/web/staff/callback?state=made-up&code=x", follow_redirects=False)
    assert _fragment(made_up.headers["location"])["staff_error"] == "login_expired"


def test_the_code_flow_refuses_a_person_without_a_certhub_role(client, provider):
    provider.login_claims = {"roles": ["hr-admin"]}
    try:
        back = _fragment(_provider_round_trip(client))
    finally:
        provider.login_claims = {}
    assert back == {"path": "/counter", "staff_error": "login_refused"}


def test_a_login_the_provider_refused_comes_back_saying_so(client, provider):
    start = client.get("/web/staff/login?page=counter", follow_redirects=False)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    back = client.get(f"/web/staff/callback?state={state}&error=access_denied", follow_redirects=False)
    assert _fragment(back.headers["location"]) == {"path": "/counter", "staff_error": "login_refused"}


def test_without_a_staff_provider_the_redirect_sign_in_says_so(tmp_path, migrated_engine, session_factory):
    app = create_app(app_settings(tmp_path), engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    with TestClient(app) as client:
        back = client.get("/web/staff/login?page=audit", follow_redirects=False)
    assert _fragment(back.headers["location"]) == {"path": "/audit", "staff_error": "login_unavailable"}


# --- the session: expiry, refresh within a shift, sign-out -----------------


def test_staff_sessions_expire_and_are_bound_to_their_key(app):
    authority = _authority(app)
    principal = authority.new_principal(staff_id=CLERK, department_code=COUNTY_CENTRE, roles=["clerk"],
                                        name="陈思远", auth_method="dev")
    token, _ = authority.issue(principal=principal)
    assert authority.verify(token) == principal
    other = StaffAuthority(secret=b"another deployment secret " * 2, issuer=REGISTRY_ID)
    with pytest.raises(AuthError, match="staff session token invalid"):
        other.verify(token)
    old, _ = authority.issue(principal=principal, now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(AuthError, match="staff session expired"):
        authority.verify(old)


def test_a_token_for_another_audience_is_refused_even_with_the_staff_key(app, settings):
    # Made with the staff sessions' own key and type, only the audience is another kind of token's.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"certhub staff sessions v1").derive(settings.secret_bytes())
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": REGISTRY_ID, "sub": CLERK, "aud": "certhub-api", "iat": now, "exp": now + 60, "sid": "s",
              "sst": now, "dept": COUNTY_CENTRE, "roles": ["clerk"], "name": "陈思远", "amr": "dev"}
    forged = jwt.encode(claims, key, algorithm="HS256", headers={"typ": "staff+jwt"})
    with pytest.raises(AuthError, match="staff session token invalid"):
        _authority(app).verify(forged)
    # The same claims for the staff audience pass: the refusal above is the audience's doing.
    right = jwt.encode({**claims, "aud": STAFF_AUDIENCE}, key, algorithm="HS256", headers={"typ": "staff+jwt"})
    assert _authority(app).verify(right).staff_id == CLERK


def test_refresh_keeps_the_person_and_the_shift_and_stops_at_its_end(app, client):
    authority = _authority(app)
    started = datetime.now(UTC) - timedelta(hours=12) + timedelta(seconds=300)  # 5 minutes of the shift left
    principal = authority.new_principal(staff_id=CLERK, department_code=COUNTY_CENTRE, roles=["clerk"],
                                        name="陈思远", auth_method="dev", now=started)
    token, lifetime = authority.issue(principal=principal)
    assert 295 <= lifetime <= 300  # cut short at the end of the shift, not the usual 900 s
    answer = client.post("/api/v1/staff/session/refresh", headers=_bearer(token))
    assert answer.status_code == 200, answer.text
    fresh = answer.json()["session_token"]
    assert fresh != token
    refreshed = authority.verify(fresh)
    assert refreshed == principal  # same person, roles, session id and shift start
    assert answer.json()["expires_in"] <= 300
    # Once the shift is over, no refresh: sign in again.
    with pytest.raises(AuthError, match="the shift is over"):
        authority.issue(principal=principal, now=started + timedelta(hours=12))


def test_a_refreshed_session_works_for_the_department_api(world):
    token = _session_for(world.app)
    fresh = world.client.post("/api/v1/staff/session/refresh", headers=_bearer(token)).json()["session_token"]
    assert world.redeem(world.code(), headers=_bearer(fresh), operator_id=None).status_code == 200


def test_sign_out_ends_the_session_everywhere(world):
    token = _session_for(world.app)
    assert world.client.get("/api/v1/staff/me", headers=_bearer(token)).status_code == 200
    assert world.client.delete("/api/v1/staff/session", headers=_bearer(token)).status_code == 204
    for answer in (world.client.get("/api/v1/staff/me", headers=_bearer(token)),
                   world.client.post("/api/v1/staff/session/refresh", headers=_bearer(token)),
                   world.redeem(world.code(), headers=_bearer(token), operator_id=None)):
        assert answer.status_code == 401
        assert answer.json() == {"error": "unauthenticated", "message": "staff session ended (signed out); sign in again"}


# --- three kinds of token, none standing in for another --------------------


def test_holder_and_department_tokens_are_refused_where_a_staff_session_is_required(app, client):
    holders = app.state.services.find(HolderAuthority)
    holder = holders.issue(principal=holders.new_principal(holder_code=CITIZEN, holder_code_type="111", name="张三丰",
                                                           auth_method="dev"))
    department = app.state.services.find(TokenAuthority).issue(client_id="c1", department_code=COUNTY_CENTRE,
                                                               scopes=["presentation:redeem"])
    for token in (holder, department):
        for answer in (client.get("/api/v1/staff/me", headers=_bearer(token)),
                       client.post("/api/v1/staff/session/refresh", headers=_bearer(token))):
            assert answer.status_code == 401
            assert "not a staff session token" in answer.json()["message"]
    assert client.get("/api/v1/staff/me").status_code == 401


def test_a_staff_session_never_acts_for_a_holder(app, client):
    answer = client.get("/api/v1/holders/me", headers=_bearer(_session_for(app)))
    assert answer.status_code == 401 and "not a holder session token" in answer.json()["message"]


def test_a_holder_token_dressed_as_staff_is_refused_by_department_endpoints(world):
    holders = world.app.state.services.find(HolderAuthority)
    holder = holders.issue(principal=holders.new_principal(holder_code=CITIZEN, holder_code_type="111",
                                                           name="张三丰", auth_method="dev"))
    assert world.redeem(world.code(), headers=_bearer(holder)).status_code == 401


def test_a_staff_session_has_its_roles_scopes_only(world):
    clerk = _bearer(_session_for(world.app))
    # A clerk may not issue licences (officer) nor read the log (auditor).
    issue = world.client.post("/api/v1/licences", headers=clerk, json={})
    assert issue.status_code == 403 and "licence:issue" in issue.json()["message"]
    assert world.client.get("/api/v1/audit/health", headers=clerk).status_code == 403
    auditor = _bearer(_session_for(world.app, roles=("auditor",), staff_id="auditor-5"))
    assert world.client.get("/api/v1/audit/health", headers=auditor).status_code == 200
    refused = world.redeem(world.code(), headers=auditor, operator_id=None)
    assert refused.status_code == 403 and "presentation:redeem" in refused.json()["message"]


# --- the operator on the use record is the signed-in person -----------------


@pytest.fixture
def world(client, app, db_session):
    return build(client, app, db_session)


def _granted_record(world, presentation_id: str) -> dict:
    entries = world.session.scalars(select(LogEntry).where(LogEntry.kind == "redemption",
                                                           LogEntry.result == "granted"))
    records = [parse_entry(entry.entry) for entry in entries]
    [record] = [r for r in records if r.get("presentation") == presentation_id] or records[-1:]
    return record


def test_the_use_record_names_the_signed_in_person_not_what_the_page_sends(world):
    clerk = _bearer(_session_for(world.app))
    # The page types another operator: refused (403), nothing redeemed, the code still usable.
    code = world.code()
    for header, body_operator in (("someone-else", None), (None, "someone-else"), (CLERK, "someone-else")):
        headers = {**clerk, **({"X-Operator-Id": header} if header else {})}
        refused = world.redeem(code, headers=headers, operator_id=body_operator)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "forbidden" and "another operator" in refused.json()["message"]
    # No operator sent at all, or the same one: the person signed into the token.
    answer = world.redeem(code, headers={**clerk, "X-Operator-Id": CLERK}, operator_id=None)
    assert answer.status_code == 200, answer.text
    redemption = world.session.scalar(select(Redemption).where(
        Redemption.presentation_id == answer.json()["presentation_id"]))
    assert (redemption.operator_id, redemption.department_code) == (CLERK, COUNTY_CENTRE)
    record = _granted_record(world, answer.json()["presentation_id"])
    assert record["operator"] == CLERK and record["department"] == COUNTY_CENTRE
    assert record["subject"] == CITIZEN and record["matter"] == MATTER and record["purpose"] == PURPOSE
    assert json.dumps(record).count("someone-else") == 0


def test_department_clients_still_name_their_operator_as_before(world):
    answer = world.redeem(world.code())  # the counter system's access token, operator_id "clerk-7" in the body
    assert answer.status_code == 200, answer.text
    assert _granted_record(world, answer.json()["presentation_id"])["operator"] == "clerk-7"
    header_only = world.redeem(world.code(), headers={**world.counter, "X-Operator-Id": "clerk-8"}, operator_id=None)
    assert header_only.status_code == 200, header_only.text
    nobody = world.redeem(world.code(), operator_id=None)
    assert nobody.status_code == 422 and "must name the person redeeming" in nobody.json()["message"]


def test_an_officer_acts_on_licences_as_themselves(world):
    officer = _bearer(_session_for(world.app, roles=("officer",), staff_id="officer-32", department=CITY_SAMR))
    path = f"/api/v1/licences/{world.residence['identifier']}"
    refused = world.client.post(path + "/suspend", headers=officer, json={"reason": "核查", "operator": "someone-else"})
    assert refused.status_code == 403 and "another operator" in refused.json()["message"]
    assert world.client.post(path + "/suspend", headers=officer, json={"reason": "核查"}).status_code == 200
    [*_, event] = world.client.get(path + "/history", headers=officer).json()
    assert (event["action"], event["operator"], event["client_id"], event["acting_department_code"]) == (
        "suspend", "officer-32", "staff:officer-32", CITY_SAMR)


def test_the_exchange_operator_rule_holds_for_staff_sessions():
    """operating_caller and CallerOperatorDep resolve the operator with operator_of."""
    caller = StaffPrincipal(staff_id=CLERK, department_code=COUNTY_CENTRE, roles=frozenset({"clerk"}), name="陈思远",
                            auth_method="oidc", session_id="s", shift_started_at=0).as_caller()
    assert operator_of(principal=caller, operator_id=None) == CLERK
    assert operator_of(principal=caller, operator_id=CLERK) == CLERK
    with pytest.raises(Forbidden):
        operator_of(principal=caller, operator_id="someone-else")


def test_the_staff_pages_offer_the_identity_provider_sign_in(client):
    for path in ("/counter", "/audit"):
        page = client.get(path).text
        assert 'id="staff-oidc-login"' in page and "尚未配置工作人员登录方式" not in page
        assert 'id="client-secret"' not in page


def test_a_staff_principal_is_its_department_with_the_person_as_operator():
    principal = StaffPrincipal(staff_id=CLERK, department_code=COUNTY_CENTRE, roles=frozenset({"clerk"}),
                               name="陈思远", auth_method="oidc", session_id="s", shift_started_at=0)
    caller = principal.as_caller()
    assert (caller.department_code, caller.operator, caller.client_id) == (COUNTY_CENTRE, CLERK, "staff:" + CLERK)
    assert caller.scopes == frozenset({"presentation:redeem", "exchange:query"}) and caller.key_id is None
