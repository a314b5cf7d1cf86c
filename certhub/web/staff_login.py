"""The staff pages' sign-in at the province's OpenID provider: the
authorization code flow with PKCE, certhub being the staff client.

`GET /web/staff/login?page=counter` sends the browser to the provider's
login page; the provider sends it back to `GET /web/staff/callback` with a
code, which certhub exchanges (with the PKCE verifier, and the client secret
when one is configured) for an ID token, verifies like any staff ID token
(identity.staff_auth) and turns into a staff session. The session token
goes back to the page in the URL fragment (never sent to a server; the page
moves it to sessionStorage and takes it out of the address bar at once).

The login's state, nonce and PKCE verifier wait in the cache for ten
minutes, and the state is bound to the browser that started the login by a
cookie only this path reads, so a login started elsewhere (login CSRF: a
clerk working, unknowingly, as someone else) is refused. Each state serves
once.

SPEC: OpenID Connect Core 1.0 §3.1.2-3.1.3; RFC 7636 (PKCE); RFC 9700
§2.1, §4.7 (state bound to the user agent against CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse

from identity.errors import AuthError, IdentityError, IdentityProviderUnavailable
from identity.oidc_code import LoginRequest
from identity.staff_auth import StaffAuthority
from storage.cache import Cache
from storage.sessions import get_cache
from wiring import find_service

log = logging.getLogger(__name__)

router = APIRouter(prefix="/web/staff", include_in_schema=False)

# The pages that sign staff in, and where each lives.
PAGES = {"counter": "/counter", "audit": "/audit"}
LOGIN_SECONDS = 600
_COOKIE = "certhub_staff_login"
# Where the provider sends the browser back: the redirect URI registered for the staff client is the
# public address + this path (certhub.root), and the browser-binding cookie is sent to it only.
CALLBACK_PATH = "/web/staff/callback"
_COOKIE_PATH = CALLBACK_PATH


def _login_key(state: str) -> str:
    return f"staff:login:{hashlib.sha256(state.encode()).hexdigest()}"


def _back_to(page: str, **fragment: str) -> RedirectResponse:
    response = RedirectResponse(f"{PAGES[page]}#{urlencode(fragment)}", status_code=303)
    response.delete_cookie(_COOKIE, path=_COOKIE_PATH)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/login")
def staff_login(request: Request, cache: Annotated[Cache, Depends(get_cache)],
                page: Annotated[str, Query(max_length=16)] = "counter") -> RedirectResponse:
    page = page if page in PAGES else "counter"
    flow = find_service(request, StaffAuthority).code_flow
    if flow is None:
        return _back_to(page, staff_error="login_unavailable")
    login = LoginRequest.new()
    binding = secrets.token_urlsafe(32)
    try:
        url = flow.authorization_url(login=login)
    except IdentityProviderUnavailable:
        log.warning("staff sign-in: the OpenID provider could not be reached")
        return _back_to(page, staff_error="identity_provider_unavailable")
    cache.set_if_absent(_login_key(login.state), json.dumps({
        "nonce": login.nonce, "verifier": login.code_verifier, "page": page,
        "binding": hashlib.sha256(binding.encode()).hexdigest(),
    }), ttl_seconds=LOGIN_SECONDS)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(_COOKIE, binding, max_age=LOGIN_SECONDS, path=_COOKIE_PATH, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(CALLBACK_PATH.removeprefix("/web/staff"), name="staff_login_callback")
def staff_login_callback(
    request: Request, cache: Annotated[Cache, Depends(get_cache)],
    state: Annotated[str, Query(min_length=1, max_length=200)],
    code: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=100)] = None,
) -> RedirectResponse:
    saved = cache.get(_login_key(state))
    # Each state once: a second use (a replayed callback URL) finds it taken.
    if saved is None or not cache.set_if_absent(_login_key(state) + ":used", "1", ttl_seconds=LOGIN_SECONDS):
        return _back_to("counter", staff_error="login_expired")
    pending = json.loads(saved)
    page = pending["page"] if pending.get("page") in PAGES else "counter"
    binding = request.cookies.get(_COOKIE, "")
    if not hmac.compare_digest(hashlib.sha256(binding.encode()).hexdigest(), pending["binding"]):
        log.warning("staff sign-in: a callback from another browser than the one that started it was refused")
        return _back_to(page, staff_error="login_expired")
    if error is not None or code is None:
        # SPEC: RFC 6749 §4.1.2.1 — the provider said no (access_denied, login_required, ...).
        return _back_to(page, staff_error="login_refused")
    authority = find_service(request, StaffAuthority)
    if authority.code_flow is None or authority.oidc is None:
        return _back_to(page, staff_error="login_unavailable")
    login = LoginRequest(state=state, nonce=pending["nonce"], code_verifier=pending["verifier"])
    try:
        id_token = authority.code_flow.id_token_for(code=code, login=login)
        identity = authority.oidc.verify(id_token, nonce=login.nonce)
    except AuthError as exc:
        log.info("staff sign-in refused: %s", exc)
        return _back_to(page, staff_error="login_refused")
    except IdentityError:
        log.warning("staff sign-in: the OpenID provider could not complete the sign-in")
        return _back_to(page, staff_error="identity_provider_unavailable")
    principal = authority.new_principal(staff_id=identity.staff_id, department_code=identity.department_code,
                                        roles=identity.roles, name=identity.name, auth_method="oidc")
    token, lifetime = authority.issue(principal=principal)
    log.info("staff session opened via the OIDC code flow (roles %s, session %s)", ",".join(sorted(principal.roles)),
             principal.session_id)
    return _back_to(page, staff_session=token, expires_in=str(lifetime))
