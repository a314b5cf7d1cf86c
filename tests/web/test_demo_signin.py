"""Demo mode's staff identity provider for the counter and auditor pages:
only in demo mode, only the listed demo staff (certhub/demo/staff.yaml),
each with their roles' scopes, and never a department credential."""

from __future__ import annotations

import dataclasses

from certhub.web.demo import demo_staff, demo_staff_for
from identity.config import IdentityConfig
from identity.staff_auth import StaffAuthority


def _demo(app) -> None:
    app.state.services.replace(IdentityConfig, dataclasses.replace(app.state.services.find(IdentityConfig), demo=True))


def test_refused_outside_demo_mode(client):
    answer = client.post("/web/api/demo/staff-session", json={"staff_id": demo_staff_for("counter")["staff_id"]})
    assert answer.status_code == 404 and answer.json()["error"] == "login_unavailable"


def test_the_demo_clerk_and_auditor_sign_in_with_their_roles_scopes(app, client):
    _demo(app)
    clerk = demo_staff_for("counter")
    answer = client.post("/web/api/demo/staff-session", json={"staff_id": clerk["staff_id"]}).json()
    assert answer["staff"]["staff_id"] == clerk["staff_id"] and answer["staff"]["auth_method"] == "dev"
    assert answer["staff"]["scopes"] == ["exchange:query", "presentation:redeem"]
    principal = app.state.services.find(StaffAuthority).verify(answer["session_token"])
    assert principal.department_code == clerk["department"] and principal.roles == frozenset({"clerk"})
    auditor = demo_staff_for("audit")
    answer = client.post("/web/api/demo/staff-session", json={"staff_id": auditor["staff_id"]}).json()
    assert answer["staff"]["scopes"] == ["audit:read"]
    # No department credential in any answer: a session token and who it is for.
    assert set(answer) == {"session_token", "token_type", "expires_in", "staff"}


def test_only_the_listed_demo_staff(app, client):
    _demo(app)
    assert {entry["roles"][0] for entry in demo_staff()} == {"clerk", "officer", "auditor"}
    unknown = client.post("/web/api/demo/staff-session", json={"staff_id": "boss"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert client.post("/web/api/demo/staff-session", json={"role": "counter"}).status_code == 422


def test_the_staff_pages_offer_their_demo_account(app, client):
    _demo(app)
    assert f'data-staff-id="{demo_staff_for("counter")["staff_id"]}"' in client.get("/counter").text
    assert f'data-staff-id="{demo_staff_for("audit")["staff_id"]}"' in client.get("/audit").text
    # The department credential form is gone from both pages.
    for path in ("/counter", "/audit"):
        page = client.get(path).text
        assert 'id="client-secret"' not in page and 'id="client-id"' not in page and 'id="operator-id"' not in page
