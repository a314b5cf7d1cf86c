"""The four browser apps and the landing page, rendered on the server.

Each page is a Jinja2 template with its own small script; the scripts call
the public JSON API with a token kept in ``sessionStorage``. Nothing is
loaded from another origin: the Content-Security-Policy below allows only
this server, so a page cannot silently fall back to a CDN.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from certhub.settings import Settings
from certhub.web import fonts, i18n
from certhub.web.demo import demo_staff_for
from identity.config import IdentityConfig
from identity.holder_auth import HolderAuthority
from identity.staff_auth import StaffAuthority
from wiring import find_service

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
FAVICON_ICO = WEB_DIR / "favicon.ico"

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))

# SPEC: CSP Level 3 — same-origin only; data:/blob: images are the QR codes
# and layout previews the scripts draw from API answers.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; media-src 'self' blob:; object-src 'none'; "
    "frame-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The counter page may use the camera; nothing may use it from elsewhere.
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    # Pages carry no data, but a shared counter PC should not keep old ones.
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=1)
def demo_holder() -> dict | None:
    """The demo holder the wallet offers in demo mode (certhub/demo/holders.yaml)."""
    from certhub.demo import seed

    path = getattr(seed, "HOLDERS_FILE", None)
    if path is None or not Path(path).is_file():
        return None
    entries = yaml.safe_load(Path(path).read_text(encoding="utf-8")).get("holders") or []
    for entry in entries:
        if entry.get("wallet_login"):
            return {"code": seed.holder_code(entry), "code_type": entry["code_type"], "name": entry["name"]}
    return None


# A hashed asset name: "js/wallet.js" is served as "js/wallet.<12 hex>.js",
# the first hex digits of SHA-256 of the file's bytes.
_HASHED = re.compile(r"(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)")


@lru_cache(maxsize=1)
def asset_digests() -> dict[str, str]:
    """Each static file's content hash, by its path under static/: part of
    its URL, so browsers may cache an asset for a year (immutable) and still
    get a changed one at once, under its new name, while unchanged ones stay
    cached across releases."""
    return {path.relative_to(STATIC_DIR).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            for path in sorted(STATIC_DIR.rglob("*")) if path.is_file()}


def asset_url(relative: str) -> str:
    """The URL templates link an asset by (a KeyError for a file that does not exist)."""
    stem, dot, suffix = relative.rpartition(".")
    return f"/static/{stem}.{asset_digests()[relative]}{dot}{suffix}"


def unhashed(path: str) -> str | None:
    """The file a requested static path names: only its current hashed name
    does. A plain name (``js/wallet.js``) or another release's hash is None,
    a 404: every asset has one URL, the one pages link, whose bytes never
    change, and no cache can keep today's bytes under another name."""
    match = _HASHED.fullmatch(path)
    if match is None:
        return None
    relative = match["stem"] + match["suffix"]
    if asset_digests().get(relative) != match["digest"]:
        return None
    return relative


# The one way templates link what they load: static files by their hashed
# names, and the font stylesheet by the subset it names.
templates.env.globals["asset"] = asset_url
templates.env.globals["font_stylesheet"] = fonts.stylesheet_url


@pass_context
def _translate(context, key: str) -> str:
    """``{{ t("wallet.sign_in") }}``: the text of ``key`` in the page's language."""
    return i18n.translate(context["lang"], key)


templates.env.globals["t"] = _translate


def _render(request: Request, template: str, **context) -> HTMLResponse:
    settings = find_service(request, Settings)
    oidc = find_service(request, HolderAuthority).oidc
    demo = find_service(request, IdentityConfig).demo is True
    language = i18n.request_language(request)
    context.update(
        lang=language,
        other_lang="en" if language == "zh-CN" else "zh-CN",
        messages_script=i18n.messages_url(language),
        return_path=request.url.path,
        demo=demo,
        demo_holder=demo_holder() if demo else None,
        # The demo staff member a staff page offers to sign in with one click (certhub/demo/staff.yaml).
        demo_staff=demo_staff_for(context["page"]) if demo else None,
        oidc_enabled=oidc is not None,
        staff_oidc_enabled=find_service(request, StaffAuthority).oidc is not None,
        registry_id=settings.registry_id,
    )
    response = templates.TemplateResponse(request, template, context)
    response.headers.update(_PAGE_HEADERS)
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> HTMLResponse:
    demo = find_service(request, IdentityConfig).demo is True
    return _render(request, "index.html", page="home", title_key="base.title_home",
                   demo_clerk=demo_staff_for("counter") if demo else None)


@router.get("/favicon.ico")
def favicon() -> Response:
    """The icon where browsers, bookmarks and other tools look for it
    without a page to say where. Pages link the SVG (static/favicon.svg,
    hashed); this ICO is that icon drawn at 16, 32 and 48 px. Its URL cannot
    carry a hash, so it is cached for a day rather than for good."""
    return Response(FAVICON_ICO.read_bytes(), media_type="image/vnd.microsoft.icon",
                    headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


@router.get("/wallet", response_class=HTMLResponse)
def wallet(request: Request) -> HTMLResponse:
    return _render(request, "wallet.html", page="wallet", title_key="base.title_wallet")


@router.get("/wallet-sw.js")
def wallet_service_worker() -> Response:
    """The wallet's service worker (certhub/web/wallet-sw.js), served from the
    root because a worker controls only pages at or under its own path; the
    wallet registers it for /wallet alone. Revalidated on every update check."""
    return Response((WEB_DIR / "wallet-sw.js").read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@router.get("/counter", response_class=HTMLResponse)
def counter(request: Request) -> HTMLResponse:
    return _render(request, "counter.html", page="counter", title_key="base.title_counter")


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request) -> HTMLResponse:
    return _render(request, "audit.html", page="audit", title_key="base.title_audit")


@router.get("/statistics", response_class=HTMLResponse)
def statistics(request: Request) -> HTMLResponse:
    """The public usage statistics: no sign-in, nothing personal (exchange.auditlog.usage_statistics)."""
    return _render(request, "statistics.html", page="statistics", title_key="base.title_statistics")


@router.get("/console", response_class=HTMLResponse)
def console(request: Request) -> HTMLResponse:
    return _render(request, "console.html", page="console", title_key="base.title_console")
