"""The three browser apps and the landing page, rendered on the server.

Each page is a Jinja2 template with its own small script; the scripts call
the public JSON API with a token kept in ``sessionStorage``. Nothing is
loaded from another origin: the Content-Security-Policy below allows only
this server, so a page cannot silently fall back to a CDN.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from certhub import __version__
from certhub.settings import Settings
from identity.config import IdentityConfig
from identity.holder_auth import HolderAuthority
from wiring import find_service

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"

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


@lru_cache(maxsize=1)
def asset_version() -> str:
    """A short hash of every static file: part of each asset URL, so browsers
    may cache assets for a year and still get a new release at once."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _render(request: Request, template: str, **context) -> HTMLResponse:
    settings = find_service(request, Settings)
    oidc = find_service(request, HolderAuthority).oidc
    demo = find_service(request, IdentityConfig).demo is True
    context.update(
        demo=demo,
        demo_holder=demo_holder() if demo else None,
        oidc_enabled=oidc is not None,
        asset_version=asset_version(),
        registry_id=settings.registry_id,
    )
    response = templates.TemplateResponse(request, template, context)
    response.headers.update(_PAGE_HEADERS)
    return response


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> HTMLResponse:
    return _render(request, "index.html", page="home", title="电子证照服务")


@router.get("/wallet", response_class=HTMLResponse)
def wallet(request: Request) -> HTMLResponse:
    return _render(request, "wallet.html", page="wallet", title="我的证照")


@router.get("/counter", response_class=HTMLResponse)
def counter(request: Request) -> HTMLResponse:
    return _render(request, "counter.html", page="counter", title="窗口核验")


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request) -> HTMLResponse:
    return _render(request, "audit.html", page="audit", title="用证审计")
